"""``StoreBase``: the job store's connection, its transaction helper and small query helpers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, Self

import aiosqlite

from db.connection import open_database


def marks(values: Sequence[object]) -> str:
    """``?, ?, ?`` for an IN list of ``values`` (the values themselves are always bound)."""
    return ", ".join("?" for _ in values)


class StoreBase:
    """One long-lived SQLite connection shared by the store's query groups."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        # Statements of one transaction must not interleave with another coroutine's on the shared
        # connection; single statements are atomic on their own.
        self._tx_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path) -> Self:
        """Open and migrate the database file at ``path``."""
        return cls(await open_database(path))

    async def close(self) -> None:
        """Close the connection."""
        await self._conn.close()

    @contextlib.asynccontextmanager
    async def _writing(self) -> AsyncIterator[None]:
        """Hold the write lock, with no transaction left open on the connection.

        A task cancelled while its BEGIN or COMMIT ran in aiosqlite's thread can leave a transaction open
        with nobody to finish it; later single statements would silently join it. Whoever holds the lock
        is the only writer, so an open transaction seen here is abandoned: roll it back.
        """
        async with self._tx_lock:
            if self._conn.in_transaction:
                await self._conn.execute("ROLLBACK")
            yield

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[None]:
        """One write transaction (BEGIN IMMEDIATE: other writers wait), rolled back on any error."""
        async with self._writing():
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
                await self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    await self._conn.execute("ROLLBACK")
                raise

    async def _scalar(self, sql: str, params: Sequence[object] = ()) -> Any:
        async with self._conn.execute(sql, params) as cur:
            row = await cur.fetchone()
        return row[0] if row else None

    async def _rows(self, sql: str, params: Sequence[object] = ()) -> list[aiosqlite.Row]:
        async with self._conn.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def _update(self, sql: str, params: Sequence[object]) -> bool:
        async with self._writing(), self._conn.execute(sql, params) as cur:
            return cur.rowcount > 0
