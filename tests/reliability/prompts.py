"""Seeded hostile prompts for the reliability runs: mentions, markdown, right-to-left, zero-width, very long."""

from __future__ import annotations

import random

# Each prompt starts with a tag such as ``rjob00007``: letters and digits only, so escaping for Discord
# leaves it intact and the harness can tie rows, create requests, tasks and messages to one request.
TAG_PREFIX = "rjob"

PLAIN = [
    "a red fox running through fresh snow at dawn, cinematic",
    "a paper boat drifting down a rain-filled gutter",
    "time-lapse of a city skyline from dusk to night",
    "a hummingbird hovering over a flower in slow motion",
]
MARKDOWN = [
    "**bold** __underline__ ~~strike~~ *italic* ||spoiler||",
    "`code` and ```\nblock\n``` and > a quote",
    "[a link](https://example.com) and # not a heading",
    "\\*escaped\\* _half_markdown* `unclosed",
]
SCRIPTS = [
    "\u202eRTL override text\u202c then normal",
    "مرحبا بالعالم، ثعلب أحمر في الثلج",
    "שלום עולם, שועל אדום בשלג",
    "雪の中を走る赤い狐、映画のような",
    "e\u0301e\u0301 combining accents, 🦊🎬 emoji, ZWJ family 👨\u200d👩\u200d👧",
    "zero\u200bwidth\u200cjoin\u200dand\u2060word\ufeffbreaks",
]


def tag(index: int) -> str:
    """The tag of the ``index``-th request."""
    return f"{TAG_PREFIX}{index:05d}"


def hostile_prompt(rng: random.Random, index: int, *, other_user: int, role: int, max_chars: int) -> str:
    """A valid prompt (within ``max_chars``) that mixes mentions, markdown and scripts around a plain idea."""
    mentions = ["@everyone", "@here", f"<@&{role}>", f"<@{other_user}>", f"<@!{other_user}>"]
    parts = [rng.choice(PLAIN)]
    parts += rng.sample(mentions, rng.randint(0, 3))
    parts += rng.sample(MARKDOWN, rng.randint(0, 2))
    parts += rng.sample(SCRIPTS, rng.randint(0, 2))
    rng.shuffle(parts)
    text = " ".join([tag(index), *parts])
    if rng.random() < 0.1:
        # Near the limit: long prompts must still fit in status embeds and result messages.
        filler = " ".join(rng.choice(PLAIN) for _ in range(max_chars // 20))
        text = (text + " " + filler)[: max_chars - rng.randint(0, 5)].rstrip()
    return text


def refused_prompt(rng: random.Random, index: int, max_chars: int) -> str:
    """A prompt the bot must refuse with a clear message: over the limit (6,000 characters), or invisible."""
    if rng.random() < 0.5:
        return (tag(index) + " " + "a very long prompt " * 400)[: max(6000, max_chars + 1)]
    return "\u200b\u200c\u200d\u2060\ufeff \u00ad"
