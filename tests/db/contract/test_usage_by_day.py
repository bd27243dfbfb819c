"""Usage per UTC day and model: the days, the models, the likely billed jobs, and what is left out."""

from __future__ import annotations

import datetime

from bot.jobs.policy import DailyUsageRow, day_start
from bot.jobs.ports import JobStore
from bot.jobs.records import JobStatus
from tests.db.contract.helpers import ROOMY, T0, new_job, ws

DAY = 86400.0
MIDNIGHT = day_start(T0)  # 2026-09-21 00:00 UTC
SEP21, SEP22, SEP24 = datetime.date(2026, 9, 21), datetime.date(2026, 9, 22), datetime.date(2026, 9, 24)


async def _job(store: JobStore, at: float, model: str = "a", *, guild: int = 10, platform: str = "discord",
               end: str = "queued", user: int = 1) -> int:
    """A job asked for at ``at`` and taken to ``end``: queued, delivered, failed, or cancelled before or after
    the provider accepted it."""
    job = await store.insert_job(new_job(user=user, guild=guild, model=model, platform=platform), at)
    if end == "queued":
        return job.id
    if end == "cancelled_early":
        assert await store.cancel(job.id, at + 1)
        return job.id
    claimed = await store.claim_submittable(ROOMY, at, at + 120, 99)
    assert job.id in [j.id for j in claimed]
    assert await store.mark_submitted(job.id, f"task_{job.id}", at + 1, at + 10)
    if end == "delivered":
        assert await store.mark_completed(job.id, None, at + 30)
        assert await store.mark_delivered(job.id, "m", at + 40)
    elif end == "completed":
        assert await store.mark_completed(job.id, None, at + 30)
    elif end == "failed":
        assert await store.mark_failed(job.id, JobStatus.FAILED, "x", at + 30)
    elif end == "cancelled_late":
        assert await store.cancel(job.id, at + 30)
    return job.id


async def test_usage_by_day_groups_jobs_by_utc_day_and_model(store: JobStore) -> None:
    await _job(store, MIDNIGHT, "a", end="delivered")  # the first second of the day
    await _job(store, MIDNIGHT + DAY - 0.5, "a", end="completed", user=2)  # the last half second of the same day
    await _job(store, MIDNIGHT + 3600, "b", end="failed")
    await _job(store, MIDNIGHT + DAY, "a", end="cancelled_late")  # the next day: billed
    await _job(store, MIDNIGHT + DAY + 60, "a", end="cancelled_early")  # never reached the provider: not billed
    await _job(store, MIDNIGHT + 3 * DAY + 5, "b", end="queued")
    rows = await store.usage_by_day(ws(10), MIDNIGHT)
    assert rows == [
        DailyUsageRow(SEP21, "a", jobs=2, billed_jobs=2),
        DailyUsageRow(SEP21, "b", jobs=1, billed_jobs=0),
        DailyUsageRow(SEP22, "a", jobs=2, billed_jobs=1),
        DailyUsageRow(SEP24, "b", jobs=1, billed_jobs=0),
    ]
    # The same jobs and billed jobs as ``usage`` counts for the period.
    totals = await store.usage(ws(10), MIDNIGHT)
    assert sum(r.jobs for r in rows) == sum(r.jobs for r in totals) == 6
    assert sum(r.billed_jobs for r in rows) == sum(r.billed_jobs for r in totals) == 3


async def test_usage_by_day_leaves_out_older_jobs_and_other_workspaces(store: JobStore) -> None:
    await _job(store, MIDNIGHT - 1, "a", end="delivered")  # before ``since``
    await _job(store, MIDNIGHT + 10, "a", end="delivered")
    await _job(store, MIDNIGHT + 20, "a", guild=11, end="delivered")  # another workspace
    await _job(store, MIDNIGHT + 30, "a", platform="slack", end="delivered")  # workspace "10" on another platform
    assert await store.usage_by_day(ws(10), MIDNIGHT) == [DailyUsageRow(SEP21, "a", jobs=1, billed_jobs=1)]
    assert await store.usage_by_day(ws(10), MIDNIGHT - 1) == [
        DailyUsageRow(datetime.date(2026, 9, 20), "a", jobs=1, billed_jobs=1),
        DailyUsageRow(SEP21, "a", jobs=1, billed_jobs=1),
    ]
    assert await store.usage_by_day(ws(11), 0.0) == [DailyUsageRow(SEP21, "a", jobs=1, billed_jobs=1)]
    assert await store.usage_by_day(ws(10, "slack"), 0.0) == [DailyUsageRow(SEP21, "a", jobs=1, billed_jobs=1)]
    assert await store.usage_by_day(ws(12), 0.0) == []
    assert await store.usage_by_day(ws(10), MIDNIGHT + 11) == []
