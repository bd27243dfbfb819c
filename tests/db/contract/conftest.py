"""The backends the contract suite runs against, and its ``store`` fixtures.

``BACKENDS`` is the registry: one ``Backend`` per store implementation, each a name (the test id, as in
``test_x[sqlite]``), ``database``, an async context manager that, given the test's request, yields the
``DATABASE_URL`` of a fresh database of its own and removes it afterwards, and whether several processes may
share one database. ``store`` opens that URL through ``db.open_store`` (the way the bot does) and hands the test
the ``JobStore`` protocol, never the concrete class; ``database_url`` is there for tests that open and close the
store themselves; ``store_factory`` opens as many stores on the one database as a test asks for, each with
connections of its own, as several bot processes would (``shared_backend`` limits a test to the backends that
allow that).

PostgreSQL runs on the session's throwaway server (``tests/support/postgres.py``; ``VEO_TEST_POSTGRES_URL``
names an existing one instead), a database per test; without a server its ids skip, or fail where
``VEO_REQUIRE_POSTGRES=1``.

``tests/conftest.py`` has a ``store`` fixture of its own, on the concrete SQLite class, for the tests of the
core and of SQLite's internals; inside ``tests/db/contract/`` this one replaces it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.jobs.ports import JobStore
from db import open_store
from tests.support.postgres import PostgresServer


@dataclass(frozen=True)
class Backend:
    """One store implementation: its test id, and how to get a fresh database's URL for one test."""

    name: str
    database: Callable[[pytest.FixtureRequest], contextlib.AbstractAsyncContextManager[str]]
    several_processes: bool  # several stores (processes) may open one database at once
    marks: tuple[pytest.MarkDecorator, ...] = ()


@contextlib.asynccontextmanager
async def sqlite_database(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A new SQLite file in the test's own directory (pytest removes the directory)."""
    tmp_path: Path = request.getfixturevalue("tmp_path")
    yield f"sqlite:///{tmp_path / 'contract' / 'veo.sqlite3'}"


@contextlib.asynccontextmanager
async def postgresql_database(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A new database, migrated from the session's template, on the session's PostgreSQL server."""
    server: PostgresServer = request.getfixturevalue("postgres_server")
    async with server.database() as url:
        yield url


BACKENDS: tuple[Backend, ...] = (
    Backend("sqlite", sqlite_database, several_processes=False),
    Backend("postgresql", postgresql_database, several_processes=True, marks=(pytest.mark.postgres,)),
)


@pytest.fixture(params=[pytest.param(b, id=b.name, marks=b.marks) for b in BACKENDS])
def backend(request: pytest.FixtureRequest) -> Backend:
    """The backend this run of the test is for."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(params=[pytest.param(b, id=b.name, marks=b.marks) for b in BACKENDS if b.several_processes])
def shared_backend(request: pytest.FixtureRequest) -> Backend:
    """A backend whose database several processes may share (PostgreSQL; one SQLite file serves one process)."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
async def database_url(backend: Backend, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """The URL of a fresh database of the backend, for this test only."""
    async with backend.database(request) as url:
        yield url


@pytest.fixture
async def shared_database_url(shared_backend: Backend, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """The URL of a fresh database that several stores may open at once, for this test only."""
    async with shared_backend.database(request) as url:
        yield url


@pytest.fixture
async def store_factory(shared_database_url: str) -> AsyncIterator[Callable[[], Awaitable[JobStore]]]:
    """Opens another store on the test's shared database, as another process would; all closed afterwards."""
    opened: list[JobStore] = []

    async def make() -> JobStore:
        opened.append(await open_store(shared_database_url))
        return opened[-1]

    try:
        yield make
    finally:
        for each in opened:
            await each.close()


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[JobStore]:
    """An open store on a fresh database, seen only through the ``JobStore`` protocol."""
    opened = await open_store(database_url)
    try:
        yield opened
    finally:
        await opened.close()
