"""``MockVideoProvider`` (``VEO_PROVIDER=mock``): makes small local videos instead of calling CometAPI."""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
from collections.abc import Sequence
from pathlib import Path

from bot.jobs.provider import DownloadFailed, ImageInput, TaskNotFound, TaskState, TaskStatus
from bot.part_files import written_whole

log = logging.getLogger(__name__)

MOCK_TASK_PREFIX = "mock-"
MISSING_EXTRA = (
    "VEO_PROVIDER=mock needs the mock extra (PyAV and Pillow): pip install 'veo-bot[mock]'"
)


def is_mock_task(task_id: str | None) -> bool:
    """True for a task the mock provider made."""
    return task_id is not None and task_id.startswith(MOCK_TASK_PREFIX)


def mock_available() -> bool:
    """True when the libraries that draw mock videos are installed."""
    try:
        import bot.mock.video  # noqa: F401
    except ImportError:
        return False
    return True


def missing_mock_extra(provider: str) -> str | None:
    """For ``VEO_PROVIDER=mock`` without PyAV or Pillow: the line saying what to install; else None."""
    if provider != "mock" or mock_available():
        return None
    return MISSING_EXTRA


class MockVideoProvider:
    """A ``VideoProvider`` that draws the prompt into a short MP4 on this machine; it spends no credits.

    The video is drawn when the job is created and kept in ``work_dir`` until it is downloaded, so a
    restart in between loses nothing. It reports progress over ``polls_until_done`` status polls, so
    the status message goes through the same states as with the real service.
    """

    def __init__(self, work_dir: Path, *, polls_until_done: int = 3, seconds: float = 3.0) -> None:
        if not mock_available():
            raise RuntimeError(MISSING_EXTRA)
        self.work_dir = work_dir
        self.polls_until_done = max(1, polls_until_done)
        self.seconds = seconds
        self._polls: dict[str, int] = {}

    def _file(self, task_id: str) -> Path:
        if not is_mock_task(task_id) or not task_id[len(MOCK_TASK_PREFIX):].isalnum():
            raise TaskNotFound(detail=f"mock: not a mock task id {task_id[:40]!r}")
        return self.work_dir / f"{task_id}.mp4"

    async def create(self, prompt: str, model: str, orientation: str, images: Sequence[ImageInput] = ()) -> str:
        """Draw the video now and return its task id."""
        from bot.mock.video import render_mp4

        task_id = MOCK_TASK_PREFIX + secrets.token_hex(8)
        size = await asyncio.to_thread(
            render_mp4, self._file(task_id), prompt=prompt, model=model, orientation=orientation,
            seconds=self.seconds, first_frame=images[0].data if images else None,
        )
        self._polls[task_id] = 0
        log.info("mock provider made task=%s (%d bytes)", task_id, size)
        return task_id

    async def get(self, task_id: str) -> TaskStatus:
        """Report progress, then success after ``polls_until_done`` polls."""
        if not self._file(task_id).is_file():
            raise TaskNotFound(detail=f"mock: no video for task {task_id}")
        # After a restart the count starts again: the job simply takes a few more polls.
        polls = self._polls.get(task_id, 0) + 1
        self._polls[task_id] = polls
        done = polls >= self.polls_until_done
        progress = 100 if done else polls * 100 // self.polls_until_done
        state = TaskState.SUCCEEDED if done else TaskState.RUNNING
        return TaskStatus(task_id, state, progress, None, None, False, "completed" if done else "in_progress")

    async def download(self, task_id: str, video_url: str | None, dest: Path) -> int:
        """Move the drawn video to ``dest`` (atomically) and return its size."""
        source = self._file(task_id)
        if not source.is_file():
            raise DownloadFailed(detail=f"mock: no video for task {task_id}")
        size = await asyncio.to_thread(_copy_atomically, source, dest)
        source.unlink(missing_ok=True)
        self._polls.pop(task_id, None)
        return size


def _copy_atomically(source: Path, dest: Path) -> int:
    with written_whole(dest) as part:
        shutil.copyfile(source, part)
    return dest.stat().st_size
