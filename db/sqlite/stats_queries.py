"""The store's figures for monitoring: how many jobs are in each state, and what the database is."""

from __future__ import annotations

import sqlite3

from bot.jobs.records import JobStatus
from db.sqlite.base import StoreBase


class StatsQueries(StoreBase):
    """Counts for ``/metrics``; reads only."""

    async def count_by_status(self) -> dict[JobStatus, int]:
        """How many jobs the store holds in each state (states with none are left out)."""
        rows = await self._rows("SELECT status, COUNT(*) FROM jobs GROUP BY status")
        return {JobStatus(row[0]): int(row[1]) for row in rows if row[0] in JobStatus.__members__.values()}

    async def describe(self) -> str:
        """The engine and its version, and the schema version the database is at (for ``veo-bot doctor``)."""
        version = await self._scalar("PRAGMA user_version")
        return f"SQLite {sqlite3.sqlite_version}, schema version {int(version)}"
