"""Helpers shared by the video-client tests: a recording sleep and a client wired to the fake API."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import SecretStr

from bot.comet.client import VideoClient
from bot.comet.types import RetryPolicy
from tests.fakes.comet.api import FakeCometAPI

# Short timeouts keep the few deliberately slow cases fast; zero jitter would hide backoff bugs.
FAST_POLICY = RetryPolicy(attempts=4, base_delay=0.5, max_delay=8.0, retry_after_cap=60.0, request_timeout=5.0)


class RecordingSleep:
    """Stands in for asyncio.sleep: records each requested delay and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def make_client(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep, **overrides: Any
) -> VideoClient:
    """A VideoClient pointed at the fake, with a recording sleep and a seeded jitter source."""
    options: dict[str, Any] = {
        "base_url": api.base_url,
        "api_key": SecretStr(api.api_key),
        "retry": FAST_POLICY,
        "sleep": sleep,
        "rng": random.Random(7),
        # The fake CDN listens on plain http; tests that check the https rule turn this off.
        "allow_plain_http_downloads": True,
    }
    options.update(overrides)
    return VideoClient(session, **options)


def leftovers(folder: Path) -> list[str]:
    """Names of the files in ``folder``, to prove no partial download was left behind."""
    return sorted(p.name for p in folder.iterdir())
