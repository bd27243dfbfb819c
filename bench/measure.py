"""Figures of one process: CPU seconds, resident memory (now and peak), percentiles, child processes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import resource
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (nearest rank, 0 < q <= 1) of ``values``, None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def cpu_seconds() -> float:
    """CPU time of this process (every thread, user and system)."""
    return time.process_time()


def rss_bytes() -> int:
    """Resident memory of this process now."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def peak_rss_bytes() -> int:
    """The largest resident memory this process has had."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@dataclass
class LoadSampler:
    """Samples (real time, simulated time, CPU seconds, RSS) every ``period`` real seconds."""

    clock: Any
    period: float = 0.25
    samples: list[tuple[float, float, float, int]] = field(default_factory=list)

    def sample(self) -> None:
        self.samples.append((time.monotonic(), self.clock.now(), cpu_seconds(), rss_bytes()))

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[LoadSampler]:
        async def loop() -> None:
            while True:
                self.sample()
                await asyncio.sleep(self.period)

        task = asyncio.create_task(loop())
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self.sample()

    def load(self, since_sim: float, until_sim: float) -> float | None:
        """CPU seconds per simulated second between two simulated times: the share of one core the same
        work would take at real speed."""
        inside = [s for s in self.samples if since_sim <= s[1] <= until_sim]
        if len(inside) < 2 or inside[-1][1] <= inside[0][1]:
            return None
        return (inside[-1][2] - inside[0][2]) / (inside[-1][1] - inside[0][1])

    def peak_load(self, since_sim: float, until_sim: float, window: float) -> float | None:
        """The highest ``load`` over any ``window`` simulated seconds in the range."""
        inside = [s for s in self.samples if since_sim <= s[1] <= until_sim]
        best: float | None = None
        start = 0
        for end in range(len(inside)):
            while inside[end][1] - inside[start][1] > window:
                start += 1
            span = inside[end][1] - inside[start][1]
            if span >= window * 0.8:
                value = (inside[end][2] - inside[start][2]) / span
                best = value if best is None else max(best, value)
        return best


async def spawn_json(args: list[str], stdin_json: Any | None = None, *, cwd: Path | None = None,
                     keep_stdin: bool = False) -> tuple[asyncio.subprocess.Process, dict[str, Any]]:
    """Start ``python -m ...`` with ``args`` and read the first JSON line it prints."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=cwd,
        limit=64 * 1024 * 1024,
    )
    assert process.stdin is not None and process.stdout is not None
    if stdin_json is not None:
        process.stdin.write(json.dumps(stdin_json).encode() + b"\n")
        await process.stdin.drain()
    if not keep_stdin:
        process.stdin.close()
    line = await process.stdout.readline()
    if not line:
        await process.wait()
        raise RuntimeError(f"{' '.join(args)} exited with {process.returncode} before it was ready")
    return process, json.loads(line)


async def stop_child(process: asyncio.subprocess.Process) -> None:
    """Close a fake's standard input (its signal to stop) and wait for it, killing it if it hangs."""
    if process.stdin is not None and not process.stdin.is_closing():
        process.stdin.close()
    try:
        await asyncio.wait_for(process.wait(), 10)
    except TimeoutError:
        process.kill()
        await process.wait()
