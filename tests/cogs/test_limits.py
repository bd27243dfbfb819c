"""``clip`` and the embed check: text cut to Discord's limits without breaking what it shows."""

from __future__ import annotations

import discord
import pytest

from cogs.limits import EMBED_TOTAL, FIELD_VALUE, clip, embed_size, fit_embed
from cogs.render import clip_lines, excerpt


def test_text_that_fits_is_kept_as_it_is() -> None:
    assert clip("a fox", 5) == "a fox"
    assert clip("", 1) == ""


def test_long_text_ends_with_an_ellipsis_within_the_limit() -> None:
    assert clip("a red fox in the snow", 10) == "a red fox…"
    assert clip("abcdef", 1) == "…"
    assert clip("abcdef", 0) == ""


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("ab\\_cd", 4, "ab…"),  # not between a backslash and what it escapes
        ("ab\\\\_cd", 5, "ab\\\\…"),  # an escaped backslash is whole
        ("hi <@123456789012345678> there", 20, "hi…"),  # mentions stay whole
        ("at <t:1700000000:R> ok", 12, "at…"),
        ("see [result](https://discord.com/channels/1/2/3) now", 30, "see…"),  # links stay whole
        ("get https://cdn.example/v.mp4 now", 20, "get…"),
        ("Vie\u0323\u0302t Nam", 4, "Vi…"),  # a letter keeps its combining marks
        ("x👨\u200d👩\u200d👧y", 4, "x…"),  # an emoji ZWJ sequence is one character
        ("🇻🇳🇰🇷🇯🇵", 4, "🇻🇳…"),  # flags are pairs of regional indicators
        ("ok\ud83d\ude00!", 4, "ok…"),  # a surrogate pair stays together
        ("a b     c", 5, "a b…"),  # no space before the ellipsis
    ],
)
def test_cuts_never_split_what_belongs_together(text: str, limit: int, expected: str) -> None:
    assert clip(text, limit) == expected


def test_excerpt_clips_after_escaping() -> None:
    prompt = "_*~|`" * 40
    text = excerpt(prompt, 100)
    assert len(text) <= 100 and text.endswith("…")
    assert not text[:-1].endswith("\\") or text[:-1].endswith("\\\\")


def test_clip_lines_keeps_whole_lines_and_counts_the_rest() -> None:
    lines = [f"line {i} " + "x" * 40 for i in range(50)]
    text = clip_lines(lines, 500)
    assert len(text) <= 500
    kept = text.split("\n")
    assert kept[:-1] == lines[: len(kept) - 1]
    assert kept[-1] == f"…and {50 - (len(kept) - 1)} more"
    assert clip_lines(lines[:2], 500) == "\n".join(lines[:2])


def test_clip_lines_clips_a_first_line_too_long_to_fit() -> None:
    text = clip_lines(["y" * 3000, "short"], 1000)
    first, note = text.split("\n")
    assert len(text) <= 1000 and first.endswith("…") and note == "…and 1 more"
    assert clip_lines(["y" * 3000], 1000) == "y" * 999 + "…"


def test_fit_embed_clips_every_part_and_the_total() -> None:
    embed = discord.Embed(title="t" * 300, description="d" * 5000)
    for index in range(30):
        embed.add_field(name=f"n{index}" * 200, value="v" * 2000)
    embed.set_footer(text="f" * 3000)
    embed.set_author(name="a" * 300)
    fit_embed(embed)
    assert len(embed.title or "") == 256 and len(embed.author.name or "") == 256
    assert len(embed.fields) <= 25 and all(len(f.value or "") <= FIELD_VALUE for f in embed.fields)
    assert embed_size(embed) <= EMBED_TOTAL
