"""Fixtures for the fake Slack's own tests: the fake, a Web client on it, and a small Bolt app over Socket Mode."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack.server import FakeSlack


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    """A running fake Slack with its first workspace."""
    async with FakeSlack(ack_timeout=1.0) as fake:
        yield fake


@pytest.fixture
async def web(slack: FakeSlack) -> AsyncIterator[AsyncWebClient]:
    """The real Web client with the bot token, without automatic retries."""
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url, retry_handlers=[])
    yield client
    if client.session is not None:
        await client.session.close()


@dataclass
class BoltRig:
    """A Bolt app connected to the fake over Socket Mode."""

    app: AsyncApp
    handler: AsyncSocketModeHandler


@pytest.fixture
async def bolt(slack: FakeSlack) -> AsyncIterator[BoltRig]:
    """A minimal Bolt AsyncApp (listeners added by each test) connected over the real Socket Mode handler."""
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    app = AsyncApp(client=client)
    handler = AsyncSocketModeHandler(app, slack.app_token, ping_interval=0.2)
    await handler.connect_async()
    await slack.wait_connected()
    yield BoltRig(app, handler)
    await handler.close_async()
