"""A simulated clock shared by the benchmark's processes, and sleeping in simulated time.

The clock lives in a small memory-mapped file: ``now = anchor_sim + (monotonic() - anchor_real) * rate``.
Only the bot's process changes it (freeze, step, run faster); the fakes' processes read it, so a fake
task "takes 75 s" on the same time line the bot's job core sees, however fast that line runs.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import mmap
import struct
import time
from pathlib import Path

_LAYOUT = struct.Struct("<Qddd")  # sequence number (odd while writing), anchor_sim, anchor_real, rate


class SharedClock:
    """Reads (and, in the owning process, writes) the shared simulated time."""

    def __init__(self, path: Path, *, owner: bool) -> None:
        self.path = path
        self.owner = owner
        self._file = path.open("r+b")
        self._map = mmap.mmap(self._file.fileno(), _LAYOUT.size)

    @classmethod
    def create(cls, path: Path, start: float) -> SharedClock:
        """A new clock file at ``path``, frozen at ``start``; the caller owns it."""
        path.write_bytes(_LAYOUT.pack(0, start, time.monotonic(), 0.0))
        return cls(path, owner=True)

    @classmethod
    def attach(cls, path: Path) -> SharedClock:
        """Read the clock another process owns."""
        return cls(path, owner=False)

    def _read(self) -> tuple[float, float, float]:
        while True:
            seq, anchor_sim, anchor_real, rate = _LAYOUT.unpack_from(self._map)
            again = _LAYOUT.unpack_from(self._map)[0]
            if seq == again and seq % 2 == 0:
                return anchor_sim, anchor_real, rate

    def __call__(self) -> float:
        return self.now()

    def now(self) -> float:
        """The simulated time (Unix-like seconds)."""
        anchor_sim, anchor_real, rate = self._read()
        return anchor_sim + (time.monotonic() - anchor_real) * rate

    @property
    def rate(self) -> float:
        """Simulated seconds per real second (0 = frozen)."""
        return self._read()[2]

    def _write(self, anchor_sim: float, rate: float) -> None:
        assert self.owner, "only the owning process moves the clock"
        seq = _LAYOUT.unpack_from(self._map)[0]
        struct.pack_into("<Q", self._map, 0, seq + 1)
        struct.pack_into("<ddd", self._map, 8, anchor_sim, time.monotonic(), rate)
        struct.pack_into("<Q", self._map, 0, seq + 2)

    def set_rate(self, rate: float) -> None:
        """Run at ``rate`` simulated seconds per real second from now on."""
        self._write(self.now(), rate)

    def step_to(self, when: float) -> None:
        """Freeze the clock at ``when`` (never backwards)."""
        self._write(max(when, self.now()), 0.0)

    def close(self) -> None:
        """Unmap the file."""
        self._map.close()
        self._file.close()


class SimTimers:
    """``await timers.sleep_until(t)`` wakes when the shared clock reaches ``t``, across rate changes.

    Lives in the owning process: call ``changed()`` after moving the clock.
    """

    def __init__(self, clock: SharedClock) -> None:
        self.clock = clock
        self._heap: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._kick = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def changed(self) -> None:
        """The clock was moved or its rate changed: recompute the next wake-up."""
        self._kick.set()

    async def sleep_until(self, when: float) -> None:
        """Return once the simulated time is ``when`` or later."""
        if self.clock.now() >= when:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._heap, (when, next(self._order), future))
        if self._task is None:
            self._task = asyncio.create_task(self._drive(), name="sim-timers")
        self._kick.set()
        await future

    async def _drive(self) -> None:
        while True:
            now = self.clock.now()
            while self._heap and self._heap[0][0] <= now:
                _, _, future = heapq.heappop(self._heap)
                if not future.done():
                    future.set_result(None)
            self._kick.clear()
            rate = self.clock.rate
            timeout = None
            if self._heap and rate > 0:
                timeout = (self._heap[0][0] - now) / rate
            try:
                await asyncio.wait_for(self._kick.wait(), timeout)
            except TimeoutError:
                pass

    async def close(self) -> None:
        """Stop the timer task."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
