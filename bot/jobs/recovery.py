"""Tidying up after a crash: the steps a killed process may have left undone between two commits.

Two halves. The files on this machine's disk (partial downloads and fits, fitted copies) are looked at by each
process, which removes only what no live process is still writing (``bot.part_files``). The rows the processes
share (status messages left showing an earlier state, images of jobs already sent) are tidied by one process at a
time, under the ``chore:tidy-after-restart`` lease: several processes starting together do it once, not once each.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.jobs.ports import JobStore
from bot.jobs.process_leases import exclusive
from bot.jobs.videos import STALE_WORK_AGE, VideoStore, fitted_job_id, part_job_id
from bot.part_files import OwnerState, PartOwner, host_tag, is_part_file, owner_state, part_owner

log = logging.getLogger(__name__)

# Status messages refreshed per start; older ones stay as they are (a crash hits only the jobs in flight).
STATUS_REFRESH_LIMIT = 100
TIDY_LEASE = "chore:tidy-after-restart"


async def remove_leftover_files(store: JobStore, videos: VideoStore, *, now: float | None = None) -> int:
    """Remove partial downloads and fits whose writer is dead, fitted copies of results already posted (or given
    up) and, unless videos are kept, the videos of jobs that are over; return how many.

    A part file's writer is dead when it ran on this host and has ended, or ran on another host and no longer
    holds the lease of the job the file is for; whatever the writer, a part file older than ``STALE_WORK_AGE``
    is work that ended without tidying up. ``now`` is the store's time (the leases'), by default the wall clock.
    """
    if not videos.root.is_dir():
        return 0
    removed = 0
    for path in list(videos.root.iterdir()):
        fitted_for = fitted_job_id(path)
        if is_part_file(path):
            leftover = await _part_is_leftover(store, path, time.time() if now is None else now)
        elif fitted_for is not None:
            leftover = await _is_over(store, fitted_for)
        elif not videos.keeps_videos and videos.resolve(path.name) is not None:
            leftover = await _is_over(store, int(path.name.split("-", 1)[0]))
        else:
            leftover = False
        if leftover:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            removed += 1
    if removed:
        log.info("removed %d file(s) left by an earlier run", removed)
    return removed


async def _part_is_leftover(store: JobStore, path: Path, now: float) -> bool:
    """True when no live process is still writing the part file ``path``."""
    try:
        if path.stat().st_mtime < time.time() - STALE_WORK_AGE:
            return True
    except FileNotFoundError:
        return False  # renamed into place (or removed) meanwhile
    owner = part_owner(path)
    if owner is None:
        return True  # written before part files named their writer: by a process that has since stopped
    state = owner_state(owner)
    if state is not OwnerState.ELSEWHERE:
        return state is OwnerState.DEAD
    job_id = part_job_id(path)
    job = await store.get_job(job_id) if job_id is not None else None
    return not (job is not None and job.next_poll_at is not None and job.next_poll_at > now
                and _lease_owned_by(job.lease_owner, owner))


def _lease_owned_by(lease_owner: str | None, owner: PartOwner) -> bool:
    """Whether a job lease's owner (``host:pid:worker``, see ``JobWorker``) is the part file's writer."""
    if lease_owner is None or lease_owner.count(":") < 2:
        return False
    host, pid, _ = lease_owner.rsplit(":", 2)
    return host_tag(host) == owner.host and pid == str(owner.pid)


async def _is_over(store: JobStore, job_id: int) -> bool:
    """True when the job's files have no further use: a completed job still waiting to be posted keeps them,
    as the next attempt uses them."""
    job = await store.get_job(job_id)
    return job is None or job.status.is_terminal


async def refresh_stale_statuses(store: JobStore, refresh: Callable[[int], Awaitable[None]]) -> int:
    """Show the final state in status messages of finished jobs that a crash left showing an earlier one."""
    stale = await store.stale_status_messages(STATUS_REFRESH_LIMIT)
    for job in stale:
        log.info("job=%s status message shows an earlier state; updating it", job.id)
        await refresh(job.id)
    return len(stale)


async def tidy_shared_rows(store: JobStore, refresh: Callable[[int], Awaitable[None]], *, owner: str, lease_s: float,
                           clock: Callable[[], float] = time.time) -> bool:
    """Refresh stale status messages and forget the images of jobs already sent, unless another process is doing
    it right now (then its run covers this one's); True when this process did it."""
    async with exclusive(store, TIDY_LEASE, owner, lease_s, clock=clock) as mine:
        if not mine:
            return False
        await refresh_stale_statuses(store, refresh)
        dropped = await store.drop_spent_images()
        if dropped:
            log.info("forgot %d input image(s) of jobs sent or ended before their images were", dropped)
        return True
