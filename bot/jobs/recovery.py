"""Tidying up after a crash: the steps a killed process may have left undone between two commits."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable

from bot.jobs.ports import JobStore
from bot.jobs.videos import VideoStore, fitted_job_id
from bot.part_files import is_part_file

log = logging.getLogger(__name__)

# Status messages refreshed per start; older ones stay as they are (a crash hits only the jobs in flight).
STATUS_REFRESH_LIMIT = 100


async def remove_leftover_files(store: JobStore, videos: VideoStore) -> int:
    """Remove partial downloads and fits, fitted copies of results already posted (or given up) and, unless
    videos are kept, the videos of jobs that are over; return how many.

    Call before the first download of a process starts: any partial file then belongs to a dead process.
    """
    if not videos.root.is_dir():
        return 0
    removed = 0
    for path in list(videos.root.iterdir()):
        fitted_for = fitted_job_id(path)
        if is_part_file(path):
            leftover = True
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
