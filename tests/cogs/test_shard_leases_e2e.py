"""A gateway shard held by a live process is not opened a second time, across real ``veo-bot run`` processes on
one PostgreSQL database: a newcomer waits, takes the shard once its holder's lease runs out after a SIGKILL, and at
once after a clean close."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from bot.config import load_settings
from cogs.app import VeoApp
from cogs.gateway_leases import lease_name
from tests.support.e2e import FAST_CORE, FAST_RETRY, World, running_bot, world
from tests.support.postgres import PostgresServer
from tests.test_process import bot_env, start_bot

pytestmark = pytest.mark.postgres

LEASE = 5.0  # VEO_LEASE_SECONDS's least
WAITING = "shard:1:0 is held by another live process; waiting for it"


class Running:
    """A ``veo-bot run`` child process whose output is read as it comes (so its pipe never fills)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._new = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            self.lines.append(line.decode(errors="replace"))
            self._new.set()

    async def wait_for_line(self, text: str, timeout: float) -> None:
        """Until a line of the output contains ``text``."""
        async def seen() -> None:
            while not any(text in line for line in self.lines):
                self._new.clear()
                await self._new.wait()

        await asyncio.wait_for(seen(), timeout)

    async def stop(self, sig: signal.Signals) -> int:
        """Send ``sig`` and wait for the process to end; its exit code."""
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        code = await asyncio.wait_for(self.proc.wait(), 20)
        await asyncio.wait_for(self._reader, 5)
        return code

    @property
    def output(self) -> str:
        return "".join(self.lines)


@contextlib.asynccontextmanager
async def processes(w: World, url: str) -> AsyncIterator[list[Running]]:
    """Start bot processes on the world's fakes and one database as the test asks; every one stopped at the end."""
    started: list[Running] = []
    try:
        yield started
    finally:
        for each in started:
            with contextlib.suppress(Exception):
                await each.stop(signal.SIGKILL)


def identified_connections(w: World) -> int:
    """Open gateway connections that identified (a newcomer waiting for its lease has one that did not)."""
    return sum(1 for connection in w.discord.gateway.connections if connection.session is not None)


async def lease_expiry(url: str) -> float:
    conn = await asyncpg.connect(url)
    try:
        value = await conn.fetchval("SELECT expires_at FROM process_leases WHERE name = $1", lease_name(None, 1))
        return float(value)
    finally:
        await conn.close()


async def test_a_waiting_process_takes_the_shard_after_its_holder_is_killed_or_closes(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    async with postgres_server.database() as url, world(tmp_path) as w, processes(w, url) as started:
        env = bot_env(w.env(DATABASE_URL=url, DISCORD_SHARD_COUNT="1", VEO_LEASE_SECONDS=str(LEASE),
                            VEO_POLL_INTERVAL="0.2", VEO_PROVIDER="mock"))
        cwd = w.tmp_path

        async def start() -> Running:
            started.append(Running(await start_bot(cwd, env)))
            return started[-1]

        first = await start()
        await w.discord.wait_until(lambda: w.discord.identify_count == 1, timeout=30)
        second = await start()
        await second.wait_for_line(WAITING, timeout=30)
        assert w.discord.identify_count == 1 and w.discord.sessions_of_shard(0) == 1

        # Killed: nothing is released, so the newcomer opens the shard only once the last renewal runs out.
        await first.stop(signal.SIGKILL)
        killed_at, wall = w.discord.clock(), time.time()
        runs_out_at = killed_at + (await lease_expiry(url) - wall)
        await w.discord.wait_until(lambda: w.discord.identify_count == 2, timeout=LEASE + 10)
        taken_at = w.discord.gateway.identifies[-1][0]
        assert taken_at >= runs_out_at - 0.05, (taken_at - killed_at, runs_out_at - killed_at)
        assert identified_connections(w) == 1  # the dead one's session waits for a RESUME that never comes

        # Closed cleanly: the lease is released with the gateway, and the next newcomer takes it at once.
        third = await start()
        await third.wait_for_line(WAITING, timeout=30)
        assert w.discord.identify_count == 2
        assert await second.stop(signal.SIGTERM) == 0, second.output
        closed_at = w.discord.clock()
        await w.discord.wait_until(lambda: w.discord.identify_count == 3, timeout=LEASE)
        assert w.discord.gateway.identifies[-1][0] - closed_at < LEASE / 2
        assert identified_connections(w) == 1 and not w.discord.identify_violations
        assert await third.stop(signal.SIGTERM) == 0, third.output
        assert "shard 0: took its lease after waiting" in third.output
        assert w.discord.token not in second.output + third.output


async def test_a_process_that_lost_its_shards_lease_closes_the_shard_and_waits_for_it(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w, {"DISCORD_SHARD_COUNT": "1", "VEO_LEASE_SECONDS": "5"}) as app:
        name = lease_name(0, 1)
        [held] = await app.store.live_process_leases(time.time(), "shard:")
        assert held.name == name and held.owner == app.runtime.owner
        # The process stalled past its lease and another took the shard: its next heartbeat is refused.
        other = await app.store.take_process_lease(name, "another process", held.expires_at, 3600.0)
        assert other is not None
        assert await app.gateway_leases.holder.renew() == {name}
        await w.discord.wait_until(lambda: identified_connections(w) == 0 and app.gateway_leases.waiting == 1,
                                   timeout=10)
        assert w.discord.identify_count == 1
        # Once the other process lets the shard go, this one opens it again.
        assert await app.store.release_process_lease(name, "another process", other)
        await w.discord.wait_until(lambda: w.discord.identify_count == 2 and identified_connections(w) == 1,
                                   timeout=10)
        assert app.bot.get_guild(w.guild.id) is not None and not w.discord.identify_violations


async def test_a_process_stopped_while_waiting_for_a_shard_closes_at_once(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    async with postgres_server.database() as url, world(tmp_path) as w:
        env = {"DATABASE_URL": url, "DISCORD_SHARD_COUNT": "1"}
        async with running_bot(w, env) as holder:
            settings = load_settings(w.env(**env, VEO_DATA_DIR=str(tmp_path / "newcomer")))
            newcomer = await VeoApp.create(settings, retry=FAST_RETRY, **FAST_CORE)
            try:
                await newcomer.start()
                await w.discord.wait_until(lambda: newcomer.gateway_leases.waiting == 1, timeout=10)
            finally:
                closing = time.monotonic()
                await asyncio.wait_for(newcomer.close(), 20)
            # Stopping does not wait for the shard it never opened (a close that waits for it takes 20 s).
            assert time.monotonic() - closing < 5
            assert w.discord.identify_count == 1 and identified_connections(w) == 1
            [lease] = await holder.store.live_process_leases(time.time(), "shard:")
            assert lease.owner == holder.runtime.owner  # the newcomer never held it, and released nothing
