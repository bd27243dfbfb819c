"""The store's state shared across processes, on PostgreSQL: jobs' input images and named process leases.

A lease is taken, renewed and released with one statement each; racing takers of a free lease meet on its row (the
primary key), so exactly one of them gets it.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.jobs.process_leases import ProcessLease
from bot.jobs.provider import ImageInput
from db.image_kinds import image_rows, kind_order
from db.postgres.base import Connection, PostgresStoreBase, rowcount


async def insert_images(conn: Connection, job_id: int, images: Sequence[ImageInput]) -> None:
    """Store a new job's images, in the transaction that inserts the job."""
    rows = image_rows(images)
    if rows:
        await conn.executemany(
            "INSERT INTO job_images (job_id, kind, content_type, filename, data) VALUES ($1, $2, $3, $4, $5)",
            [(job_id, *row) for row in rows])


class SharedStateQueries(PostgresStoreBase):
    """Jobs' input images and process leases."""

    async def job_images(self, job_id: int) -> list[ImageInput]:
        """The job's images, first frame then last frame (none when it has none, or they are spent)."""
        rows = await self._rows("SELECT kind, content_type, filename, data FROM job_images WHERE job_id = $1",
                                job_id)
        ordered = sorted(rows, key=lambda row: kind_order(row["kind"]))
        return [ImageInput(data=bytes(r["data"]), filename=r["filename"], content_type=r["content_type"])
                for r in ordered]

    async def drop_job_images(self, job_id: int) -> None:
        """Forget the job's images (sent, or the job ended before it was)."""
        await self._update("DELETE FROM job_images WHERE job_id = $1", job_id)

    async def drop_spent_images(self) -> int:
        """Forget the images of every job no longer waiting to be sent (those a crash left behind); how many."""
        return rowcount(await self._pool.execute(
            "DELETE FROM job_images i USING jobs j WHERE j.id = i.job_id"
            " AND j.status NOT IN ('queued', 'submitting')"))

    async def take_process_lease(self, name: str, owner: str, now: float, lease_s: float) -> int | None:
        """Take lease ``name`` for ``owner`` until ``now + lease_s`` if it is free, ran out, or is already
        ``owner``'s (then renewed, same token); return its fencing token, or None while another holds it."""
        value = await self._scalar(
            "INSERT INTO process_leases AS p (name, owner, token, expires_at) VALUES ($1, $2, 1, $3)"
            " ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at,"
            " token = CASE WHEN p.owner = excluded.owner AND p.expires_at > $4 THEN p.token ELSE p.token + 1 END"
            " WHERE p.owner = excluded.owner OR p.expires_at <= $4 RETURNING token",
            name, owner, now + lease_s, now)
        return int(value) if value is not None else None

    async def renew_process_lease(self, name: str, owner: str, token: int, now: float, lease_s: float) -> bool:
        """Extend ``owner``'s lease to ``now + lease_s``; False (nothing changed) when it is no longer theirs
        under ``token`` (it ran out and another process took it)."""
        return await self._update(
            "UPDATE process_leases SET expires_at = GREATEST(expires_at, $1) WHERE name = $2 AND owner = $3"
            " AND token = $4", now + lease_s, name, owner, token)

    async def release_process_lease(self, name: str, owner: str, token: int) -> bool:
        """Give the lease up at once (the row stays, expired, so that the token only grows); False when it was
        not ``owner``'s under ``token`` any more."""
        return await self._update(
            "UPDATE process_leases SET owner = '', expires_at = 0 WHERE name = $1 AND owner = $2 AND token = $3",
            name, owner, token)

    async def live_process_leases(self, now: float, prefix: str = "") -> list[ProcessLease]:
        """The leases held at ``now`` whose names start with ``prefix``, by name."""
        rows = await self._rows(
            "SELECT name, owner, token, expires_at FROM process_leases WHERE expires_at > $1"
            " AND left(name, $2) = $3 ORDER BY name", now, len(prefix), prefix)
        return [ProcessLease(r["name"], r["owner"], int(r["token"]), float(r["expires_at"])) for r in rows]
