"""The backends the contract suite runs against, and its ``store`` fixture.

``BACKENDS`` is the registry: one ``Backend`` per store implementation, each a name (the test id, as in
``test_x[sqlite]``) and ``database``, an async context manager that, given the test's ``tmp_path``, yields
the ``DATABASE_URL`` of a fresh, empty database of its own and removes it afterwards. ``store`` opens that
URL through ``db.open_store`` (the way the bot does) and hands the test the ``JobStore`` protocol, never the
concrete class; ``database_url`` is there for tests that open and close the store themselves.

Adding PostgreSQL is one entry::

    @contextlib.asynccontextmanager
    async def postgresql_database(tmp_path: Path) -> AsyncIterator[str]:
        server = os.environ.get("VEO_TEST_POSTGRES_URL")  # e.g. postgresql://veo@localhost/postgres
        if not server:
            pytest.skip("VEO_TEST_POSTGRES_URL is not set")
        name = f"veo_contract_{uuid.uuid4().hex}"
        ...  # CREATE DATABASE name on the server
        try:
            yield <the server URL with its database replaced by name>
        finally:
            ...  # DROP DATABASE name (WITH FORCE)

    BACKENDS = (Backend("sqlite", sqlite_database), Backend("postgresql", postgresql_database))

A database per test keeps tests independent, as a fresh SQLite file does; CI sets the variable where it
starts a PostgreSQL server, and a machine without one skips those ids instead of failing.

``tests/conftest.py`` has a ``store`` fixture of its own, on the concrete SQLite class, for the tests of the
core and of SQLite's internals; inside ``tests/db/contract/`` this one replaces it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.jobs.ports import JobStore
from db import open_store


@dataclass(frozen=True)
class Backend:
    """One store implementation: its test id, and how to get a fresh database's URL for one test."""

    name: str
    database: Callable[[Path], contextlib.AbstractAsyncContextManager[str]]


@contextlib.asynccontextmanager
async def sqlite_database(tmp_path: Path) -> AsyncIterator[str]:
    """A new SQLite file in the test's own directory (pytest removes the directory)."""
    yield f"sqlite:///{tmp_path / 'contract' / 'veo.sqlite3'}"


BACKENDS: tuple[Backend, ...] = (
    Backend("sqlite", sqlite_database),
)


@pytest.fixture(params=BACKENDS, ids=lambda backend: backend.name)
def backend(request: pytest.FixtureRequest) -> Backend:
    """The backend this run of the test is for."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
async def database_url(backend: Backend, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of a fresh, empty database of the backend, for this test only."""
    async with backend.database(tmp_path) as url:
        yield url


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[JobStore]:
    """An open store on a fresh database, seen only through the ``JobStore`` protocol."""
    opened = await open_store(database_url)
    try:
        yield opened
    finally:
        await opened.close()
