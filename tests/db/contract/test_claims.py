"""Claims: the oldest queued jobs that fit under the caps move to submitting, race-free."""

from __future__ import annotations

import asyncio

from bot.jobs.ports import JobStore
from bot.jobs.records import JobStatus, Limits
from tests.db.contract.helpers import T0, new_job, settings_of


async def test_claim_respects_user_guild_and_total_caps_in_fifo_order(store: JobStore) -> None:
    a1 = await store.insert_job(new_job(user=1, guild=10), T0)
    a2 = await store.insert_job(new_job(user=1, guild=10), T0)
    a3 = await store.insert_job(new_job(user=1, guild=10), T0)
    b1 = await store.insert_job(new_job(user=2, guild=10), T0)
    c1 = await store.insert_job(new_job(user=3, guild=20), T0)
    claimed = await store.claim_submittable(Limits(per_user=2, per_guild=3, total=4), T0, T0 + 120, 10)
    # user 1 is capped at 2, guild 10 at 3 (a1, a2, b1), total 4 leaves room for c1
    assert [j.id for j in claimed] == [a1.id, a2.id, b1.id, c1.id]
    assert all(j.status is JobStatus.SUBMITTING and j.next_poll_at == T0 + 120 for j in claimed)
    assert (await store.get_job(a3.id)).status is JobStatus.QUEUED  # type: ignore[union-attr]
    assert await store.claim_submittable(Limits(2, 3, 4), T0, T0 + 120, 10) == []
    assert await store.cancel(a1.id, T0 + 5)
    again = await store.claim_submittable(Limits(2, 3, 4), T0, T0 + 120, 10)
    assert [j.id for j in again] == [a3.id]


async def test_claim_is_race_free_under_concurrency(store: JobStore) -> None:
    for _ in range(20):
        await store.insert_job(new_job(user=1), T0)
    results = await asyncio.gather(
        *(store.claim_submittable(Limits(per_user=2, per_guild=10, total=20), T0, T0 + 1, 5) for _ in range(10))
    )
    claimed = [j.id for batch in results for j in batch]
    assert len(claimed) == 2 and len(set(claimed)) == 2


async def test_claim_batch_limit(store: JobStore) -> None:
    for user in range(5):
        await store.insert_job(new_job(user=user), T0)
    assert len(await store.claim_submittable(Limits(9, 9, 9), T0, T0, batch=3)) == 3


async def test_claim_uses_guild_caps_and_skips_paused_guilds(store: JobStore) -> None:
    for user in (1, 1, 1, 2):
        await store.insert_job(new_job(user=user, guild=10), T0)
    paused_job = await store.insert_job(new_job(user=3, guild=20), T0)
    await store.save_workspace_settings(settings_of(10, max_active_per_user=3, max_active_per_guild=3),
                                        actor_id="1", action="set", details="", now=T0)
    await store.save_workspace_settings(settings_of(20, paused=True), actor_id="1", action="pause",
                                        details="", now=T0)
    claimed = await store.claim_submittable(Limits(per_user=1, per_guild=10, total=20), T0, T0, 20)
    assert [j.user_id for j in claimed] == ["1", "1", "1"]  # guild 10 allows 3 per user and 3 in all
    assert (await store.get_job(paused_job.id)).status is JobStatus.QUEUED  # type: ignore[union-attr]
    await store.save_workspace_settings(settings_of(20), actor_id="1", action="resume", details="", now=T0)
    assert [j.id for j in await store.claim_submittable(Limits(1, 10, 20), T0, T0, 20)] == [paused_job.id]


async def test_concurrent_claims_and_cancels_through_the_store_stay_consistent(store: JobStore) -> None:
    jobs = [await store.insert_job(new_job(user=i % 3), T0 + i) for i in range(30)]
    claims = [store.claim_submittable(Limits(per_user=4, per_guild=10, total=10), T0 + 40, T0 + 100, 5)
              for _ in range(6)]
    cancels = [store.cancel(job.id, T0 + 41) for job in jobs[::2]]
    batches, _ = await asyncio.gather(asyncio.gather(*claims), asyncio.gather(*cancels))  # all at once
    claimed = [job.id for batch in batches for job in batch]
    assert len(claimed) == len(set(claimed)) <= 10
    by_user: dict[str, int] = {}
    for job in jobs:
        fresh = await store.get_job(job.id)
        assert fresh is not None
        if fresh.id in claimed:
            # A claim and a cancel of the same job: whichever ran first, the row says so consistently.
            assert fresh.status in (JobStatus.SUBMITTING, JobStatus.CANCELLED)
            if fresh.status is JobStatus.SUBMITTING:
                by_user[fresh.user_id] = by_user.get(fresh.user_id, 0) + 1
    assert all(count <= 4 for count in by_user.values())


async def test_the_total_cap_counts_every_job_at_the_provider_and_only_those(store: JobStore) -> None:
    assert await store.claim_submittable(Limits(9, 9, 9), T0, T0 + 60, 9) == []  # nothing queued
    first = await store.insert_job(new_job(user=1, guild=10), T0)
    second = await store.insert_job(new_job(user=2, guild=20), T0)
    third = await store.insert_job(new_job(user=3, guild=30), T0)
    fourth = await store.insert_job(new_job(user=4, guild=40), T0)
    total_two = Limits(per_user=9, per_guild=9, total=2)
    assert [j.id for j in await store.claim_submittable(total_two, T0, T0 + 60, 9)] == [first.id, second.id]
    assert await store.mark_submitted(first.id, "t1", T0 + 1, T0 + 10)
    assert await store.record_progress(first.id, JobStatus.RUNNING, 5, T0 + 10)
    assert await store.claim_submittable(total_two, T0, T0 + 60, 9) == []  # submitting and running both count
    assert await store.mark_completed(first.id, None, T0 + 20)  # done at the provider: its slot is free
    assert [j.id for j in await store.claim_submittable(total_two, T0, T0 + 60, 9)] == [third.id]
    assert await store.mark_failed(second.id, JobStatus.FAILED, "x", T0 + 21)
    assert [j.id for j in await store.claim_submittable(total_two, T0, T0 + 60, 9)] == [fourth.id]


async def test_concurrent_claims_keep_every_workspace_under_its_cap(store: JobStore) -> None:
    for n in range(40):
        await store.insert_job(new_job(user=n, guild=n % 4), T0 + n)
    limits = Limits(per_user=9, per_guild=2, total=10)
    results = await asyncio.gather(*(store.claim_submittable(limits, T0, T0 + 60, 2) for _ in range(12)))
    claimed = [job for batch in results for job in batch]
    assert len(claimed) == len({job.id for job in claimed}) == 8  # two in each of four workspaces
    per_workspace: dict[str, int] = {}
    for job in claimed:
        per_workspace[job.workspace_id] = per_workspace.get(job.workspace_id, 0) + 1
    assert per_workspace == {"0": 2, "1": 2, "2": 2, "3": 2}
    assert sorted(job.id for job in await store.submitting_jobs()) == sorted(job.id for job in claimed)
