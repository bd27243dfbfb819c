"""The store's figures for monitoring: how many jobs are in each state."""

from __future__ import annotations

from bot.jobs.records import JobStatus
from db.sqlite.base import StoreBase


class StatsQueries(StoreBase):
    """Counts for ``/metrics``; reads only."""

    async def count_by_status(self) -> dict[JobStatus, int]:
        """How many jobs the store holds in each state (states with none are left out)."""
        rows = await self._rows("SELECT status, COUNT(*) FROM jobs GROUP BY status")
        return {JobStatus(row[0]): int(row[1]) for row in rows if row[0] in JobStatus.__members__.values()}
