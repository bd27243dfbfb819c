"""Seeded faults for the reliability runs: CometAPI routes, Discord uploads and REST, and holds for kills.

Every fault that is injected is counted, so a run can report what it survived and a test can check that
each kind really happened.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import NoReturn

from aiohttp import web

from tests.fakes.comet.api import FakeCometAPI, Fault, RecordedRequest
from tests.fakes.discord.models import FakeHTTPError
from tests.fakes.discord.rest import BODY_KEY
from tests.fakes.discord.server import FakeDiscord

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# The issue's figures for status polls; creates and video downloads get their own, milder mix.
ISSUE_COMET_RATES: dict[str, dict[str, float]] = {
    "get": {"503": 0.30, "429": 0.10, "truncated": 0.05, "slow": 0.025, "timeout": 0.025, "drop": 0.03},
    "create": {"503": 0.04, "429": 0.05, "timeout": 0.02, "timeout_after": 0.02, "drop": 0.02, "drop_after": 0.02},
    "cdn": {"503": 0.05, "truncated": 0.05, "drop": 0.03, "slow": 0.03},
    "content": {"503": 0.05, "truncated": 0.05},
}
# Uploads of result videos: 413 falls back to a link; 500s make discord.py sleep 1 s and retry, so rare.
ISSUE_UPLOAD_RATES: dict[str, float] = {
    "413": 0.06, "500": 0.02, "500_after": 0.02, "drop_after": 0.05, "drop": 0.03,
}


@dataclass
class CreateHold:
    """The next create request is held open so that the bot can be killed in the middle of it."""

    after_processing: bool
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    request: RecordedRequest | None = None


class CometFaults:
    """Stands in for the fake CometAPI's ``FaultPlan``: picks a fault per request by seeded rates, counts them."""

    def __init__(self, api: FakeCometAPI, rng: random.Random, rates: dict[str, dict[str, float]],
                 request_timeout: float) -> None:
        self.api = api
        self.rng = rng
        self.rates = rates
        self.timeout = request_timeout
        self.counts: Counter[str] = Counter()
        self.kind_of: dict[int, str] = {}  # id(RecordedRequest) -> fault kind
        # id(RecordedRequest) -> when it arrived, by the wall clock (the one PostgreSQL's timestamps use)
        self.arrived_at: dict[int, float] = {}
        self.hold: CreateHold | None = None
        # Every kind of a route is forced once early (in seeded order), so that no run misses one by chance.
        self.pending = {route: list(kinds) for route, kinds in rates.items()}
        api.faults = self  # type: ignore[assignment]

    def take(self, route: str) -> Fault | None:
        """The fault for the request the fake recorded just now (``api.requests[-1]``)."""
        request = self.api.requests[-1]
        self.arrived_at[id(request)] = time.time()
        if route == "create" and self.hold is not None:
            hold, self.hold = self.hold, None
            hold.request = request
            hold.arrived.set()
            self.kind_of[id(request)] = "hold"
            return Fault.slow(60.0, after_processing=hold.after_processing)
        kind = _pick(self.rng, self.rates.get(route, {}), self.pending.get(route, []))
        if kind is None:
            return None
        self.counts[f"{route}_{kind}"] += 1
        self.kind_of[id(request)] = kind
        return self._fault(kind)

    def _fault(self, kind: str) -> Fault:
        if kind == "429":
            return Fault.rate_limited(retry_after=self.rng.choice(["1", "0"]))
        if kind.isdigit():
            return Fault.server_error(int(kind))
        if kind == "truncated":
            return Fault.truncated()
        if kind == "slow":
            return Fault.slow(self.timeout * 0.4)
        if kind in ("timeout", "timeout_after"):
            return Fault.slow(self.timeout * 1.6, after_processing=kind == "timeout_after")
        return Fault.drop(after_processing=kind == "drop_after")

    def clear(self) -> None:
        """Stop injecting (the liveness probe at the end runs without faults)."""
        self.rates, self.pending = {}, {}

    def inject(self, route: str, fault: Fault, times: int = 1) -> None:
        """Part of the FaultPlan interface the fake may call; the runs do not use it."""
        raise NotImplementedError


@dataclass
class UploadHold:
    """The next video upload is held at Discord so that the bot can be killed in the middle of it."""

    store_after: bool  # True: Discord keeps the message although the bot never sees the answer
    answer: bool = False  # with store_after: the answer is sent after all (to a process that may be frozen)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    message_id: int | None = None
    content: str = ""  # the held message's text (it names the job)


class DiscordUploadFaults:
    """Wraps the fake Discord's channel-message POST: faults and holds apply to uploads (posts with files)."""

    def __init__(self, fake: FakeDiscord, rng: random.Random, rates: dict[str, float]) -> None:
        if fake.port:
            raise RuntimeError("wrap the fake before starting it: the route is bound when the app is built")
        self.fake = fake
        self.rng = rng
        self.rates = rates
        self.counts: Counter[str] = Counter()
        self.uploads = 0
        self.hold: UploadHold | None = None
        self.pending = list(rates)
        self._original: Handler = fake.rest._post_message
        fake.rest._post_message = self.handle  # type: ignore[method-assign]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Answer one POST /channels/{id}/messages."""
        if not request[BODY_KEY].files:
            return await self._original(request)
        self.uploads += 1
        if self.hold is not None:
            hold, self.hold = self.hold, None
            return await self._held(request, hold)
        kind = _pick(self.rng, self.rates, self.pending)
        if kind is None:
            return await self._original(request)
        self.counts[f"upload_{kind}"] += 1
        if kind == "413":
            raise FakeHTTPError(413, 40005, "Request entity too large")
        if kind == "500":
            raise FakeHTTPError(500, 0, "500: Internal Server Error")
        if kind == "drop":
            self._abort(request)
        await self._original(request)  # the message exists; the answer is lost
        if kind == "500_after":
            raise FakeHTTPError(500, 0, "500: Internal Server Error")
        self._abort(request)

    async def _held(self, request: web.Request, hold: UploadHold) -> web.StreamResponse:
        payload = request[BODY_KEY].json
        hold.content = str(payload.get("content", "")) if isinstance(payload, dict) else ""
        hold.arrived.set()
        await hold.released.wait()  # the harness kills the bot meanwhile
        if hold.store_after:
            response = await self._original(request)
            assert isinstance(response, web.Response) and isinstance(response.body, bytes)
            hold.message_id = int(json.loads(response.body)["id"])
            if hold.answer:
                return response
        self._abort(request)

    @staticmethod
    def _abort(request: web.Request) -> NoReturn:
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError

    def clear(self) -> None:
        """Stop injecting."""
        self.rates, self.pending = {}, []


def _pick(rng: random.Random, rates: dict[str, float], pending: list[str]) -> str | None:
    """A fault kind by ``rates``; kinds not seen yet (``pending``) are forced now and then until each ran once."""
    if pending and rng.random() < 0.25:
        return pending.pop(rng.randrange(len(pending)))
    roll = rng.random()
    for kind, rate in rates.items():
        if roll < rate:
            if kind in pending:
                pending.remove(kind)
            return kind
        roll -= rate
    return None
