"""Claimed rows per second: 1, 2 or 4 processes claiming due jobs from one store as fast as it hands them out.

Each process is a fresh ``python -m bench.claim_rate`` with a store of its own (the store's real methods, no
bot around them), and loops the store half of a worker tick: ``claim_due`` (a batch of the soonest due jobs,
leased to it) and then, for each claimed job, the poll's write (``record_progress`` under the claim's fencing
token), which frees the lease and makes the job due again at once, so the table never runs dry. No HTTP,
no Discord: what is measured is how many job steps a second the store can hand out and take back, and what
that costs the bot processes and the PostgreSQL server. SQLite is one process by design, so it runs with one.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass
from typing import Any

from bench.measure import cpu_seconds, spawn_json
from bench.postgres import server_cpu_seconds
from bot.jobs.records import JobStatus, Limits, NewJob
from db import open_store

BATCH = 100  # the worker's poll_batch
CONCURRENCY = 16  # and its poll_concurrency: the steps of a batch run this many at a time
LEASE = 60.0
START_DELAY = 1.0  # the children start together this long after the last one is ready


@dataclass(frozen=True, slots=True)
class ClaimRun:
    """One measurement: ``processes`` processes on the store at ``database_url`` for ``seconds``."""

    database_url: str
    processes: int
    seconds: float
    jobs: int
    postmaster_pid: int | None = None


async def populate(database_url: str, jobs: int) -> None:
    """``jobs`` jobs at the provider, all due now, through the store's own methods."""
    store = await open_store(database_url)
    try:
        now = time.time()
        for index in range(jobs):
            await store.insert_job(NewJob("discord", str(index % 50), "1", str(index % 997), "claim bench",
                                          "veo3.1-fast", "16x9"), now)
        claimed = await store.claim_submittable(Limits(jobs, jobs, jobs), now, now + 60, jobs)
        for job in claimed:
            await store.mark_submitted(job.id, f"task-{job.id}", now, now)
    finally:
        await store.close()


async def _child(config: dict[str, Any]) -> dict[str, Any]:
    store = await open_store(config["database_url"])
    owner = f"claim-bench-{config['index']}"
    semaphore = asyncio.Semaphore(CONCURRENCY)
    refused = 0

    async def step(job_id: int, token: int) -> None:
        nonlocal refused
        async with semaphore:
            # Refused only if another process claimed the job meanwhile: never, when claims are disjoint.
            if not await store.record_progress(job_id, JobStatus.RUNNING, 50, time.time(), token=token):
                refused += 1

    try:
        print(json.dumps({"ready": True}), flush=True)
        start = float(sys.stdin.readline())
        await asyncio.sleep(max(0.0, start - time.time()))
        end = start + float(config["seconds"])
        claimed, ticks, empty = 0, 0, 0
        cpu0 = cpu_seconds()
        while time.time() < end:
            due = await store.claim_due(owner, time.time(), LEASE, BATCH)
            ticks += 1
            if not due:
                empty += 1
                continue
            claimed += len(due)
            await asyncio.gather(*(step(job.id, job.lease_token) for job in due))
        return {"claimed": claimed, "ticks": ticks, "empty_ticks": empty, "refused": refused,
                "cpu": cpu_seconds() - cpu0}
    finally:
        await store.close()


async def measure(run: ClaimRun) -> dict[str, Any]:
    """Start the processes, let them claim for ``seconds`` together, and sum what they did."""
    started = await asyncio.gather(*(
        spawn_json(["-m", "bench.claim_rate"], {"database_url": run.database_url, "index": index,
                                                "seconds": run.seconds}, keep_stdin=True)
        for index in range(run.processes)))
    assert all(ready["ready"] for _, ready in started)
    children = [process for process, _ in started]
    start = time.time() + START_DELAY
    for process in children:
        assert process.stdin is not None
        process.stdin.write(f"{start}\n".encode())
        await process.stdin.drain()
    await asyncio.sleep(max(0.0, start - time.time()))
    server0 = None if run.postmaster_pid is None else server_cpu_seconds(run.postmaster_pid)
    results = []
    for process in children:
        assert process.stdout is not None
        line = await process.stdout.readline()
        if not line:
            raise RuntimeError(f"a claiming process exited with {await process.wait()} before it reported")
        results.append(json.loads(line))
        await process.wait()
    server = None if run.postmaster_pid is None else server_cpu_seconds(run.postmaster_pid) - server0
    claimed = sum(r["claimed"] for r in results)
    bot_cpu = sum(r["cpu"] for r in results)
    return {
        "processes": run.processes, "seconds": run.seconds, "jobs": run.jobs, "claimed": claimed,
        "claimed_per_second": claimed / run.seconds,
        "bot_cpu_per_claim_ms": 1000 * bot_cpu / claimed if claimed else None,
        "server_cpu_per_claim_ms": 1000 * server / claimed if server is not None and claimed else None,
        "empty_ticks": sum(r["empty_ticks"] for r in results), "ticks": sum(r["ticks"] for r in results),
        "per_process": [r["claimed"] for r in results], "refused_writes": sum(r["refused"] for r in results),
    }


def main() -> None:
    """A claiming process: its configuration as a JSON line in, "ready", the start time in, its counts out."""
    config = json.loads(sys.stdin.readline())
    result = asyncio.run(_child(config))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
