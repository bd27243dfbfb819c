"""The fake gateway shards as Discord does: recommended shards and identify concurrency from /gateway/bot,
guilds and their events only on their shard, one IDENTIFY per bucket per window, bad shards refused."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.fakes.discord.models import ManualClock
from tests.fakes.discord.server import FakeDiscord

TOKEN = "fake-bot-token"


class RawShard:
    """A bare gateway client: HELLO, IDENTIFY with a shard, then the frames as they come."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def identify(self, shard: list[int] | None) -> None:
        hello = json.loads((await self.ws.receive(timeout=5)).data)
        assert hello["op"] == 10
        data: dict[str, Any] = {"token": TOKEN, "intents": 1, "properties": {}}
        if shard is not None:
            data["shard"] = shard
        await self.ws.send_json({"op": 2, "d": data})

    async def dispatch(self) -> dict[str, Any]:
        """The next dispatch (op 0), or an AssertionError naming the close code."""
        message = await self.ws.receive(timeout=5)
        if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
            raise AssertionError(f"closed with {self.ws.close_code}")
        frame: dict[str, Any] = json.loads(message.data)
        return frame

    async def events_until(self, count: int) -> list[dict[str, Any]]:
        return [await self.dispatch() for _ in range(count)]

    async def close_code(self) -> int | None:
        message = await self.ws.receive(timeout=5)
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), message
        return self.ws.close_code


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def _shard(fake: FakeDiscord, session: aiohttp.ClientSession, shard: list[int] | None) -> RawShard:
    raw = RawShard(await session.ws_connect(fake.gateway_url))
    await raw.identify(shard)
    return raw


async def test_gateway_bot_recommends_shards_and_tells_the_identify_concurrency(
        session: aiohttp.ClientSession) -> None:
    async with FakeDiscord(max_concurrency=16) as fake:
        for n in range(1001):
            fake.add_guild(f"g{n}")
        headers = {"Authorization": f"Bot {TOKEN}"}
        async with session.get(f"{fake.api_base}/gateway/bot", headers=headers) as answer:
            body = await answer.json()
        assert body["url"] == fake.gateway_url and body["shards"] == 2
        assert body["session_start_limit"]["max_concurrency"] == 16
        async with session.get(f"{fake.api_base}/gateway/bot") as refused:
            assert refused.status == 401


def test_guilds_can_be_placed_on_a_shard() -> None:
    fake = FakeDiscord()
    for shard in (0, 1, 2, 0, 2):
        guild = fake.add_guild(shard=(shard, 3))
        assert (guild.id >> 22) % 3 == shard
    ids = list(fake.state.guilds)
    assert ids == sorted(ids) and len(set(ids)) == 5


async def test_each_shard_gets_only_its_guilds_and_their_interactions(session: aiohttp.ClientSession) -> None:
    async with FakeDiscord(max_concurrency=2) as fake:
        guilds = [fake.add_guild(f"g{n}", shard=(n % 2, 2)) for n in range(4)]
        channels = [fake.add_channel(g.id) for g in guilds]
        user = fake.add_user("member")
        for guild in guilds:
            fake.add_member(guild.id, user)
        # Buckets 0 and 1 (max_concurrency 2): both may identify at once.
        shards = [await _shard(fake, session, [0, 2]), await _shard(fake, session, [1, 2])]
        for number, raw in enumerate(shards):
            ready, *creates = await raw.events_until(3)
            assert ready["t"] == "READY" and ready["d"]["shard"] == [number, 2]
            mine = {str(g.id) for g in guilds if (g.id >> 22) % 2 == number}
            assert {g["id"] for g in ready["d"]["guilds"]} == mine
            assert [c["t"] for c in creates] == ["GUILD_CREATE"] * 2 and {c["d"]["id"] for c in creates} == mine
        await fake.invoke_command("veo", channel_id=channels[1].id, user=user, options={"prompt": "odd"})
        await fake.invoke_command("veo", channel_id=channels[2].id, user=user, options={"prompt": "even"})
        [on_1] = await shards[1].events_until(1)
        [on_0] = await shards[0].events_until(1)
        assert on_1["t"] == on_0["t"] == "INTERACTION_CREATE"
        assert on_1["d"]["guild_id"] == str(guilds[1].id) and on_0["d"]["guild_id"] == str(guilds[2].id)
        assert fake.sessions_of_shard(0) == fake.sessions_of_shard(1) == 1 and not fake.identify_violations


async def test_a_second_identify_in_one_bucket_within_the_window_is_closed_with_4008(
        session: aiohttp.ClientSession) -> None:
    clock = ManualClock()
    async with FakeDiscord(clock=clock, identify_window=5.0) as fake:
        first = await _shard(fake, session, [0, 2])
        assert (await first.dispatch())["t"] == "READY"
        # max_concurrency 1: shards 0 and 1 share bucket 0.
        too_soon = await _shard(fake, session, [1, 2])
        assert await too_soon.close_code() == 4008
        assert [shard for _, shard in fake.identify_violations] == [(1, 2)] and fake.identify_count == 1
        clock.advance(5.0)
        later = await _shard(fake, session, [1, 2])
        assert (await later.dispatch())["t"] == "READY" and fake.identify_count == 2


async def test_other_buckets_are_not_limited_by_each_other(session: aiohttp.ClientSession) -> None:
    clock = ManualClock()
    async with FakeDiscord(clock=clock, max_concurrency=2) as fake:
        for shard in ([0, 4], [1, 4]):
            assert (await (await _shard(fake, session, shard)).dispatch())["t"] == "READY"
        # Shard 2 is bucket 0 again, one identify after shard 0 in the same window.
        assert await (await _shard(fake, session, [2, 4])).close_code() == 4008


@pytest.mark.parametrize("shard", [[2, 2], [-1, 2], [0, 0], ["a", 2], [1]])
async def test_an_invalid_shard_is_closed_with_4010(shard: list[Any], session: aiohttp.ClientSession) -> None:
    async with FakeDiscord() as fake:
        raw = await _shard(fake, session, shard)
        assert await raw.close_code() == 4010 and fake.identify_count == 0


async def test_the_guild_is_readable_over_rest_with_its_boost_tier(session: aiohttp.ClientSession) -> None:
    async with FakeDiscord() as fake:
        guild = fake.add_guild("Boosted", premium_tier=3)
        headers = {"Authorization": f"Bot {TOKEN}"}
        async with session.get(f"{fake.api_base}/guilds/{guild.id}", headers=headers) as answer:
            body = await answer.json()
        assert answer.status == 200 and body["id"] == str(guild.id) and body["premium_tier"] == 3
        assert "channels" not in body and "members" not in body
        async with session.get(f"{fake.api_base}/guilds/{guild.id + 1}", headers=headers) as unknown:
            assert unknown.status == 404 and (await unknown.json())["code"] == 10004
