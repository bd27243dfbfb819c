"""The job store behind the core's ``JobStore`` interface (``bot.jobs.ports``), chosen by ``DATABASE_URL``.

Faces open it with ``open_store`` and hand it to the runtime; each backend lives in a package of its own
(``db.sqlite``, ``db.postgres``) and passes the same contract suite (``tests/db/contract``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bot.database_url import SQLITE_PREFIX, is_postgres, is_sqlite
from bot.jobs.ports import JobStore
from db.sqlite.store import SqliteJobStore

if TYPE_CHECKING:  # the doctor's record; only the doctor reads a server's settings
    from bot.ops.postgres_checks import PostgresServerFacts


async def open_store(database_url: str) -> JobStore:
    """Open (creating and migrating) the store named by a ``DATABASE_URL``.

    ``sqlite:///path`` is one SQLite file for one process; ``postgresql://…`` (or ``postgres://…``) a PostgreSQL
    database, which needs the ``postgres`` extra (asyncpg).
    """
    if is_sqlite(database_url):
        return await SqliteJobStore.open(Path(database_url.removeprefix(SQLITE_PREFIX)))
    if is_postgres(database_url):
        try:
            from db.postgres.store import PostgresJobStore
        except ImportError as exc:
            raise ValueError("DATABASE_URL names a PostgreSQL database, but asyncpg is not installed: "
                             "pip install 'veo-bot[postgres]'") from exc
        return await PostgresJobStore.open(database_url)
    raise ValueError("DATABASE_URL must be sqlite:///… or postgresql://…")


async def read_postgres_server(database_url: str) -> PostgresServerFacts:
    """The settings of the PostgreSQL server a ``DATABASE_URL`` names, for ``veo-bot doctor`` (needs asyncpg)."""
    from db.postgres.server_facts import read_server_facts

    return await read_server_facts(database_url)
