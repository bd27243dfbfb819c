"""Named process leases as the processes use them: a chore runs where its lease was taken and is skipped where
another holds it; a long-held lease is waited for, renewed, reported lost to a stale holder, and released."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from bot.jobs.process_leases import LeaseHolder, exclusive
from bot.jobs.provider import ImageInput
from bot.jobs.records import NewJob
from bot.jobs.recovery import TIDY_LEASE, tidy_shared_rows
from db.sqlite.store import SqliteJobStore
from tests.conftest import FakeClock
from tests.db.contract.helpers import new_job, policy

LEASE = 20.0


async def test_a_chore_runs_under_its_lease_and_frees_it_after(store: SqliteJobStore, clock: FakeClock) -> None:
    async with exclusive(store, "chore:x", "p1", LEASE, clock=clock) as mine:
        assert mine
        [held] = await store.live_process_leases(clock(), "chore:")
        assert held.owner == "p1"
        async with exclusive(store, "chore:x", "p2", LEASE, clock=clock) as theirs:
            assert not theirs  # held by p1: p2 skips the chore
    assert await store.live_process_leases(clock()) == []
    async with exclusive(store, "chore:x", "p2", LEASE, clock=clock) as theirs:
        assert theirs


async def test_a_chore_that_fails_still_frees_its_lease(store: SqliteJobStore, clock: FakeClock) -> None:
    try:
        async with exclusive(store, "chore:x", "p1", LEASE, clock=clock):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert await store.live_process_leases(clock()) == []


async def test_a_newcomer_waits_for_a_lease_until_it_runs_out(store: SqliteJobStore, clock: FakeClock) -> None:
    holder = LeaseHolder(store, "p1", LEASE, clock=clock)
    assert await holder.acquire("shard:1:0") == 0.0
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.advance(seconds)

    newcomer = LeaseHolder(store, "p2", LEASE, clock=clock, sleep=sleep)
    try:
        waited = await newcomer.acquire("shard:1:0")  # p1 never renews: it "died"
        assert LEASE <= waited <= LEASE + newcomer.poll and set(waits) == {newcomer.poll}
        assert newcomer.held == {"shard:1:0": 2}
        # The stale holder's renewal is refused; it forgets the lease and says so.
        lost: list[str] = []

        async def on_lost(name: str) -> None:
            lost.append(name)

        holder.on_lost = on_lost
        assert await holder.renew() == {"shard:1:0"} and lost == ["shard:1:0"] and holder.held == {}
    finally:
        await newcomer.release_all()
        await holder.release_all()


async def test_a_lease_released_on_a_clean_close_is_taken_at_the_next_look(
    store: SqliteJobStore, clock: FakeClock
) -> None:
    holder = LeaseHolder(store, "p1", LEASE, clock=clock)
    await holder.acquire("shard:2:1")
    looks = 0

    async def sleep(seconds: float) -> None:
        nonlocal looks
        looks += 1
        if looks == 3:
            await holder.release_all()  # the holder closes while the newcomer waits
        clock.advance(seconds)

    newcomer = LeaseHolder(store, "p2", LEASE, clock=clock, sleep=sleep)
    try:
        waited = await newcomer.acquire("shard:2:1")
        assert looks == 3 and waited == 3 * newcomer.poll < LEASE
        assert await newcomer.renew() == set()  # renewed, still its own
        assert await newcomer.acquire("shard:2:1") == 0.0  # identifying again: already held
    finally:
        await newcomer.release_all()


async def test_the_heartbeat_keeps_a_lease_held(store: SqliteJobStore, clock: FakeClock) -> None:
    holder = LeaseHolder(store, "p1", 0.2, clock=clock)  # beats every 0.05 s of real time
    try:
        await holder.acquire("shard:1:0")
        clock.advance(0.15)
        [before] = await store.live_process_leases(clock())
        for _ in range(100):
            await asyncio.sleep(0.01)
            [lease] = await store.live_process_leases(clock())
            if lease.expires_at > before.expires_at:
                break
        assert lease.expires_at == clock() + 0.2 and lease.token == before.token
    finally:
        await holder.release_all()


async def test_tidying_after_a_restart_is_done_by_one_process_at_a_time(
    store: SqliteJobStore, clock: FakeClock
) -> None:
    sent = await store.admit_job(_with_image(new_job()), policy(), clock(), [_png()])
    assert sent.job_id is not None and await store.cancel(sent.job_id, clock())
    refreshed: list[int] = []

    async def refresh(job_id: int) -> None:
        refreshed.append(job_id)

    other = await store.take_process_lease(TIDY_LEASE, "another process", clock(), LEASE)
    assert other is not None
    assert not await tidy_shared_rows(store, refresh, owner="p1", lease_s=LEASE, clock=clock)
    assert len(await store.job_images(sent.job_id)) == 1  # left to the process doing it
    assert await store.release_process_lease(TIDY_LEASE, "another process", other)
    assert await tidy_shared_rows(store, refresh, owner="p1", lease_s=LEASE, clock=clock)
    assert await store.job_images(sent.job_id) == []
    assert await store.live_process_leases(clock()) == []


async def test_leases_found_when_a_sqlite_database_opens_were_a_dead_process_s(tmp_path: Path) -> None:
    # One SQLite database serves one process (its file lock): whatever lease is in it at open is free.
    first = await SqliteJobStore.open(tmp_path / "one.sqlite3")
    assert await first.take_process_lease("shard:1:0", "dead", 100.0, LEASE) == 1
    await first.close()
    again = await SqliteJobStore.open(tmp_path / "one.sqlite3")
    try:
        assert await again.live_process_leases(100.0) == []
        assert await again.take_process_lease("shard:1:0", "alive", 101.0, LEASE) == 2
    finally:
        await again.close()


def _with_image(new: NewJob) -> NewJob:
    return dataclasses.replace(new, image_count=1)


def _png() -> ImageInput:
    return ImageInput(b"\x89PNG\r\n\x1a\n" + b"\x00" * 8, "image.png", "image/png")
