"""One measurement: the real bot (or the naive baseline) with N jobs in flight against the fakes.

``python -m bench.bot_run`` reads its configuration as one JSON line on standard input and prints its
figures as one JSON line. Each measurement runs in a fresh process, so peak memory and CPU time are its
own; the two fakes run in two more processes (see bench/fakes_server.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import discord

from bench.baseline import BaselinePoller
from bench.clock import SharedClock, SimTimers
from bench.fakes_server import COMET_KEY, DISCORD_TOKEN
from bench.measure import LoadSampler, cpu_seconds, peak_rss_bytes, percentile, rss_bytes, spawn_json, stop_child
from bench.mix import DurationMix
from bot.config import load_settings
from bot.models import IN_FLIGHT_STATUSES, JobStatus, NewJob
from cogs.app import VeoApp
from db.store import SqliteJobStore

log = logging.getLogger("bench")

JOB_PROMPT = "bench job"
MODEL = "veo3.1-fast"
JOBS_PER_GUILD = 50
RAMP_SIM_SECONDS = 20.0  # all jobs arrive within this window, before the first can finish
RAMP_BATCH = 50
HISTORY_GUILD = 1  # finished jobs from "before the restart" live in a guild of their own
PROBE_JOBS_RESERVE = 3000  # durations queued for the background probes' jobs
SIM_DEADLINE = 2 * 1800.0  # give up on a run after this much simulated time (twice the job timeout)


@dataclass
class RunConfig:
    """What one measurement does; see ``python -m bench --help`` for the meaning of each."""

    mode: str  # "adaptive" or "baseline"
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
    from bot.models import Limits

    start = now - 24 * 3600
    ids = []
    for index in range(count):
        job = await store.insert_job(NewJob(HISTORY_GUILD, HISTORY_GUILD, 1, "earlier job", MODEL, "16x9"),
                                     start + index)
        ids.append(job.id)
    await store.claim_submittable(Limits(count, count, count), start, start + 60, count)
    for index, job_id in enumerate(ids):
        submitted = start + index * 60
        # The bot sees a job finished at its next poll: up to one interval after it did.
        seen = submitted + mix.sample(rng) + rng.uniform(0, interval)
        await store.mark_submitted(job_id, f"history-{job_id}", submitted, seen)
        await store.mark_completed(job_id, None, seen)
        await store.mark_delivered(job_id, 1, seen)


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
        "DATABASE_URL": f"sqlite:///{Path(config.db_dir or tmp) / 'veo.sqlite3'}",
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
    if config.sqlite_synchronous:
        # Not how the bot runs: only to show what the per-commit fsync costs (see docs/PERFORMANCE.md).
        await app.store._conn.execute(f"PRAGMA synchronous = {config.sqlite_synchronous}")
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

    async def mark_delivered(job_id: int, message_id: int, now: float) -> bool:
        done = await inner(job_id, message_id, now)
        if done:
            finished.add(job_id)
        return done

    store.mark_delivered = mark_delivered  # type: ignore[method-assign]


async def in_flight_jobs(store: SqliteJobStore) -> int:
    """Jobs queued, at the provider, or finished but not yet posted."""
    counts = await store.count_by_status()
    return sum(n for status, n in counts.items() if status in IN_FLIGHT_STATUSES or status is JobStatus.COMPLETED)


async def measure(config: RunConfig) -> dict[str, Any]:
    """Run one measurement and return its figures."""
    tmp = Path(tempfile.mkdtemp(prefix="veo-bench-"))
    bench = await open_bench(config, tmp)
    try:
        return await _measure(bench)
    finally:
        await close_bench(bench)
        shutil.rmtree(tmp, ignore_errors=True)


async def _measure(b: Bench) -> dict[str, Any]:
    cfg, app = b.config, b.app
    rng = random.Random(cfg.seed)
    mix = DurationMix.parse(cfg.mix)
    # Enough durations for the jobs and the probes' jobs too (creation order mixes them, which is fine:
    # they are all drawn from the same mix, and none finish in lockstep).
    durations = [mix.sample(rng) for _ in range(cfg.jobs + cfg.ack_count + PROBE_JOBS_RESERVE)]
    await post_json(b.session, b.comet["control"] + "/scripts",
                    {"durations": durations, "progress": cfg.progress, "video_bytes": cfg.video_bytes,
                     "default": mix.median})
    await seed_history(app.store, mix, rng, b.clock.now(), cfg.history if cfg.mode == "adaptive" else 0,
                       cfg.interval)
    await wait_connected(b)
    worker = WorkerRunner(app)
    worker.start(cfg.scale)
    baseline: BaselinePoller | None = None
    job_ids: list[int] = []

    async def start_adaptive(index: int, guild_id: int, channel_id: int) -> None:
        job = await app.service.create_job(NewJob(
            guild_id=guild_id, channel_id=channel_id, user_id=10**17 + index % 997,
            prompt=f"{JOB_PROMPT} {index}: a red fox in snow", model=MODEL, orientation="16x9"))
        job_ids.append(job.id)

    if cfg.mode == "baseline":
        baseline = BaselinePoller(app.bot, app.worker.provider, b.clock, b.timers, cfg.interval, b.tmp / "baseline")
        poller = baseline

        async def start_one(index: int, guild_id: int, channel_id: int) -> None:
            await poller.start_job(index, guild_id, channel_id, 10**17 + index % 997)
    else:
        start_one = start_adaptive

    finished: set[int] = set()
    watch_deliveries(app.store, finished)

    def direct_remaining() -> int:
        if baseline is not None:
            return baseline.remaining
        return cfg.jobs - len(finished.intersection(job_ids))

    sampler = LoadSampler(b.clock)
    acks = AckStream()
    real_start, cpu_start, rss_start = time.monotonic(), cpu_seconds(), rss_bytes()
    rows_start = app.store.rows_written()
    async with sampler.running():
        sim_start = b.clock.now()
        say(f"{cfg.mode}: creating {cfg.jobs} jobs")
        await b.ramp(start_one)
        ramp_end = b.clock.now()
        ramp_real = time.monotonic() - real_start
        say(f"{cfg.mode}: {cfg.jobs} jobs created in {ramp_real:.0f} s; {cfg.ack_count} /veo probes")
        # While the probes run, every job is in flight: keep the simulated time within 15 s of the ramp's end.
        b.set_rate(min(cfg.scale, 15.0 * cfg.ack_rate / max(1, cfg.ack_count)))
        await acks.burst(b, cfg.ack_count, cfg.ack_rate, cfg.seed)
        probes_end = b.clock.now()
        b.set_rate(cfg.scale)
        rate, burst, said = cfg.scale, 0, time.monotonic()
        while direct_remaining() > 0 and b.clock.now() - sim_start < SIM_DEADLINE:
            if time.monotonic() - said > 15:
                said = time.monotonic()
                say(f"{cfg.mode}: {direct_remaining()} of {cfg.jobs} jobs in flight,"
                    f" {b.clock.now() - sim_start:.0f} simulated s, x{rate:g}")
            if direct_remaining() <= max(3, 0.02 * cfg.jobs) and rate < cfg.tail_rate:
                rate = cfg.tail_rate  # the last few jobs: nothing left to measure but their own lag
                b.set_rate(rate)
                await worker.restart(rate)
            if rate == cfg.scale and cfg.background_probes:
                # A thin stream of probes for the rest of the run, when deliveries are busiest.
                burst += 1
                await acks.burst(b, 5, 5.0, cfg.seed + burst)
                await asyncio.sleep(1.0)
            else:
                await asyncio.sleep(0.2)
        direct_end = b.clock.now()
        if rate < cfg.tail_rate:
            rate = cfg.tail_rate
            b.set_rate(rate)
            await worker.restart(rate)
        # The probes' own jobs finish too, so that every job's cost is counted; the store is the only
        # place that knows, hence polling it.
        while await in_flight_jobs(app.store) > 0 and b.clock.now() - sim_start < SIM_DEADLINE:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        sim_end = b.clock.now()
    cpu_total = cpu_seconds() - cpu_start
    real_total = time.monotonic() - real_start
    rows_total = app.store.rows_written() - rows_start
    await worker.stop()
    if baseline is not None:
        await baseline.close()
    stats = await get_json(b.session, b.comet["control"] + "/stats")
    discord_stats = await get_json(b.session, b.discord["control"] + "/stats")
    done_at = {task_id: (done, gets) for task_id, done, gets in stats["tasks"]}

    lags, poll_lags, transfers, gets, failures = [], [], [], 0, 0
    delivered_times: list[float] = []
    if baseline is not None:
        for bj in baseline.jobs:
            done, n = done_at[bj.task_id]
            gets += n
            if bj.delivered_at is None or bj.seen_done_at is None:
                failures += 1
                continue
            lags.append(bj.delivered_at - done)
            poll_lags.append(bj.seen_done_at - done)
            transfers.append(bj.delivered_at - bj.seen_done_at)
            delivered_times.append(bj.delivered_at)
    else:
        for job_id in job_ids:
            job = await app.store.get_job(job_id)
            assert job is not None and job.task_id is not None
            done, n = done_at[job.task_id]
            gets += n
            if job.delivered_at is None or job.completed_at is None or job.status is not JobStatus.DELIVERED:
                failures += 1
                continue
            lags.append(job.delivered_at - done)
            poll_lags.append(job.completed_at - done)
            transfers.append(job.delivered_at - job.completed_at)
            delivered_times.append(job.delivered_at)
    job_channels = {c for _, c in b.channels}
    discord_requests = sum(n for channel, n in b.counters.by_channel.items() if channel in job_channels)
    probe_window = [s for t, s in acks.latencies if t <= probes_end]
    ordered = sorted(delivered_times)
    # Until a tenth of the jobs were posted, at least 90 % were in flight; the probes' own window is left
    # out, since its /veo requests make jobs too and would be counted as polling.
    tenth = ordered[len(ordered) // 10] if ordered else direct_end
    n = cfg.jobs
    all_jobs = n + acks.sent  # the probes' /veo requests made jobs too
    return {
        "mode": cfg.mode, "jobs": n, "scale": cfg.scale, "interval": cfg.interval, "mix": cfg.mix,
        "progress": cfg.progress,
        "gets_per_job": gets / n,
        "discord_per_job": discord_requests / n,
        "lag_p50": percentile(lags, 0.5), "lag_p99": percentile(lags, 0.99), "lag_max": max(lags, default=None),
        "poll_lag_p99": percentile(poll_lags, 0.99), "transfer_p99": percentile(transfers, 0.99),
        "ack_p50_ms": _ms(percentile(probe_window, 0.5)), "ack_p99_ms": _ms(percentile(probe_window, 0.99)),
        "ack_samples": len(probe_window),
        "ack_all_p99_ms": _ms(percentile([s for _, s in acks.latencies], 0.99)),
        "ack_all_samples": len(acks.latencies), "unacked": acks.unacked,
        "in_flight_during_probes": _in_flight_at(probes_end, delivered_times, n),
        "cpu_per_job": cpu_total / all_jobs, "all_jobs": all_jobs,
        "load_in_flight": sampler.load(probes_end, tenth) if tenth > probes_end else None,
        "load_avg": sampler.load(ramp_end, direct_end),
        "load_peak_30s": sampler.peak_load(ramp_end, direct_end, 30.0),
        "rss_start": rss_start, "rss_peak": peak_rss_bytes(),
        "db_rows_per_job": rows_total / all_jobs if cfg.mode == "adaptive" else None,
        "failures": failures,
        "status_edits": discord_stats["edits"],
        "sim_seconds": sim_end - sim_start, "real_seconds": real_total, "ramp_real_seconds": ramp_real,
        "routes": dict(b.counters.routes.most_common(12)),
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def _in_flight_at(end: float, delivered: list[float], n: int) -> int:
    """Jobs of the run created and not yet posted at simulated time ``end`` (all were created by then)."""
    return n - sum(1 for t in delivered if t <= end)


def main() -> None:
    """Read the configuration (one JSON line), measure, print the figures (one JSON line)."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    # Voice support and heartbeat-latency notes from discord.py say nothing about this benchmark.
    logging.getLogger("discord").setLevel(logging.ERROR)
    config = RunConfig(**json.loads(sys.stdin.readline()))
    result = asyncio.run(measure(config))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
