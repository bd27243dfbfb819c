"""Named process leases: work that one process at a time may do, whichever machine it runs on.

A lease is a row of the store (``process_leases``: name, owner, token, expires_at) taken, renewed and released
with one statement each. ``exclusive`` runs a chore (tidying after a crash, syncing slash commands, pruning a
video volume) only where the lease was taken, and skips it where another live process holds it. ``LeaseHolder``
keeps leases for as long as a process runs something (a gateway shard): it waits for a lease held elsewhere,
renews what it holds with a heartbeat, says when a renewal was refused (the lease ran out and another process
took it), and releases everything on a clean close.

With one SQLite process every lease is free or its own: a take costs one statement.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)

# A waiter looks again this often at most (and at a quarter of the lease at least as often): a lease released on
# a clean close is taken within about a second.
WAIT_POLL = 1.0


@dataclass(frozen=True, slots=True)
class ProcessLease:
    """A lease as the store holds it: who holds ``name``, under which fencing token, until when."""

    name: str
    owner: str
    token: int
    expires_at: float


class LeaseStore(Protocol):
    """The store's lease statements (``bot.jobs.ports.JobStore`` has them)."""

    async def take_process_lease(self, name: str, owner: str, now: float, lease_s: float) -> int | None: ...
    async def renew_process_lease(self, name: str, owner: str, token: int, now: float, lease_s: float) -> bool: ...
    async def release_process_lease(self, name: str, owner: str, token: int) -> bool: ...


@contextlib.asynccontextmanager
async def exclusive(store: LeaseStore, name: str, owner: str, lease_s: float, *,
                    clock: Callable[[], float] = time.time) -> AsyncIterator[bool]:
    """Hold lease ``name`` while the block runs: yields True when taken (renewed every quarter lease until the
    block ends, then released), False when another live process holds it (the block should skip its work)."""
    token = await store.take_process_lease(name, owner, clock(), lease_s)
    if token is None:
        log.info("%s: another process is doing it; skipped here", name)
        yield False
        return

    async def renew() -> None:
        while True:
            await asyncio.sleep(lease_s / 4)
            if not await store.renew_process_lease(name, owner, token, clock(), lease_s):
                log.warning("%s: lease lost while at work (this process stalled past it)", name)
                return

    heartbeat = asyncio.create_task(renew(), name=f"veo-lease-{name}")
    try:
        yield True
    finally:
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
        with contextlib.suppress(Exception):
            await store.release_process_lease(name, owner, token)


class LeaseHolder:
    """The long-held leases of one process (its owner name): waited for, renewed by a heartbeat, released."""

    def __init__(self, store: LeaseStore, owner: str, lease_s: float, *,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,  # between two attempts to take
                 on_lost: Callable[[str], Awaitable[None]] | None = None) -> None:
        self.store = store
        self.owner = owner
        self.lease_s = lease_s
        self.clock = clock
        self.sleep = sleep
        self.on_lost = on_lost
        self.held: dict[str, int] = {}  # name -> fencing token
        self._heartbeat: asyncio.Task[None] | None = None

    @property
    def poll(self) -> float:
        """How long a waiter sleeps between two attempts to take a lease."""
        return min(WAIT_POLL, self.lease_s / 4)

    async def acquire(self, name: str) -> float:
        """Take lease ``name``, waiting while another live process holds it; return the seconds waited.

        Taking a lease this process already holds returns at once (a shard that identifies again)."""
        started = self.clock()
        told = False
        while True:
            token = await self.store.take_process_lease(name, self.owner, self.clock(), self.lease_s)
            if token is not None:
                self.held[name] = token
                self._start_heartbeat()
                return self.clock() - started
            if not told:
                log.info("%s is held by another live process; waiting for it", name)
                told = True
            await self.sleep(self.poll)

    def _start_heartbeat(self) -> None:
        if self._heartbeat is None or self._heartbeat.done():
            self._heartbeat = asyncio.create_task(self._renew_forever(), name="veo-process-leases")

    async def _renew_forever(self) -> None:
        while self.held:
            await asyncio.sleep(self.lease_s / 4)  # real time: the lease runs out in the store's time
            await self.renew()

    async def renew(self) -> set[str]:
        """Renew every lease held (one statement each); return the names that were lost, forgotten here."""
        lost = set()
        for name, token in list(self.held.items()):
            try:
                kept = await self.store.renew_process_lease(name, self.owner, token, self.clock(), self.lease_s)
            except Exception:
                log.exception("%s: could not renew the lease; trying again at the next beat", name)
                continue
            if not kept and self.held.get(name) == token:
                del self.held[name]
                lost.add(name)
                log.warning("%s: lease lost (this process stalled past it and another took it)", name)
                if self.on_lost is not None:
                    await self.on_lost(name)
        return lost

    async def abandon(self) -> None:
        """Stop renewing without releasing anything, as a process that dies does (the leases run out)."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            self._heartbeat = None

    async def release_all(self) -> None:
        """Stop renewing and release every lease held, so that a waiting process takes them at once."""
        await self.abandon()
        held, self.held = self.held, {}
        for name, token in held.items():
            try:
                await self.store.release_process_lease(name, self.owner, token)
            except Exception:
                log.exception("%s: could not release the lease; it runs out by itself", name)
