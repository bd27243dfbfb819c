"""``SqliteThread``: the store's one SQLite connection, on a thread of its own, with group commit.

Each store call is one *unit*: a function of the connection, run on the thread in one hand-over (no round
trip per statement). Reads run as they come, outside any transaction. Writes that arrive while the thread
is busy (most often: while a commit waits for the disk) wait and go into the next transaction together,
each inside its own savepoint so that a unit that fails rolls back alone, and that transaction is
committed with one fsync. A writer resumes only once the commit that holds its unit is on disk: the same
durability as one transaction per write, for a fraction of the fsyncs.

A unit is atomic: nothing else runs on the connection while it does, and its writes commit or roll back
together. A caller that is cancelled while its unit waits or runs does not stop it: the unit finishes (or
rolls back) on its own, like a statement already sent to a database server.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

# At most this many units are taken from the queue at a time: a bound on how long one transaction holds
# SQLite's write lock, and on how long a read waits behind a group of writes.
MAX_BATCH = 256


class StoreClosed(RuntimeError):
    """The store was closed; no more units are accepted."""


@dataclass(slots=True)
class _Unit:
    work: Callable[[sqlite3.Connection], Any]
    write: bool
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


_Outcome = tuple["asyncio.Future[Any]", Any, BaseException | None]


def _settle(outcomes: list[_Outcome]) -> None:
    """On the event loop: hand each unit's result (or error) to its caller, unless it stopped waiting."""
    for future, value, error in outcomes:
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)


def _hand_over(loop: asyncio.AbstractEventLoop, outcomes: list[_Outcome]) -> None:
    """From the store's thread: settle the futures on their event loop, in one wake-up."""
    try:
        loop.call_soon_threadsafe(_settle, outcomes)
    except RuntimeError:  # the caller's event loop is gone: nobody is waiting any more
        log.debug("store results dropped: event loop closed")


class SqliteThread:
    """Runs units of work on one SQLite connection owned by one thread."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], *, name: str = "veo-store") -> None:
        self._connect = connect
        self._queue: queue.SimpleQueue[_Unit | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._closed = False
        self._ready: asyncio.Future[None] | None = None
        self._stopped: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Figures, updated by the thread after each group (reading an int is safe from any thread).
        self.commits = 0
        self.units_written = 0
        self.total_changes = 0  # since the store opened (the migrations' own changes left out)
        self._changes_at_open = 0

    async def start(self) -> None:
        """Start the thread and open the connection on it; raises what opening raised."""
        self._loop = asyncio.get_running_loop()
        self._ready = self._loop.create_future()
        self._stopped = self._loop.create_future()
        self._thread.start()
        await self._ready

    async def read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` on the connection outside any transaction and return what it returned."""
        result: T = await self._submit(work, write=False)
        return result

    async def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in a write transaction; return once that transaction is committed.

        If ``work`` raises, its changes are rolled back and the error is raised here; the other units of
        the same transaction are not affected.
        """
        result: T = await self._submit(work, write=True)
        return result

    def _submit(self, work: Callable[[sqlite3.Connection], Any], *, write: bool) -> asyncio.Future[Any]:
        if self._closed:
            raise StoreClosed("the job store is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.put(_Unit(work, write, loop, future))
        return future

    async def close(self) -> None:
        """Finish the units already queued, then close the connection and stop the thread."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        if self._stopped is not None:
            await self._stopped

    # -- on the thread ------------------------------------------------------------------------------

    def _main(self) -> None:
        try:
            conn = self._connect()
            self._changes_at_open = conn.total_changes
        except BaseException as exc:  # handed to the caller of start()
            self._signal(self._ready, exc)
            self._signal(self._stopped, None)  # a close() after a failed start has nothing to wait for
            return
        self._signal(self._ready, None)
        try:
            while True:
                units, stop = self._take()
                try:
                    self._run(conn, units)
                except Exception as exc:  # the thread must outlive any one group
                    log.exception("store: a group of units failed")
                    self._roll_back(conn)
                    self._fail(units, exc)
                if stop:
                    break
        finally:
            conn.close()
            self._signal(self._stopped, None)

    def _take(self) -> tuple[list[_Unit], bool]:
        """Wait for a unit, then take whatever else is queued (up to MAX_BATCH); True when closing."""
        units: list[_Unit] = []
        item = self._queue.get()
        while True:
            if item is None:
                return units, True
            units.append(item)
            if len(units) >= MAX_BATCH:
                return units, False
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return units, False

    def _run(self, conn: sqlite3.Connection, units: list[_Unit]) -> None:
        outcomes: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
        for unit in units:
            if not unit.write:
                outcomes.setdefault(unit.loop, []).append(self._call(conn, unit))
        writes = [unit for unit in units if unit.write]
        if writes:
            for unit, outcome in zip(writes, self._commit(conn, writes), strict=True):
                outcomes.setdefault(unit.loop, []).append(outcome)
            self.total_changes = conn.total_changes - self._changes_at_open
        for loop, settled in outcomes.items():
            _hand_over(loop, settled)

    @staticmethod
    def _call(conn: sqlite3.Connection, unit: _Unit) -> _Outcome:
        try:
            return unit.future, unit.work(conn), None
        except Exception as exc:  # raised to the unit's caller
            return unit.future, None, exc

    def _commit(self, conn: sqlite3.Connection, writes: list[_Unit]) -> list[_Outcome]:
        """Run the write units in one transaction, each in a savepoint; commit once.

        Should the transaction itself fail (the disk is full, a unit broke it), nothing of it is kept and
        each unit is tried again alone, so that one unit's trouble is not every unit's.
        """
        outcomes: list[_Outcome] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for unit in writes:
                conn.execute("SAVEPOINT unit")
                outcome = self._call(conn, unit)
                if outcome[2] is not None:
                    conn.execute("ROLLBACK TO unit")
                conn.execute("RELEASE unit")
                outcomes.append(outcome)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._roll_back(conn)
            if len(writes) > 1:
                return [outcome for unit in writes for outcome in self._commit(conn, [unit])]
            return [(unit.future, None, exc) for unit in writes]
        self.commits += 1
        self.units_written += len(writes)
        return outcomes

    @staticmethod
    def _roll_back(conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                log.exception("store: rollback failed")

    @staticmethod
    def _fail(units: list[_Unit], error: BaseException) -> None:
        for unit in units:
            _hand_over(unit.loop, [(unit.future, None, error)])

    def _signal(self, future: asyncio.Future[None] | None, error: BaseException | None) -> None:
        if future is None or self._loop is None:
            return
        _hand_over(self._loop, [(future, None, error)])
