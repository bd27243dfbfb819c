"""Draws charts off the event loop: matplotlib is imported, and each chart drawn, in a worker thread."""

from __future__ import annotations

import asyncio

from bot.i18n import Locale
from bot.reports.usage_series import UsageChart


def _usage_png(chart: UsageChart, locale: Locale | None) -> bytes:
    # Imported here, on first use: the bot at rest never loads matplotlib.
    from bot.reports.usage_chart import render_png

    return render_png(chart, locale)


async def usage_png(chart: UsageChart, locale: Locale | None = None) -> bytes:
    """The usage chart as PNG bytes, drawn in a thread so that the event loop never waits on it."""
    return await asyncio.to_thread(_usage_png, chart, locale)
