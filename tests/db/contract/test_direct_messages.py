"""The requester's direct message: due with the delivery when asked for, recorded once, postponed, never due
when not asked for."""

from __future__ import annotations

import dataclasses

from bot.jobs.ports import JobStore
from bot.jobs.records import JobStatus
from tests.db.contract.helpers import ROOMY, T0, new_job


async def _delivered(store: JobStore, *, dm: bool, fail: bool = False) -> int:
    job = await store.insert_job(dataclasses.replace(new_job(), dm_when_ready=dm), T0)
    assert job.dm_when_ready is dm
    assert await store.claim_submittable(ROOMY, T0, T0 + 120, 9)
    assert await store.mark_submitted(job.id, f"task_{job.id}", T0 + 1, T0 + 10)
    if fail:
        assert await store.mark_failed(job.id, JobStatus.FAILED, "no video", T0 + 20)
    else:
        assert await store.mark_completed(job.id, "https://v/1.mp4", T0 + 20)
    assert await store.begin_delivery(job.id, T0 + 80)
    assert await store.mark_delivered(job.id, "555", T0 + 30)
    return job.id


async def test_a_delivered_job_whose_requester_asked_stays_due_for_the_message(store: JobStore) -> None:
    job_id = await _delivered(store, dm=True)
    job = await store.get_job(job_id)
    assert job is not None and job.status is JobStatus.DELIVERED and job.dm_due and job.next_poll_at == T0 + 30
    assert [j.id for j in await store.due_jobs(T0 + 30, 10)] == [job_id]
    assert await store.next_due_at() == T0 + 30
    assert await store.mark_dm_sent(job_id, T0 + 31)
    sent = await store.get_job(job_id)
    assert sent is not None and sent.dm_sent_at == T0 + 31 and not sent.dm_due and sent.next_poll_at is None
    assert not await store.mark_dm_sent(job_id, T0 + 32)  # once
    assert await store.due_jobs(T0 + 10_000, 10) == []
    assert not await store.postpone_dm(job_id, T0 + 99)


async def test_a_failure_notice_is_followed_by_the_message_too(store: JobStore) -> None:
    job_id = await _delivered(store, dm=True, fail=True)
    job = await store.get_job(job_id)
    assert job is not None and job.status is JobStatus.FAILED and job.dm_due and not job.needs_notice


async def test_without_the_preference_nothing_is_due_after_delivery(store: JobStore) -> None:
    job_id = await _delivered(store, dm=False)
    job = await store.get_job(job_id)
    assert job is not None and not job.dm_due and job.next_poll_at is None
    assert await store.due_jobs(T0 + 10_000, 10) == []
    assert not await store.mark_dm_sent(job_id, T0 + 31)
    assert not await store.postpone_dm(job_id, T0 + 60)
    fresh = await store.get_job(job_id)
    assert fresh is not None and fresh.dm_sent_at is None and fresh.next_poll_at is None


async def test_the_message_can_be_postponed_and_is_never_due_before_the_delivery(store: JobStore) -> None:
    job = await store.insert_job(dataclasses.replace(new_job(), dm_when_ready=True), T0)
    assert not await store.postpone_dm(job.id, T0 + 5)  # no result posted yet
    assert not await store.mark_dm_sent(job.id, T0 + 5)
    queued = await store.get_job(job.id)
    assert queued is not None and queued.dm_sent_at is None and not queued.dm_due
    job_id = await _delivered(store, dm=True)
    assert await store.postpone_dm(job_id, T0 + 90)
    assert await store.due_jobs(T0 + 89, 10) == []
    assert [j.id for j in await store.due_jobs(T0 + 90, 10)] == [job_id]
