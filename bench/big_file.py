"""A 100 MB result through the real delivery path, and how much the bot's memory grows meanwhile.

The fake CometAPI serves a 100 MB MP4 from its CDN; the bot downloads it with ``VideoClient.download``
(streamed to a file) and posts it with the notifier through discord.py to the fake Discord (a guild
with the 100 MiB boost-tier limit). A warm-up job goes first, so the figure is the growth the big file
causes, not the first use of the HTTP clients. ``python -m bench.big_file`` prints one JSON line.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import (
    MODEL,
    RunConfig,
    WorkerRunner,
    close_bench,
    get_json,
    open_bench,
    post_json,
    wait_connected,
    watch_deliveries,
)
from bench.measure import peak_rss_bytes, rss_bytes
from bot.jobs.records import NewJob

BIG = 100_000_000


async def _until(check: Any, limit: float) -> None:
    deadline = time.monotonic() + limit
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("the job was not delivered in time")
        await asyncio.sleep(0.01)


async def measure(size: int = BIG) -> dict[str, Any]:
    """Deliver a small video, then one of ``size`` bytes; return the memory figures."""
    with tempfile.TemporaryDirectory(prefix="veo-bench-big-") as tmp:
        config = RunConfig(mode="adaptive", jobs=1, scale=1.0, interval=1.0, history=0, premium_tier=3)
        bench = await open_bench(config, Path(tmp))
        try:
            return await _measure(bench, size)
        finally:
            await close_bench(bench)


async def _measure(bench: Any, size: int) -> dict[str, Any]:
    app = bench.app
    control = bench.comet["control"] + "/scripts"
    finished: set[int] = set()
    watch_deliveries(app.store, finished)
    await wait_connected(bench)
    bench.set_rate(1.0)
    worker = WorkerRunner(app)
    worker.start(1.0)
    guild, channel = bench.channels[0]

    async def deliver(video_bytes: int) -> tuple[int, float]:
        await post_json(bench.session, control, {"durations": [0.5], "video_bytes": video_bytes})
        job = await app.service.create_job(NewJob("discord", str(guild), str(channel), str(10**17),
                                                  "a big one", MODEL, "16x9"))
        started = time.monotonic()
        await _until(lambda: job.id in finished, 300)
        return job.id, time.monotonic() - started

    await deliver(4096)
    gc.collect()
    before, peak_before = rss_bytes(), peak_rss_bytes()
    samples: list[int] = []

    async def sample() -> None:
        while True:
            samples.append(rss_bytes())
            await asyncio.sleep(0.005)

    sampler = asyncio.create_task(sample())
    job_id, seconds = await deliver(size)
    sampler.cancel()
    peak_after = peak_rss_bytes()
    await worker.stop()
    stats = await get_json(bench.session, bench.discord["control"] + "/stats")
    job = await app.store.get_job(job_id)
    return {
        "video_bytes": size,
        "posted_bytes": stats["largest_attachment"],
        "delivered": job is not None and job.delivered_message_id is not None,
        "seconds": seconds,
        "rss_before": before,
        "rss_peak_sampled": max(samples, default=before),
        "growth_sampled": max(samples, default=before) - before,
        "peak_rss_before": peak_before,
        "peak_rss_after": peak_after,
        "growth_peak": max(0, peak_after - max(before, peak_before)),
    }


def main() -> None:
    """Measure and print one JSON line."""
    size = int(sys.argv[1]) if len(sys.argv) > 1 else BIG
    print(json.dumps(asyncio.run(measure(size))), flush=True)


if __name__ == "__main__":
    main()
