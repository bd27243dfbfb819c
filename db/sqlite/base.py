"""``StoreBase``: the job store's connection (through ``db.sqlite.group_commit``) and small query helpers."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Self, TypeVar

from db.sqlite.connection import DatabaseLock, open_database
from db.sqlite.group_commit import GroupCommit

T = TypeVar("T")


def marks(values: Sequence[object]) -> str:
    """``?, ?, ?`` for an IN list of ``values`` (the values themselves are always bound)."""
    return ", ".join("?" for _ in values)


def scalar(conn: sqlite3.Connection, sql: str, params: Sequence[object] = ()) -> Any:
    """The first column of the first row, or None (on the connection's thread)."""
    row = conn.execute(sql, params).fetchone()
    return row[0] if row else None


class StoreBase:
    """One long-lived SQLite connection, on aiosqlite's thread, shared by the store's query groups.

    Every method is one unit on that thread (``db.sqlite.group_commit``): a read, or a write whose statements
    commit together, atomically, with the other writes waiting at the time.
    """

    def __init__(self, db: GroupCommit, lock: DatabaseLock | None = None) -> None:
        self._db = db
        self._lock = lock

    @classmethod
    async def open(cls, path: Path) -> Self:
        """Open and migrate the database file at ``path``, locked for this process until ``close``.

        Raises ``StoreInUse`` (before touching the database) when another process has it open.
        """
        lock = DatabaseLock.acquire(path)
        try:
            db = GroupCommit(lambda: open_database(path))
            await db.start()
        except BaseException:
            lock.release()
            raise
        return cls(db, lock)

    async def close(self) -> None:
        """Finish what is queued, close the connection, and release the database for the next process."""
        try:
            await self._db.close()
        finally:
            if self._lock is not None:
                self._lock.release()

    async def _read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await self._db.read(work)

    async def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await self._db.write(work)

    async def _scalar(self, sql: str, params: Sequence[object] = ()) -> Any:
        return await self._db.read(lambda conn: scalar(conn, sql, params))

    async def _rows(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        return await self._db.read(lambda conn: conn.execute(sql, params).fetchall())

    async def _update(self, sql: str, params: Sequence[object]) -> bool:
        return await self._db.write(lambda conn: conn.execute(sql, params).rowcount > 0)
