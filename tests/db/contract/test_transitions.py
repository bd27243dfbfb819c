"""State transitions and their guards: each leaves only the states it may leave, so a cancel always wins."""

from __future__ import annotations

from bot.jobs.ports import JobStore
from bot.jobs.records import JobStatus
from tests.db.contract.helpers import T0, new_job, submitted


async def test_lifecycle_transitions_and_guards(store: JobStore) -> None:
    job = await submitted(store)
    assert job.status is JobStatus.SUBMITTED and job.task_id == "task_1" and job.submitted_at == T0 + 1
    assert (await store.get_job_by_task("task_1")) == job
    assert await store.record_progress(job.id, JobStatus.RUNNING, 40, T0 + 20)
    assert await store.record_progress(job.id, JobStatus.RUNNING, 30, T0 + 30)  # progress never goes back
    running = await store.get_job(job.id)
    assert running is not None and running.progress == 40 and running.polls == 2
    assert await store.record_poll_error(job.id, T0 + 90)
    errored = await store.get_job(job.id)
    assert errored is not None and errored.attempts == 1 and errored.next_poll_at == T0 + 90
    assert await store.mark_completed(job.id, "https://cdn/v.mp4", T0 + 100)
    done = await store.get_job(job.id)
    assert done is not None and done.status is JobStatus.COMPLETED and done.progress == 100
    assert done.attempts == 0 and done.needs_notice and done.next_poll_at == T0 + 100
    # A late poll answer cannot move a completed job back.
    assert not await store.record_progress(job.id, JobStatus.RUNNING, 50, T0 + 200)
    assert not await store.cancel(job.id, T0 + 101)  # finished at the provider: nothing to cancel


async def test_progress_is_only_recorded_for_jobs_at_the_provider(store: JobStore) -> None:
    job = await store.insert_job(new_job(), T0)
    assert not await store.record_progress(job.id, JobStatus.RUNNING, 50, T0)
    assert (await store.get_job(job.id)).progress == 0  # type: ignore[union-attr]


async def test_record_progress_with_and_without_a_change_of_status(store: JobStore) -> None:
    job = await submitted(store)
    # Same status: progress, next poll and poll count move on, the status stays.
    assert await store.record_progress(job.id, JobStatus.SUBMITTED, 0, T0 + 10)
    same = await store.get_job(job.id)
    assert same is not None and same.status is JobStatus.SUBMITTED and same.next_poll_at == T0 + 10
    assert same.polls == 1
    # A new status is written along with the rest.
    assert await store.record_progress(job.id, JobStatus.RUNNING, 20, T0 + 20)
    moved = await store.get_job(job.id)
    assert moved is not None and moved.status is JobStatus.RUNNING and moved.progress == 20
    assert moved.next_poll_at == T0 + 20 and moved.polls == 2
    # Only jobs at the provider take a poll's answer, whatever status the answer names.
    assert await store.mark_completed(job.id, None, T0 + 30)
    assert not await store.record_progress(job.id, JobStatus.COMPLETED, 90, T0 + 40)
    done = await store.get_job(job.id)
    assert done is not None and done.progress == 100 and done.polls == 3 and done.next_poll_at == T0 + 30


async def test_cancel_wins_over_a_poll_in_flight(store: JobStore) -> None:
    job = await submitted(store)
    assert await store.cancel(job.id, T0 + 5)
    assert not await store.mark_completed(job.id, "https://cdn/v.mp4", T0 + 6)
    assert not await store.mark_failed(job.id, JobStatus.FAILED, "x", T0 + 6)
    assert await store.begin_delivery(job.id, T0 + 60) is None
    cancelled = await store.get_job(job.id)
    assert cancelled is not None and cancelled.status is JobStatus.CANCELLED
    assert cancelled.next_poll_at is None and cancelled.finished_at == T0 + 5 and not cancelled.needs_notice


async def test_a_failure_keeps_the_task_id_and_is_refunded(store: JobStore) -> None:
    job = await submitted(store)
    assert await store.mark_failed(job.id, JobStatus.FAILED, "no", T0 + 5, safety_rejection=True)
    failed = await store.get_job(job.id)
    assert failed is not None and failed.status is JobStatus.FAILED and failed.safety_rejection is True
    assert failed.refunded is True and failed.task_id == "task_1" and failed.error == "no"  # no video, no charge
