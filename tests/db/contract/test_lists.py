"""Lists and counts: due work, queue positions, a workspace's jobs in flight, a member's jobs, failures."""

from __future__ import annotations

from bot.jobs.ports import JobStore
from bot.jobs.records import JobStatus, Limits, Workspace
from tests.db.contract.helpers import T0, new_job, submitted


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
