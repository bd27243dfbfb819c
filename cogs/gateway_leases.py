"""``GatewayLeases``: a gateway shard is opened by one live process at a time, across every process of the bot.

Before a shard identifies (discord.py's ``before_identify_hook``), its process takes the shard's lease
(``shard:<count>:<id>``; a client without shards is shard 0 of 1) in the store, waiting while another live process
holds it. A heartbeat renews the leases held; a clean close releases them, so a waiting process takes the shard at
once; a process that dies loses them when they run out. A process that stalled past its lease and finds it taken
closes that shard (identifying again means waiting for the lease), so two sessions never share a shard for longer
than one heartbeat.
"""

from __future__ import annotations

import asyncio
import logging

import discord

from bot.jobs.ports import JobStore
from bot.jobs.process_leases import LeaseHolder

log = logging.getLogger(__name__)

PREFIX = "shard:"


def lease_name(shard_id: int | None, shard_count: int) -> str:
    """The lease of one gateway shard, named with the shard count (another count splits the guilds otherwise)."""
    return f"{PREFIX}{shard_count}:{shard_id or 0}"


class GatewayLeases:
    """The shard leases of one process's client: taken before each identify, renewed, released on close."""

    def __init__(self, store: JobStore, client: discord.Client, *, owner: str, lease_s: float,
                 shard_count: int) -> None:
        self.client = client
        self.shard_count = shard_count
        self.holder = LeaseHolder(store, owner, lease_s, on_lost=self._lost)
        self.waiting = 0  # identifies waiting for a lease held elsewhere
        self._tasks: set[asyncio.Task[None]] = set()

    async def acquire(self, shard_id: int | None) -> float:
        """Take the shard's lease before it identifies, waiting while a live process holds it; seconds waited."""
        name = lease_name(shard_id, self.shard_count)
        self.waiting += 1
        try:
            waited = await self.holder.acquire(name)
        finally:
            self.waiting -= 1
        if waited > 0:
            log.info("shard %s: took its lease after waiting %.1f s for another process to let it go",
                     shard_id or 0, waited)
        return waited

    async def _lost(self, name: str) -> None:
        shard_id = int(name.rsplit(":", 1)[1])
        log.error("shard %s: another process took its lease (this one stalled past it); closing the shard here",
                  shard_id)
        task = asyncio.create_task(self._close_shard(shard_id), name=f"veo-shard-{shard_id}-lost")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _close_shard(self, shard_id: int) -> None:
        if isinstance(self.client, discord.AutoShardedClient):
            shard = self.client.get_shard(shard_id)
            if shard is not None:
                # Connects again through the identify hook: it waits for the lease like any newcomer.
                await shard.reconnect()
                return
        # One session for every guild: close the client; the process ends, and a restart waits for the lease.
        await self.client.close()

    async def release_all(self) -> None:
        """Release every shard lease (after the client closed), so that a waiting process takes them at once."""
        for task in list(self._tasks):
            task.cancel()
        await self.holder.release_all()

    async def abandon(self) -> None:
        """Stop renewing, releasing nothing (a crash: the leases run out by themselves)."""
        for task in list(self._tasks):
            task.cancel()
        await self.holder.abandon()
