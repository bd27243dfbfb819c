"""Post intents: one row per job and kind, replaced whole, fenced by the job's claim when a token is given."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.jobs.ports import JobStore
from bot.jobs.post_intents import PostIntent, PostKind, PostStage
from tests.db.contract.helpers import T0, new_job


async def test_an_intent_is_stored_replaced_whole_and_kept_per_kind(store: JobStore) -> None:
    job = await store.insert_job(new_job(), T0)
    assert await store.post_intent(job.id, PostKind.RESULT) is None
    uploading = PostIntent(job.id, PostKind.RESULT, PostStage.UPLOADING, T0 + 1, file_id="F1")
    assert await store.record_post_intent(uploading)
    assert await store.post_intent(job.id, PostKind.RESULT) == uploading
    posted = PostIntent(job.id, PostKind.RESULT, PostStage.POSTED, T0 + 2, file_id="F1", message_id="1712.000100")
    assert await store.record_post_intent(posted)
    assert await store.post_intent(job.id, PostKind.RESULT) == posted
    # Replaced whole: a field left out is cleared (a status message posted anew after the old one was deleted).
    again = PostIntent(job.id, PostKind.RESULT, PostStage.POSTING, T0 + 3)
    assert await store.record_post_intent(again)
    assert await store.post_intent(job.id, PostKind.RESULT) == again
    # Each kind has a row of its own; another job's rows are apart.
    status = PostIntent(job.id, PostKind.STATUS, PostStage.POSTED, T0 + 4, message_id="1712.000001")
    assert await store.record_post_intent(status)
    assert await store.post_intent(job.id, PostKind.STATUS) == status
    assert await store.post_intent(job.id, PostKind.RESULT) == again
    other = await store.insert_job(new_job(user=2), T0)
    assert await store.post_intent(other.id, PostKind.STATUS) is None


async def test_an_intent_for_no_job_is_refused(store: JobStore) -> None:
    assert not await store.record_post_intent(PostIntent(999, PostKind.STATUS, PostStage.POSTING, T0))
    assert await store.post_intent(999, PostKind.STATUS) is None


async def test_a_superseded_claim_cannot_write_an_intent(store: JobStore) -> None:
    job = await store.insert_job(new_job(), T0)
    # A job due now is claimed by one process, then (its lease run out) by another: a new fencing token.
    assert await store.postpone_delivery(job.id, T0, None)  # make it due (a delivery pending)
    [claim_a] = await store.claim_due("a", T0, 5, 9)
    [claim_b] = await store.claim_due("b", T0 + 6, 5, 9)
    assert claim_b.lease_token > claim_a.lease_token
    stale = PostIntent(job.id, PostKind.FAILURE, PostStage.POSTING, T0 + 7)
    assert not await store.record_post_intent(stale, token=claim_a.lease_token)
    assert await store.post_intent(job.id, PostKind.FAILURE) is None
    fresh = PostIntent(job.id, PostKind.FAILURE, PostStage.POSTING, T0 + 7)
    assert await store.record_post_intent(fresh, token=claim_b.lease_token)
    assert await store.post_intent(job.id, PostKind.FAILURE) == fresh
    # Unfenced (no token): always written.
    status = PostIntent(job.id, PostKind.STATUS, PostStage.POSTING, T0 + 8)
    assert await store.record_post_intent(status)


async def test_intents_are_seen_by_every_process(store_factory: Callable[[], Awaitable[JobStore]]) -> None:
    one, two = await store_factory(), await store_factory()
    job = await one.insert_job(new_job(), T0)
    intent = PostIntent(job.id, PostKind.RESULT, PostStage.COMPLETING, T0 + 1, file_id="F9")
    assert await one.record_post_intent(intent)
    assert await two.post_intent(job.id, PostKind.RESULT) == intent
