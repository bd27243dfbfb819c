"""The usage chart's data: built from jobs seeded in a store, every bar from the period's start, top members."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from bot.jobs.admin import UsageDay, UsageLine, UsageReport
from bot.reports.usage_series import MAX_MODELS, OTHER_MODELS, Bucket, build_usage_chart, clip_name
from tests.bot.reports.seeded import seeded_report
from tests.fakes.comet.api import FakeCometAPI

TODAY = datetime.date(2026, 9, 21)  # the UTC day of the test clock's start


async def test_the_chart_shows_what_was_seeded_day_by_day(tmp_path: Path, api: FakeCometAPI) -> None:
    report = await seeded_report(tmp_path, api)
    chart = build_usage_chart(report, {"1": "Alice", "2": "Bảo"})
    # The last 7 days from 18:00 reach back into the 8th day: 8 bars, empty days as zero.
    assert chart.bucket is Bucket.DAY
    assert chart.starts == tuple(TODAY - datetime.timedelta(days=n) for n in range(7, -1, -1))
    assert chart.models == ("veo3.1-fast", "veo3.1")  # the most videos first
    assert chart.videos == ((0, 2, 0, 0, 0, 1, 0, 1), (0, 0, 0, 1, 0, 1, 0, 0))
    assert chart.no_video == (0, 1, 0, 0, 0, 0, 0, 0)  # the failed job: asked for, no video
    # 8 s clips at $0.10 and $0.50 a second.
    assert chart.cost == (0.0, 1.6, 0.0, 4.0, 0.0, 4.8, 0.0, 0.8)
    assert (chart.total_videos, chart.total_jobs, chart.total_cost) == (6, 7, 11.2)
    # Top members by estimated cost; a member without a known name is shown by id.
    assert [(m.key, m.name, m.videos, m.jobs, m.cost) for m in chart.members] == [
        ("1", "Alice", 4, 4, 6.4), ("2", "Bảo", 1, 2, 4.0), ("3", "3", 1, 1, 0.8)]


async def test_today_is_one_bar_and_all_time_starts_at_the_first_job(tmp_path: Path, api: FakeCometAPI) -> None:
    today = build_usage_chart(await seeded_report(tmp_path / "today", api, "today"), {})
    assert (today.starts, today.videos, today.no_video) == ((TODAY,), ((1,),), (0,))
    everything = build_usage_chart(await seeded_report(tmp_path / "all", api, "all"), {})
    assert everything.starts[0] == TODAY - datetime.timedelta(days=6) and everything.starts[-1] == TODAY
    assert sum(map(sum, everything.videos)) == 6 and sum(everything.no_video) == 1


def _report(days: list[UsageDay], since: float, until: float, period: str = "all") -> UsageReport:
    total = UsageLine("total", sum(d.jobs for d in days), sum(d.billed_jobs for d in days), 0.0,
                      sum(d.cost for d in days))
    return UsageReport(period, [], [], total, days, since, until)


def _moment(day: datetime.date) -> float:
    return datetime.datetime.combine(day, datetime.time(12), tzinfo=datetime.UTC).timestamp()


@pytest.mark.parametrize(("span", "bucket", "bars"), [(62, Bucket.DAY, 62), (63, Bucket.WEEK, 10),
                                                       (434, Bucket.WEEK, 63), (435, Bucket.MONTH, 15)])
def test_long_periods_are_drawn_by_week_then_by_month(span: int, bucket: Bucket, bars: int) -> None:
    first = datetime.date(2025, 1, 1)  # a Wednesday
    last = first + datetime.timedelta(days=span - 1)
    days = [UsageDay(first, "a", 2, 1, 8.0, 0.8), UsageDay(last, "a", 3, 3, 24.0, 2.4)]
    chart = build_usage_chart(_report(days, 0.0, _moment(last)), {})
    assert chart.bucket is bucket and len(chart.starts) == bars
    assert chart.starts[0] == {Bucket.DAY: first, Bucket.WEEK: datetime.date(2024, 12, 30),
                               Bucket.MONTH: datetime.date(2025, 1, 1)}[bucket]
    assert (chart.videos[0][0], chart.videos[0][-1], chart.no_video[0], chart.cost[-1]) == (1, 3, 1, 2.4)
    assert sum(chart.videos[0][1:-1]) == 0


def test_models_beyond_the_palette_share_one_segment() -> None:
    day = datetime.date(2026, 9, 21)
    days = [UsageDay(day, f"m{n}", 10 - n, 10 - n, 0.0, 0.0) for n in range(MAX_MODELS + 2)]
    chart = build_usage_chart(_report(days, _moment(day) - 3600, _moment(day)), {})
    assert chart.models == ("m0", "m1", "m2", "m3", "m4", OTHER_MODELS)
    assert [v[0] for v in chart.videos] == [10, 9, 8, 7, 6, 5 + 4 + 3]


def test_names_are_flattened_and_clipped() -> None:
    assert clip_name("  Alice\n the   Great ") == "Alice the Great"
    long = clip_name("A" * 40)
    assert len(long) == 24 and long.endswith("…")
    report = UsageReport("7d", [UsageLine("5", 1, 1, 8.0, 0.8)], [], UsageLine("total", 1, 1, 8.0, 0.8), [], 0.0,
                         _moment(datetime.date(2026, 9, 21)))
    assert build_usage_chart(report, {"5": "x" * 40}).members[0].name == "x" * 23 + "…"
    assert build_usage_chart(report, {"5": ""}).members[0].name == "5"
