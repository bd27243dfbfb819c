"""The job store: connection setup, numbered migrations, and the one class that holds all SQL.

Front-ends open the store with ``open_store(DATABASE_URL)`` and type it as ``Store``, so that another
backend (PostgreSQL, for several bot processes sharing one queue) can be chosen here by the URL alone.
"""

from __future__ import annotations

from pathlib import Path

from db.store import SqliteJobStore

# The store's full interface as the app uses it; today its one implementation.
Store = SqliteJobStore


async def open_store(database_url: str) -> Store:
    """Open (creating and migrating) the store named by a ``DATABASE_URL``."""
    if database_url.startswith("sqlite:///"):
        return await SqliteJobStore.open(Path(database_url.removeprefix("sqlite:///")))
    raise ValueError("only sqlite:/// database URLs are supported")
