"""``GroupCommit``: the store's one SQLite connection, an ``aiosqlite.Connection``, with group commit on top.

Each store call is one *unit*: a function of the (sqlite3) connection, run on aiosqlite's thread in one
hand-over, not a round trip per statement. Units wait in a queue; when the thread is idle, the event loop
hands it a *drain*, which runs what is queued a batch at a time until the queue is empty, going straight
on from one batch to the next. Reads run as they come, outside any transaction. Writes that arrive while
a batch runs (most often: while its commit waits for the disk) go into the next batch, and so into one
transaction together, each inside its own savepoint so that a unit that fails rolls back alone; that
transaction is committed with one fsync. A writer resumes only once the commit that holds its unit is on
disk: the same durability as one transaction per write, for a fraction of the fsyncs. The results of a
batch go back to the event loop in one wake-up.

A unit is atomic: nothing else runs on the connection while it does, and its writes commit or roll back
together. A caller that is cancelled while its unit waits or runs does not stop it: the unit finishes (or
rolls back) on its own, like a statement already sent to a database server.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import aiosqlite

log = logging.getLogger(__name__)

T = TypeVar("T")

# At most this many units are handed to the connection's thread at a time: a bound on how long one
# transaction holds SQLite's write lock, and on how long a read waits behind a group of writes.
MAX_BATCH = 256


class StoreClosed(RuntimeError):
    """The store was closed; no more units are accepted."""


@dataclass(slots=True)
class _Unit:
    work: Callable[[sqlite3.Connection], Any]
    write: bool
    future: asyncio.Future[Any]


_Outcome = tuple["asyncio.Future[Any]", Any, BaseException | None]


def _hand_over(loop: asyncio.AbstractEventLoop, outcomes: list[_Outcome]) -> None:
    """From the connection's thread: settle the futures on the event loop, in one wake-up."""
    try:
        loop.call_soon_threadsafe(_settle, outcomes)
    except RuntimeError:  # the event loop is gone: nobody is waiting any more
        log.debug("store results dropped: event loop closed")


# -- the two places the store reaches into aiosqlite ----------------------------------------------------
# aiosqlite has no public call for either. Both have had the same shape from aiosqlite 0.20 to 0.22 (the
# store's tests pass on each), and pyproject pins that range: check them there before widening it.


async def _on_connection_thread(conn: aiosqlite.Connection, fn: Callable[[], T]) -> T:
    """Run ``fn`` on ``conn``'s thread, queued behind whatever is already there, and return its result.

    aiosqlite's public methods hand over one statement, or one fetch, at a time: a unit of several
    statements would cost a round trip between the event loop and the thread for each.
    ``Connection._execute(fn)`` is how each of those methods queues its function on the thread.
    """
    result: T = await conn._execute(fn)  # type: ignore[no-untyped-call]
    return result


def _let_the_process_exit_without_closing(conn: aiosqlite.Connection) -> None:
    """Make ``conn``'s thread a daemon (before it starts), like the store's own thread before aiosqlite.

    aiosqlite's thread is not one: a store left open, say by a start-up that fails after opening it, would
    keep the process from ever exiting. (SQLite's journal makes a commit cut short by the exit as if it had
    not begun.) In aiosqlite 0.20 and 0.21 the connection is the thread; from 0.22 it holds one.
    """
    thread = conn if isinstance(conn, threading.Thread) else conn._thread
    thread.daemon = True


def _settle(outcomes: list[_Outcome]) -> None:
    """Hand each unit's result (or error) to its caller, unless it stopped waiting."""
    for future, value, error in outcomes:
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)


class GroupCommit:
    """Runs units of work on one ``aiosqlite.Connection``, committing the writes that wait together."""

    def __init__(self, connect: Callable[[], sqlite3.Connection]) -> None:
        self._connect = connect
        self._sqlite: sqlite3.Connection | None = None  # the connection aiosqlite's thread opened
        self._open_error: Exception | None = None
        # The queue is shared with the connection's thread: both hold the lock to use it, or the flag.
        self._lock = threading.Lock()
        self._queue: deque[_Unit] = deque()
        self._draining = False  # a drain is on (or handed to) the connection's thread
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pump: asyncio.Task[None] | None = None
        self._wake: asyncio.Future[None] | None = None
        self._closed = False
        # Figures, updated on the connection's thread after each batch (reading an int is safe anywhere).
        self.commits = 0
        self.units_written = 0
        self.total_changes = 0  # since the store opened (the migrations' own changes left out)
        self._changes_at_open = 0

    async def start(self) -> None:
        """Open the connection on aiosqlite's thread; raises what opening raised."""
        loop = asyncio.get_running_loop()
        conn = aiosqlite.Connection(self._open, iter_chunk_size=64)
        _let_the_process_exit_without_closing(conn)
        await conn
        if self._open_error is not None:
            error, self._open_error = self._open_error, None
            await conn.close()  # stops aiosqlite's thread, and waits for it
            raise error
        self._loop = loop
        self._pump = loop.create_task(self._pump_units(conn), name="veo-store")

    def _open(self) -> sqlite3.Connection:
        """On the connection's thread: open the store's connection, and keep it for the units.

        Should opening fail, the error is kept for ``start()`` to raise, and an empty in-memory connection
        stands in meanwhile so that ``start()`` can stop aiosqlite's thread through ``close()`` and wait
        for it. (When its connector raises, aiosqlite stops the thread on its own, with nothing to wait
        on, and the thread then reports to an event loop that may be closed by that time.)
        """
        try:
            self._sqlite = self._connect()
            self._changes_at_open = self._sqlite.total_changes
        except Exception as exc:
            self._open_error = exc
            return sqlite3.connect(":memory:")
        return self._sqlite

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
        if self._loop is None:
            raise StoreClosed("the job store is not open")
        future: asyncio.Future[Any] = self._loop.create_future()
        with self._lock:
            self._queue.append(_Unit(work, write, future))
            draining = self._draining
        wake = self._wake
        if not draining and wake is not None and not wake.done():
            wake.set_result(None)
        return future

    async def close(self) -> None:
        """Finish the units already queued, then close the connection (and so aiosqlite's thread); returns
        once that is done, whichever call to close() started it."""
        if not self._closed:
            self._closed = True
            if self._wake is not None and not self._wake.done():
                self._wake.set_result(None)
        if self._pump is not None:  # None: never started, or opening failed; nothing to wait for
            # The pump runs what is queued, then closes the connection: a cancelled close() stops neither.
            await asyncio.shield(self._pump)

    # -- on the event loop ----------------------------------------------------------------------------

    async def _pump_units(self, conn: aiosqlite.Connection) -> None:
        """Hand a drain to the connection's thread whenever units wait and none is there; once closed and
        drained, close the connection (and so aiosqlite's thread)."""
        assert self._loop is not None
        lock, queue = self._lock, self._queue
        try:
            while True:
                with lock:
                    self._draining = bool(queue)
                if not self._draining:
                    if self._closed:
                        break
                    self._wake = self._loop.create_future()
                    await self._wake
                    continue
                try:
                    outcomes = await _on_connection_thread(conn, partial(self._drain, self._loop))
                except Exception as exc:  # aiosqlite could not run the drain (its connection is gone)
                    with lock:
                        units, self._draining = list(queue), False
                        queue.clear()
                    outcomes = [(unit.future, None, exc) for unit in units]
                _settle(outcomes)
        except asyncio.CancelledError:
            # The event loop is being torn down without close(). A drain on the thread, if any, still runs
            # what is queued (its results go nowhere); nothing more is taken.
            self._closed = True
            raise
        await conn.close()

    # -- on the connection's thread -------------------------------------------------------------------

    def _drain(self, loop: asyncio.AbstractEventLoop) -> list[_Outcome]:
        """Run the queued units a batch (up to MAX_BATCH) at a time until none is left; hand each batch's
        results to the event loop as it ends, and return the last one's (the event loop settles those when
        the drain ends)."""
        lock, queue = self._lock, self._queue
        while True:
            with lock:
                units = [queue.popleft() for _ in range(min(len(queue), MAX_BATCH))]
            outcomes = self._run(units)
            with lock:
                if not queue:
                    self._draining = False
                    return outcomes
            _hand_over(loop, outcomes)

    def _run(self, units: list[_Unit]) -> list[_Outcome]:
        conn = self._sqlite
        assert conn is not None
        try:
            outcomes = [self._call(conn, unit) for unit in units if not unit.write]
            writes = [unit for unit in units if unit.write]
            if writes:
                outcomes += self._commit(conn, writes)
                self.total_changes = conn.total_changes - self._changes_at_open
            return outcomes
        except Exception as exc:  # the connection must outlive any one batch
            log.exception("store: a group of units failed")
            self._roll_back(conn)
            return [(unit.future, None, exc) for unit in units]

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
