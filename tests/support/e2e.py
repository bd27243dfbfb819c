"""The real bot (discord.py + job core + SQLite) against the fake Discord and the fake CometAPI (or the fake
Discord alone)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.comet.types import RetryPolicy
from bot.config import load_settings
from bot.jobs.records import Workspace
from cogs.app import VeoApp
from tests.fakes.comet.api import FakeCometAPI
from tests.fakes.discord.models import (
    BOT_DEFAULT_PERMISSIONS,
    EVERYONE_DEFAULT_PERMISSIONS,
    FakeChannel,
    FakeGuild,
    FakeUser,
    MessageRecord,
)
from tests.fakes.discord.server import FakeDiscord

MANAGE_MESSAGES = 1 << 13
MEMBER_PERMISSIONS = EVERYONE_DEFAULT_PERMISSIONS
MODERATOR_PERMISSIONS = EVERYONE_DEFAULT_PERMISSIONS | MANAGE_MESSAGES
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(200))
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(100))
WEBP = b"RIFF\x20\x00\x00\x00WEBPVP8 " + bytes(50)

# Short timings so a job's whole life takes well under a second of real time.
FAST_CORE: dict[str, Any] = {
    "status_edit_interval": 0.0,
    "delivery_retry_base": 0.05,
    "delivery_retry_cap": 0.2,
    "lease_seconds": 5.0,
    "error_backoff_cap": 0.2,
}
# Discord's identify window (5 s per bucket) shortened alike in the fake gateway and the bot, so that a test
# restarting a bot on its database waits a moment, not five seconds.
IDENTIFY_WINDOW = 0.3
FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, retry_after_cap=0.1, request_timeout=3.0)


@dataclass
class DiscordWorld:
    """One fake Discord: a guild, a channel, a member and a moderator."""

    discord: FakeDiscord
    guild: FakeGuild
    channel: FakeChannel
    member: FakeUser
    moderator: FakeUser
    tmp_path: Path

    def env(self, **extra: str) -> dict[str, str]:
        """Settings that point the bot at the fake Discord (and at no video service)."""
        return {
            "DISCORD_TOKEN": self.discord.token,
            "DISCORD_API_BASE_URL": self.discord.api_base,
            "DISCORD_GATEWAY_URL": self.discord.gateway_url,
            "DATABASE_URL": f"sqlite:///{self.tmp_path / 'veo.sqlite3'}",
            "VEO_DATA_DIR": str(self.tmp_path / "data"),
            "VEO_POLL_INTERVAL": "0.05",
            "DISCORD_GUILD_IDS": str(self.guild.id),
            "DISCORD_IDENTIFY_WINDOW": str(IDENTIFY_WINDOW),
            **extra,
        }

    def bot_messages(self, *, ephemeral: bool = False) -> list[MessageRecord]:
        """Messages the bot posted in the channel (by default the public ones)."""
        return [
            m for m in self.discord.messages(self.channel.id)
            if m.author.id == self.discord.bot_user.id and m.ephemeral == ephemeral
        ]

    def results(self) -> list[MessageRecord]:
        """The bot's public messages that are not status messages (results and failure notices)."""
        return [m for m in self.bot_messages() if not m.embeds and m.interaction_metadata is None]

    def status_messages(self) -> list[MessageRecord]:
        """The bot's public status messages (an embed titled with the job number)."""
        return [m for m in self.bot_messages() if m.embeds and "job #" in str(m.embeds[0].get("title", ""))]

    async def veo(self, user: FakeUser | None = None, **options: Any) -> Any:
        """Invoke /veo as ``user`` (the member by default) and wait for the private answer."""
        attachments = {k: options.pop(k) for k in ("image", "last_frame") if k in options}
        interaction = await self.discord.invoke_command(
            "veo", channel_id=self.channel.id, user=user or self.member, options=options,
            attachments=attachments, permissions=MEMBER_PERMISSIONS,
        )
        return interaction

    def attach(self, filename: str, content_type: str | None, data: bytes, size: int | None = None) -> Any:
        """Register a slash-command attachment on the fake CDN."""
        return self.discord.add_attachment(self.channel.id, filename, content_type, data, size)


@dataclass
class World(DiscordWorld):
    """A ``DiscordWorld`` plus one fake CometAPI."""

    api: FakeCometAPI

    def env(self, **extra: str) -> dict[str, str]:
        """Settings that point the bot at both fakes."""
        return super().env(**{
            "COMETAPI_KEY": self.api.api_key,
            "COMETAPI_BASE_URL": self.api.base_url,
            "VEO_ALLOW_HTTP_DOWNLOADS": "true",
            **extra,
        })


def guild_workspace(guild_id: int) -> Workspace:
    """A fake Discord guild as the job core names workspaces."""
    return Workspace("discord", str(guild_id))


def _populate(discord_fake: FakeDiscord) -> tuple[FakeGuild, FakeChannel, FakeUser, FakeUser]:
    """One guild, one channel, a member and a moderator."""
    guild = discord_fake.add_guild("Test Server")
    channel = discord_fake.add_channel(guild.id, "videos", bot_permissions=BOT_DEFAULT_PERMISSIONS)
    member = discord_fake.add_user("member")
    discord_fake.add_member(guild.id, member, permissions=MEMBER_PERMISSIONS)
    moderator = discord_fake.add_user("moderator")
    discord_fake.add_member(guild.id, moderator, permissions=MODERATOR_PERMISSIONS)
    return guild, channel, member, moderator


@asynccontextmanager
async def discord_world(tmp_path: Path, **discord_options: Any) -> AsyncIterator[DiscordWorld]:
    """Start the fake Discord alone (no fake CometAPI) with one guild, one channel, a member and a moderator."""
    async with FakeDiscord(**{"identify_window": IDENTIFY_WINDOW, **discord_options}) as discord_fake:
        guild, channel, member, moderator = _populate(discord_fake)
        yield DiscordWorld(discord_fake, guild, channel, member, moderator, tmp_path)


@asynccontextmanager
async def world(tmp_path: Path, **discord_options: Any) -> AsyncIterator[World]:
    """Start both fakes with one guild, one channel, a member and a moderator."""
    async with FakeDiscord(**{"identify_window": IDENTIFY_WINDOW, **discord_options}) as discord_fake, \
            FakeCometAPI() as api:
        guild, channel, member, moderator = _populate(discord_fake)
        yield World(discord_fake, guild, channel, member, moderator, tmp_path, api=api)


@asynccontextmanager
async def running_bot(w: World, env: dict[str, str] | None = None, **core: Any) -> AsyncIterator[VeoApp]:
    """Start the real bot against the world's fakes and wait until it is connected; close it on exit."""
    settings = load_settings(w.env(**(env or {})))
    app = await VeoApp.create(settings, retry=FAST_RETRY, **{**FAST_CORE, **core})
    try:
        await app.start()
        # The guild in the cache means READY and GUILD_CREATE were handled: interactions work from here
        # (waiting for on_ready would add discord.py's 2 s guild_ready_timeout to every test).
        await w.discord.wait_until(lambda: app.bot.get_guild(w.guild.id), timeout=10)
        yield app
    finally:
        await app.close()
