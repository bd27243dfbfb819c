"""``IdentifyGate``: spaces gateway IDENTIFYs as Discord allows, across every process that shares the store.

Discord starts at most ``max_concurrency`` sessions per 5 seconds, one per bucket (``shard_id %
max_concurrency``), and closes a connection that identifies faster. discord.py calls
``before_identify_hook`` before each IDENTIFY (its default only sleeps 5 s between the shards of one
process); the gate books the bucket's next free moment in the store, so that shard processes started
together, or a process restarted right after its last identify, each wait their turn.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import aiohttp
import discord

from bot.jobs.ports import JobStore

log = logging.getLogger(__name__)

# Discord's identify window (DISCORD_IDENTIFY_WINDOW); tests shorten it, with the fake gateway's.
IDENTIFY_WINDOW = 5.0
# Turns are booked further apart than the window: an IDENTIFY reaches Discord a little after its turn (a sleep
# that overshoots, a busy event loop), and the next must not land inside its window. A tenth of the window, and
# a quarter second whatever the window (a short test window leaves no room otherwise).
SPACING = 1.1
MARGIN = 0.25


def turn_spacing(window: float) -> float:
    """How far apart the identify turns of one bucket are booked, for Discord's ``window``."""
    return window * SPACING + MARGIN


class IdentifyGate:
    """Waits, before each IDENTIFY of a client, until the shard's bucket may start a session."""

    def __init__(
        self,
        store: JobStore,
        client: discord.Client,
        *,
        window: float = IDENTIFY_WINDOW,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.store = store
        self.client = client
        self.window = window
        self.clock = clock
        self.sleep = sleep
        self.max_concurrency: int | None = None

    async def _concurrency(self) -> int:
        """``max_concurrency`` from ``GET /gateway/bot``, asked once; 1 (the strictest) while it is unknown."""
        if self.max_concurrency is None:
            try:
                _, _, limits = await self.client.http.get_bot_gateway()
            except (discord.GatewayNotFound, discord.HTTPException, aiohttp.ClientError, OSError) as exc:
                log.warning("could not read the identify concurrency (%s); identifying one shard at a time", exc)
                return 1
            self.max_concurrency = max(1, int(limits.get("max_concurrency", 1)))
        return self.max_concurrency

    async def wait(self, shard_id: int | None) -> float:
        """Book the shard's next identify and sleep until it; return the seconds waited."""
        bucket = (shard_id or 0) % await self._concurrency()
        delay = await self.store.reserve_identify_slot(bucket, turn_spacing(self.window), self.clock())
        if delay > 0:
            log.info("shard %s waits %.1f s for its turn to identify (bucket %s)", shard_id, delay, bucket)
            await self.sleep(delay)
        return delay
