"""The world of a reliability run: both fakes on loopback with long random secrets, one guild (or one per gateway
shard), two channels, several members, a moderator, a bystander and a mentionable role; outcomes scripted per
request tag."""

from __future__ import annotations

import random
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.comet.api import FakeCometAPI, RecordedRequest, TaskScript
from tests.fakes.discord.models import BOT_DEFAULT_PERMISSIONS, FakeChannel, FakeGuild, FakeRole, FakeUser
from tests.fakes.discord.server import FakeDiscord
from tests.reliability.faults import CometFaults, DiscordUploadFaults
from tests.reliability.prompts import TAG_PREFIX
from tests.support.e2e import IDENTIFY_WINDOW, MEMBER_PERMISSIONS, MODERATOR_PERMISSIONS

TAG_RE = re.compile(TAG_PREFIX + r"\d{5}(?!\d)")


def tag_of(text: str) -> str | None:
    """The request tag in a prompt, if any."""
    match = TAG_RE.search(text)
    return match.group() if match else None


class ScriptedCometAPI(FakeCometAPI):
    """The fake CometAPI, choosing each new task's script by the tag in its prompt."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.scripts: dict[str, TaskScript] = {}

    async def _do_create(self, request: web.Request, rec: RecordedRequest) -> Any:
        script = self.scripts.get(tag_of(rec.fields.get("prompt", "")) or "")
        if script is None:
            return await super()._do_create(request, rec)
        # _do_create never awaits, so swapping the default for this one call cannot leak to another request.
        default, self.default_script = self.default_script, script
        try:
            return await super()._do_create(request, rec)
        finally:
            self.default_script = default

    def tasks_for(self, tag: str) -> list[str]:
        """Ids of the tasks created for a request tag."""
        return [t.id for t in self.tasks.values() if tag_of(t.prompt) == tag]


@dataclass
class World:
    """Everything a run talks to, and the faults wired into it."""

    discord: FakeDiscord
    api: ScriptedCometAPI
    guilds: list[FakeGuild]
    channels: list[FakeChannel]
    members: list[FakeUser]
    moderator: FakeUser
    bystander: FakeUser
    role: FakeRole
    comet_faults: CometFaults
    upload_faults: DiscordUploadFaults

    @property
    def guild(self) -> FakeGuild:
        """The first guild (the only one of an unsharded run)."""
        return self.guilds[0]

    @property
    def token(self) -> str:
        """The bot token the fake Discord accepts."""
        return self.discord.token

    @property
    def key(self) -> str:
        """The CometAPI key the fake accepts."""
        return self.api.api_key


@asynccontextmanager
async def reliability_world(
    seed: int, *, comet_rates: dict[str, dict[str, float]], upload_rates: dict[str, float], request_timeout: float,
    nonce_window: float = 300.0, shard_count: int = 0,
) -> AsyncIterator[World]:
    """Start both fakes; faults are seeded from ``seed`` (the secrets are not: they only have to be unguessable).

    ``shard_count``: that many guilds, one on each gateway shard, a channel in each; else one guild, two channels.
    """
    token = secrets.token_urlsafe(48)
    key = "sk-" + secrets.token_urlsafe(36)
    discord = FakeDiscord(token=token, nonce_window=nonce_window, identify_window=IDENTIFY_WINDOW)
    uploads = DiscordUploadFaults(discord, random.Random(seed * 31 + 1), upload_rates)
    api = ScriptedCometAPI(api_key=key, seed=seed)
    async with discord, api:
        comet = CometFaults(api, random.Random(seed * 31 + 2), comet_rates, request_timeout)
        if shard_count:
            guilds = [discord.add_guild(f"Reliability {i}", shard=(i, shard_count)) for i in range(shard_count)]
            homes = guilds
        else:
            guilds = [discord.add_guild("Reliability")]
            homes = guilds * 2
        channels = [discord.add_channel(guild.id, f"videos-{i}", bot_permissions=BOT_DEFAULT_PERMISSIONS)
                    for i, guild in enumerate(homes)]
        members = [discord.add_user(f"member{i}") for i in range(6)]
        moderator = discord.add_user("moderator")
        bystander = discord.add_user("bystander")
        for guild in guilds:
            for member in [*members, bystander]:
                discord.add_member(guild.id, member, permissions=MEMBER_PERMISSIONS)
            discord.add_member(guild.id, moderator, permissions=MODERATOR_PERMISSIONS)
        # One role id is enough for the prompts' role mentions: no message may ping any role.
        role = discord.add_role(guilds[0].id, "subscribers", mentionable=True)
        yield World(discord, api, guilds, channels, members, moderator, bystander, role, comet, uploads)
