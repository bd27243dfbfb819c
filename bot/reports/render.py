"""Draws charts outside the bot's process: a child Python draws each one, so the event loop never waits on
it and matplotlib never stays in the bot's memory."""

from __future__ import annotations

import asyncio
import contextlib
import sys

from bot.i18n import Locale, language
from bot.reports.usage_series import UsageChart, chart_to_json

# Seconds a chart may take (a cold start of the child, with matplotlib's imports, takes about one).
DRAW_TIMEOUT = 60.0


class ChartNotDrawn(RuntimeError):
    """The child process that draws a chart failed, or took too long; the message says how."""


class ChartDrawer:
    """Draws charts in child processes, ``concurrency`` at a time (each takes a core and ~120 MB briefly)."""

    def __init__(self, *, limit: float = DRAW_TIMEOUT, concurrency: int = 1) -> None:
        self.limit = limit
        self._slots = asyncio.Semaphore(concurrency)

    async def usage_png(self, chart: UsageChart, locale: Locale | None = None) -> bytes:
        """The usage chart as PNG bytes, labelled in ``locale``'s language."""
        async with self._slots:
            child = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.reports.draw_usage", language(locale),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )
            try:
                async with asyncio.timeout(self.limit):
                    png, errors = await child.communicate(chart_to_json(chart).encode())
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    child.kill()
                await child.wait()
                raise ChartNotDrawn(f"the chart took more than {self.limit:g} s") from None
        if child.returncode != 0 or not png.startswith(b"\x89PNG"):
            last = errors.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
            raise ChartNotDrawn(f"the drawing process exited with {child.returncode}: {last[0]}")
        return png
