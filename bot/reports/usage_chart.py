"""Draws the usage chart as a PNG with matplotlib's object API (never pyplot, which is not thread-safe).

Top: videos per day (or week, or month) stacked by model, jobs without a video in grey, and the estimated
cost per bar as a line on a second axis. Bottom: the top members as horizontal bars. 1080 × 1350 pixels
with large type, so that it reads on a phone; Okabe and Ito's colour-blind-safe palette; every label in
the reader's language. Import this module off the event loop: importing matplotlib takes a while.
"""

from __future__ import annotations

import contextlib
import io
import math
import textwrap
import threading
from collections.abc import Iterator
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, StrMethodFormatter

from bot.i18n import Locale, language, tr
from bot.jobs.errors import msg
from bot.reports import fonts
from bot.reports.usage_series import OTHER_MODELS, Bucket, UsageChart

WIDTH_PX, HEIGHT_PX, DPI = 1080, 1350, 100
# Okabe & Ito (2008), distinguishable with every common colour-vision deficiency.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")
NO_VIDEO_COLOUR = "#BBBBBB"
COST_COLOUR = "#000000"
MEMBER_COLOUR = "#0072B2"
# Characters on one line of the summary above the legend.
SUMMARY_WIDTH = 64
# X labels shown at most (the rest are skipped, evenly), so that they never overlap on a phone.
MAX_X_LABELS = 8
PERIOD_NAMES = {
    "today": msg("today"),
    "7d": msg("the last 7 days"),
    "30d": msg("the last 30 days"),
    "all": msg("all time"),
}
VIDEOS_PER = {
    Bucket.DAY: msg("Videos per day"),
    Bucket.WEEK: msg("Videos per week (from Monday)"),
    Bucket.MONTH: msg("Videos per month"),
}
DATE_FORMATS = {Bucket.DAY: "%m-%d", Bucket.WEEK: "%Y-%m-%d", Bucket.MONTH: "%Y-%m"}
# matplotlib's settings are process-wide: one chart at a time, each with its own.
_LOCK = threading.Lock()


def _settings(locale: Locale | None) -> dict[Any, Any]:
    return {
        "font.family": fonts.families(language(locale)),
        "font.size": 17,
        "axes.titlesize": 20,
        "axes.labelsize": 17,
        "xtick.labelsize": 16,
        "ytick.labelsize": 16,
        "legend.fontsize": 16,
        # Model and member names are user text: a "$" must not start a formula.
        "text.parse_math": False,
        "axes.unicode_minus": False,
        "axes.spines.top": False,
    }


def _bars(ax: Axes, chart: UsageChart, locale: Locale | None, summary: str) -> None:
    positions = list(range(len(chart.starts)))
    bottom = [0] * len(positions)
    for number, (model, series) in enumerate(zip(chart.models, chart.videos, strict=True)):
        label = tr("Other models", locale) if model == OTHER_MODELS else fonts.drawable(model) or "?"
        ax.bar(positions, series, bottom=bottom, width=0.8, color=PALETTE[number % len(PALETTE)], label=label)
        bottom = [b + s for b, s in zip(bottom, series, strict=True)]
    if any(chart.no_video):
        ax.bar(positions, chart.no_video, bottom=bottom, width=0.8, color=NO_VIDEO_COLOUR,
               label=tr("No video (failed, refused or cancelled)", locale))
        bottom = [b + s for b, s in zip(bottom, chart.no_video, strict=True)]
    ax.set_ylabel(tr(VIDEOS_PER[chart.bucket], locale))
    ax.set_ylim(0, max(1, *bottom) * 1.12)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(-0.6, len(positions) - 0.4)
    step = math.ceil(len(positions) / MAX_X_LABELS)
    shown = positions[::step]
    ax.set_xticks(shown, [chart.starts[n].strftime(DATE_FORMATS[chart.bucket]) for n in shown])
    ax.grid(axis="y", color="#DDDDDD")
    ax.set_axisbelow(True)

    cost_axis = ax.twinx()
    cost_label = tr("Estimated cost (US$)", locale)
    cost_axis.plot(positions, chart.cost, color=COST_COLOUR, marker="o", linewidth=2.5, markersize=7,
                   label=cost_label)
    cost_axis.set_ylim(0, max(0.01, *chart.cost) * 1.12)
    cost_axis.yaxis.set_major_formatter(StrMethodFormatter("${x:,.2f}"))
    handles, labels = ax.get_legend_handles_labels()
    cost_handles, cost_labels = cost_axis.get_legend_handles_labels()
    ax.legend(handles + cost_handles, labels + cost_labels, loc="lower left", bbox_to_anchor=(0.0, 1.01),
              ncols=2, frameon=False, borderaxespad=0.2, title=summary, alignment="left", title_fontsize=17)


def _members(ax: Axes, chart: UsageChart, locale: Locale | None) -> None:
    ax.set_title(tr("Top members: videos and estimated cost", locale), loc="left", pad=12)
    members = chart.members
    if not members:
        ax.set_axis_off()
        return
    positions = list(range(len(members)))
    videos = [m.videos for m in members]
    # Names above their bars rather than as tick labels: long names then take no width from the charts.
    ax.barh(positions, videos, height=0.4, color=MEMBER_COLOUR)
    ax.set_yticks([])
    ax.set_ylim(len(members) - 0.5, -0.85)  # the top member first, with room for its name
    widest = max(1, *videos)
    ax.set_xlim(0, widest * 1.45)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for position, member in zip(positions, members, strict=True):
        ax.text(0, position - 0.25, fonts.drawable(member.name) or member.key, va="bottom", fontsize=16)
        ax.text(member.videos + widest * 0.02, position,
                tr("{videos} videos · ~${cost}", locale, videos=member.videos, cost=f"{member.cost:.2f}"),
                va="center", fontsize=16)
    ax.spines["left"].set_visible(False)
    ax.spines["right"].set_visible(False)


def draw(chart: UsageChart, locale: Locale | None = None) -> Figure:
    """The chart as a matplotlib figure (call under ``drawing``, which holds matplotlib's settings)."""
    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    period = tr(PERIOD_NAMES.get(chart.period, chart.period), locale)
    figure.suptitle(tr("Video usage: {period}", locale, period=period), fontsize=24)
    summary = tr("{videos} videos from {jobs} jobs · ~${cost} estimated · dates in UTC", locale,
                 videos=chart.total_videos, jobs=chart.total_jobs, cost=f"{chart.total_cost:.2f}")
    # More members need more room below.
    grid = figure.add_gridspec(2, 1, height_ratios=(3, 2 if len(chart.members) <= 5 else 2.6), hspace=0.08)
    _bars(figure.add_subplot(grid[0]), chart, locale, textwrap.fill(summary, SUMMARY_WIDTH))
    _members(figure.add_subplot(grid[1]), chart, locale)
    return figure


@contextlib.contextmanager
def drawing(locale: Locale | None = None) -> Iterator[None]:
    """Hold the chart lock with the chart's matplotlib settings (fonts for ``locale``) in force."""
    with _LOCK, matplotlib.rc_context(_settings(locale)):
        yield


def render_png(chart: UsageChart, locale: Locale | None = None) -> bytes:
    """The chart as PNG bytes, ``WIDTH_PX`` × ``HEIGHT_PX``. Blocking: run it in a thread."""
    with drawing(locale):
        figure = draw(chart, locale)
        out = io.BytesIO()
        figure.savefig(out, format="png", dpi=DPI)
    return out.getvalue()
