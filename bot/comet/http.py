"""Small pure helpers for the video client's HTTP path: Retry-After, backoff, origins."""

from __future__ import annotations

import json
import math
import random
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from yarl import URL

from bot.comet.types import RetryPolicy


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date); None if absent/bad."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if math.isnan(seconds):
        return None
    return max(0.0, seconds)


def backoff_delay(
    policy: RetryPolicy, failed_attempts: int, retry_after: float | None, rng: random.Random
) -> float:
    """Delay before the next try: Retry-After (capped) when given, else exponential full jitter."""
    if retry_after is not None:
        return min(retry_after, policy.retry_after_cap)
    ceiling = min(policy.max_delay, policy.base_delay * (2 ** max(0, failed_attempts - 1)))
    return rng.uniform(0.0, ceiling)


def origin(url: URL) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the default port filled in, for same-origin checks."""
    return (url.scheme.lower(), (url.host or "").lower(), url.port)


# A JSON \u escape for half of a surrogate pair; a lone one decodes to a str that is not valid text.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def decode_json(text: str) -> object:
    """``json.loads``, with lone surrogates (invalid text that SQLite and UTF-8 refuse) replaced by ``?``.

    Raises ValueError or RecursionError like ``json.loads``.
    """
    value: object = json.loads(text)
    if _SURROGATE_ESCAPE.search(text):
        # Valid pairs were joined by the parser already; only lone halves fail to encode.
        cleaned = json.dumps(value, ensure_ascii=False).encode("utf-8", "replace").decode("utf-8")
        value = json.loads(cleaned)
    return value
