"""The store's state shared across processes, on SQLite: jobs' input images and named process leases.

One SQLite database serves one process, so a lease here is always free or this process's own; the statements are
the same as PostgreSQL's so that the contract suite holds them to the same meaning.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from bot.jobs.process_leases import ProcessLease
from bot.jobs.provider import ImageInput
from bot.jobs.records import JobStatus
from db.image_kinds import image_rows, kind_order
from db.sqlite.base import StoreBase

# A job's images are read only while it waits to be sent; after that they are spent.
_UNSENT = (JobStatus.QUEUED, JobStatus.SUBMITTING)


def insert_images(conn: sqlite3.Connection, job_id: int, images: Sequence[ImageInput]) -> None:
    """Store a new job's images, in the transaction that inserts the job."""
    conn.executemany(
        "INSERT INTO job_images (job_id, kind, content_type, filename, data) VALUES (?, ?, ?, ?, ?)",
        [(job_id, *row) for row in image_rows(images)],
    )


class SharedStateQueries(StoreBase):
    """Jobs' input images and process leases."""

    async def job_images(self, job_id: int) -> list[ImageInput]:
        """The job's images, first frame then last frame (none when it has none, or they are spent)."""
        rows = await self._rows("SELECT kind, content_type, filename, data FROM job_images WHERE job_id = ?",
                                (job_id,))
        ordered = sorted(rows, key=lambda row: kind_order(row[0]))
        return [ImageInput(data=bytes(row[3]), filename=str(row[2]), content_type=str(row[1])) for row in ordered]

    async def drop_job_images(self, job_id: int) -> None:
        """Forget the job's images (sent, or the job ended before it was)."""
        await self._update("DELETE FROM job_images WHERE job_id = ?", (job_id,))

    async def drop_spent_images(self) -> int:
        """Forget the images of every job no longer waiting to be sent (those a crash left behind); how many."""
        return await self._write(lambda conn: conn.execute(
            "DELETE FROM job_images WHERE job_id IN (SELECT id FROM jobs WHERE status NOT IN (?, ?))",
            _UNSENT).rowcount)

    async def take_process_lease(self, name: str, owner: str, now: float, lease_s: float) -> int | None:
        """Take lease ``name`` for ``owner`` until ``now + lease_s`` if it is free, ran out, or is already
        ``owner``'s (then renewed, same token); return its fencing token, or None while another holds it."""
        return await self._write(lambda conn: _token(conn.execute(
            "INSERT INTO process_leases (name, owner, token, expires_at) VALUES (?, ?, 1, ?)"
            " ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at,"
            " token = CASE WHEN process_leases.owner = excluded.owner AND process_leases.expires_at > ?"
            " THEN process_leases.token ELSE process_leases.token + 1 END"
            " WHERE process_leases.owner = excluded.owner OR process_leases.expires_at <= ? RETURNING token",
            (name, owner, now + lease_s, now, now)).fetchone()))

    async def renew_process_lease(self, name: str, owner: str, token: int, now: float, lease_s: float) -> bool:
        """Extend ``owner``'s lease to ``now + lease_s``; False (nothing changed) when it is no longer theirs
        under ``token`` (it ran out and another process took it)."""
        return await self._update(
            "UPDATE process_leases SET expires_at = MAX(expires_at, ?) WHERE name = ? AND owner = ? AND token = ?",
            (now + lease_s, name, owner, token))

    async def release_process_lease(self, name: str, owner: str, token: int) -> bool:
        """Give the lease up at once (the row stays, expired, so that the token only grows); False when it was
        not ``owner``'s under ``token`` any more."""
        return await self._update(
            "UPDATE process_leases SET owner = '', expires_at = 0 WHERE name = ? AND owner = ? AND token = ?",
            (name, owner, token))

    async def live_process_leases(self, now: float, prefix: str = "") -> list[ProcessLease]:
        """The leases held at ``now`` whose names start with ``prefix``, by name."""
        rows = await self._rows(
            "SELECT name, owner, token, expires_at FROM process_leases WHERE expires_at > ? AND substr(name, 1, ?) = ?"
            " ORDER BY name", (now, len(prefix), prefix))
        return [ProcessLease(str(r[0]), str(r[1]), int(r[2]), float(r[3])) for r in rows]


def _token(row: sqlite3.Row | None) -> int | None:
    return int(row[0]) if row is not None else None
