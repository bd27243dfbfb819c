"""Text from users and the provider made inert before it reaches Slack, and Block Kit text objects.

Slack's mrkdwn has three control characters, ``&``, ``<`` and ``>``: escaped, ``<!channel>``, ``<!here>``,
``<!subteam^S…>`` and ``<@U…>`` become plain text that pings nobody. Mrkdwn objects holding such text are sent
``verbatim`` (Slack would otherwise link-ify names and parse some mentions by itself), and a word joiner after
the ``@`` of ``@here``, ``@channel`` and ``@everyone`` keeps even a client that guesses at bare words from
reading them as mentions. Prompts are shown in ``plain_text`` objects, which Slack never parses.
"""

from __future__ import annotations

import re
from typing import Any

ELLIPSIS = "…"
WORD_JOINER = "\u2060"
# Block Kit's limits, in characters: a section's text, a button's label, a header's text.
SECTION_TEXT = 3000
BUTTON_TEXT = 75
HEADER_TEXT = 150
# A message's top-level text: Slack truncates past 40,000 but advises to keep it to 4,000.
MESSAGE_TEXT = 4000

_BROADCAST = re.compile(r"@(here|channel|everyone)\b", re.IGNORECASE)
# Units a cut must not split: an escaped character (&amp;), a Slack token (<@U1>, <https://…|text>).
_UNIT = re.compile(r"&[a-z]+;|<[^<>]*>")


def escape(text: str) -> str:
    """``text`` made inert for mrkdwn: ``&``, ``<``, ``>`` escaped, broadcast words broken."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub(lambda m: f"@{WORD_JOINER}{m.group(1)}", text)


def one_line(text: str) -> str:
    """``text`` on one line, runs of whitespace as one space."""
    return " ".join(text.split())


def clip(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters, else its start and "…", within ``limit``, never cutting an
    escaped character or a Slack token in two."""
    if len(text) <= limit:
        return text
    if limit < len(ELLIPSIS):
        return ""
    cut = limit - len(ELLIPSIS)
    for unit in _UNIT.finditer(text, 0, len(text)):
        if unit.start() < cut < unit.end():
            cut = unit.start()
            break
        if unit.start() >= cut:
            break
    return text[:cut].rstrip() + ELLIPSIS


def plain_text(text: str, limit: int = SECTION_TEXT) -> dict[str, Any]:
    """A ``plain_text`` object: shown as written, never parsed (no mentions, no links, no formatting)."""
    return {"type": "plain_text", "text": clip(text, limit) or ELLIPSIS, "emoji": True}


def mrkdwn(text: str, limit: int = SECTION_TEXT) -> dict[str, Any]:
    """A ``mrkdwn`` object for text the bot composed (user parts already ``escape``d), taken ``verbatim``."""
    return {"type": "mrkdwn", "text": clip(text, limit) or ELLIPSIS, "verbatim": True}
