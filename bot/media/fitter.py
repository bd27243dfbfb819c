"""``VideoFitter``: fits a video to an upload limit in a child process, a few at a time, within a time limit."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from bot.part_files import new_part_file

log = logging.getLogger(__name__)

# The child needs none of the bot's secrets: variables whose names say they hold one are left out.
_SECRET_MARKS = ("TOKEN", "KEY", "SECRET", "PASSWORD", "DATABASE_URL")
_DETAIL_CHARS = 300


class FitOutcome(StrEnum):
    """How a fit ended; the same words in the metrics and the logs."""

    FITTED = "fitted"
    CANNOT_FIT = "cannot_fit"  # too long for the limit at a quality worth posting
    UNREADABLE = "unreadable"  # not a readable MP4 video (damaged, or something else)
    FAILED = "failed"  # the encode broke
    TIMED_OUT = "timed_out"


@dataclass(frozen=True, slots=True)
class FitResult:
    """A fit's outcome; ``size`` is the fitted file's, ``detail`` says why it did not fit."""

    outcome: FitOutcome
    detail: str = ""
    size: int | None = None

    @property
    def fitted(self) -> bool:
        """True when the fitted file was written."""
        return self.outcome is FitOutcome.FITTED


def child_environment(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The environment for the child process: the parent's, without its secrets."""
    return {name: value for name, value in environ.items() if not any(mark in name.upper() for mark in _SECRET_MARKS)}


class VideoFitter:
    """Re-encodes videos that are over an upload limit (``bot.media.fit``), each in its own child process.

    At most ``concurrency`` at once (an encode keeps a core busy); one that runs past ``timeout`` seconds is
    killed. The fitted file appears at its destination whole or not at all.
    """

    def __init__(self, *, timeout: float, concurrency: int = 1, python: str = sys.executable) -> None:
        self.timeout = timeout
        self.python = python
        self._slots = asyncio.Semaphore(concurrency)

    async def fit(self, source: Path, dest: Path, limit: int) -> FitResult:
        """Write a copy of ``source`` of at most ``limit`` bytes to ``dest``; say how it went."""
        async with self._slots:
            fd, part = new_part_file(dest)
            os.close(fd)
            try:
                result = await self._run(source, part, limit)
                if result.fitted:
                    os.replace(part, dest)
                return result
            finally:
                part.unlink(missing_ok=True)

    async def _run(self, source: Path, out: Path, limit: int) -> FitResult:
        process = await asyncio.create_subprocess_exec(
            # The child's own time limit, a little past ours: it ends itself even if this process dies first.
            self.python, "-m", "bot.media.fit", str(source), str(out), str(limit), str(self.timeout + 5),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=child_environment(),
        )
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), self.timeout)
        except TimeoutError:
            return FitResult(FitOutcome.TIMED_OUT, f"no result within {self.timeout:g} s")
        finally:
            if process.returncode is None:  # timed out, or the caller was cancelled
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        return _result(process.returncode, stdout, stderr)


def _result(returncode: int | None, stdout: bytes, stderr: bytes) -> FitResult:
    """The child's report (its last line of output), or a failure with the end of what it wrote to stderr."""
    lines = stdout.decode(errors="replace").strip().splitlines()
    if returncode == 0 and lines:
        with contextlib.suppress(ValueError, KeyError, TypeError):
            report = json.loads(lines[-1])
            outcome = FitOutcome(report["outcome"])
            size = report.get("size")
            return FitResult(outcome, str(report.get("detail", ""))[:_DETAIL_CHARS],
                             size if isinstance(size, int) else None)
    errors = stderr.decode(errors="replace").strip().splitlines()
    last = errors[-1] if errors else "no output"
    return FitResult(FitOutcome.FAILED, f"the encoder exited with {returncode}: {last}"[:_DETAIL_CHARS])
