"""State transitions and their guards: each leaves only the states it may leave, so a cancel always wins."""

from __future__ import annotations

from bot.jobs.ports import JobStore
from bot.jobs.records import JobStatus
from tests.db.contract.helpers import ROOMY, T0, new_job, submitted


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


async def test_mark_submitted_only_from_submitting(store: JobStore) -> None:
    job = await store.insert_job(new_job(), T0)
    assert not await store.mark_submitted(job.id, "task_q", T0, T0 + 10)  # still queued: not claimed
    queued = await store.get_job(job.id)
    assert queued is not None and queued.status is JobStatus.QUEUED and queued.task_id is None
    assert await store.claim_submittable(ROOMY, T0, T0 + 60, 9)
    assert await store.mark_submitted(job.id, "task_1", T0 + 1, T0 + 10)
    assert not await store.mark_submitted(job.id, "task_2", T0 + 2, T0 + 20)  # once only
    once = await store.get_job(job.id)
    assert once is not None and once.task_id == "task_1" and once.submitted_at == T0 + 1
    assert once.next_poll_at == T0 + 10 and once.attempts == 0
    other = await store.insert_job(new_job(user=2), T0)
    assert await store.claim_submittable(ROOMY, T0, T0 + 60, 9)
    assert await store.cancel(other.id, T0 + 3)  # cancelled while being submitted
    assert not await store.mark_submitted(other.id, "task_3", T0 + 4, T0 + 10)
    cancelled = await store.get_job(other.id)
    assert cancelled is not None and cancelled.status is JobStatus.CANCELLED and cancelled.task_id is None


async def test_mark_completed_only_for_jobs_at_the_provider(store: JobStore) -> None:
    job = await store.insert_job(new_job(), T0)
    assert not await store.mark_completed(job.id, "https://cdn/v.mp4", T0)  # queued
    assert await store.claim_submittable(ROOMY, T0, T0 + 60, 9)
    assert not await store.mark_completed(job.id, "https://cdn/v.mp4", T0)  # submitting: no task yet
    assert await store.mark_submitted(job.id, "task_1", T0 + 1, T0 + 10)
    assert await store.mark_completed(job.id, "https://cdn/v.mp4", T0 + 2)  # straight from submitted
    done = await store.get_job(job.id)
    assert done is not None and done.video_url == "https://cdn/v.mp4" and done.completed_at == T0 + 2
    assert not await store.mark_completed(job.id, "https://cdn/other.mp4", T0 + 3)  # once only
    assert (await store.get_job(job.id)).video_url == "https://cdn/v.mp4"  # type: ignore[union-attr]


async def test_mark_failed_leaves_only_the_given_statuses(store: JobStore) -> None:
    queued = await store.insert_job(new_job(user=1), T0)
    assert not await store.mark_failed(queued.id, JobStatus.FAILED, "x", T0)  # by default: once claimed only
    at_provider = await submitted(store, user=2, task="task_2")
    # What recovery of an interrupted submission asks: fail it only if it is still being submitted.
    assert not await store.mark_failed(at_provider.id, JobStatus.FAILED, "x", T0 + 2,
                                       from_statuses=(JobStatus.SUBMITTING,))
    assert (await store.get_job(at_provider.id)).status is JobStatus.SUBMITTED  # type: ignore[union-attr]
    being_sent = await store.insert_job(new_job(user=3), T0)
    assert await store.claim_submittable(ROOMY, T0, T0 + 60, 9)
    assert await store.mark_failed(being_sent.id, JobStatus.FAILED, "interrupted", T0 + 3,
                                   from_statuses=(JobStatus.SUBMITTING,))
    # The first job was claimed along with it; any iterable of statuses will do.
    assert await store.mark_failed(queued.id, JobStatus.FAILED, "lost", T0 + 3,
                                   from_statuses=[s for s in JobStatus if s.is_active])
    assert not await store.mark_failed(queued.id, JobStatus.FAILED, "again", T0 + 4)  # not failed twice
    again = await store.get_job(queued.id)
    assert again is not None and again.error == "lost" and again.finished_at == T0 + 3


async def test_a_timeout_is_a_failure_with_its_own_status_and_a_notice_due(store: JobStore) -> None:
    job = await submitted(store)
    assert await store.record_progress(job.id, JobStatus.RUNNING, 70, T0 + 5)
    assert await store.mark_failed(job.id, JobStatus.TIMED_OUT, "no result in time", T0 + 600)
    timed_out = await store.get_job(job.id)
    assert timed_out is not None and timed_out.status is JobStatus.TIMED_OUT and timed_out.error == "no result in time"
    assert timed_out.finished_at == T0 + 600 and timed_out.next_poll_at == T0 + 600 and timed_out.needs_notice
    assert timed_out.safety_rejection is False and timed_out.attempts == 0 and timed_out.refunded is True
    assert [j.id for j in await store.due_jobs(T0 + 600, 10)] == [job.id]


async def test_record_poll_error_only_for_jobs_at_the_provider(store: JobStore) -> None:
    queued = await store.insert_job(new_job(user=1), T0)
    assert not await store.record_poll_error(queued.id, T0 + 5)
    job = await submitted(store, user=2, task="task_2")
    assert await store.record_poll_error(job.id, T0 + 20)
    assert await store.record_poll_error(job.id, T0 + 40)
    errored = await store.get_job(job.id)
    assert errored is not None and errored.attempts == 2 and errored.polls == 2 and errored.next_poll_at == T0 + 40
    assert await store.record_progress(job.id, JobStatus.RUNNING, 10, T0 + 50)  # an answer resets the count
    assert (await store.get_job(job.id)).attempts == 0  # type: ignore[union-attr]
    assert await store.mark_completed(job.id, None, T0 + 60)
    assert not await store.record_poll_error(job.id, T0 + 70)


async def test_cancel_refunds_only_jobs_not_yet_claimed_and_happens_once(store: JobStore) -> None:
    queued = await store.insert_job(new_job(user=1), T0)
    assert await store.cancel(queued.id, T0 + 1)
    assert not await store.cancel(queued.id, T0 + 2)  # once
    first = await store.get_job(queued.id)
    assert first is not None and first.status is JobStatus.CANCELLED and first.refunded is True
    assert first.finished_at == T0 + 1
    job = await submitted(store, user=2, task="task_2")
    assert await store.cancel(job.id, T0 + 3)
    at_provider = await store.get_job(job.id)
    assert at_provider is not None and at_provider.refunded is False  # the provider may bill it
    assert await store.claim_submittable(ROOMY, T0, T0 + 60, 9) == []  # a cancelled job is never claimed
