"""Delivery bookkeeping: attempts counted before they start, one recorded result, postponing, giving up."""

from __future__ import annotations

import asyncio

from bot.jobs.ports import JobStore
from bot.jobs.records import JobStatus
from tests.db.contract.helpers import ROOMY, T0, new_job, submitted


async def test_delivery_is_recorded_once(store: JobStore) -> None:
    job = await submitted(store)
    await store.mark_completed(job.id, None, T0 + 50)
    first = await store.begin_delivery(job.id, T0 + 80)
    assert first is not None and first.delivery_attempts == 1 and first.next_poll_at == T0 + 80
    second = await store.begin_delivery(job.id, T0 + 110)
    assert second is not None and second.delivery_attempts == 2
    assert await store.mark_delivered(job.id, "555", T0 + 60)
    assert not await store.mark_delivered(job.id, "556", T0 + 61)
    delivered = await store.get_job(job.id)
    assert delivered is not None and delivered.status is JobStatus.DELIVERED
    assert delivered.delivered_message_id == "555" and delivered.next_poll_at is None
    assert await store.begin_delivery(job.id, T0 + 200) is None


async def test_failure_notice_keeps_the_failed_status(store: JobStore) -> None:
    job = await submitted(store)
    assert await store.mark_failed(job.id, JobStatus.FAILED, "blocked by safety", T0 + 9, safety_rejection=True)
    failed = await store.get_job(job.id)
    assert failed is not None and failed.safety_rejection and failed.needs_notice
    assert await store.mark_delivered(job.id, "77", T0 + 10)
    notified = await store.get_job(job.id)
    assert notified is not None and notified.status is JobStatus.FAILED and not notified.needs_notice


async def test_postpone_delivery_can_give_up(store: JobStore) -> None:
    job = await submitted(store)
    await store.mark_completed(job.id, None, T0)
    assert await store.postpone_delivery(job.id, None, "Could not post the result: missing access")
    parked = await store.get_job(job.id)
    assert parked is not None and parked.next_poll_at is None and parked.error is not None
    assert await store.due_jobs(T0 + 10_000, 10) == []


async def test_begin_delivery_of_a_job_not_yet_finished_is_refused(store: JobStore) -> None:
    queued = await store.insert_job(new_job(user=1), T0)
    assert await store.begin_delivery(queued.id, T0 + 60) is None
    being_sent = await store.insert_job(new_job(user=2), T0)
    assert await store.claim_submittable(ROOMY, T0, T0 + 120, 9)
    assert await store.begin_delivery(being_sent.id, T0 + 60) is None
    at_provider = await submitted(store, user=3, task="task_3")
    assert await store.begin_delivery(at_provider.id, T0 + 60) is None
    assert await store.record_progress(at_provider.id, JobStatus.RUNNING, 50, T0 + 20)
    assert await store.begin_delivery(at_provider.id, T0 + 60) is None
    assert await store.begin_delivery(at_provider.id + 100, T0 + 60) is None  # no such job
    for job_id in (queued.id, being_sent.id, at_provider.id):
        fresh = await store.get_job(job_id)
        assert fresh is not None and fresh.delivery_attempts == 0 and fresh.next_poll_at != T0 + 60
    assert [j.id for j in await store.due_jobs(T0 + 30, 10)] == [at_provider.id]


async def test_a_timeout_notice_keeps_the_timed_out_status(store: JobStore) -> None:
    job = await submitted(store)
    assert await store.mark_failed(job.id, JobStatus.TIMED_OUT, "too slow", T0 + 600)
    attempt = await store.begin_delivery(job.id, T0 + 660)
    assert attempt is not None and attempt.delivery_attempts == 1 and attempt.status is JobStatus.TIMED_OUT
    assert await store.mark_delivered(job.id, "88", T0 + 601)
    notified = await store.get_job(job.id)
    assert notified is not None and notified.status is JobStatus.TIMED_OUT and not notified.needs_notice
    assert notified.finished_at == T0 + 600 and notified.delivered_at == T0 + 601  # when it ended is kept
    assert notified.delivered_message_id == "88" and notified.next_poll_at is None


async def test_a_delivered_video_is_finished_when_posted(store: JobStore) -> None:
    job = await submitted(store)
    assert await store.mark_completed(job.id, "https://cdn/v.mp4", T0 + 50)
    completed = await store.get_job(job.id)
    assert completed is not None and completed.finished_at is None and completed.needs_notice
    assert await store.mark_delivered(job.id, "555", T0 + 70)
    delivered = await store.get_job(job.id)
    assert delivered is not None and delivered.finished_at == T0 + 70 and delivered.delivered_at == T0 + 70
    assert not delivered.needs_notice and delivered.status.is_terminal


async def test_postpone_delivery_reschedules_and_keeps_the_last_error(store: JobStore) -> None:
    job = await submitted(store)
    assert await store.mark_completed(job.id, None, T0 + 10)
    assert await store.begin_delivery(job.id, T0 + 70) is not None
    assert await store.postpone_delivery(job.id, T0 + 40, "upload failed: 503")
    assert await store.postpone_delivery(job.id, T0 + 90, None)  # no new reason: the last one stays
    later = await store.get_job(job.id)
    assert later is not None and later.next_poll_at == T0 + 90 and later.error == "upload failed: 503"
    assert later.status is JobStatus.COMPLETED and later.needs_notice
    assert await store.due_jobs(T0 + 89, 10) == []
    assert [j.id for j in await store.due_jobs(T0 + 90, 10)] == [job.id]
    assert await store.mark_delivered(job.id, "555", T0 + 91)
    assert not await store.postpone_delivery(job.id, T0 + 100, "late")  # delivered: nothing to postpone
    done = await store.get_job(job.id)
    assert done is not None and done.next_poll_at is None and done.error == "upload failed: 503"


async def test_concurrent_delivery_bookkeeping_counts_every_attempt_and_records_one_result(store: JobStore) -> None:
    job = await submitted(store)
    assert await store.mark_completed(job.id, None, T0 + 10)
    attempts = await asyncio.gather(*(store.begin_delivery(job.id, T0 + 60) for _ in range(10)))
    assert sorted(a.delivery_attempts for a in attempts if a is not None) == list(range(1, 11))
    results = await asyncio.gather(*(store.mark_delivered(job.id, str(n), T0 + 20) for n in range(10)))
    assert results.count(True) == 1
    delivered = await store.get_job(job.id)
    assert delivered is not None and delivered.delivered_message_id == str(results.index(True))
