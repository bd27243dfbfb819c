"""``UploadLimits``: the largest file the bot may post in a guild, known with or without the guild in the cache.

A process holds a guild in its cache only when its gateway session carries the guild's shard: a worker
process (``VEO_ROLE=worker``) has no gateway at all, and a shard process delivers jobs of other shards' guilds
too. For those, the guild's boost tier is read over REST (``GET /guilds/{id}``) and kept for a while.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import aiohttp
import discord

log = logging.getLogger(__name__)

DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024
# A guild's boost tier changes rarely; an upload over a lowered limit still falls back to a link (413).
GUILD_TTL = 600.0


class UploadLimits:
    """Per-guild upload limits from the gateway cache, else from REST (cached for ``ttl`` seconds)."""

    def __init__(self, client: discord.Client, *, ttl: float = GUILD_TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.ttl = ttl
        self.clock = clock
        self._fetched: dict[int, tuple[int, float]] = {}

    async def of(self, guild_id: int) -> int:
        """The guild's upload limit in bytes (Discord's default when the guild cannot be read now)."""
        guild = self.client.get_guild(guild_id)
        if guild is not None:
            return guild.filesize_limit
        known = self._fetched.get(guild_id)
        if known is not None and self.clock() - known[1] < self.ttl:
            return known[0]
        try:
            fetched = await self.client.fetch_guild(guild_id, with_counts=False)
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as exc:
            # Not kept: the next delivery asks again. The default is the smallest limit, so a file sent under
            # it fits any guild.
            log.warning("could not read guild %s's upload limit (%s); assuming the default", guild_id, exc)
            return DEFAULT_UPLOAD_LIMIT
        self._fetched[guild_id] = (fetched.filesize_limit, self.clock())
        return fetched.filesize_limit
