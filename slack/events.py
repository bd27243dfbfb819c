"""Events API deliveries seen once: Slack re-sends an event it thinks was not acknowledged in time (HTTP retries
with ``X-Slack-Retry-Num``, Socket Mode envelopes with ``retry_attempt``), and Bolt hands every copy to the
listeners; a Bolt middleware acknowledges a repeat of an ``event_id`` without handling it again."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.response import BoltResponse

log = logging.getLogger(__name__)

# Slack retries over about 5 minutes (at once, after 1 min, after 5 min); an hour covers every retry.
REMEMBER_SECONDS = 3600.0
MAX_REMEMBERED = 10_000


class SeenEvents:
    """The event ids handled lately, oldest first; bounded in age and number."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, ttl: float = REMEMBER_SECONDS,
                 limit: int = MAX_REMEMBERED) -> None:
        self.clock = clock
        self.ttl = ttl
        self.limit = limit
        self._seen: OrderedDict[str, float] = OrderedDict()
        self.dropped = 0

    def first_time(self, event_id: str) -> bool:
        """True the first time ``event_id`` is seen (it is remembered), False for a repeat."""
        now = self.clock()
        while self._seen and (len(self._seen) >= self.limit or next(iter(self._seen.values())) < now - self.ttl):
            self._seen.popitem(last=False)
        if event_id in self._seen:
            self.dropped += 1
            return False
        self._seen[event_id] = now
        return True

    async def middleware(self, body: dict[str, Any], next: Callable[[], Awaitable[None]]) -> BoltResponse | None:
        """Bolt global middleware: runs after the signature check, so only signed requests are remembered."""
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if isinstance(event_id, str) and not self.first_time(event_id):
            log.info("Slack event %s delivered again; already handled", event_id)
            return BoltResponse(status=200, body="")
        await next()
        return None
