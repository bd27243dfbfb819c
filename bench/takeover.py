"""Takeover time: from a SIGKILL of the process holding the jobs to a peer holding them, on PostgreSQL.

Two real ``python -m bot run`` processes (``VEO_ROLE=worker``: no gateway, posts through REST) share one
database, against the benchmark's fakes in their own processes. The first alone gets the jobs: it submits
them and starts polling, and the fake CometAPI holds those polls unanswered, so its steps stay under way and
its heartbeat keeps renewing their leases. Then the peer starts, the first is SIGKILLed, and the jobs' rows are
read every few milliseconds until every one is leased to the peer. The bound to compare with is
``VEO_LEASE_SECONDS`` + ``VEO_POLL_INTERVAL``: the last lease renewed before the kill runs out within a lease,
and the peer's next tick comes within a poll interval after that.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from bench.clock import SharedClock
from bench.fakes_server import COMET_KEY, DISCORD_TOKEN
from bench.harness import JOB_PROMPT, MODEL, post_json
from bench.measure import spawn_json, stop_child
from bot.jobs.records import NewJob
from db import open_store
from tests.reliability.process import child_environment

OWNER = re.compile(r"job worker started \(lease owner (\S+)\)")
HOLD_SECONDS = 25.0  # the held polls' answer: below the client's 30 s request timeout, above a trial's length
NEVER = 1e9


class WorkerProcess:
    """One ``python -m bot run`` in the worker role, its output in a log file."""

    def __init__(self, name: str, env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.env = env
        self.log_path = log_path
        self.process: asyncio.subprocess.Process | None = None
        self.owner = ""

    async def start(self, seconds: float = 60.0) -> None:
        """Start it and wait until its job worker runs; learn the lease owner it writes into the rows."""
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", env=self.env, stdout=log, stderr=asyncio.subprocess.STDOUT)
        deadline = time.monotonic() + seconds
        while not self.owner:
            found = OWNER.search(self.log_path.read_text(errors="replace"))
            if found:
                self.owner = found.group(1)
            elif self.process.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start its worker:\n{self.tail()}")
            else:
                await asyncio.sleep(0.05)

    def tail(self) -> str:
        """The end of its log."""
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        """SIGKILL: nothing of the bot's clean-up runs."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)

    async def reap(self) -> None:
        if self.process is not None:
            self.kill()
            await self.process.wait()


async def _count(conn: Any, owner: str) -> int:
    # At the provider and leased: a poll under way (a job being submitted is leased too, and is not one).
    return int(await conn.fetchval(
        "SELECT count(*) FROM jobs WHERE lease_owner = $1 AND status IN ('submitted', 'running')", owner))


async def _until(check: Any, what: str, seconds: float, period: float = 0.01) -> float:
    """Check every ``period`` until ``check()`` is true; return the moment it was."""
    deadline = time.monotonic() + seconds
    while True:
        if await check():
            return time.time()
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(period)


async def one_trial(database_url: str, fakes: dict[str, Any], session: aiohttp.ClientSession, tmp: Path, *,
                    jobs: int, lease: float, interval: float) -> dict[str, Any]:
    """One kill and takeover on a fresh database; the times in seconds."""
    guild, channel = fakes["discord"]["world"]["guilds"][0]
    env = child_environment({
        "DISCORD_TOKEN": DISCORD_TOKEN, "COMETAPI_KEY": COMET_KEY, "COMETAPI_BASE_URL": fakes["comet"]["base_url"],
        "DISCORD_API_BASE_URL": fakes["discord"]["api_base"], "DISCORD_GATEWAY_URL": fakes["discord"]["gateway_url"],
        "DATABASE_URL": database_url, "VEO_ROLE": "worker", "VEO_LEASE_SECONDS": str(lease),
        "VEO_POLL_INTERVAL": str(interval), "VEO_LOG_LEVEL": "INFO", "VEO_ALLOW_HTTP_DOWNLOADS": "true",
        "VEO_MAX_ACTIVE_PER_USER": str(jobs), "VEO_MAX_ACTIVE_PER_GUILD": str(jobs),
        "VEO_MAX_ACTIVE_TOTAL": str(jobs), "VEO_DATA_DIR": str(tmp / "data"),
    })
    first = WorkerProcess("first", env, tmp / "first.log")
    peer = WorkerProcess("peer", env, tmp / "peer.log")
    conn = await asyncpg.connect(database_url)
    try:
        # Every poll from now on is held: the first process's, and the peer's after it took the jobs over.
        await post_json(session, fakes["comet"]["control"] + "/hold",
                        {"route": "get", "seconds": HOLD_SECONDS, "times": 4 * jobs})
        await first.start()
        store = await open_store(database_url)
        try:
            for index in range(jobs):
                await store.insert_job(NewJob("discord", str(guild), str(channel), str(10**17 + index),
                                              f"{JOB_PROMPT} {index}", MODEL, "16x9"), time.time())
        finally:
            await store.close()

        async def all_submitted() -> bool:
            return int(await conn.fetchval("SELECT count(*) FROM jobs WHERE status = 'submitted'")) == jobs

        async def first_holds_all() -> bool:
            return await _count(conn, first.owner) == jobs
        await _until(all_submitted, "the first process to submit every job", 30)
        # Their first polls, due one interval after each submission, are made due at the same moment, so that
        # one tick claims them all: a worker's tick waits for the steps it started (a held poll holds it up).
        await conn.execute("UPDATE jobs SET next_poll_at = (SELECT min(next_poll_at) FROM jobs)"
                           " WHERE status = 'submitted' AND lease_owner IS NULL")
        # The polls hang, the leases are renewed.
        await _until(first_holds_all, "the first process to hold every job", 30 + 2 * interval)
        await peer.start()
        await _until(first_holds_all, "the first process to still hold every job", 10)
        expiry = float(await conn.fetchval("SELECT max(next_poll_at) FROM jobs WHERE lease_owner = $1",
                                           first.owner))
        killed = time.time()
        first.kill()

        async def peer_holds_all() -> bool:
            return await _count(conn, peer.owner) == jobs
        taken = await _until(peer_holds_all, "the peer to take every job over", 3 * (lease + interval), 0.005)
    except RuntimeError as exc:
        rows = await conn.fetch("SELECT id, status, lease_owner, next_poll_at FROM jobs ORDER BY id")
        raise RuntimeError(f"{exc}; jobs: {[tuple(r) for r in rows]}\nfirst:\n{first.tail()}\npeer:\n{peer.tail()}"
                           ) from None
    finally:
        await conn.close()
        await first.reap()
        await peer.reap()
    return {
        "takeover_seconds": taken - killed, "lease_left_at_kill": expiry - killed,
        "after_lease_ran_out": taken - expiry, "bound_seconds": lease + interval, "jobs": jobs,
        "lease": lease, "interval": interval,
    }


async def measure(databases: Any, trials: int, *, jobs: int = 20, lease: float = 5.0,
                  interval: float = 2.0) -> list[dict[str, Any]]:
    """``trials`` takeovers, each on a fresh database from ``databases()`` (an async context manager
    yielding a URL), with one pair of fakes for all."""
    tmp = Path(tempfile.mkdtemp(prefix="veo-takeover-"))
    clock = SharedClock.create(tmp / "clock", start=time.time())
    clock.set_rate(1.0)
    processes = []
    session = aiohttp.ClientSession()
    try:
        comet_process, comet = await spawn_json(
            ["-m", "bench.fakes_server", "comet", "--clock", str(tmp / "clock")], keep_stdin=True)
        processes.append(comet_process)
        discord_process, disc = await spawn_json(["-m", "bench.fakes_server", "discord", "--guilds", "1"],
                                                 keep_stdin=True)
        processes.append(discord_process)
        await post_json(session, comet["control"] + "/scripts",
                        {"durations": [], "progress": "fixed50", "default": NEVER})
        fakes = {"comet": comet, "discord": disc}
        results = []
        for trial in range(trials):
            async with databases() as url:
                trial_dir = tmp / f"trial-{trial}"
                trial_dir.mkdir()
                results.append(await one_trial(url, fakes, session, trial_dir, jobs=jobs, lease=lease,
                                               interval=interval))
        return results
    finally:
        await session.close()
        for process in processes:
            with contextlib.suppress(Exception):
                await stop_child(process)
        clock.close()
        shutil.rmtree(tmp, ignore_errors=True)
