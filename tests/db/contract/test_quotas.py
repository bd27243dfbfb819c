"""Admission: queue length, cooldown and daily quotas checked with the insert, and refunds of unbilled jobs."""

from __future__ import annotations

import asyncio

from bot.jobs.policy import Refusal, day_start
from bot.jobs.ports import JobStore
from bot.jobs.records import JobStatus, Limits
from tests.db.contract.helpers import T0, new_job, policy, ws


async def test_user_quota_counts_the_utc_day_and_refunds(store: JobStore) -> None:
    p = policy(max_queued=0)
    ids = []
    for _ in range(3):
        admission = await store.admit_job(new_job(), p, T0)
        assert admission.job_id is not None
        ids.append(admission.job_id)
    refused = await store.admit_job(new_job(), p, T0)
    assert refused.job_id is None and refused.refusal is Refusal.USER_QUOTA
    assert refused.retry_at == day_start(T0) + 86400
    # Cancelled before submission: refunded.
    assert await store.cancel(ids[0], T0 + 1)
    assert (await store.admit_job(new_job(), p, T0 + 2)).job_id is not None
    # Failed without a video: refunded too.
    await store.claim_submittable(Limits(9, 9, 9), T0, T0, 9)
    assert await store.mark_failed(ids[1], JobStatus.FAILED, "nope", T0 + 3)
    assert (await store.admit_job(new_job(), p, T0 + 4)).job_id is not None
    assert (await store.admit_job(new_job(), p, T0 + 5)).refusal is Refusal.USER_QUOTA
    # A new UTC day starts afresh.
    assert (await store.admit_job(new_job(), p, day_start(T0) + 86400)).job_id is not None


async def test_cancel_after_submission_is_not_refunded(store: JobStore) -> None:
    p = policy(daily_quota_per_user=1)
    admission = await store.admit_job(new_job(), p, T0)
    assert admission.job_id is not None
    await store.claim_submittable(Limits(9, 9, 9), T0, T0, 9)
    await store.mark_submitted(admission.job_id, "task_1", T0, T0)
    assert await store.cancel(admission.job_id, T0 + 1)
    assert (await store.admit_job(new_job(), p, T0 + 2)).refusal is Refusal.USER_QUOTA


async def test_guild_quota_queue_length_and_cooldown(store: JobStore) -> None:
    p = policy(daily_quota_per_user=0, daily_quota_per_guild=2)
    assert (await store.admit_job(new_job(user=1), p, T0)).job_id
    assert (await store.admit_job(new_job(user=2), p, T0)).job_id
    assert (await store.admit_job(new_job(user=3), p, T0)).refusal is Refusal.GUILD_QUOTA
    assert (await store.admit_job(new_job(user=3, guild=11), p, T0)).job_id  # another guild's own count
    queue = policy(daily_quota_per_user=0, daily_quota_per_guild=0, max_queued=3)
    assert (await store.admit_job(new_job(user=4), queue, T0)).job_id  # 3 queued in guild 10 now
    assert (await store.admit_job(new_job(user=5), queue, T0)).refusal is Refusal.QUEUE_FULL
    cool = policy(daily_quota_per_user=0, daily_quota_per_guild=0, max_queued=0, cooldown_seconds=30)
    refused = await store.admit_job(new_job(user=4), cool, T0 + 10)
    assert refused.refusal is Refusal.COOLDOWN and refused.retry_at == T0 + 30
    assert (await store.admit_job(new_job(user=4), cool, T0 + 31)).job_id


async def test_concurrent_admissions_never_exceed_a_quota(store: JobStore) -> None:
    p = policy(daily_quota_per_user=5, max_queued=0)
    results = await asyncio.gather(*(store.admit_job(new_job(), p, T0) for _ in range(20)))
    admitted = [r.job_id for r in results if r.job_id is not None]
    assert len(admitted) == 5 and len(set(admitted)) == 5
    assert sum(r.refusal is Refusal.USER_QUOTA for r in results) == 15


async def test_quota_used_counts_the_day_without_refunded_jobs(store: JobStore) -> None:
    today = day_start(T0)
    assert await store.quota_used(ws(10), "1", today) == (0, 0)
    await store.insert_job(new_job(user=1), today - 1)  # yesterday
    mine = [await store.insert_job(new_job(user=1), T0 + n) for n in range(3)]
    theirs = await store.insert_job(new_job(user=2), T0)
    await store.insert_job(new_job(user=1, guild=11), T0)  # another workspace
    assert await store.quota_used(ws(10), "1", today) == (3, 4)
    assert await store.quota_used(ws(10), "1", today - 1) == (4, 5)  # ``since`` is the start of the count
    assert await store.cancel(mine[0].id, T0 + 5)  # refunded
    assert await store.claim_submittable(Limits(9, 9, 9), T0, T0 + 60, 9)
    assert await store.mark_failed(theirs.id, JobStatus.FAILED, "x", T0 + 6)  # refunded
    assert await store.mark_submitted(mine[1].id, "task_1", T0 + 6, T0 + 16)
    assert await store.cancel(mine[1].id, T0 + 7)  # at the provider: not refunded
    assert await store.quota_used(ws(10), "1", today) == (2, 2)


async def test_admissions_report_the_members_use_of_the_day(store: JobStore) -> None:
    p = policy(daily_quota_per_user=2, daily_quota_per_guild=3, max_queued=0)
    first = await store.admit_job(new_job(user=1), p, T0)
    second = await store.admit_job(new_job(user=1), p, T0)
    assert (first.used_today, second.used_today) == (1, 2) and first.refusal is None and first.retry_at is None
    over = await store.admit_job(new_job(user=1), p, T0)
    assert (over.refusal, over.used_today, over.job_id) == (Refusal.USER_QUOTA, 2, None)
    assert (await store.admit_job(new_job(user=2), p, T0)).used_today == 1
    full = await store.admit_job(new_job(user=3), p, T0 + 1)
    assert (full.refusal, full.used_today, full.retry_at) == (Refusal.GUILD_QUOTA, 0, day_start(T0) + 86400)
    admitted = await store.get_job(first.job_id)  # type: ignore[arg-type]
    assert admitted is not None and admitted.status is JobStatus.QUEUED and admitted.created_at == T0


async def test_the_queue_length_counts_only_jobs_still_queued(store: JobStore) -> None:
    p = policy(daily_quota_per_user=0, daily_quota_per_guild=0, max_queued=2)
    assert (await store.admit_job(new_job(user=1), p, T0)).job_id is not None
    assert (await store.admit_job(new_job(user=2), p, T0)).job_id is not None
    assert (await store.admit_job(new_job(user=3), p, T0)).refusal is Refusal.QUEUE_FULL
    assert len(await store.claim_submittable(Limits(9, 9, 9), T0, T0 + 60, 1)) == 1  # one leaves the queue
    assert (await store.admit_job(new_job(user=3), p, T0)).job_id is not None
    assert (await store.admit_job(new_job(user=4), p, T0)).refusal is Refusal.QUEUE_FULL


async def test_cooldown_runs_from_the_members_last_request(store: JobStore) -> None:
    p = policy(daily_quota_per_user=0, daily_quota_per_guild=0, max_queued=0, cooldown_seconds=30)
    assert (await store.admit_job(new_job(user=1), p, T0)).job_id is not None
    refused = await store.admit_job(new_job(user=1), p, T0 + 29.5)
    assert (refused.refusal, refused.retry_at, refused.job_id) == (Refusal.COOLDOWN, T0 + 30, None)
    assert (await store.admit_job(new_job(user=2), p, T0 + 1)).job_id is not None  # another member
    assert (await store.admit_job(new_job(user=1), p, T0 + 30)).job_id is not None  # exactly at its end
    assert (await store.admit_job(new_job(user=1), p, T0 + 40)).retry_at == T0 + 60  # from the newest request


async def test_concurrent_admissions_never_exceed_the_workspace_quota_or_queue(store: JobStore) -> None:
    p = policy(daily_quota_per_user=0, daily_quota_per_guild=7, max_queued=0)
    results = await asyncio.gather(*(store.admit_job(new_job(user=n), p, T0) for n in range(30)))
    assert sum(r.job_id is not None for r in results) == 7
    assert sum(r.refusal is Refusal.GUILD_QUOTA for r in results) == 23
    queue = policy(11, daily_quota_per_user=0, daily_quota_per_guild=0, max_queued=4)
    results = await asyncio.gather(*(store.admit_job(new_job(user=n, guild=11), queue, T0) for n in range(30)))
    assert sum(r.job_id is not None for r in results) == 4
    assert len(await store.in_flight(ws(11))) == 4
