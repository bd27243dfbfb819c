"""Health checks behind ``/healthz``: each face is connected, the database is writable, the poll loop runs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

OK = "ok"
HEALTH_META = "health_checked_at"


class WritableStore(Protocol):
    """A store write that proves the database takes writes."""

    async def set_meta(self, key: str, value: str) -> None: ...


@dataclass(frozen=True, slots=True)
class HealthReport:
    """One answer per check: ``ok`` or what is wrong."""

    checks: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return all(value == OK for value in self.checks.values())

    @property
    def problems(self) -> list[str]:
        """What is wrong, one line per failed check."""
        return [f"{name}: {value}" for name, value in self.checks.items() if value != OK]


@dataclass(frozen=True, slots=True)
class HealthProbe:
    """A face's check of its own connection: its name in ``/healthz``, and what is wrong (None: nothing)."""

    name: str
    problem: Callable[[], str | None]


class HealthChecks:
    """Runs the checks; each face adds a probe of its connection (Discord's is named ``gateway``)."""

    def __init__(
        self,
        *,
        store: WritableStore,
        last_tick: Callable[[], float | None],
        clock: Callable[[], float] = time.time,
        stale_after: float = 300.0,
        db_timeout: float = 5.0,
        probes: tuple[HealthProbe, ...] = (),
    ) -> None:
        self.probes = list(probes)
        self.store = store
        self.last_tick = last_tick
        self.clock = clock
        # A poll cycle sleeps at most a few seconds, but one slow provider call with retries can hold it.
        self.stale_after = stale_after
        self.db_timeout = db_timeout

    async def _database(self) -> str:
        try:
            await asyncio.wait_for(self.store.set_meta(HEALTH_META, repr(self.clock())), self.db_timeout)
        except TimeoutError:
            return f"database write took over {self.db_timeout:g} s"
        except Exception as exc:
            return f"database not writable ({type(exc).__name__}: {str(exc)[:200]})"
        return OK

    def _poll_loop(self) -> str:
        tick = self.last_tick()
        if tick is None:
            return "job worker has not run yet"
        idle = self.clock() - tick
        if idle > self.stale_after:
            return f"job worker last ran {idle:.0f} s ago"
        return OK

    def add_probe(self, probe: HealthProbe) -> None:
        """Check a face's connection too."""
        self.probes.append(probe)

    async def run(self) -> HealthReport:
        """Run every check: each face's connection, the database, the poll loop."""
        checks = {probe.name: probe.problem() or OK for probe in self.probes}
        checks["database"] = await self._database()
        checks["poll_loop"] = self._poll_loop()
        return HealthReport(checks)
