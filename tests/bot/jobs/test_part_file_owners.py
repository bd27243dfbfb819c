"""Part files name their writer, and start-up tidying removes only those whose writer is dead: a live peer's
download on a shared volume stays, whether the peer runs on this host (a live pid) or another (a live job lease)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from bot.jobs.recovery import remove_leftover_files
from bot.jobs.videos import STALE_WORK_AGE, VideoStore
from bot.part_files import OwnerState, PartOwner, new_part_file, owner_state, part_owner, this_process
from db.sqlite.store import SqliteJobStore
from tests.conftest import FakeClock
from tests.db.contract.helpers import ROOMY, new_job

LEASE = 60.0


def _part(videos: VideoStore, job_id: int, owner: PartOwner) -> Path:
    path = videos.root / f".{videos.path_for(job_id).name}.{owner.tag}.k3j2h1g0.part"
    path.write_bytes(b"half a video")
    return path


async def _dead_pid() -> int:
    """The id of a process of this host that has ended."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await proc.wait()
    return proc.pid


async def test_a_part_file_names_its_writer(tmp_path: Path) -> None:
    fd, path = new_part_file(tmp_path / "7-abc.mp4")
    os.close(fd)
    me = this_process()
    assert part_owner(path) == me and owner_state(me) is OwnerState.MINE
    assert me.pid == os.getpid() and path.name.startswith(f".7-abc.mp4.{me.tag}.")
    assert part_owner(tmp_path / ".7-abc.mp4.x1y2.part") is None  # written before part files named their writer
    assert part_owner(tmp_path / "7-abc.mp4") is None
    assert owner_state(PartOwner(os.getppid(), "00000000", me.host)) is OwnerState.ALIVE
    assert owner_state(PartOwner(await _dead_pid(), "00000000", me.host)) is OwnerState.DEAD
    # This pid with another nonce: an earlier run under the same pid (a container's pid 1 after a restart).
    assert owner_state(PartOwner(me.pid, "ffffffff", me.host)) is OwnerState.DEAD
    assert owner_state(PartOwner(me.pid, me.nonce, "another-host")) is OwnerState.ELSEWHERE


async def test_tidying_removes_only_part_files_whose_writer_is_dead(
    tmp_path: Path, store: SqliteJobStore, clock: FakeClock
) -> None:
    videos = VideoStore(tmp_path / "videos", key=b"k" * 32)
    videos.root.mkdir()
    me = this_process()
    peer = PartOwner(4242, "0badc0de", "peer-host-example")  # a process of another host...
    peer_lease = "peer-host.example:4242:abcd1234"  # ...as its job leases name it

    async def leased(owner: str, until: float) -> int:
        await store.insert_job(new_job(), clock())
        [job] = await store.claim_submittable(ROOMY, clock(), until, 1, owner)
        return job.id

    held = await leased(peer_lease, clock() + LEASE)
    lost = await leased(peer_lease, clock() + LEASE)
    assert await store.cancel(lost, clock())  # over: the peer's lease went with it
    ran_out = await leased(peer_lease, clock() + 0.5)
    taken_over = await leased("peer-host.example:5151:ffff0000", clock() + LEASE)  # another process has it
    kept = {
        _part(videos, held, peer),
        _part(videos, 1, PartOwner(os.getppid(), "12345678", me.host)),  # a live process of this host
    }
    gone = {
        _part(videos, lost, peer),
        _part(videos, ran_out, peer),
        _part(videos, taken_over, peer),
        _part(videos, 2, PartOwner(await _dead_pid(), "12345678", me.host)),
        _part(videos, 3, PartOwner(me.pid, "ffffffff", me.host)),  # an earlier run under this pid
        _part(videos, 4, PartOwner(os.getppid(), "87654321", me.host)),  # alive, but left a day ago
        _part(videos, 5, PartOwner(4242, "0badc0de", "host-long-gone")),  # no job 5: no lease
    }
    unnamed = videos.root / f".{videos.path_for(6).name}.x1y2.part"
    unnamed.write_bytes(b"half")
    gone.add(unnamed)
    stale = time.time() - STALE_WORK_AGE - 60
    os.utime(_part(videos, 4, PartOwner(os.getppid(), "87654321", me.host)), (stale, stale))

    assert await remove_leftover_files(store, videos, now=clock() + 1) == len(gone)
    assert set(videos.root.iterdir()) == kept
    assert {p.exists() for p in gone} == {False}
