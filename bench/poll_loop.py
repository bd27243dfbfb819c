"""The poll loop alone: N jobs in flight at the provider, none finishing, each polled every interval, and
nothing else going on.

Two paces (``RunConfig.pace``). "dense": every ``VEO_POLL_INTERVAL``, as often as the schedule ever polls
a job, and what the naive loop does all the time. "schedule": the interval is the mix's mean duration over
the GETs per job the adaptive schedule needed in a full run, so the N jobs are polled as often in all as N
jobs in flight are when as many start as finish (Little's law: N / mean duration jobs finish a second, each
polled that many times), through the same code path.

The fake CometAPI keeps every task running with a useless fixed progress of 50 (so no forecast spaces the
polls out), and the store holds finished jobs of the mix (so the schedule is warm). Once every job has had
its first poll, every job is past the earliest plausible completion and is polled every
``VEO_POLL_INTERVAL``: N / interval GETs a second. No job is created, finished or posted during the
measured window, so the bot's CPU time there is the poll loop's: the due-jobs query, the GET, the
schedule, the store write and the status-edit decision (progress edits are budgeted bot-wide).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from typing import Any

from bench.harness import (
    JOB_PROMPT,
    MODEL,
    AckStream,
    Bench,
    WorkerRunner,
    get_json,
    post_json,
    say,
    seed_history,
    wait_connected,
)
from bench.measure import cpu_seconds, peak_rss_bytes, percentile
from bench.mix import DurationMix
from bench.postgres import server_cpu_seconds, store_counters
from bot.jobs.records import JobStatus, NewJob

NEVER = 1e9  # simulated seconds: the tasks of this measurement do not finish
WINDOW_INTERVALS = 6  # measured over this many poll intervals


async def _gets(b: Bench) -> tuple[int, int]:
    """(GETs the fake answered in all, tasks not yet polled once)."""
    stats = await get_json(b.session, b.comet["control"] + "/stats")
    tasks = stats["tasks"]
    return sum(gets for _, _, gets in tasks), sum(1 for _, _, gets in tasks if gets == 0)


async def _probes_settled(b: Bench, expected: int, seconds: float = 60.0) -> None:
    """Wait until the probes' commands are done (their jobs made and at the provider, their replies edited):
    an acknowledged command goes on after its ack, and must not meet a closing store, session or fake."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        counts = await b.app.store.count_by_status()
        unsent = counts.get(JobStatus.QUEUED, 0) + counts.get(JobStatus.SUBMITTING, 0)
        # discord.py runs each application command in a task of this name.
        commands = [t for t in asyncio.all_tasks() if t.get_name() == "CommandTree-invoker" and not t.done()]
        if sum(counts.values()) >= expected and unsent == 0 and not commands:
            return
        await asyncio.sleep(0.1)
    say("poll loop: the probes' jobs did not all reach the provider in time")


def _server_cpu(postmaster: int | None) -> float | None:
    return None if postmaster is None else server_cpu_seconds(postmaster)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else 1000 * seconds


def _discord_requests(b: Bench) -> int:
    return sum(b.counters.by_channel.values())


async def measure_poll_loop(b: Bench) -> dict[str, Any]:
    """Hold ``jobs`` jobs in flight, wait until each was polled once, then measure a window of polling."""
    cfg, app = b.config, b.app
    rng = random.Random(cfg.seed)
    mix = DurationMix.parse(cfg.mix)
    await post_json(b.session, b.comet["control"] + "/scripts",
                    {"durations": [NEVER] * cfg.jobs, "progress": "fixed50", "video_bytes": cfg.video_bytes,
                     "default": NEVER})
    await seed_history(app.store, mix, rng, b.clock.now(), cfg.history, cfg.interval)
    await wait_connected(b)
    worker = WorkerRunner(app)
    worker.start(cfg.scale)

    async def start_one(index: int, guild_id: int, channel_id: int) -> None:
        await app.service.create_job(NewJob(
            platform="discord", workspace_id=str(guild_id), channel_id=str(channel_id),
            user_id=str(10**17 + index % 997),
            prompt=f"{JOB_PROMPT} {index}: a red fox in snow", model=MODEL, orientation="16x9"))

    say(f"poll loop: creating {cfg.jobs} jobs that never finish")
    await b.ramp(start_one)
    b.set_rate(cfg.scale)
    while True:
        _, unpolled = await _gets(b)
        if unpolled == 0:
            break
        await asyncio.sleep(1.0)
    # One more interval, so that the jobs polled last are on their every-interval rhythm too.
    settle_until = b.clock.now() + cfg.interval
    while b.clock.now() < settle_until:  # noqa: ASYNC110 - the simulated clock, read from shared memory
        await asyncio.sleep(0.1)
    say(f"poll loop: every job polled once; measuring {WINDOW_INTERVALS} intervals")
    gets0, _ = await _gets(b)
    discord0 = _discord_requests(b)
    rows0, commits0, writes0 = await store_counters(app.store)
    times0 = os.times()
    server0 = _server_cpu(cfg.postmaster_pid)
    cpu0, sim0 = cpu_seconds(), b.clock.now()
    window_end = sim0 + WINDOW_INTERVALS * cfg.interval
    while b.clock.now() < window_end:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    cpu1, sim1 = cpu_seconds(), b.clock.now()
    server1 = _server_cpu(cfg.postmaster_pid)
    times1 = os.times()
    rows1, commits1, writes1 = await store_counters(app.store)
    gets1, _ = await _gets(b)
    discord1 = _discord_requests(b)
    acks = AckStream()
    if cfg.probe_after_window and cfg.ack_count > 0:
        # Every job still in flight and polled: /veo acknowledgements under the poll loop's load.
        say(f"poll loop: {cfg.ack_count} /veo probes with {cfg.jobs} jobs in flight")
        await acks.burst(b, cfg.ack_count, cfg.ack_rate, cfg.seed)
        await _probes_settled(b, cfg.history + cfg.jobs + acks.sent - acks.unacked)
    await worker.stop()
    polls = gets1 - gets0
    sim = sim1 - sim0
    cpu = cpu1 - cpu0
    server = None if server0 is None or server1 is None else server1 - server0
    ack = [seconds for _, seconds in acks.latencies]
    return {
        "mode": "poll-loop", "pace": cfg.pace, "schedule_gets_per_job": cfg.schedule_gets_per_job,
        "jobs": cfg.jobs, "scale": cfg.scale, "interval": cfg.interval, "mix": cfg.mix,
        "window_sim_seconds": sim, "polls": polls, "gets_per_second": polls / sim if sim > 0 else None,
        "planned_gets_per_second": cfg.jobs / cfg.interval,
        "load": cpu / sim if sim > 0 else None,
        "load_system": (times1.system - times0.system) / sim if sim > 0 else None,
        "cpu_per_poll_ms": 1000 * cpu / polls if polls else None,
        "db_rows_per_poll": (rows1 - rows0) / polls if polls else None,
        "db_commits_per_second": (commits1 - commits0) / sim if sim > 0 else None,
        "db_writes_per_commit": (writes1 - writes0) / (commits1 - commits0)
        if writes0 is not None and writes1 is not None and commits1 > commits0 else None,
        "server_load": server / sim if server is not None and sim > 0 else None,
        "server_cpu_per_poll_ms": 1000 * server / polls if server is not None and polls else None,
        "ack_p50_ms": _ms(percentile(ack, 0.5)), "ack_p99_ms": _ms(percentile(ack, 0.99)),
        "ack_samples": len(ack), "unacked": acks.unacked,
        "discord_requests": discord1 - discord0,
        "rss_peak": peak_rss_bytes(),
    }
