"""``read_last_frame``: a video's last frame as an image, read by a child process (``bot.media.frames``).

PyAV (about 20 MB once loaded) then never enters the bot's own memory, and a slow or hostile file is stopped
by killing the child at the time limit rather than by waiting for a thread to notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bot.media.fitter import child_environment

FRAME_TIMEOUT = 20.0
_DETAIL_CHARS = 300


class FrameError(Exception):
    """The video's last frame could not be read (not a video, corrupt, too large, or too slow)."""


@dataclass(frozen=True, slots=True)
class Still:
    """One encoded picture."""

    data: bytes
    content_type: str
    extension: str
    width: int
    height: int

    def __repr__(self) -> str:
        return f"Still({self.content_type}, {self.width}x{self.height}, {len(self.data)} B)"


async def read_last_frame(path: Path, max_bytes: int, *, time_limit: float = FRAME_TIMEOUT,
                          python: str = sys.executable) -> Still:
    """The last frame of the video at ``path``: a PNG, or a JPEG when the PNG is over ``max_bytes``.

    Raises ``FileNotFoundError`` when there is no such file and ``FrameError`` for anything else that stops it.
    """
    fd, name = tempfile.mkstemp(prefix="veo-frame-", suffix=".part")
    os.close(fd)
    part = Path(name)
    try:
        process = await asyncio.create_subprocess_exec(
            python, "-m", "bot.media.frames", str(path), str(part), str(max_bytes), str(time_limit),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=child_environment(),
        )
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), time_limit + 2.0)
        except TimeoutError as exc:
            raise FrameError("reading the last frame took too long") from exc
        finally:
            if process.returncode is None:  # timed out, or the caller was cancelled
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        return _still(process.returncode, stdout, stderr, part)
    finally:
        part.unlink(missing_ok=True)


def _still(returncode: int | None, stdout: bytes, stderr: bytes, part: Path) -> Still:
    """The child's report (its last line of output) and the picture it wrote."""
    lines = stdout.decode(errors="replace").strip().splitlines()
    report: dict[str, object] = {}
    if returncode == 0 and lines:
        with contextlib.suppress(ValueError):
            loaded = json.loads(lines[-1])
            report = loaded if isinstance(loaded, dict) else {}
    if report.get("missing"):
        raise FileNotFoundError("the video is not on disk")
    if "error" in report:
        raise FrameError(str(report["error"])[:_DETAIL_CHARS])
    try:
        return Still(part.read_bytes(), str(report["content_type"]), str(report["extension"]),
                     int(str(report["width"])), int(str(report["height"])))
    except (KeyError, ValueError, OSError):
        errors = stderr.decode(errors="replace").strip().splitlines()
        last = errors[-1] if errors else "no output"
        raise FrameError(f"the frame reader exited with {returncode}: {last}"[:_DETAIL_CHARS]) from None
