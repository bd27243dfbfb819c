"""``WakeupListener``: the one connection per process that LISTENs for new work, so that a job admitted, a job
cancelled or a workspace's caps changed by another process wake this process's worker at once.

A notification is a hint, never data: it only makes the worker tick now, and the worker's timed tick stays the
safety net. PostgreSQL does not replay what was sent while nobody listened, so every (re)connection wakes the
worker once too. The connection is a dedicated one, outside the pool (a pooled connection is handed back and
reset; asyncpg's maintainers advise against listening on one), and counts in the ``max_connections`` budget:
``CONNECTIONS_PER_PROCESS``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import asyncpg

from bot.database_url import redact, scrub
from db.postgres.connection import CONNECT_TIMEOUT, POOL_MAX

log = logging.getLogger(__name__)

WAKE_CHANNEL = "veo_wake"
# What the store's writes that make work for every process run, in their transaction (sent at its commit).
NOTIFY_WAKE = "SELECT pg_notify('veo_wake', '')"
LISTENER_NAME = "veo-bot-listener"
# The pool's connections and this listener: the most one bot process holds on the server at once.
CONNECTIONS_PER_PROCESS = POOL_MAX + 1


class WakeupListener:
    """Listens on ``veo_wake`` over a connection of its own, reconnecting with back-off, until cancelled.

    ``check_every``: seconds between two ``SELECT 1`` on an idle connection (a connection whose peer vanished
    is otherwise noticed only when TCP gives up). ``backoff`` and ``backoff_cap``: the first and the longest wait
    before connecting again; the wait doubles while connections keep failing.
    """

    def __init__(self, url: str, *, check_every: float = 30.0, backoff: float = 0.5, backoff_cap: float = 30.0
                 ) -> None:
        self.url = url
        self.check_every = check_every
        self.backoff = backoff
        self.backoff_cap = backoff_cap
        self.connections = 0  # how many times it has started listening (for the logs and the tests)

    async def run(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` on every notification and after every (re)connection, until cancelled; never raises."""
        failures = 0
        while True:
            began = time.monotonic()
            try:
                conn = await asyncpg.connect(self.url, timeout=CONNECT_TIMEOUT,
                                             server_settings={"application_name": LISTENER_NAME})
            except Exception as exc:
                failures += 1
                self._log_failure("cannot listen for new work on", exc, failures)
            else:
                try:
                    await self._listen(conn, wake)
                    failures = 0
                except Exception as exc:
                    # A connection that stayed up for a while was a good one: start the back-off afresh.
                    failures = 1 if time.monotonic() - began > self.check_every else failures + 1
                    self._log_failure("lost the connection that listens for new work on", exc, failures)
                finally:
                    conn.terminate()
            await asyncio.sleep(min(self.backoff_cap, self.backoff * 2 ** max(0, failures - 1)))

    def _log_failure(self, what: str, exc: BaseException, failures: int) -> None:
        delay = min(self.backoff_cap, self.backoff * 2 ** max(0, failures - 1))
        log.warning("%s %s (%s: %s); the worker still ticks on its own; trying again in %.3g s", what,
                    redact(self.url), type(exc).__name__, scrub(str(exc), self.url)[:200], delay)

    async def _listen(self, conn: asyncpg.Connection[Any], wake: Callable[[], None]) -> None:
        """Listen on ``conn`` until it is lost; raises ``ConnectionError`` (or the driver's error) then."""
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())

        def notified(*_: object) -> None:
            _safely(wake)

        await conn.add_listener(WAKE_CHANNEL, notified)
        self.connections += 1
        if self.connections > 1:
            log.info("listening for new work again on %s", redact(self.url))
        _safely(wake)  # what other processes announced while nobody listened here is not sent again
        while True:
            try:
                await asyncio.wait_for(lost.wait(), self.check_every)
            except TimeoutError:
                await conn.fetchval("SELECT 1", timeout=self.check_every)
            if lost.is_set() or conn.is_closed():
                raise ConnectionError("the server closed the connection")


def _safely(wake: Callable[[], None]) -> None:
    try:
        wake()
    except Exception:
        log.exception("waking the worker failed")
