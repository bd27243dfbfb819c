"""The usage chart as drawn: the bars and line hold the chart's data, the PNG's size, Hangul, and the child
process that draws it for the bot (the loop never blocks, matplotlib never loads in the bot)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import io
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from PIL import Image

from bot.reports import fonts
from bot.reports.render import ChartDrawer, ChartNotDrawn
from bot.reports.usage_chart import HEIGHT_PX, WIDTH_PX, draw, drawing, render_png
from bot.reports.usage_series import Bucket, UsageChart, build_usage_chart, chart_from_json, chart_to_json
from tests.bot.reports.seeded import seeded_report
from tests.fakes.comet.api import FakeCometAPI

ROOT = Path(__file__).resolve().parents[3]
NAMES = {"1": "Alice", "2": "김민수 🎬", "3": "🎬🎬"}


async def _chart(tmp_path: Path, api: FakeCometAPI) -> UsageChart:
    return build_usage_chart(await seeded_report(tmp_path, api), NAMES)


def _missing_glyphs(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


async def test_the_bars_and_the_cost_line_hold_the_seeded_data(tmp_path: Path, api: FakeCometAPI) -> None:
    chart = await _chart(tmp_path, api)
    with drawing():
        figure = draw(chart)
        bars, cost_axis, members = figure.axes
        stacks = [c for c in bars.containers if isinstance(c, BarContainer)]
        # One stack per model, then the jobs without a video on top, in grey.
        assert [[p.get_height() for p in c] for c in stacks] == [list(v) for v in (*chart.videos, chart.no_video)]
        assert [p.get_y() for p in stacks[-1]] == [a + b for a, b in zip(*chart.videos, strict=True)]
        [line] = cost_axis.get_lines()
        assert list(line.get_ydata()) == list(chart.cost)
        legend = [t.get_text() for t in bars.get_legend().get_texts()]  # type: ignore[union-attr]
        assert legend == ["veo3.1-fast", "veo3.1", "No video (failed, refused or cancelled)", "Estimated cost (US$)"]
        assert [t.get_text() for t in bars.get_xticklabels()] == [s.strftime("%m-%d") for s in chart.starts]
        [member_bars] = members.containers
        assert [p.get_width() for p in member_bars] == [4, 1, 1]
        texts = [t.get_text() for t in members.texts]
        # Names as given, less what no font can draw; the key where nothing is left.
        assert texts[::2] == ["Alice", "김민수", "3"]
        assert "4 videos · ~$6.40" in texts
        assert "Video usage: the last 7 days" in figure.get_suptitle()


async def test_the_png_is_phone_sized_and_decodes(tmp_path: Path, api: FakeCometAPI) -> None:
    png = render_png(await _chart(tmp_path, api))
    image = Image.open(io.BytesIO(png))
    assert (image.format, image.size) == ("PNG", (WIDTH_PX, HEIGHT_PX)) == ("PNG", (1080, 1350))
    image.load()  # the whole image decodes
    # Not blank: the bars are drawn in the palette's blue.
    assert (0, 114, 178) in {c for _, c in image.convert("RGB").getcolors(1 << 20) or []}


async def test_a_korean_chart_draws_every_glyph(tmp_path: Path, api: FakeCometAPI) -> None:
    chart = await _chart(tmp_path, api)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = render_png(chart, "ko")
        with drawing("ko"):
            title = draw(chart, "ko").get_suptitle()
    assert _missing_glyphs(caught) == []
    assert "동영상 사용량: 최근 7일" in title and Image.open(io.BytesIO(png)).size == (1080, 1350)


def test_without_the_hangul_font_korean_would_draw_boxes() -> None:
    # What the test above guards against: DejaVu Sans alone has no Hangul, and matplotlib says so.
    figure = Figure()
    FigureCanvasAgg(figure)
    figure.text(0.5, 0.5, "동영상", family=fonts.LATIN)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figure.savefig(io.BytesIO(), format="png")
    assert _missing_glyphs(caught)


def test_characters_no_font_has_are_left_out() -> None:
    assert fonts.drawable("Bảo 🎬 김") == "Bảo  김"
    assert fonts.drawable("🎬🎬") == ""
    assert fonts.families("ko")[0] == fonts.HANGUL and fonts.families("vi")[0] == fonts.LATIN


async def test_dollar_signs_in_user_text_are_not_formulas(tmp_path: Path, api: FakeCometAPI) -> None:
    chart = build_usage_chart(await seeded_report(tmp_path, api), {"1": "$x^2$ money$"})
    with drawing():
        figure = draw(chart)
        figure.savefig(io.BytesIO(), format="png")
        assert figure.axes[2].texts[0].get_text() == "$x^2$ money$"


async def test_the_chart_is_drawn_by_a_child_process_while_the_loop_runs(tmp_path: Path, api: FakeCometAPI
                                                                         ) -> None:
    chart = await _chart(tmp_path, api)
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0)

    counting = asyncio.create_task(ticker())
    png = await ChartDrawer().usage_png(chart, "vi")
    done.set()
    await counting
    assert ticks > 10  # the loop kept running while the chart was drawn
    # The very chart this process draws, labelled in Vietnamese.
    assert png == render_png(chart, "vi") != render_png(chart, "en")


async def test_the_chart_travels_to_the_child_unchanged(tmp_path: Path, api: FakeCometAPI) -> None:
    chart = await _chart(tmp_path, api)
    assert chart_from_json(chart_to_json(chart)) == chart


async def test_a_failed_or_slow_drawing_raises_chart_not_drawn(tmp_path: Path, api: FakeCometAPI) -> None:
    chart = await _chart(tmp_path, api)
    broken = dataclasses.replace(chart, cost=chart.cost[:2])  # fewer costs than bars: matplotlib refuses
    with pytest.raises(ChartNotDrawn, match="exited with 1: ValueError"):
        await ChartDrawer().usage_png(broken)
    with pytest.raises(ChartNotDrawn, match=r"took more than 0\.01 s"):
        await ChartDrawer(limit=0.01).usage_png(chart)


def test_the_bot_does_not_load_matplotlib_at_rest_nor_when_it_draws(tmp_path: Path) -> None:
    chart = Path(tmp_path / "chart.json")
    code = (
        "import asyncio, sys, cogs.app, bot.runtime, db\n"
        "from bot.reports.render import ChartDrawer\n"
        "from bot.reports.usage_series import chart_from_json\n"
        "at_rest = 'matplotlib' in sys.modules\n"
        "png = asyncio.run(ChartDrawer().usage_png(chart_from_json(open(sys.argv[1]).read()), 'ko'))\n"
        "print(at_rest, 'matplotlib' in sys.modules, png[:4] == b'\\x89PNG')\n"
    )
    chart.write_text(chart_to_json(UsageChart("today", Bucket.DAY, (datetime.date(2026, 9, 21),), ("a",), ((1,),),
                                              (0,), (0.8,), (), 1, 1, 0.8)), encoding="utf-8")
    out = subprocess.run([sys.executable, "-c", code, str(chart)], cwd=ROOT,  # noqa: S603
                         capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "True"]
