"""The store's queries on post intents (``bot.jobs.post_intents``): one row per job and kind of message."""

from __future__ import annotations

from bot.jobs.post_intents import PostIntent
from db.sqlite.base import StoreBase


class PostIntentQueries(StoreBase):
    """What a face is about to post, or has posted, for each job: written before the call, read after a crash."""

    async def record_post_intent(self, intent: PostIntent, *, token: int | None = None) -> bool:
        """Make the job's row of ``intent.kind`` exactly ``intent``; with ``token``, only while the job's latest
        claim is that one (False once another process took the job over, or when there is no such job)."""
        i = intent
        return await self._update(
            "INSERT INTO post_intents (job_id, kind, stage, file_id, message_id, updated_at)"
            " SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS"
            " (SELECT 1 FROM jobs WHERE id = ? AND (? IS NULL OR lease_token = ?))"
            " ON CONFLICT (job_id, kind) DO UPDATE SET stage = excluded.stage, file_id = excluded.file_id,"
            " message_id = excluded.message_id, updated_at = excluded.updated_at",
            (i.job_id, i.kind, i.stage, i.file_id, i.message_id, i.updated_at, i.job_id, token, token),
        )

    async def post_intent(self, job_id: int, kind: str) -> PostIntent | None:
        """The job's row of this kind, or None when nothing of the kind was ever posted."""
        rows = await self._rows(
            "SELECT job_id, kind, stage, updated_at, file_id, message_id FROM post_intents"
            " WHERE job_id = ? AND kind = ?", (job_id, kind))
        if not rows:
            return None
        job, kind_, stage, updated_at, file_id, message_id = rows[0]
        return PostIntent(int(job), str(kind_), str(stage), float(updated_at), file_id, message_id)
