"""``PostgresStoreBase``: the store's connection pool and small query helpers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from db.postgres.connection import open_pool

# A connection of the pool (inside a transaction), or the pool itself (one statement on any connection).
Connection: TypeAlias = "asyncpg.Connection[Any] | PoolConnectionProxy[Any]"
Executor: TypeAlias = "asyncpg.Connection[Any] | PoolConnectionProxy[Any] | asyncpg.Pool[Any]"


def rowcount(status: str) -> int:
    """Rows a statement touched, from asyncpg's command tag (``UPDATE 3``, ``DELETE 0``, ``INSERT 0 1``)."""
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0


class PostgresStoreBase:
    """A pool of connections to one PostgreSQL database, shared by the store's query groups.

    Every method is one statement (atomic by itself), or one transaction in READ COMMITTED (the default).
    """

    def __init__(self, pool: asyncpg.Pool[Any], url: str | None = None) -> None:
        self._pool = pool
        self._url = url  # for the connections outside the pool (the wake-up listener); None: no such connections

    @classmethod
    async def open(cls, url: str) -> Self:
        """Connect to the database at ``url`` and migrate it (``StoreUnavailable`` when that fails)."""
        return cls(await open_pool(url), url)

    async def close(self) -> None:
        """Wait for the calls under way, then close every connection."""
        await self._pool.close()

    async def _scalar(self, sql: str, *params: object) -> Any:
        return await self._pool.fetchval(sql, *params)

    async def _rows(self, sql: str, *params: object) -> list[asyncpg.Record]:
        return await self._pool.fetch(sql, *params)

    async def _update(self, sql: str, *params: object) -> bool:
        return rowcount(await self._pool.execute(sql, *params)) > 0


def texts(values: Sequence[str]) -> list[str]:
    """A text array parameter (``= ANY($n::text[])``) from status names or ids."""
    return [str(v) for v in values]
