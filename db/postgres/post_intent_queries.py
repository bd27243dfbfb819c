"""The store's queries on post intents (``bot.jobs.post_intents``): one row per job and kind of message."""

from __future__ import annotations

from bot.jobs.post_intents import PostIntent
from db.postgres.base import PostgresStoreBase


class PostIntentQueries(PostgresStoreBase):
    """What a face is about to post, or has posted, for each job: written before the call, read after a crash."""

    async def record_post_intent(self, intent: PostIntent, *, token: int | None = None) -> bool:
        """Make the job's row of ``intent.kind`` exactly ``intent``; with ``token``, only while the job's latest
        claim is that one (False once another process took the job over, or when there is no such job).

        The job's row is share-locked while the intent is written: a claim taking the job over meanwhile waits,
        or is seen (READ COMMITTED checks the token again on the row it waited for).
        """
        i = intent
        return await self._update(
            "WITH fence AS (SELECT id FROM jobs WHERE id = $1 AND ($7::bigint IS NULL OR lease_token = $7::bigint)"
            " FOR SHARE)"
            " INSERT INTO post_intents (job_id, kind, stage, file_id, message_id, updated_at)"
            " SELECT fence.id, $2, $3, $4, $5, $6 FROM fence"
            " ON CONFLICT (job_id, kind) DO UPDATE SET stage = excluded.stage, file_id = excluded.file_id,"
            " message_id = excluded.message_id, updated_at = excluded.updated_at",
            i.job_id, i.kind, i.stage, i.file_id, i.message_id, i.updated_at, token)

    async def post_intent(self, job_id: int, kind: str) -> PostIntent | None:
        """The job's row of this kind, or None when nothing of the kind was ever posted."""
        row = await self._pool.fetchrow(
            "SELECT job_id, kind, stage, updated_at, file_id, message_id FROM post_intents"
            " WHERE job_id = $1 AND kind = $2", job_id, kind)
        if row is None:
            return None
        return PostIntent(int(row["job_id"]), row["kind"], row["stage"], float(row["updated_at"]), row["file_id"],
                          row["message_id"])
