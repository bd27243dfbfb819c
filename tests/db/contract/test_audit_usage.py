"""Workspace settings saved with their audit entry, the audit log, and usage with its likely billed jobs."""

from __future__ import annotations

import dataclasses

from bot.jobs.ports import JobStore
from bot.jobs.records import JobStatus, Limits
from tests.db.contract.helpers import T0, new_job, policy, settings_of, ws


async def test_settings_round_trip_with_audit(store: JobStore) -> None:
    assert await store.workspace_settings(ws(10)) == settings_of(10)
    settings = settings_of(10, max_active_per_user=1, daily_quota_per_user=0, cooldown_seconds=2.5,
                           allowed_channels=("5", "6"), allowed_roles=("7",), allowed_models=("b",), paused=True,
                           pause_reason="budget")
    await store.save_workspace_settings(settings, actor_id="99", action="set", details="several", now=T0)
    saved = await store.workspace_settings(ws(10))
    assert saved == dataclasses.replace(settings, updated_at=T0, updated_by="99")
    assert (saved.allowed_channels, saved.allowed_roles, saved.allowed_models) == (("5", "6"), ("7",), ("b",))
    assert saved.paused and saved.pause_reason == "budget" and saved.updated_by == "99"
    [entry] = await store.audit_entries(ws(10), 10)
    assert (entry.actor_id, entry.action, entry.details, entry.at) == ("99", "set", "several", T0)
    assert await store.workspace_settings(ws(11)) == settings_of(11)  # other guilds untouched


async def test_usage_counts_likely_billed_jobs(store: JobStore) -> None:
    p = policy(daily_quota_per_user=0, daily_quota_per_guild=0, max_queued=0)
    ids = [(await store.admit_job(new_job(user=u, model=m), p, T0)).job_id for u, m in ((1, "a"), (1, "b"), (2, "a"))]
    await store.claim_submittable(Limits(9, 9, 9), T0, T0, 9)
    for job_id, task in zip(ids, ("t1", "t2", "t3"), strict=True):
        assert job_id is not None
        await store.mark_submitted(job_id, task, T0, T0)
    await store.mark_completed(ids[0], None, T0 + 60)  # type: ignore[arg-type]
    await store.mark_failed(ids[1], JobStatus.FAILED, "x", T0 + 60)  # type: ignore[arg-type]
    await store.cancel(ids[2], T0 + 60)  # type: ignore[arg-type]
    rows = {(r.user_id, r.model): (r.jobs, r.billed_jobs) for r in await store.usage(ws(10), T0 - 1)}
    assert rows == {("1", "a"): (1, 1), ("1", "b"): (1, 0), ("2", "a"): (1, 1)}
    assert await store.usage(ws(10), T0 + 1) == []
