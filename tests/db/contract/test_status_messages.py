"""Status-message bookkeeping: what the message shows, when it was edited, and its id, kept across edits."""

from __future__ import annotations

from bot.jobs.ports import JobStore
from tests.db.contract.helpers import T0, new_job


async def test_status_message_and_rendering(store: JobStore) -> None:
    job = await store.insert_job(new_job(), T0)
    assert await store.set_status_shown(job.id, "queued|0|0", T0 + 1, message_id="4242")
    assert await store.set_status_shown(job.id, "queued|0|1", T0 + 3)  # an edit keeps the message id
    fresh = await store.get_job(job.id)
    assert fresh is not None and fresh.status_message_id == "4242"
    assert (fresh.status_rendered, fresh.status_edited_at) == ("queued|0|1", T0 + 3)
