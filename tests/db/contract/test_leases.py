"""Leases and fencing tokens: due work is claimed by one owner at a time, a lease that runs out is taken over,
and a write carrying a superseded token is refused and changes nothing; a cancel (unfenced) always wins."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable

from bot.jobs.ports import JobStore
from bot.jobs.records import Job, JobStatus
from tests.db.contract.helpers import ROOMY, T0, new_job, submitted

LEASE = 60.0
StoreFactory = Callable[[], Awaitable[JobStore]]


async def _due(store: JobStore, count: int) -> list[Job]:
    """``count`` jobs at the provider, all due for a poll at ``T0``."""
    jobs = []
    for n in range(count):
        job = await submitted(store, user=n, task=f"task_{n}")
        assert await store.record_progress(job.id, JobStatus.RUNNING, 10, T0)
        jobs.append(job)
    return jobs


def _row(job: Job) -> dict[str, object]:
    return dataclasses.asdict(job)


async def test_a_claim_leases_due_jobs_to_its_owner_under_a_new_token(store: JobStore) -> None:
    [job] = await _due(store, 1)
    before = await store.get_job(job.id)
    assert before is not None and before.lease_owner is None
    [claimed] = await store.claim_due("p1", T0, LEASE, 10)
    assert claimed.id == job.id and claimed.lease_owner == "p1"
    assert claimed.lease_token == before.lease_token + 1
    assert claimed.next_poll_at == T0 + LEASE  # due again when the lease runs out, unless renewed or ended
    assert await store.claim_due("p2", T0 + LEASE - 1, LEASE, 10) == []  # held: nobody else gets it
    assert await store.next_due_at() == T0 + LEASE


async def test_an_expired_lease_is_taken_over_by_another_owner(store: JobStore) -> None:
    [job] = await _due(store, 1)
    [first] = await store.claim_due("p1", T0, LEASE, 10)
    [second] = await store.claim_due("p2", T0 + LEASE, LEASE, 10)
    assert second.id == job.id and second.lease_owner == "p2" and second.lease_token == first.lease_token + 1


async def test_a_stale_tokens_writes_are_refused_and_change_nothing(store: JobStore) -> None:
    [job] = await _due(store, 1)
    [stale] = await store.claim_due("p1", T0, LEASE, 10)
    [fresh] = await store.claim_due("p2", T0 + LEASE, LEASE, 10)
    row = await store.get_job(job.id)
    assert row is not None
    old = stale.lease_token
    assert not await store.record_progress(job.id, JobStatus.RUNNING, 50, T0 + 200, token=old)
    assert not await store.record_poll_error(job.id, T0 + 200, token=old)
    assert not await store.mark_completed(job.id, "https://v/1.mp4", T0 + 200, token=old)
    assert not await store.mark_failed(job.id, JobStatus.FAILED, "no", T0 + 200, token=old)
    assert _row(await store.get_job(job.id)) == _row(row)  # type: ignore[arg-type]
    # The holder's writes go through; its last one ends the step and frees the lease.
    assert await store.mark_completed(job.id, "https://v/1.mp4", T0 + 61, token=fresh.lease_token)
    completed = await store.get_job(job.id)
    assert completed is not None and completed.lease_owner == "p2"
    assert completed.next_poll_at == T0 + 2 * LEASE  # not due to anyone else while p2 delivers
    assert await store.begin_delivery(job.id, T0 + 70, token=old) is None
    assert await store.begin_delivery(job.id, T0 + 70, token=fresh.lease_token) is not None
    assert not await store.mark_delivered(job.id, "m-stale", T0 + 80, token=old)
    assert not await store.postpone_delivery(job.id, T0 + 90, "stale", token=old)
    assert await store.mark_delivered(job.id, "m1", T0 + 80, token=fresh.lease_token)
    delivered = await store.get_job(job.id)
    assert delivered is not None and delivered.status is JobStatus.DELIVERED
    assert delivered.delivered_message_id == "m1" and delivered.lease_owner is None and delivered.next_poll_at is None


async def test_a_stale_submission_is_refused(store: JobStore) -> None:
    job = await store.insert_job(new_job(), T0)
    [stale] = await store.claim_submittable(ROOMY, T0, T0 + LEASE, 9, "p1")
    assert stale.lease_owner == "p1" and stale.next_poll_at == T0 + LEASE
    [taken] = await store.claim_due("p2", T0 + LEASE, LEASE, 10)  # p1 died mid-create, as far as p2 can tell
    assert taken.status is JobStatus.SUBMITTING and taken.lease_token == stale.lease_token + 1
    assert not await store.mark_submitted(job.id, "task_x", T0 + 61, T0 + 90, token=stale.lease_token)
    assert await store.mark_failed(job.id, JobStatus.FAILED, "interrupted", T0 + 61, token=taken.lease_token,
                                   from_statuses=(JobStatus.SUBMITTING,))
    failed = await store.get_job(job.id)
    assert failed is not None and failed.task_id is None and failed.status is JobStatus.FAILED


async def test_renewals_keep_a_lease_and_report_the_ones_lost(store: JobStore) -> None:
    jobs = await _due(store, 3)
    claimed = {job.id: job.lease_token for job in await store.claim_due("p1", T0, LEASE, 10)}
    assert set(claimed) == {job.id for job in jobs}
    lost = jobs[2].id
    assert await store.cancel(lost, T0 + 10)  # a cancel takes the job from its owner
    renewed = await store.renew_leases("p1", claimed, T0 + 50, LEASE)
    assert renewed == {jobs[0].id, jobs[1].id}
    assert await store.claim_due("p2", T0 + LEASE + 1, LEASE, 10) == []  # still held after the first lease
    assert await store.renew_leases("p2", claimed, T0 + 60, LEASE) == set()  # not p2's
    [again] = await store.claim_due("p2", T0 + 50 + LEASE, LEASE, 1)
    assert await store.renew_leases("p1", claimed, T0 + 111, LEASE) == {jobs[0].id, jobs[1].id} - {again.id}
    assert await store.renew_leases("p1", {}, T0 + 111, LEASE) == set()


async def test_a_cancel_wins_over_a_leased_step(store: JobStore) -> None:
    [job] = await _due(store, 1)
    [claimed] = await store.claim_due("p1", T0, LEASE, 10)
    assert await store.cancel(job.id, T0 + 1)
    token = claimed.lease_token
    assert not await store.record_progress(job.id, JobStatus.RUNNING, 90, T0 + 2, token=token)
    assert not await store.mark_completed(job.id, "https://v/1.mp4", T0 + 2, token=token)
    assert not await store.mark_failed(job.id, JobStatus.FAILED, "no", T0 + 2, token=token)
    cancelled = await store.get_job(job.id)
    assert cancelled is not None and cancelled.status is JobStatus.CANCELLED
    assert cancelled.lease_owner is None and cancelled.next_poll_at is None


async def test_dead_leases_end_at_start_only_where_one_process_serves_the_database(
    store: JobStore, database_url: str
) -> None:
    [job] = await _due(store, 1)
    await store.claim_due("dead", T0, LEASE, 10)
    ended = await store.end_dead_leases(T0 + 1)
    taken = await store.claim_due("p2", T0 + 1, LEASE, 10)
    if database_url.startswith("sqlite"):
        assert ended == 1 and [j.id for j in taken] == [job.id]
    else:
        assert ended == 0 and taken == []


async def test_concurrent_claims_from_four_stores_are_disjoint(store_factory: StoreFactory) -> None:
    stores = [await store_factory() for _ in range(4)]
    jobs = await _due(stores[0], 40)
    rounds = await asyncio.gather(*(s.claim_due(f"p{n}", T0 + 1, LEASE, 15) for n, s in enumerate(stores)))
    ids = [job.id for claimed in rounds for job in claimed]
    assert len(ids) == len(set(ids)) == 40  # nobody got a job twice, and every due job was claimed
    assert set(ids) == {job.id for job in jobs}
    owners = {job.id: job.lease_owner for claimed in rounds for job in claimed}
    for n, claimed in enumerate(rounds):
        assert all(owners[job.id] == f"p{n}" for job in claimed)
