"""Fixtures shared by the video-client tests: the fake CometAPI, an HTTP session, a recording sleep."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.bot.comet.support import RecordingSleep
from tests.fakes.comet.api import FakeCometAPI


@pytest.fixture
async def api() -> AsyncIterator[FakeCometAPI]:
    async with FakeCometAPI() as fake:
        yield fake


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()
