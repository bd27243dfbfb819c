"""Status-message bookkeeping: what the message shows, when it was edited, its id, and which are stale."""

from __future__ import annotations

from bot.jobs.ports import JobStore
from bot.jobs.records import Job, JobStatus
from tests.db.contract.helpers import T0, new_job, submitted


async def test_status_message_and_rendering(store: JobStore) -> None:
    job = await store.insert_job(new_job(), T0)
    assert await store.set_status_shown(job.id, "queued|0|0", T0 + 1, message_id="4242")
    assert await store.set_status_shown(job.id, "queued|0|1", T0 + 3)  # an edit keeps the message id
    fresh = await store.get_job(job.id)
    assert fresh is not None and fresh.status_message_id == "4242"
    assert (fresh.status_rendered, fresh.status_edited_at) == ("queued|0|1", T0 + 3)


async def test_a_new_message_id_replaces_the_old_one_and_unknown_jobs_are_refused(store: JobStore) -> None:
    job = await store.insert_job(new_job(), T0)
    assert await store.set_status_shown(job.id, "queued|0|0", T0 + 1, message_id="4242")
    assert await store.set_status_shown(job.id, "queued|0|0", T0 + 2, message_id="4343")  # posted anew
    fresh = await store.get_job(job.id)
    assert fresh is not None and fresh.status_message_id == "4343" and fresh.status_edited_at == T0 + 2
    assert not await store.set_status_shown(job.id + 1, "queued|0|0", T0 + 3, message_id="1")


async def _finished(store: JobStore, status: JobStatus, user: int, rendered: str | None) -> Job:
    """A job ended in ``status`` whose status message (when ``rendered``) last showed ``rendered``."""
    job = await submitted(store, user=user, task=f"task_{user}")
    if rendered is not None:
        assert await store.set_status_shown(job.id, rendered, T0 + 2, message_id=f"m{user}")
    if status is JobStatus.CANCELLED:
        assert await store.cancel(job.id, T0 + 3)
    elif status in (JobStatus.FAILED, JobStatus.TIMED_OUT):
        assert await store.mark_failed(job.id, status, "x", T0 + 3)
    else:
        assert await store.mark_completed(job.id, None, T0 + 3)
        if status is JobStatus.DELIVERED:
            assert await store.mark_delivered(job.id, f"r{user}", T0 + 4)
    fresh = await store.get_job(job.id)
    assert fresh is not None and fresh.status is status
    return fresh


async def test_stale_status_messages_are_finished_jobs_whose_message_shows_an_earlier_state(store: JobStore) -> None:
    # What a message shows is stored as "<state>|…" (bot.jobs.status_messages): stale when <state> is not
    # the job's final status.
    stale_delivered = await _finished(store, JobStatus.DELIVERED, 1, "running|90|3")
    await _finished(store, JobStatus.DELIVERED, 2, "delivered|100|3")
    stale_failed = await _finished(store, JobStatus.FAILED, 3, "submitted|0|1")
    await _finished(store, JobStatus.FAILED, 4, None)  # never had a status message
    stale_cancelled = await _finished(store, JobStatus.CANCELLED, 5, "queued|0|0")
    await _finished(store, JobStatus.CANCELLED, 6, "cancelled|0|0")
    stale_timed_out = await _finished(store, JobStatus.TIMED_OUT, 7, "failed|0|0")  # another final state
    await _finished(store, JobStatus.TIMED_OUT, 8, "timed_out|50|2")
    await _finished(store, JobStatus.COMPLETED, 9, "running|90|3")  # not finished: delivery will show it
    running = await submitted(store, user=10, task="task_10")
    assert await store.set_status_shown(running.id, "queued|0|0", T0 + 2, message_id="m10")  # in flight
    expected = [stale_timed_out.id, stale_cancelled.id, stale_failed.id, stale_delivered.id]  # newest first
    assert [j.id for j in await store.stale_status_messages(10)] == expected
    assert [j.id for j in await store.stale_status_messages(2)] == expected[:2]
    # Once the message shows the final state, the job is no longer stale.
    assert await store.set_status_shown(stale_failed.id, "failed|0|1", T0 + 9)
    assert stale_failed.id not in [j.id for j in await store.stale_status_messages(10)]
