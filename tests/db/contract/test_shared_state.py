"""State shared across processes: a job's input images stored with it (all or nothing), read back in order and
dropped once spent; named process leases taken by exactly one of several racing stores, taken over once they run
out, refused to a stale holder, released at once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from bot.jobs.policy import Refusal
from bot.jobs.ports import JobStore
from bot.jobs.provider import ImageInput
from bot.jobs.records import JobStatus
from tests.db.contract.helpers import ROOMY, T0, new_job, policy

LEASE = 30.0
StoreFactory = Callable[[], Awaitable[JobStore]]
FIRST = ImageInput(data=b"\x89PNG first \x00\xff" * 3, filename="image.png", content_type="image/png")
LAST = ImageInput(data=b"\xff\xd8 last \x00", filename="last_frame.jpg", content_type="image/jpeg")


async def test_a_job_is_admitted_with_its_images_and_reads_them_back_in_order(store: JobStore) -> None:
    admission = await store.admit_job(new_job(), policy(), T0, [FIRST, LAST])
    assert admission.job_id is not None
    assert await store.job_images(admission.job_id) == [FIRST, LAST]
    plain = await store.admit_job(new_job(user=2), policy(), T0)
    assert plain.job_id is not None and await store.job_images(plain.job_id) == []


async def test_a_refused_admission_stores_no_images(store: JobStore) -> None:
    full = policy(max_queued=1)
    first = await store.admit_job(new_job(), full, T0, [FIRST])
    refused = await store.admit_job(new_job(user=2), full, T0, [LAST])
    assert first.job_id is not None and refused.job_id is None and refused.refusal is Refusal.QUEUE_FULL
    assert await store.job_images(first.job_id + 1) == []


async def test_more_images_than_a_job_holds_are_refused_before_anything_is_written(store: JobStore) -> None:
    with pytest.raises(ValueError, match="at most 2"):
        await store.admit_job(new_job(), policy(), T0, [FIRST, LAST, FIRST])
    assert await store.count_by_status() == {}


async def test_images_are_dropped_once_spent_and_swept_when_a_crash_left_them(store: JobStore) -> None:
    sent = await store.admit_job(new_job(), policy(), T0, [FIRST])
    waiting = await store.admit_job(new_job(user=2), policy(), T0, [LAST])
    crashed = await store.admit_job(new_job(user=3), policy(), T0, [FIRST, LAST])
    assert sent.job_id and waiting.job_id and crashed.job_id
    await store.drop_job_images(sent.job_id)
    assert await store.job_images(sent.job_id) == []
    assert await store.drop_spent_images() == 0  # all three still wait to be sent: nothing is spent
    assert await store.cancel(crashed.job_id, T0 + 1)
    assert await store.drop_spent_images() == 2  # the cancelled job's two images; the queued one's stay
    assert await store.job_images(waiting.job_id) == [LAST]
    assert await store.job_images(crashed.job_id) == []


async def test_a_submitting_job_keeps_its_images(store: JobStore) -> None:
    admitted = await store.admit_job(new_job(), policy(), T0, [FIRST])
    [claimed] = await store.claim_submittable(ROOMY, T0, T0 + LEASE, 10, "p1")
    assert claimed.id == admitted.job_id and claimed.status is JobStatus.SUBMITTING
    assert await store.drop_spent_images() == 0
    assert await store.job_images(claimed.id) == [FIRST]


async def test_a_lease_is_taken_renewed_and_released(store: JobStore) -> None:
    token = await store.take_process_lease("chore:x", "p1", T0, LEASE)
    assert token is not None
    assert await store.take_process_lease("chore:x", "p2", T0 + 1, LEASE) is None  # held
    assert await store.take_process_lease("chore:x", "p1", T0 + 2, LEASE) == token  # its own: same token
    assert await store.renew_process_lease("chore:x", "p1", token, T0 + 20, LEASE)
    assert await store.take_process_lease("chore:x", "p2", T0 + LEASE + 5, LEASE) is None  # renewed past that
    [held] = await store.live_process_leases(T0 + 21, "chore:")
    assert (held.name, held.owner, held.token, held.expires_at) == ("chore:x", "p1", token, T0 + 20 + LEASE)
    assert await store.release_process_lease("chore:x", "p1", token)
    assert await store.live_process_leases(T0 + 21) == []
    again = await store.take_process_lease("chore:x", "p2", T0 + 22, LEASE)
    assert again is not None and again > token  # released at once, and the token only grows


async def test_an_expired_lease_goes_to_another_and_the_stale_holder_is_refused(store: JobStore) -> None:
    stale = await store.take_process_lease("shard:2:0", "p1", T0, LEASE)
    assert stale is not None
    fresh = await store.take_process_lease("shard:2:0", "p2", T0 + LEASE, LEASE)
    assert fresh is not None and fresh > stale
    assert not await store.renew_process_lease("shard:2:0", "p1", stale, T0 + LEASE + 1, LEASE)
    assert not await store.release_process_lease("shard:2:0", "p1", stale)
    [held] = await store.live_process_leases(T0 + LEASE + 1)
    assert (held.owner, held.token, held.expires_at) == ("p2", fresh, T0 + 2 * LEASE)
    # A holder that lapsed and takes its lease back gets a new token: what it did under the old one is over.
    assert await store.take_process_lease("other", "p1", T0, LEASE) == 1
    assert await store.take_process_lease("other", "p1", T0 + LEASE, LEASE) == 2


async def test_leases_are_listed_by_prefix_and_only_while_live(store: JobStore) -> None:
    for name in ("shard:4:0", "shard:4:1", "chore:sync"):
        assert await store.take_process_lease(name, "p1", T0, LEASE) is not None
    assert [lease.name for lease in await store.live_process_leases(T0, "shard:4:")] == ["shard:4:0", "shard:4:1"]
    assert len(await store.live_process_leases(T0)) == 3
    assert await store.live_process_leases(T0 + LEASE) == []


async def test_stores_racing_for_a_lease_give_it_to_exactly_one(store_factory: StoreFactory) -> None:
    stores = [await store_factory() for _ in range(6)]
    for attempt in range(3):
        now = T0 + attempt * LEASE * 2  # each round after the last holder's lease ran out
        tokens = await asyncio.gather(*(s.take_process_lease("shard:1:0", f"p{n}", now, LEASE)
                                        for n, s in enumerate(stores)))
        winners = [t for t in tokens if t is not None]
        assert len(winners) == 1 and winners[0] == attempt + 1
        [held] = await stores[0].live_process_leases(now)
        assert held.owner == f"p{tokens.index(winners[0])}"


async def test_images_written_by_one_process_are_read_by_another(store_factory: StoreFactory) -> None:
    taker, submitter = await store_factory(), await store_factory()
    admitted = await taker.admit_job(new_job(), policy(), T0, [FIRST, LAST])
    assert admitted.job_id is not None
    [claimed] = await submitter.claim_submittable(ROOMY, T0, T0 + LEASE, 10, "p2")
    assert await submitter.job_images(claimed.id) == [FIRST, LAST]
