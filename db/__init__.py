"""The job store behind the core's ``JobStore`` interface (``bot.jobs.ports``), chosen by ``DATABASE_URL``.

Faces open it with ``open_store`` and hand it to the runtime; each backend lives in a package of its own
(``db.sqlite``) and passes the same contract suite (``tests/db/contract``).
"""

from __future__ import annotations

from pathlib import Path

from bot.jobs.ports import JobStore
from db.sqlite.store import SqliteJobStore


async def open_store(database_url: str) -> JobStore:
    """Open (creating and migrating) the store named by a ``DATABASE_URL``."""
    if database_url.startswith("sqlite:///"):
        return await SqliteJobStore.open(Path(database_url.removeprefix("sqlite:///")))
    raise ValueError("only sqlite:/// database URLs are supported")
