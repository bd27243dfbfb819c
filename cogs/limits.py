"""Discord's size limits on what the bot sends, and ``clip``: the one way text is cut to fit them.

Discord counts code points (Python's ``len``) and answers 400 (code 50035, Invalid Form Body) to anything
longer. Text is clipped last, after it was escaped and put together: escaping adds characters.
"""

from __future__ import annotations

import re
import unicodedata

import discord

# Messages (https://discord.com/developers/docs/resources/message).
CONTENT = 2000
EMBEDS = 10
# Embeds: each part, and all of them together across the message's embeds.
EMBED_TITLE = 256
EMBED_DESCRIPTION = 4096
EMBED_FIELDS = 25
FIELD_NAME = 256
FIELD_VALUE = 1024
FOOTER_TEXT = 2048
AUTHOR_NAME = 256
EMBED_TOTAL = 6000
# Components.
CUSTOM_ID = 100
BUTTON_LABEL = 80
SELECT_PLACEHOLDER = 150
SELECT_OPTIONS = 25
OPTION_LABEL = 100
OPTION_VALUE = 100
OPTION_DESCRIPTION = 100
# Modals: the title, a label over a field, its description, and a text input's placeholder and value.
MODAL_TITLE = 45
LABEL_TEXT = 45
LABEL_DESCRIPTION = 100
TEXT_INPUT_PLACEHOLDER = 100
TEXT_INPUT_VALUE = 4000
# Autocomplete answers.
CHOICES = 25
CHOICE_NAME = 100
CHOICE_VALUE = 100

ELLIPSIS = "…"

# What must stay whole or go whole: mentions, timestamps, command and emoji tags, and links (a cut link leads
# somewhere else). User text reaches here escaped, so its mentions no longer match and are plain text.
_TOKENS = re.compile(
    r"<(?:@[!&]?\d+|#\d+|t:-?\d+(?::[tTdDfFR])?|/[^<>\n:]+:\d+|a?:\w+:\d+|id:\w+)>"
    r"|\[[^\]\n]*\]\(<?https?://[^)\s]*\)"
    r"|<https?://[^>\s]+>"
    r"|https?://\S+"
)
_JOINERS = frozenset("\u200c\u200d")
_MARKS = frozenset({"Mn", "Mc", "Me"})


def _extends(char: str) -> bool:
    """Whether ``char`` belongs to the character before it (a combining mark, joiner, modifier, selector)."""
    code = ord(char)
    return (
        unicodedata.category(char) in _MARKS
        or char in _JOINERS
        or 0xFE00 <= code <= 0xFE0F  # variation selectors
        or 0xE0100 <= code <= 0xE01EF
        or 0x1F3FB <= code <= 0x1F3FF  # skin tones
        or 0xE0020 <= code <= 0xE007F  # tag characters (subdivision flags)
        or 0x1160 <= code <= 0x11FF  # Hangul medial vowels and final consonants
        or 0xDC00 <= code <= 0xDFFF  # the low half of a surrogate pair
    )


def _is_regional(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def _splits_character(text: str, cut: int) -> bool:
    """Whether cutting before ``text[cut]`` would split one user-perceived character."""
    before, after = text[cut - 1], text[cut]
    if _extends(after) or before == "\u200d" or (before == "\r" and after == "\n"):
        return True
    if 0xD800 <= ord(before) <= 0xDBFF:  # the high half of a surrogate pair
        return True
    if _is_regional(before) and _is_regional(after):
        run = 0
        while cut - run > 0 and _is_regional(text[cut - run - 1]):
            run += 1
        return run % 2 == 1  # flags are pairs of regional indicators
    return False


def _safe_cut(text: str, cut: int) -> int:
    """The nearest cut at or before ``cut`` that splits no escape, token or character, without trailing space."""
    spans = [m.span() for m in _TOKENS.finditer(text, 0, min(len(text), cut + 4096))]
    while cut > 0:
        moved = cut
        for start, end in spans:
            if start < moved < end:
                moved = start
                break
        slashes = 0
        while moved - slashes > 0 and text[moved - slashes - 1] == "\\":
            slashes += 1
        if slashes % 2:  # the last backslash escapes the character that would be cut off
            moved -= 1
        while 0 < moved < len(text) and _splits_character(text, moved):
            moved -= 1
        moved = len(text[:moved].rstrip())
        if moved == cut:
            break
        cut = moved
    return max(cut, 0)


def clip(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters, else its longest safe start and "…", within ``limit``.

    Never cuts inside a markdown escape (``\\_``), a mention, timestamp or link, a surrogate pair, a
    character and its combining marks, or an emoji sequence; trailing spaces before the "…" are dropped.
    """
    if len(text) <= limit:
        return text
    if limit < len(ELLIPSIS):
        return ""
    return text[: _safe_cut(text, limit - len(ELLIPSIS))] + ELLIPSIS


def embed_size(embed: discord.Embed) -> int:
    """The characters Discord counts towards the 6,000 of a message's embeds."""
    size = len(embed.title or "") + len(embed.description or "")
    size += sum(len(f.name or "") + len(f.value or "") for f in embed.fields)
    size += len(embed.footer.text or "") + len(embed.author.name or "")
    return size


def fit_embed(embed: discord.Embed) -> discord.Embed:
    """Clip every part of ``embed`` to its limit, keep 25 fields, and fit 6,000 in all (the description gives way).

    The builders clip what they put together; this is the last check before an embed leaves, in place.
    """
    if embed.title:
        embed.title = clip(embed.title, EMBED_TITLE)
    if embed.description:
        embed.description = clip(embed.description, EMBED_DESCRIPTION)
    while len(embed.fields) > EMBED_FIELDS:
        embed.remove_field(-1)
    for index, field in enumerate(embed.fields):
        embed.set_field_at(index, name=clip(field.name or "", FIELD_NAME), value=clip(field.value or "", FIELD_VALUE),
                           inline=bool(field.inline))
    if embed.footer.text:
        embed.set_footer(text=clip(embed.footer.text, FOOTER_TEXT), icon_url=embed.footer.icon_url)
    if embed.author.name:
        embed.set_author(name=clip(embed.author.name, AUTHOR_NAME), url=embed.author.url,
                         icon_url=embed.author.icon_url)
    over = embed_size(embed) - EMBED_TOTAL
    if over > 0 and embed.description:
        embed.description = clip(embed.description, max(len(ELLIPSIS), len(embed.description) - over))
        over = embed_size(embed) - EMBED_TOTAL
    while over > 0 and embed.fields:
        embed.remove_field(-1)
        over = embed_size(embed) - EMBED_TOTAL
    return embed
