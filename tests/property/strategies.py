"""Hypothesis strategies for hostile input: prompts, provider texts, attachments, HTTP answers."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

# Pieces that have broken chat bots before: mentions of every kind, markdown, bidi controls, zero-width
# characters, combining marks, NUL and other controls, lone surrogates (invalid in UTF-8), emoji sequences.
HOSTILE_PIECES = [
    "@everyone", "@here", "<@123456789012345678>", "<@!123456789012345678>", "<@&223456789012345678>",
    "<#323456789012345678>", "</veo:423456789012345678>", "<t:0:R>", "@\u200beveryone",
    "**", "__", "~~", "||", "`", "```", "> ", "# ", "-# ", "[x](https://example.com)", "\\",
    "\u202e", "\u202d", "\u2066", "\u2069", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad",
    "مرحبا", "שלום", "雪の狐", "🦊", "👨\u200d👩\u200d👧", "🏳️\u200d🌈", "e\u0301", "\u0000", "\u0007", "\x1b[31m",
    "\n", "\r\n", "\t", " ", "\ud800", "\udfff", "{", "}", "{0}", "%s", "'); DROP TABLE jobs; --",
]

prompts = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(HOSTILE_PIECES) | st.text(max_size=8), max_size=80).map("".join),
    st.tuples(st.sampled_from([*HOSTILE_PIECES, "a", "snow fox "]), st.integers(1, 6100)).map(
        lambda pair: (pair[0] * (pair[1] // max(1, len(pair[0])) + 1))[: pair[1]]
    ),
)

# Text that grows when escaped or counts differently than it looks: markdown characters, Vietnamese with
# combining marks (decomposed), CJK, Hangul, emoji sequences, flags, right-to-left scripts, links and mentions.
WIDE_PIECES = [
    "Vie\u0323\u0302t Nam", "tiếng Việt có dấu", "Hà Nội mùa thu", "ư\u0301", "phở bò", "雪の狐が走る", "视频生成",
    "한국어 동영상", "🦊", "👨\u200d👩\u200d👧", "🏳️\u200d🌈", "🇻🇳🇰🇷", "👍🏽", "مرحبا بالعالم", "שלום עולם", "\u202e",
    "_", "__", "*", "**", "~~", "||", "`", "```", "\\", "> ", "# ", "- ", "[x](https://example.com/a_b)",
    "https://example.com/a_b_c?x=1", "@everyone", "<@123456789012345678>", "<t:0:R>", " ", "\n",
]
MARKDOWN = "_*~|`\\"
display_texts = st.one_of(
    st.lists(st.sampled_from(WIDE_PIECES), max_size=300).map("".join),
    st.tuples(st.sampled_from([*MARKDOWN, "ệ", "e\u0323\u0302", "🦊", "雪", "👨\u200d👩\u200d👧", "a_"]),
              st.integers(1, 2500)).map(lambda pair: pair[0] * pair[1]),
    st.text(alphabet=st.sampled_from([*MARKDOWN, "a", " ", "ệ", "雪", "🦊"]), max_size=600),
    st.text(max_size=200),
)
locales = st.sampled_from(["en-US", "vi", "ko", None])

provider_texts = st.one_of(
    st.text(max_size=400),
    st.lists(st.sampled_from(HOSTILE_PIECES) | st.text(max_size=12), max_size=40).map("".join),
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=25,
)
status_words = st.one_of(
    st.sampled_from(["queued", "in_progress", "RUNNING", "Completed", "SUCCESS", "done", "failed", "FAILURE",
                     "error", "cancelled", "canceled", "expired", "rejected", "", " ", "50%", "null"]),
    st.text(max_size=20),
)
task_bodies = st.fixed_dictionaries(
    {"status": status_words | json_values},
    optional={
        "id": st.text(max_size=30) | json_values, "task_id": st.text(max_size=30) | json_values,
        "progress": st.integers(-10, 200) | st.floats() | st.text(max_size=6) | json_values,
        "video_url": st.text(max_size=60) | json_values, "url": st.text(max_size=60),
        "metadata": json_values, "output": json_values, "data": json_values,
        "error": json_values | st.fixed_dictionaries({"message": provider_texts, "code": st.text(max_size=30)}),
        "fail_reason": provider_texts,
    },
)
error_envelopes = st.fixed_dictionaries(
    {"error": st.fixed_dictionaries({"message": provider_texts, "type": st.text(max_size=20),
                                     "code": st.text(max_size=20) | st.sampled_from(["invalid_request", ""])})}
)


def _encode(value: Any) -> bytes:
    return json.dumps(value).encode()


def _truncate(data: bytes, cut: int) -> bytes:
    return data[: max(0, len(data) - cut)]


bodies = st.one_of(
    task_bodies.map(_encode),
    st.builds(lambda body: _encode({"code": 0, "message": "ok", "data": body}), task_bodies),
    error_envelopes.map(_encode),
    json_values.map(_encode),
    st.builds(_truncate, task_bodies.map(_encode), st.integers(1, 40)),
    st.sampled_from([b"", b"<html><body>502 Bad Gateway</body></html>", b"null", b"[]", b"{}", b"\xff\xfe\x00",
                     b"[" * 50_000 + b"]" * 50_000, b'{"status": "completed", "video_url": 5}']),
    st.binary(max_size=200),
)
http_statuses = st.sampled_from([200, 201, 202, 204, 206, 299, 300, 301, 302, 304, 307, 400, 401, 403, 404, 405,
                                 408, 409, 413, 418, 422, 429, 500, 501, 502, 503, 504, 520, 524, 599])
content_types = st.sampled_from(["application/json", "application/json; charset=utf-8", "text/html",
                                 "text/plain", "application/octet-stream", "video/mp4", "application/problem+json"])
retry_afters = st.one_of(st.none(), st.sampled_from(["1", "0", "-1", "abc", "1e9", "nan", "inf", "",
                                                      "Wed, 21 Oct 2015 07:28:00 GMT",
                                                      "Fri, 31 Dec 9999 23:59:59 GMT"]))
