"""What the usage chart shows: bars per day (or week, or month) by model, cost per bar, and the top members.

Pure data built from a ``UsageReport``: no drawing library here, so the face and the tests can build and
check it cheaply. Days are UTC calendar days, as the daily quotas count them.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from bot.jobs.admin import UsageReport

# Bars a chart shows at most before it groups days into weeks, then weeks into months (readable on a phone).
MAX_BARS = 62
# Models shown with their own colour; the rest share one bar segment.
MAX_MODELS = 6
TOP_MEMBERS = 8
# Characters of a member's name shown (names are user text, up to 32 characters on Discord).
NAME_CHARS = 24
OTHER_MODELS = ""  # the key of the segment for the models beyond ``MAX_MODELS``


class Bucket(StrEnum):
    """How much time one bar covers."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


@dataclass(frozen=True, slots=True)
class MemberBar:
    """One of the top members: their key (a member id), the name shown, videos made, jobs started and cost."""

    key: str
    name: str
    videos: int
    jobs: int
    cost: float


@dataclass(frozen=True, slots=True)
class UsageChart:
    """Everything the usage chart draws, aligned on ``starts`` (the first day of each bar)."""

    period: str
    bucket: Bucket
    starts: tuple[datetime.date, ...]
    models: tuple[str, ...]  # most videos first; ``OTHER_MODELS`` last when models were grouped
    videos: tuple[tuple[int, ...], ...]  # per model (as ``models``), per bar
    no_video: tuple[int, ...]  # jobs without a likely billed video, per bar
    cost: tuple[float, ...]  # estimated US dollars, per bar
    members: tuple[MemberBar, ...]  # the top members, most costly first
    total_videos: int
    total_jobs: int
    total_cost: float


def utc_day(moment: float) -> datetime.date:
    """The UTC calendar day of a Unix time."""
    return datetime.datetime.fromtimestamp(moment, tz=datetime.UTC).date()


def bucket_for(first: datetime.date, last: datetime.date) -> Bucket:
    """Days while they fit in ``MAX_BARS`` bars, then weeks, then months."""
    days = (last - first).days + 1
    if days <= MAX_BARS:
        return Bucket.DAY
    if days <= MAX_BARS * 7:
        return Bucket.WEEK
    return Bucket.MONTH


def bucket_start(day: datetime.date, bucket: Bucket) -> datetime.date:
    """The first day of the bar that ``day`` falls in (weeks start on Monday)."""
    if bucket is Bucket.WEEK:
        return day - datetime.timedelta(days=day.weekday())
    if bucket is Bucket.MONTH:
        return day.replace(day=1)
    return day


def _next_start(start: datetime.date, bucket: Bucket) -> datetime.date:
    if bucket is Bucket.DAY:
        return start + datetime.timedelta(days=1)
    if bucket is Bucket.WEEK:
        return start + datetime.timedelta(days=7)
    return (start.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)


def clip_name(name: str, limit: int = NAME_CHARS) -> str:
    """A member's name on one line, at most ``limit`` characters."""
    flat = " ".join(name.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def build_usage_chart(report: UsageReport, names: Mapping[str, str], *, top: int = TOP_MEMBERS) -> UsageChart:
    """The chart's data: every bar from the period's first day (or, for all time, the first day with jobs) to
    ``until``, empty ones as zero; member keys shown by ``names`` (the key itself when a name is missing)."""
    last = utc_day(report.until)
    recorded = [d.day for d in report.days]
    first = utc_day(report.since) if report.since > 0 else min(recorded, default=last)
    first = min([first, *recorded])
    last = max([last, *recorded])
    bucket = bucket_for(first, last)
    starts: list[datetime.date] = []
    start = bucket_start(first, bucket)
    while start <= last:
        starts.append(start)
        start = _next_start(start, bucket)
    index = {s: n for n, s in enumerate(starts)}

    totals: dict[str, tuple[int, int]] = {}
    for day in report.days:
        made, started = totals.get(day.model, (0, 0))
        totals[day.model] = (made + day.billed_jobs, started + day.jobs)
    ranked = sorted(totals, key=lambda m: (-totals[m][0], -totals[m][1], m))
    shown = ranked if len(ranked) <= MAX_MODELS else [*ranked[: MAX_MODELS - 1], OTHER_MODELS]
    row = {m: shown.index(m) if m in shown else shown.index(OTHER_MODELS) for m in ranked}

    videos = [[0] * len(starts) for _ in shown]
    no_video = [0] * len(starts)
    cost = [0.0] * len(starts)
    for day in report.days:
        bar = index[bucket_start(day.day, bucket)]
        videos[row[day.model]][bar] += day.billed_jobs
        no_video[bar] += day.jobs - day.billed_jobs
        cost[bar] += day.cost

    members = tuple(
        MemberBar(line.key, clip_name(names.get(line.key) or line.key), line.billed_jobs, line.jobs, line.cost)
        for line in report.by_user[:top]
    )
    return UsageChart(
        period=report.period,
        bucket=bucket,
        starts=tuple(starts),
        models=tuple(shown),
        videos=tuple(tuple(v) for v in videos),
        no_video=tuple(no_video),
        cost=tuple(round(c, 2) for c in cost),
        members=members,
        total_videos=report.total.billed_jobs,
        total_jobs=report.total.jobs,
        total_cost=report.total.cost,
    )


def chart_to_json(chart: UsageChart) -> str:
    """The chart as JSON, to hand it to the process that draws it."""
    data = asdict(chart)
    data["starts"] = [day.isoformat() for day in chart.starts]
    return json.dumps(data, ensure_ascii=False)


def chart_from_json(text: str) -> UsageChart:
    """A chart from ``chart_to_json``'s text."""
    data: dict[str, Any] = json.loads(text)
    return UsageChart(
        period=str(data["period"]),
        bucket=Bucket(data["bucket"]),
        starts=tuple(datetime.date.fromisoformat(day) for day in data["starts"]),
        models=tuple(str(m) for m in data["models"]),
        videos=tuple(tuple(int(v) for v in row) for row in data["videos"]),
        no_video=tuple(int(v) for v in data["no_video"]),
        cost=tuple(float(c) for c in data["cost"]),
        members=tuple(MemberBar(str(m["key"]), str(m["name"]), int(m["videos"]), int(m["jobs"]), float(m["cost"]))
                      for m in data["members"]),
        total_videos=int(data["total_videos"]),
        total_jobs=int(data["total_jobs"]),
        total_cost=float(data["total_cost"]),
    )
