"""The benchmark's harness: the fakes' processes, the bot wired to the simulated clock, and its probes.

``bench/bot_run.py`` measures with it; ``bench/big_file.py`` too.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import discord

from bench.clock import SharedClock, SimTimers
from bench.fakes_server import COMET_KEY, DISCORD_TOKEN
from bench.measure import spawn_json, stop_child
from bench.mix import DurationMix
from bot.config import load_settings
from bot.jobs.records import IN_FLIGHT_STATUSES, JobStatus, NewJob
from cogs.app import VeoApp
from db.sqlite.store import SqliteJobStore

JOB_PROMPT = "bench job"
MODEL = "veo3.1-fast"
JOBS_PER_GUILD = 50
RAMP_SIM_SECONDS = 20.0  # all jobs arrive within this window, before the first can finish
RAMP_BATCH = 50
HISTORY_GUILD = 1  # finished jobs from "before the restart" live in a guild of their own


@dataclass
class RunConfig:
    """What one measurement does; see ``python -m bench --help`` for the meaning of each."""

    mode: str  # "adaptive", "baseline", or "poll-loop" (bench/poll_loop.py)
    jobs: int
    scale: float
    interval: float = 10.0
    mix: str = "lognormal:75,40,180"
    progress: str = "linear"  # or "fixed50": the fake's progress says nothing
    seed: int = 1
    ack_count: int = 200
    ack_rate: float = 25.0
    history: int = 500
    video_bytes: int = 4096
    tail_rate: float = 50.0
    background_probes: bool = True
    db_dir: str | None = None  # where the job store lives (default: the run's temporary directory, on disk)
    premium_tier: int = 0  # the fake guilds' boost tier (3: 100 MiB uploads)
    sqlite_synchronous: str | None = None  # an experiment: override the store's PRAGMA synchronous (FULL)
    # Poll loop alone: "dense" polls each job every interval; "schedule" sets the interval so that the jobs
    # are polled as often as the adaptive schedule polled them in the run with ``schedule_gets_per_job``.
    pace: str = "dense"
    schedule_gets_per_job: float | None = None
    # The store: a PostgreSQL database (``postgresql://…``, see bench/pg.py) instead of the run's SQLite file,
    # and its server's postmaster, whose CPU time the poll loop alone measures too.
    database_url: str | None = None
    postmaster_pid: int | None = None
    # Poll loop alone: after the measured window, send ``ack_count`` /veo probes with every job still in flight.
    probe_after_window: bool = False


@dataclass
class Counters:
    """Discord requests the bot sent, by channel (interaction callbacks have none)."""

    by_channel: Counter[int] = field(default_factory=Counter)
    routes: Counter[str] = field(default_factory=Counter)


def count_discord_requests(bot: discord.Client, counters: Counters) -> None:
    """Count every REST request discord.py sends (the wrapper sits on the client's own HTTP object)."""
    http = bot.http
    inner = http.request

    async def counted(route: Any, **kwargs: Any) -> Any:
        counters.routes[f"{route.method} {route.path}"] += 1
        if route.channel_id is not None:
            counters.by_channel[int(route.channel_id)] += 1
        return await inner(route, **kwargs)

    http.request = counted  # type: ignore[method-assign]


async def seed_history(store: SqliteJobStore, mix: DurationMix, rng: random.Random, now: float, count: int,
                       interval: float) -> None:
    """Finished jobs from before the run, as a bot that has been running has; the worker learns from them."""
    if count <= 0:
        return
    from bot.jobs.records import Limits

    start = now - 24 * 3600
    ids = []
    for index in range(count):
        job = await store.insert_job(NewJob("discord", str(HISTORY_GUILD), str(HISTORY_GUILD), "1",
                                            "earlier job", MODEL, "16x9"),
                                     start + index)
        ids.append(job.id)
    await store.claim_submittable(Limits(count, count, count), start, start + 60, count)
    for index, job_id in enumerate(ids):
        submitted = start + index * 60
        # The bot sees a job finished at its next poll: up to one interval after it did.
        seen = submitted + mix.sample(rng) + rng.uniform(0, interval)
        await store.mark_submitted(job_id, f"history-{job_id}", submitted, seen)
        await store.mark_completed(job_id, None, seen)
        await store.mark_delivered(job_id, "1", seen)


async def post_json(session: aiohttp.ClientSession, url: str, body: Any, seconds: float = 600) -> Any:
    """POST JSON to a fake's control API and return its JSON answer."""
    async with session.post(url, json=body, timeout=aiohttp.ClientTimeout(total=seconds)) as resp:
        resp.raise_for_status()
        return await resp.json()


async def get_json(session: aiohttp.ClientSession, url: str) -> Any:
    """GET a fake's control API."""
    async with session.get(url, timeout=aiohttp.ClientTimeout(total=120)) as resp:
        resp.raise_for_status()
        return await resp.json()


@dataclass
class Bench:
    """The processes, the bot and the clock of one measurement."""

    config: RunConfig
    tmp: Path
    clock: SharedClock
    timers: SimTimers
    session: aiohttp.ClientSession
    comet: dict[str, Any]
    discord: dict[str, Any]
    processes: list[asyncio.subprocess.Process]
    app: VeoApp
    counters: Counters
    channels: list[tuple[int, int]]  # (guild, channel) for the benchmark's jobs; probes use their own

    async def ramp(self, start_one: Callable[[int, int, int], Awaitable[None]]) -> None:
        """Start every job, arrivals spread evenly over RAMP_SIM_SECONDS of simulated time (the clock is
        stepped, so the arrivals do not depend on how fast the bot creates jobs)."""
        t0 = self.clock.now()
        n = self.config.jobs
        for first in range(0, n, RAMP_BATCH):
            self.clock.step_to(t0 + RAMP_SIM_SECONDS * first / n)
            self.timers.changed()
            batch = range(first, min(n, first + RAMP_BATCH))
            await asyncio.gather(*(start_one(i, *self.channels[i % len(self.channels)]) for i in batch))
        self.clock.step_to(t0 + RAMP_SIM_SECONDS)
        self.timers.changed()

    def set_rate(self, rate: float) -> None:
        self.clock.set_rate(rate)
        self.timers.changed()


async def open_bench(config: RunConfig, tmp: Path) -> Bench:
    """Start both fakes and the bot (not yet connected), the clock frozen."""
    clock = SharedClock.create(tmp / "clock", start=time.time())
    session = aiohttp.ClientSession()
    guilds = 1 + max(1, math.ceil(config.jobs / JOBS_PER_GUILD))
    comet_process, comet = await spawn_json(
        ["-m", "bench.fakes_server", "comet", "--clock", str(tmp / "clock")], keep_stdin=True)
    discord_process, disc = await spawn_json(
        ["-m", "bench.fakes_server", "discord", "--guilds", str(guilds), "--premium-tier", str(config.premium_tier)],
        keep_stdin=True)
    world = disc["world"]["guilds"]
    big = str(config.jobs + 1000)
    env = {
        "DISCORD_TOKEN": DISCORD_TOKEN,
        "COMETAPI_KEY": COMET_KEY,
        "COMETAPI_BASE_URL": comet["base_url"],
        "DISCORD_API_BASE_URL": disc["api_base"],
        "DISCORD_GATEWAY_URL": disc["gateway_url"],
        "DATABASE_URL": config.database_url or f"sqlite:///{Path(config.db_dir or tmp) / 'veo.sqlite3'}",
        "VEO_DATA_DIR": str(tmp / "data"),
        "VEO_POLL_INTERVAL": str(config.interval),
        "VEO_ALLOW_HTTP_DOWNLOADS": "true",
        "VEO_MAX_ACTIVE_PER_USER": big,
        "VEO_MAX_ACTIVE_PER_GUILD": big,
        "VEO_MAX_ACTIVE_TOTAL": big,
        "VEO_DAILY_QUOTA_PER_USER": "0",
        "VEO_DAILY_QUOTA_PER_GUILD": "0",
        "VEO_MAX_QUEUED_PER_GUILD": "0",
        "VEO_LOG_LEVEL": "WARNING",
    }
    app = await VeoApp.create(load_settings(env))
    if config.sqlite_synchronous and config.database_url is None:
        # Not how the bot runs: only to show what the per-commit fsync costs (see docs/PERFORMANCE.md).
        pragma = f"PRAGMA synchronous = {config.sqlite_synchronous}"
        await app.store._read(lambda conn: conn.execute(pragma))
    # The job core runs on the simulated clock; discord.py, aiohttp and SQLite's timeouts stay real.
    app.worker.clock = clock.now
    app.service.clock = clock.now
    admin = getattr(app, "admin", None)
    if admin is not None and hasattr(admin, "clock"):
        admin.clock = clock.now
    app.worker_enabled = False
    counters = Counters()
    count_discord_requests(app.bot, counters)
    return Bench(config, tmp, clock, SimTimers(clock), session, comet, disc, [comet_process, discord_process],
                 app, counters, [(g, c) for g, c in world[1:]])


async def close_bench(bench: Bench) -> None:
    """Stop the bot, the fakes and the timers."""
    with contextlib.suppress(Exception):
        await bench.app.close()
    await bench.timers.close()
    await bench.session.close()
    for process in bench.processes:
        await stop_child(process)
    bench.clock.close()


async def wait_connected(bench: Bench) -> None:
    """Log in and wait until every guild is in discord.py's cache (READY and GUILD_CREATE handled)."""
    app = bench.app
    await app.start()
    guild_ids = [g for g, _ in bench.discord["world"]["guilds"]]
    deadline = time.monotonic() + 120
    while not all(app.bot.get_guild(g) for g in guild_ids):
        if time.monotonic() > deadline:
            raise RuntimeError("the bot did not see every guild within 120 s")
        await asyncio.sleep(0.05)


class WorkerRunner:
    """The job worker's real ``run`` loop, told how fast the simulated clock runs (restarted when that
    changes, so its sleeps stay right)."""

    def __init__(self, app: VeoApp) -> None:
        self.app = app
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self, time_scale: float) -> None:
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self.app.worker.run(self._stop, time_scale=time_scale))

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task

    async def restart(self, time_scale: float) -> None:
        await self.stop()
        self.start(time_scale)


@dataclass
class AckStream:
    """Real ``/veo`` interactions sent by the fake Discord while the jobs are in flight."""

    latencies: list[tuple[float, float]] = field(default_factory=list)  # (simulated time, seconds)
    unacked: int = 0
    sent: int = 0

    async def burst(self, bench: Bench, count: int, rate: float, seed: int) -> None:
        at = bench.clock.now()
        answer = await post_json(bench.session, bench.discord["control"] + "/invoke",
                                 {"count": count, "rate": rate, "seed": seed})
        self.sent += count
        self.unacked += int(answer["unacked"])
        self.latencies.extend((at, float(x)) for x in answer["latencies"])


def say(text: str) -> None:
    """A progress line on standard error (standard output carries the figures)."""
    print(f"    {time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


def watch_deliveries(store: SqliteJobStore, finished: set[int]) -> None:
    """Note each job whose result (video or failure notice) was recorded as posted."""
    inner = store.mark_delivered

    async def mark_delivered(job_id: int, message_id: str, now: float, **fenced: Any) -> bool:
        done = await inner(job_id, message_id, now, **fenced)
        if done:
            finished.add(job_id)
        return done

    store.mark_delivered = mark_delivered  # type: ignore[method-assign]


async def in_flight_jobs(store: SqliteJobStore) -> int:
    """Jobs queued, at the provider, or finished but not yet posted."""
    counts = await store.count_by_status()
    return sum(n for status, n in counts.items() if status in IN_FLIGHT_STATUSES or status is JobStatus.COMPLETED)
