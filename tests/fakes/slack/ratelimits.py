"""Slack's rate tiers: a token bucket per method per workspace (and per channel for posts) -> 429 Retry-After."""

from __future__ import annotations

import math
from dataclasses import dataclass

from tests.fakes.slack.models import Clock, SlackError
from tests.fakes.slack.web_api import Call

# Calls per minute by tier (docs.slack.dev/apis/web-api/rate-limits): Tier 1 1+, Tier 2 20+, Tier 3 50+, Tier 4 100+.
TIER_PER_MINUTE = {1: 1, 2: 20, 3: 50, 4: 100}
METHOD_TIERS = {
    "apps.connections.open": 1,
    "usergroups.list": 2, "usergroups.users.list": 2,
    "chat.update": 3, "chat.delete": 3, "conversations.history": 3, "conversations.replies": 3,
    "conversations.info": 3, "conversations.join": 3, "conversations.open": 3,
    "users.info": 4, "views.open": 4, "views.update": 4, "views.push": 4, "files.getUploadURLExternal": 4,
    "files.completeUploadExternal": 4, "files.info": 4, "files.delete": 3, "chat.getPermalink": 4,
    "chat.postEphemeral": 4, "auth.test": 4,
}
# chat.postMessage: "generally one message per second per channel", with short bursts allowed.
POST_PER_SECOND = 1.0
POST_BURST = 5


@dataclass
class Bucket:
    """A token bucket: `capacity` calls at once, refilled at `rate` per second."""

    capacity: float
    rate: float
    tokens: float
    updated: float

    def take(self, now: float) -> float:
        """Spend a token; 0 when allowed, else the seconds until one is available."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


@dataclass(frozen=True)
class Limit:
    """A method's allowance: `per_minute` on average, `burst` at once."""

    per_minute: float
    burst: float


class RateLimiter:
    """Answers 429 `ratelimited` with `Retry-After` once a caller outruns a method's tier."""

    def __init__(self, clock: Clock, *, enabled: bool = True) -> None:
        self.clock = clock
        self.enabled = enabled
        self.limits: dict[str, Limit] = {m: Limit(TIER_PER_MINUTE[t], TIER_PER_MINUTE[t])
                                         for m, t in METHOD_TIERS.items()}
        # Listed as Tier 1, but "ratelimited errors rarely occur with this endpoint" (slack_sdk's Socket Mode
        # client): reconnects after a disconnect or a refresh open several URLs a minute without a 429.
        self.limits["apps.connections.open"] = Limit(20, 10)
        self.post_limit = Limit(POST_PER_SECOND * 60, POST_BURST)
        self.buckets: dict[tuple[str, str, str], Bucket] = {}
        self.refusals: list[tuple[str, str, int]] = []

    def set(self, method: str, *, per_minute: float, burst: float | None = None) -> None:
        """Change one method's allowance (`chat.postMessage` is per channel); resets its buckets."""
        limit = Limit(per_minute, per_minute if burst is None else burst)
        if method == "chat.postMessage":
            self.post_limit = limit
        else:
            self.limits[method] = limit
        self.buckets = {k: b for k, b in self.buckets.items() if k[1] != method}

    def __call__(self, call: Call) -> None:
        """Refuse the call with 429 when its bucket is empty."""
        if not self.enabled:
            return
        team = call.team_or_none.id if call.team_or_none is not None else "app"
        if call.method == "chat.postMessage":
            limit, key = self.post_limit, (team, call.method, str(call.args.get("channel", "")))
        elif call.method in self.limits:
            limit, key = self.limits[call.method], (team, call.method, "")
        else:
            return
        now = self.clock()
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = Bucket(limit.burst, limit.per_minute / 60.0, limit.burst, now)
        wait = bucket.take(now)
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            self.refusals.append((call.method, team, retry_after))
            raise SlackError("ratelimited", status=429, headers={"Retry-After": str(retry_after)})
