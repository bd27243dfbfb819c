"""One measurement: the real bot (or the naive baseline) with N jobs in flight against the fakes.

``python -m bench.bot_run`` reads its configuration as one JSON line on standard input and prints its
figures as one JSON line. Each measurement runs in fresh processes (the bot here, and the two fakes the
harness starts), so peak memory and CPU time are its own.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.baseline import BaselinePoller
from bench.harness import (
    JOB_PROMPT,
    MODEL,
    AckStream,
    Bench,
    RunConfig,
    WorkerRunner,
    close_bench,
    get_json,
    in_flight_jobs,
    open_bench,
    post_json,
    say,
    seed_history,
    wait_connected,
    watch_deliveries,
)
from bench.measure import LoadSampler, cpu_seconds, peak_rss_bytes, percentile, rss_bytes
from bench.mix import DurationMix
from bench.poll_loop import measure_poll_loop
from bench.postgres import store_counters
from bot.jobs.records import JobStatus, NewJob
from bot.ops import event_loop

log = logging.getLogger("bench")

PROBE_JOBS_RESERVE = 3000  # durations queued for the background probes' jobs
# The last jobs of a run (the longest of the mix) are waited for on a clock ``tail_rate`` times faster, but
# only once they are fewer than 1 % of the run: on that clock each real millisecond the bot takes counts as
# ``tail_rate`` simulated ones, inflating their lags. The p50 and p99 lags are thus measured at the run's speed.
TAIL_SHARE = 0.005
SIM_DEADLINE = 2 * 1800.0  # give up on a run after this much simulated time (twice the job timeout)


async def measure(config: RunConfig) -> dict[str, Any]:
    """Run one measurement and return its figures."""
    tmp = Path(tempfile.mkdtemp(prefix="veo-bench-"))
    bench = await open_bench(config, tmp)
    try:
        if config.mode == "poll-loop":
            return await measure_poll_loop(bench)
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
            platform="discord", workspace_id=str(guild_id), channel_id=str(channel_id),
            user_id=str(10**17 + index % 997),
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
    rows_start, _, _ = await store_counters(app.store)
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
            if direct_remaining() <= int(TAIL_SHARE * cfg.jobs) and rate < cfg.tail_rate:
                rate = cfg.tail_rate
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
    rows_total = (await store_counters(app.store))[0] - rows_start
    await worker.stop()
    if baseline is not None:
        await baseline.close()
    stats = await get_json(b.session, b.comet["control"] + "/stats")
    discord_stats = await get_json(b.session, b.discord["control"] + "/stats")
    done_at = {task_id: (done, gets) for task_id, done, gets in stats["tasks"]}

    # Per job of the run: (task id, when the bot saw it finished, when its video was posted), None when
    # that never happened.
    outcomes: list[tuple[str, float | None, float | None]] = []
    if baseline is not None:
        outcomes = [(bj.task_id, bj.seen_done_at, bj.delivered_at) for bj in baseline.jobs]
    else:
        for job_id in job_ids:
            job = await app.store.get_job(job_id)
            assert job is not None and job.task_id is not None
            posted = job.delivered_at if job.status is JobStatus.DELIVERED else None
            outcomes.append((job.task_id, job.completed_at, posted))
    lags, poll_lags, transfers, gets, failures = [], [], [], 0, 0
    delivered_times: list[float] = []
    for task_id, seen_done, posted in outcomes:
        done, n = done_at[task_id]
        gets += n
        if posted is None or seen_done is None:
            failures += 1
            continue
        lags.append(posted - done)
        poll_lags.append(seen_done - done)
        transfers.append(posted - seen_done)
        delivered_times.append(posted)
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
    result = event_loop.run(measure(config))  # the loop the bot runs on
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
