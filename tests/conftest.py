"""Shared fixtures: a fresh migrated job store per test, a hand-driven clock, the --run-slow option, and a
throwaway PostgreSQL server for the tests that need one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from db.sqlite.store import SqliteJobStore
from tests.support import postgres
from tests.support.postgres import PostgresServer


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="also run slow soak tests")
    parser.addoption("--soak-minutes", type=float, default=None,
                     help="reliability soak: run faults and crashes this many minutes (implies --run-slow)")
    parser.addoption("--reliability-seed", type=int, default=None,
                     help="seed of the reliability runs (default: random, printed), to replay a run")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow") or config.getoption("--soak-minutes"):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


class FakeClock:
    """A clock the test moves by hand; starts at a fixed, realistic Unix time."""

    def __init__(self, start: float = 1_790_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteJobStore]:
    """The SQLite store itself, for tests of the core and of SQLite's internals (``rows_written``, ...).

    The contract suite (``tests/db/contract/``) has its own ``store``, per backend, typed as the protocol.
    """
    s = await SqliteJobStore.open(tmp_path / "veo.sqlite3")
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole session (started on first use); skips, or fails in CI, without one."""
    try:
        server = postgres.start()
    except postgres.NoServer as exc:
        postgres.unavailable(str(exc))
        raise  # unreachable: unavailable() skips or fails
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def core_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh database for a job core's tests, once on each backend (``job_core(..., database_url=...)``)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'veo.sqlite3'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    async with server.database() as url:
        yield url
