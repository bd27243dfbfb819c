"""Delivery bookkeeping: attempts counted before they start, one recorded result, postponing, giving up."""

from __future__ import annotations

from bot.jobs.ports import JobStore
from bot.jobs.records import JobStatus
from tests.db.contract.helpers import T0, submitted


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
