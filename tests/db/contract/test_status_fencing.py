"""The status message across processes: its first post is begun by one caller at a time, and a worker step whose
claim another has superseded can neither begin that post nor record what the message shows."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable

from bot.jobs.ports import JobStore
from bot.jobs.records import JobStatus
from tests.db.contract.helpers import T0, new_job, submitted

HOLD = 60.0
StoreFactory = Callable[[], Awaitable[JobStore]]


async def _taken_over(store: JobStore) -> tuple[int, int, int]:
    """A job at the provider claimed by p1, then (its lease run out) by p2: (job id, p1's token, p2's token)."""
    job = await submitted(store)
    assert await store.record_progress(job.id, JobStatus.RUNNING, 10, T0)
    [stale] = await store.claim_due("p1", T0, HOLD, 10)
    [fresh] = await store.claim_due("p2", T0 + HOLD, HOLD, 10)
    return job.id, stale.lease_token, fresh.lease_token


async def test_a_stale_tokens_status_write_is_refused_and_changes_nothing(store: JobStore) -> None:
    job_id, stale, fresh = await _taken_over(store)
    assert await store.set_status_shown(job_id, "running|10|1", T0 + 1, message_id="m1", token=fresh)
    before = await store.get_job(job_id)
    assert before is not None and before.status_message_id == "m1"
    assert not await store.set_status_shown(job_id, "running|50|1", T0 + 70, token=stale)
    assert not await store.set_status_shown(job_id, "running|50|1", T0 + 70, message_id="m2", token=stale)
    assert dataclasses.asdict(await store.get_job(job_id)) == dataclasses.asdict(before)  # type: ignore[arg-type]
    # The holder's write and a member's command (no token) go through.
    assert await store.set_status_shown(job_id, "running|50|1", T0 + 71, token=fresh)
    assert await store.set_status_shown(job_id, "cancelled|50|0", T0 + 72)
    after = await store.get_job(job_id)
    assert after is not None and after.status_rendered == "cancelled|50|0" and after.status_message_id == "m1"


async def test_the_first_post_is_begun_once_until_the_hold_runs_out(store: JobStore) -> None:
    job = await store.insert_job(new_job(), T0)
    assert await store.begin_status_post(job.id, T0, HOLD)
    assert not await store.begin_status_post(job.id, T0 + 1, HOLD)  # being posted by the first caller
    # That caller died before recording its message: after the hold another may post it.
    assert await store.begin_status_post(job.id, T0 + HOLD, HOLD)
    assert await store.set_status_shown(job.id, "queued|0|1", T0 + HOLD + 1, message_id="m1")
    assert not await store.begin_status_post(job.id, T0 + 10 * HOLD, HOLD)  # posted: edits from now on
    assert not await store.begin_status_post(job.id + 1, T0, HOLD)  # no such job


async def test_a_stale_token_cannot_begin_the_first_post(store: JobStore) -> None:
    job_id, stale, fresh = await _taken_over(store)
    assert not await store.begin_status_post(job_id, T0 + 61, HOLD, token=stale)
    row = await store.get_job(job_id)
    assert row is not None and row.status_edited_at is None
    assert await store.begin_status_post(job_id, T0 + 61, HOLD, token=fresh)


async def test_processes_racing_to_post_the_first_message_let_one_through(store_factory: StoreFactory) -> None:
    stores = [await store_factory() for _ in range(4)]
    jobs = [await stores[0].insert_job(new_job(user=n), T0) for n in range(20)]
    for job in jobs:
        won = await asyncio.gather(*(s.begin_status_post(job.id, T0 + 1, HOLD) for s in stores for _ in range(2)))
        assert won.count(True) == 1, (job.id, won)


async def test_a_failed_first_post_is_abandoned_and_may_be_begun_again_at_once(store: JobStore) -> None:
    job = await store.insert_job(new_job(), T0)
    assert await store.begin_status_post(job.id, T0, HOLD)
    assert not await store.abandon_status_post(job.id, T0 - 1)  # not the caller that holds the right
    assert not await store.begin_status_post(job.id, T0 + 1, HOLD)
    assert await store.abandon_status_post(job.id, T0)
    assert await store.begin_status_post(job.id, T0 + 1, HOLD)
    assert await store.set_status_shown(job.id, "queued|0|1", T0 + 2, message_id="m1")
    assert not await store.abandon_status_post(job.id, T0 + 2)  # posted: nothing to give up
    row = await store.get_job(job.id)
    assert row is not None and row.status_edited_at == T0 + 2 and row.status_message_id == "m1"
