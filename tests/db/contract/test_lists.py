"""Lists and counts: due work, queue positions, a workspace's jobs in flight, a member's jobs, failures."""

from __future__ import annotations

from bot.jobs.ports import JobStore
from bot.jobs.records import JobStatus, Limits, Workspace
from tests.db.contract.helpers import ROOMY, T0, new_job, submitted


async def test_due_jobs_soonest_first_and_bounded(store: JobStore) -> None:
    jobs = [await submitted(store, user=u, task=f"task_{u}") for u in range(1, 5)]
    for offset, job in zip((40, 10, 30, 20), jobs, strict=True):
        await store.record_progress(job.id, JobStatus.RUNNING, 1, T0 + offset)
    due = await store.due_jobs(T0 + 30, limit=10)
    assert [j.id for j in due] == [jobs[1].id, jobs[3].id, jobs[2].id]
    assert len(await store.due_jobs(T0 + 30, limit=2)) == 2
    assert await store.next_due_at() == T0 + 10


async def test_queue_position_lists_and_failures(store: JobStore) -> None:
    a = await store.insert_job(new_job(user=1), T0)
    b = await store.insert_job(new_job(user=2), T0 + 1)
    other_guild = await store.insert_job(new_job(user=3, guild=99), T0 + 2)
    assert await store.queue_position(a) == 1 and await store.queue_position(b) == 2
    assert await store.queue_position(other_guild) == 1
    assert [j.id for j in await store.in_flight(Workspace("discord", "10"))] == [a.id, b.id]
    assert [j.id for j in await store.user_jobs(Workspace("discord", "10"), "1", 5)] == [a.id]
    await store.claim_submittable(Limits(9, 9, 9), T0, T0, 9)
    await store.mark_failed(a.id, JobStatus.FAILED, "nope", T0 + 100)
    assert [j.id for j in await store.failures_since(Workspace("discord", "10"), T0)] == [a.id]
    assert await store.failures_since(Workspace("discord", "10"), T0 + 101) == []
    failed = await store.get_job(a.id)
    assert failed is not None and await store.queue_position(failed) == 0
    assert await store.queue_position(b) == 1


async def test_recent_durations_and_status_shown(store: JobStore) -> None:
    jobs = [await store.insert_job(new_job(user=u), T0) for u in (1, 2, 3)]
    await store.claim_submittable(Limits(5, 5, 5), T0, T0 + 60, 5)
    for offset, job in enumerate(jobs):
        await store.mark_submitted(job.id, f"task-{job.id}", T0 + offset, T0 + 30)
    await store.mark_completed(jobs[0].id, None, T0 + 80)
    await store.mark_completed(jobs[2].id, None, T0 + 102)
    # The newest finished jobs, oldest first; the one still running is not among them.
    assert await store.recent_durations(10) == [("veo3.1-fast", T0, 80.0), ("veo3.1-fast", T0 + 2, 100.0)]
    assert await store.recent_durations(1) == [("veo3.1-fast", T0 + 2, 100.0)]
    assert await store.set_status_shown(jobs[1].id, "running|40|1", T0 + 5, message_id="777")
    assert await store.set_status_shown(jobs[1].id, "running|60|1", T0 + 9)  # keeps the message id
    shown = await store.get_job(jobs[1].id)
    assert shown is not None and shown.status_message_id == "777"
    assert shown.status_rendered == "running|60|1" and shown.status_edited_at == T0 + 9


async def test_count_by_status(store: JobStore) -> None:
    assert all(count == 0 for count in (await store.count_by_status()).values())  # empty: nothing, or zeros
    for user in range(1, 4):
        await store.insert_job(new_job(user=user), T0)
    assert await store.claim_submittable(Limits(per_user=9, per_guild=2, total=9), T0, T0 + 60, 9)
    first, second = (await store.submitting_jobs())
    assert await store.mark_submitted(first.id, "task_a", T0 + 1, T0 + 10)
    assert await store.cancel(second.id, T0 + 2)
    done = await submitted(store, user=4, guild=20, task="task_d")
    assert await store.mark_completed(done.id, None, T0 + 3)  # the third job was claimed along with it
    await store.insert_job(new_job(user=5), T0 + 4)
    counts = await store.count_by_status()
    assert set(counts) <= set(JobStatus) and all(isinstance(status, JobStatus) for status in counts)
    assert {status: counts.get(status, 0) for status in JobStatus} == {
        JobStatus.QUEUED: 1, JobStatus.SUBMITTING: 1, JobStatus.SUBMITTED: 1, JobStatus.RUNNING: 0,
        JobStatus.COMPLETED: 1, JobStatus.DELIVERED: 0, JobStatus.FAILED: 0, JobStatus.CANCELLED: 1,
        JobStatus.TIMED_OUT: 0,
    }


async def test_submitting_jobs_are_those_being_submitted_oldest_first(store: JobStore) -> None:
    assert await store.submitting_jobs() == []
    jobs = [await store.insert_job(new_job(user=u, guild=g), T0 + u) for u, g in ((1, 10), (2, 20), (3, 10))]
    queued = await store.insert_job(new_job(user=4), T0 + 4)
    claimed = await store.claim_submittable(ROOMY, T0 + 5, T0 + 65, 3)
    assert [j.id for j in claimed] == [j.id for j in jobs]
    assert [j.id for j in await store.submitting_jobs()] == [j.id for j in jobs]
    assert all(j.status is JobStatus.SUBMITTING for j in await store.submitting_jobs())
    assert await store.mark_submitted(jobs[1].id, "task_2", T0 + 6, T0 + 16)
    assert await store.mark_failed(jobs[0].id, JobStatus.FAILED, "x", T0 + 6, from_statuses=(JobStatus.SUBMITTING,))
    assert [j.id for j in await store.submitting_jobs()] == [jobs[2].id]
    assert queued.id not in [j.id for j in await store.submitting_jobs()]


async def test_get_job_by_task(store: JobStore) -> None:
    assert await store.get_job_by_task("task_1") is None
    first = await submitted(store, user=1, task="task_1")
    second = await submitted(store, user=2, task="task_2")
    assert await store.get_job_by_task("task_1") == first
    assert await store.get_job_by_task("task_2") == second
    assert await store.get_job_by_task("task_") is None and await store.get_job_by_task("TASK_1") is None
    assert await store.mark_completed(first.id, None, T0 + 5)
    found = await store.get_job_by_task("task_1")
    assert found is not None and found.id == first.id and found.status is JobStatus.COMPLETED


async def test_due_jobs_skip_unscheduled_and_future_work(store: JobStore) -> None:
    assert await store.next_due_at() is None and await store.due_jobs(T0 + 10**6, 10) == []
    queued = await store.insert_job(new_job(user=1), T0)  # nothing scheduled for a queued job
    assert await store.next_due_at() is None
    job = await submitted(store, user=2, task="task_2")  # next poll at T0 + 10
    assert (await store.get_job(queued.id)).status is JobStatus.SUBMITTING  # type: ignore[union-attr]
    assert await store.next_due_at() == T0 + 10  # the soonest: the poll, before the claim's deadline
    assert await store.due_jobs(T0 + 9.5, 10) == []
    assert [j.id for j in await store.due_jobs(T0 + 10, 10)] == [job.id]  # due at its very time
    assert [j.id for j in await store.due_jobs(T0 + 120, 10)] == [job.id, queued.id]
    assert await store.cancel(queued.id, T0 + 11) and await store.cancel(job.id, T0 + 11)
    assert await store.next_due_at() is None and await store.due_jobs(T0 + 10**6, 10) == []


async def test_in_flight_user_jobs_and_failures_since(store: JobStore) -> None:
    ws10 = Workspace("discord", "10")
    jobs = [await store.insert_job(new_job(user=1), T0 + n) for n in range(6)]
    other = await store.insert_job(new_job(user=2), T0 + 6)
    assert await store.claim_submittable(Limits(9, 9, 9), T0, T0 + 60, 5)  # jobs[0..4] submitting
    for n, task in ((1, "t1"), (2, "t2"), (3, "t3"), (4, "t4")):
        assert await store.mark_submitted(jobs[n].id, task, T0 + 7, T0 + 20)
    assert await store.record_progress(jobs[2].id, JobStatus.RUNNING, 10, T0 + 20)
    assert await store.mark_completed(jobs[3].id, None, T0 + 30)
    assert await store.mark_failed(jobs[4].id, JobStatus.TIMED_OUT, "slow", T0 + 40)
    assert await store.mark_failed(jobs[1].id, JobStatus.FAILED, "no", T0 + 50)
    # In flight: queued or at the provider, oldest first; completed, failed and timed out are not.
    assert [j.id for j in await store.in_flight(ws10)] == [jobs[0].id, jobs[2].id, jobs[5].id, other.id]
    assert [j.status for j in await store.in_flight(ws10)] == [
        JobStatus.SUBMITTING, JobStatus.RUNNING, JobStatus.QUEUED, JobStatus.QUEUED]
    # A member's jobs, finished or not, newest first, at most ``limit``.
    assert [j.id for j in await store.user_jobs(ws10, "1", 10)] == [j.id for j in reversed(jobs)]
    assert [j.id for j in await store.user_jobs(ws10, "1", 2)] == [jobs[5].id, jobs[4].id]
    assert await store.user_jobs(ws10, "3", 10) == []
    # Failures and timeouts, by when they ended, newest first; completed and cancelled jobs are not failures.
    assert await store.cancel(jobs[0].id, T0 + 60)
    assert [j.id for j in await store.failures_since(ws10, T0)] == [jobs[1].id, jobs[4].id]
    assert [j.id for j in await store.failures_since(ws10, T0 + 41)] == [jobs[1].id]
    assert await store.queue_position(jobs[5]) == 2 and await store.queue_position(other) == 3  # behind jobs[2]
    completed = await store.get_job(jobs[3].id)
    assert completed is not None and await store.queue_position(completed) == 0


async def test_recent_durations_leave_out_jobs_that_never_finished_at_the_provider(store: JobStore) -> None:
    assert await store.recent_durations(10) == []
    failed = await submitted(store, user=1, task="task_1")
    assert await store.mark_failed(failed.id, JobStatus.FAILED, "x", T0 + 30)
    cancelled = await submitted(store, user=2, task="task_2")
    assert await store.cancel(cancelled.id, T0 + 30)
    assert await store.recent_durations(10) == []
    done = await submitted(store, user=3, task="task_3")
    assert await store.mark_completed(done.id, None, T0 + 61)
    assert await store.mark_delivered(done.id, "1", T0 + 70)  # delivered later: the provider's time counts
    assert await store.recent_durations(10) == [("veo3.1-fast", T0 + 1, 60.0)]
