"""Text made inert for Slack's mrkdwn, and clipped without breaking an escape or a token."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from slack.escape import ELLIPSIS, WORD_JOINER, clip, escape, mrkdwn, plain_text

# What Slack reads as a mention or a link in mrkdwn: a <...> token, or a bare broadcast word.
TOKEN = re.compile(r"<[^<>]*>")
BROADCAST = re.compile(r"@(here|channel|everyone)\b", re.IGNORECASE)


def test_every_control_character_is_escaped_and_broadcasts_are_broken() -> None:
    text = "a fox <!channel> <!here> @everyone @HERE <!subteam^S1|@team> <@U999> & &lt;!here&gt;"
    out = escape(text)
    assert "<" not in out and ">" not in out
    assert out.count("&amp;") == 3 and "&amp;lt;!here&amp;gt;" in out
    assert not BROADCAST.search(out) and out.count(WORD_JOINER) == 2
    assert "&lt;@U999&gt;" in out and "&lt;!subteam^S1|@team&gt;" in out


@given(st.text())
def test_escaped_text_holds_no_token_and_no_broadcast(text: str) -> None:
    out = escape(text)
    assert TOKEN.search(out) is None and BROADCAST.search(out) is None


def test_clip_keeps_escapes_and_tokens_whole() -> None:
    text = "ab &amp; cd"
    assert clip(text, 6) == "ab" + ELLIPSIS  # not "ab &a…"
    assert clip("hi <@U12345> there", 8) == "hi" + ELLIPSIS
    assert clip("short", 10) == "short" and clip("toolong", 0) == ""


@given(st.text(), st.integers(min_value=1, max_value=60))
def test_clip_is_within_the_limit_and_a_prefix(text: str, limit: int) -> None:
    escaped = escape(text)
    out = clip(escaped, limit)
    assert len(out) <= limit
    assert escaped.startswith(out.removesuffix(ELLIPSIS))
    assert re.search(r"&[a-z]*$", out.removesuffix(ELLIPSIS)) is None or out == escaped


def test_text_objects() -> None:
    assert plain_text("<!here>") == {"type": "plain_text", "text": "<!here>", "emoji": True}
    assert mrkdwn("x")["verbatim"] is True
    assert plain_text("   ".strip())["text"] == ELLIPSIS  # Slack refuses an empty text object
    assert len(plain_text("x" * 5000)["text"]) == 3000
