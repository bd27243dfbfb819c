"""Rate tiers (429 with Retry-After, honoured by the SDK's retry handler) and HTTP mode with signed requests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.async_app import AsyncAck
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack.models import ManualClock
from tests.fakes.slack.server import FakeSlack
from tests.fakes.slack.socket_mode import NotAcked

SECRET = "fake-signing-secret"


async def test_a_tier_bucket_refuses_with_retry_after_until_it_refills() -> None:
    clock = ManualClock()
    async with FakeSlack(clock=clock) as slack:
        channel = slack.add_channel("general")
        slack.rate_limits.set("chat.update", per_minute=60, burst=1)
        web = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url, retry_handlers=[])
        posted = await web.chat_postMessage(channel=channel.id, text="queued")
        await web.chat_update(channel=channel.id, ts=posted["ts"], text="running")
        with pytest.raises(SlackApiError) as limited:
            await web.chat_update(channel=channel.id, ts=posted["ts"], text="50%")
        assert limited.value.response.status_code == 429 and limited.value.response["error"] == "ratelimited"
        assert limited.value.response.headers["Retry-After"] == "1"
        assert slack.message(channel, posted["ts"]).text == "running"
        clock.advance(1.0)
        await web.chat_update(channel=channel.id, ts=posted["ts"], text="50%")
        assert slack.message(channel, posted["ts"]).text == "50%"


async def test_the_sdk_retry_handler_waits_out_retry_after(slack: FakeSlack) -> None:
    channel = slack.add_channel("general")
    slack.rate_limits.set("chat.update", per_minute=60, burst=1)
    web = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url,
                         retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)])
    posted = await web.chat_postMessage(channel=channel.id, text="queued")
    await web.chat_update(channel=channel.id, ts=posted["ts"], text="one")
    await web.chat_update(channel=channel.id, ts=posted["ts"], text="two")
    updates = slack.calls("chat.update")
    assert [c.status for c in updates] == [200, 429, 200]
    assert updates[2].at - updates[1].at >= 1.0
    assert slack.message(channel, posted["ts"]).text == "two"


async def test_posts_are_limited_per_channel_with_a_burst() -> None:
    clock = ManualClock()
    async with FakeSlack(clock=clock) as slack:
        busy, quiet = slack.add_channel("busy"), slack.add_channel("quiet")
        web = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url, retry_handlers=[])
        for i in range(5):
            await web.chat_postMessage(channel=busy.id, text=f"m{i}")
        with pytest.raises(SlackApiError) as limited:
            await web.chat_postMessage(channel=busy.id, text="one too many")
        assert limited.value.response.status_code == 429
        assert (await web.chat_postMessage(channel=quiet.id, text="elsewhere"))["ok"]
        clock.advance(1.0)
        assert (await web.chat_postMessage(channel=busy.id, text="a second later"))["ok"]
        assert [m.text for m in slack.messages(busy)] == ["m0", "m1", "m2", "m3", "m4", "a second later"]


async def test_injected_server_error_and_rate_limit(slack: FakeSlack, web: AsyncWebClient) -> None:
    channel = slack.add_channel("general")
    slack.inject("chat.postMessage", status=503, error="service_unavailable")
    with pytest.raises(SlackApiError) as failed:
        await web.chat_postMessage(channel=channel.id, text="x")
    assert failed.value.response.status_code == 503
    slack.inject("*", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as limited:
        await web.auth_test()
    assert limited.value.response.headers["Retry-After"] == "7"
    assert slack.messages(channel) == [] and (await web.auth_test())["ok"]


@pytest.fixture
async def bolt_http(slack: FakeSlack) -> AsyncIterator[tuple[AsyncApp, str]]:
    """A Bolt app in HTTP mode behind a small aiohttp server on 127.0.0.1; yields it and its events URL."""
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    app = AsyncApp(client=client, signing_secret=SECRET, process_before_response=True)

    async def events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

    server = web.Application()
    server.router.add_post("/slack/events", events)
    runner = web.AppRunner(server, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    yield app, f"http://127.0.0.1:{port}/slack/events"
    await runner.cleanup()


async def test_http_mode_signed_command_and_a_forged_one(slack: FakeSlack, bolt_http: tuple[AsyncApp, str]) -> None:
    app, url = bolt_http
    user = slack.add_user("ana")
    channel = slack.add_channel("general", members=(user,))

    @app.command("/veo")
    async def veo(ack: AsyncAck, command: dict[str, Any]) -> None:
        await ack(text=f"queued {command['text']}")

    delivery = slack.use_http(url, SECRET)
    result = await slack.slash_command("/veo", "a fox", channel=channel, user=user)
    assert result.ack.payload is not None and result.ack.payload["text"] == "queued a fox"
    assert [e.text for e in slack.ephemerals(user)] == ["queued a fox"]
    forged = await delivery.post("slash_commands", {"command": "/veo", "text": "x"}, signature="v0=" + "0" * 64)
    stale = await delivery.post("slash_commands", {"command": "/veo", "text": "x"}, timestamp=1_000_000_000)
    assert forged.status == 401 and stale.status == 401


async def test_http_mode_resends_an_unanswered_event(slack: FakeSlack, bolt_http: tuple[AsyncApp, str]) -> None:
    app, url = bolt_http
    seen: list[str | None] = []
    retried = asyncio.Event()

    @app.event("app_mention")
    async def mention(ack: AsyncAck, request: Any) -> None:
        retry = request.headers.get("x-slack-retry-num", [None])[0]
        seen.append(retry)
        if retry is None:
            # The first delivery stays unanswered until the re-send came: Slack gives up on it and retries.
            await asyncio.wait_for(retried.wait(), 5)
        else:
            retried.set()
        await ack()

    delivery = slack.use_http(url, SECRET)
    delivery.ack_timeout = 0.3
    await slack.send_event({"type": "app_mention", "user": "U1", "text": "hi", "ts": "1.000001", "channel": "C1"},
                           retries=2)
    assert seen == [None, "1"]
    assert delivery.attempts[1].headers["X-Slack-Retry-Reason"] == "http_timeout"
    user = slack.add_user("ana")
    channel = slack.add_channel("general", members=(user,))
    with pytest.raises(NotAcked):
        # No listener: Bolt answers 404, which is no ack.
        await slack.slash_command("/unknown", "", channel=channel, user=user)
