"""The pieces that let a process work without holding every guild: the identify gate (turns booked in the
shared store, ``max_concurrency`` read from ``GET /gateway/bot``) and upload limits read over REST."""

from __future__ import annotations

from collections.abc import AsyncIterator

import discord
import pytest
import yarl

from cogs.identify import MARGIN, SPACING, IdentifyGate
from cogs.upload_limits import DEFAULT_UPLOAD_LIMIT, UploadLimits
from db.sqlite.store import SqliteJobStore
from tests.fakes.discord.models import ManualClock, MiB
from tests.fakes.discord.server import FakeDiscord

T0 = 1_700_000_000.0


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(max_concurrency=2) as server:
        monkeypatch.setattr(discord.http.Route, "BASE", server.api_base)
        monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(server.gateway_url))
        yield server


@pytest.fixture
async def client(fake: FakeDiscord) -> AsyncIterator[discord.Client]:
    """A client that only logged in (REST), as a worker process does."""
    bot = discord.Client(intents=discord.Intents.none())
    await bot.login(fake.token)
    try:
        yield bot
    finally:
        await bot.close()


class Sleeps:
    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


async def test_gates_of_two_processes_on_one_store_take_turns_per_bucket(
        fake: FakeDiscord, client: discord.Client, store: SqliteJobStore) -> None:
    slept = Sleeps()
    # Two processes' gates: each has its own client and asks Discord for max_concurrency itself.
    first = IdentifyGate(store, client, window=(5.0 - MARGIN) / SPACING, clock=lambda: T0, sleep=slept)
    second = IdentifyGate(store, client, window=(5.0 - MARGIN) / SPACING, clock=lambda: T0 + 1.0, sleep=slept)
    assert await first.wait(0) == 0.0  # bucket 0
    assert await second.wait(1) == 0.0  # bucket 1: max_concurrency is 2
    assert await second.wait(2) == pytest.approx(4.0)  # bucket 0 again, 1 s after shard 0 identified
    assert await first.wait(3) == pytest.approx(6.0)  # bucket 1, a window after shard 1's turn at T0 + 1
    assert slept.seconds == pytest.approx([4.0, 6.0])
    assert first.max_concurrency == second.max_concurrency == 2
    assert sum(1 for r in fake.requests if r.path == "/gateway/bot") == 2  # once per gate


async def test_an_unreadable_concurrency_is_taken_as_one_and_asked_again(
        fake: FakeDiscord, client: discord.Client, store: SqliteJobStore) -> None:
    slept = Sleeps()
    gate = IdentifyGate(store, client, window=(5.0 - MARGIN) / SPACING, clock=lambda: T0, sleep=slept)
    fake.inject("GET", r"^/gateway/bot$", status=403, code=50001, message="Missing Access")
    assert await gate.wait(1) == 0.0  # in bucket 0 while the concurrency is unknown
    assert await gate.wait(0) == pytest.approx(5.0)  # so shard 0 (bucket 0) waits for it
    assert gate.max_concurrency == 2  # the second call read it


async def test_a_guild_outside_the_cache_is_read_over_rest_once_per_ttl(
        fake: FakeDiscord, client: discord.Client) -> None:
    guild = fake.add_guild("Boosted", premium_tier=3)
    clock = ManualClock()
    limits = UploadLimits(client, ttl=600.0, clock=clock)
    assert client.get_guild(guild.id) is None
    assert await limits.of(guild.id) == 100 * MiB
    fake.state.guild(guild.id).premium_tier = 2
    assert await limits.of(guild.id) == 100 * MiB  # kept
    clock.advance(601.0)
    assert await limits.of(guild.id) == 50 * MiB  # read again after the TTL
    assert sum(1 for r in fake.requests if r.path == f"/guilds/{guild.id}") == 2


async def test_an_unreadable_guild_gets_the_default_limit_and_is_asked_again(
        fake: FakeDiscord, client: discord.Client) -> None:
    guild = fake.add_guild("Boosted", premium_tier=2)
    limits = UploadLimits(client)
    fake.inject("GET", rf"^/guilds/{guild.id}$", status=403, code=50001, message="Missing Access")
    assert await limits.of(guild.id) == DEFAULT_UPLOAD_LIMIT
    assert await limits.of(guild.id) == 50 * MiB
    assert await limits.of(guild.id + 1) == DEFAULT_UPLOAD_LIMIT  # unknown guild: 404
