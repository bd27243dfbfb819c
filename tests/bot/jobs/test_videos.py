"""Stored videos: unguessable names, lasting links only for kept files, retention pruning."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

from bot.jobs.process_leases import exclusive
from bot.jobs.videos import DAY, VOLUME_ID_FILE, VideoStore, load_name_key
from db.sqlite.store import SqliteJobStore
from tests.conftest import FakeClock


def _store(tmp_path: Path, clock: FakeClock, **kw: object) -> VideoStore:
    return VideoStore(tmp_path / "videos", key=b"k" * 32, clock=clock, **kw)  # type: ignore[arg-type]


def test_names_are_stable_per_key_and_not_guessable_from_the_number(tmp_path: Path, clock: FakeClock) -> None:
    a = _store(tmp_path, clock)
    other_key = VideoStore(tmp_path / "videos", key=b"x" * 32)
    assert a.name_for(12) == a.name_for(12) and a.name_for(12).startswith("12-")
    assert a.name_for(12) != a.name_for(13) and a.name_for(12) != other_key.name_for(12)
    assert a.path_for(12) == tmp_path / "videos" / a.name_for(12)


def test_public_url_only_for_a_kept_file_with_a_base_url(tmp_path: Path, clock: FakeClock) -> None:
    kept = _store(tmp_path, clock, retention=DAY, public_base_url="https://videos.example.org/veo/")
    assert kept.public_url(3) is None  # not downloaded yet
    kept.root.mkdir()
    kept.path_for(3).write_bytes(b"\0\0\0\x18ftypmp42")
    assert kept.public_url(3) == f"https://videos.example.org/veo/videos/{kept.name_for(3)}"
    assert _store(tmp_path, clock, retention=DAY).public_url(3) is None  # no base URL
    # Removed right after posting: a link to it would die at once.
    assert _store(tmp_path, clock, retention=0, public_base_url="https://v.example.org").public_url(3) is None


def test_resolve_accepts_only_its_own_names(tmp_path: Path, clock: FakeClock) -> None:
    videos = _store(tmp_path, clock, retention=DAY)
    videos.root.mkdir()
    videos.path_for(4).write_bytes(b"mp4")
    (videos.root / "notes.txt").write_text("x")
    assert videos.resolve(videos.name_for(4)) == videos.path_for(4)
    for name in ("notes.txt", "../veo.sqlite3", videos.name_for(5), "4.mp4", "." + videos.name_for(4) + ".x.part"):
        assert videos.resolve(name) is None, name


def test_prune_removes_only_old_videos_and_stale_partial_downloads(tmp_path: Path, clock: FakeClock) -> None:
    videos = _store(tmp_path, clock, retention=2 * DAY)
    videos.root.mkdir()
    old, fresh = videos.path_for(1), videos.path_for(2)
    part = videos.root / f".{videos.name_for(3)}.abc.part"
    foreign = videos.root / "keep-me.mp4"
    for path in (old, fresh, part, foreign):
        path.write_bytes(b"x")
    for path in (old, part, foreign):
        os.utime(path, (clock() - 3 * DAY, clock() - 3 * DAY))
    os.utime(fresh, (clock() - DAY, clock() - DAY))
    assert videos.prune() == 2
    assert not old.exists() and not part.exists() and fresh.exists() and foreign.exists()
    clock.advance(1.5 * DAY)
    assert videos.prune() == 1 and not fresh.exists()


def test_without_retention_nothing_is_pruned(tmp_path: Path, clock: FakeClock) -> None:
    videos = _store(tmp_path, clock, retention=0)
    videos.root.mkdir()
    videos.path_for(1).write_bytes(b"x")
    os.utime(videos.path_for(1), (0, 0))
    assert videos.prune() == 0 and videos.path_for(1).exists()


async def test_pruner_runs_at_once_and_stops_when_told(tmp_path: Path, clock: FakeClock) -> None:
    videos = _store(tmp_path, clock, retention=DAY)
    videos.root.mkdir()
    videos.path_for(1).write_bytes(b"x")
    os.utime(videos.path_for(1), (0, 0))
    stop = asyncio.Event()
    pruned: list[int] = []
    task = asyncio.create_task(videos.run_pruner(stop, interval=3600, on_pruned=pruned.append))
    for _ in range(200):
        if pruned:
            break
        await asyncio.sleep(0.005)
    stop.set()
    await asyncio.wait_for(task, 2)
    assert pruned == [1] and not videos.path_for(1).exists()


async def test_processes_sharing_a_volume_prune_it_one_at_a_time(
    tmp_path: Path, clock: FakeClock, store: SqliteJobStore
) -> None:
    here, there = _store(tmp_path, clock, retention=DAY), _store(tmp_path, clock, retention=DAY)
    volume = here.volume_id()
    assert there.volume_id() == volume and len(volume) == 24  # one id per volume, whoever made it
    assert _store(tmp_path / "elsewhere", clock, retention=DAY).volume_id() != volume
    assert [p.name for p in here.root.iterdir()] == [VOLUME_ID_FILE]  # no staging file left
    here.path_for(1).write_bytes(b"x")
    os.utime(here.path_for(1), (0, 0))
    lease = f"chore:prune-videos:{volume}"
    token = await store.take_process_lease(lease, "the process pruning it now", clock(), 60.0)
    assert token is not None
    stop = asyncio.Event()
    rounds: list[bool] = []

    @contextlib.asynccontextmanager
    async def turn() -> AsyncIterator[bool]:
        async with exclusive(store, lease, "this process", 60.0, clock=clock) as mine:
            rounds.append(mine)
            if len(rounds) == 2:
                stop.set()
            yield mine

    await asyncio.wait_for(there.run_pruner(stop, interval=0.001, turn=turn), 5)
    assert rounds[0] is False and here.path_for(1).exists()  # the holder's round, not this one's
    assert await store.release_process_lease(lease, "the process pruning it now", token)
    stop.clear()
    rounds.clear()
    await asyncio.wait_for(there.run_pruner(stop, interval=0.001, turn=turn), 5)
    assert rounds[0] is True and not here.path_for(1).exists()


async def test_name_key_is_created_once_per_database(store: SqliteJobStore) -> None:
    first = await load_name_key(store)
    assert len(first) == 32 and await load_name_key(store) == first
