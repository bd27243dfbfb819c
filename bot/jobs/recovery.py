"""Tidying up after a crash: the steps a killed process may have left undone between two commits."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable

from bot.jobs.ports import JobStore
from bot.jobs.videos import VideoStore
from bot.part_files import is_part_file

log = logging.getLogger(__name__)

# Status messages refreshed per start; older ones stay as they are (a crash hits only the jobs in flight).
STATUS_REFRESH_LIMIT = 100


async def remove_leftover_files(store: JobStore, videos: VideoStore) -> int:
    """Remove partial downloads and, unless videos are kept, the videos of jobs that are over; return how many.

    Call before the first download of a process starts: any partial file then belongs to a dead process.
    """
    if not videos.root.is_dir():
        return 0
    removed = 0
    for path in list(videos.root.iterdir()):
        if is_part_file(path):
            leftover = True
        elif not videos.keeps_videos and videos.resolve(path.name) is not None:
            job = await store.get_job(int(path.name.split("-", 1)[0]))
            # A completed job still waiting to be posted keeps its file: the next attempt uses it.
            leftover = job is None or job.status.is_terminal
        else:
            leftover = False
        if leftover:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            removed += 1
    if removed:
        log.info("removed %d file(s) left by an earlier run", removed)
    return removed


async def refresh_stale_statuses(store: JobStore, refresh: Callable[[int], Awaitable[None]]) -> int:
    """Show the final state in status messages of finished jobs that a crash left showing an earlier one."""
    stale = await store.stale_status_messages(STATUS_REFRESH_LIMIT)
    for job in stale:
        log.info("job=%s status message shows an earlier state; updating it", job.id)
        await refresh(job.id)
    return len(stale)
