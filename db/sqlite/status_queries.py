"""The store's queries on a job's status message: who posts it first, and what it shows, fenced by the lease."""

from __future__ import annotations

from db.sqlite.base import StoreBase

# The same fence as the worker steps' writes (``db.sqlite.store``): refused once another claim has taken the job,
# None for an unfenced write (a member's command). Two parameters: (token, token).
_FENCED = " AND (? IS NULL OR lease_token = ?)"


class StatusMessageQueries(StoreBase):
    """A job's status message: the right to post it first, and what it shows now."""

    async def begin_status_post(self, job_id: int, now: float, hold_s: float, *, token: int | None = None) -> bool:
        """Take the right to post the job's first status message, for ``hold_s`` seconds: True for one caller at a
        time; False once the message exists, while another caller holds the right, or (with ``token``) once another
        claim has taken the job.

        Before the first post ``status_edited_at`` is when a post was last begun: a post whose process died before
        recording it may be tried again after ``hold_s``.
        """
        return await self._update(
            "UPDATE jobs SET status_edited_at = ? WHERE id = ? AND status_message_id IS NULL"
            f" AND (status_edited_at IS NULL OR status_edited_at <= ?){_FENCED}",
            (now, job_id, now - hold_s, token, token),
        )

    async def abandon_status_post(self, job_id: int, began_at: float) -> bool:
        """Give up the right to post the first status message taken at ``began_at`` (the post failed), so that the
        next refresh may try at once; False when the message exists or another caller has taken the right since."""
        return await self._update(
            "UPDATE jobs SET status_edited_at = NULL WHERE id = ? AND status_message_id IS NULL"
            " AND status_edited_at = ?",
            (job_id, began_at),
        )

    async def set_status_shown(self, job_id: int, rendered: str, now: float, *, message_id: str | None = None,
                               token: int | None = None) -> bool:
        """Remember what the status message shows now (and its id, when it was just posted), in one write;
        refused (False, nothing changed) with a ``token`` another claim has superseded."""
        return await self._update(
            "UPDATE jobs SET status_rendered = ?, status_edited_at = ?,"
            f" status_message_id = COALESCE(?, status_message_id) WHERE id = ?{_FENCED}",
            (rendered, now, message_id, job_id, token, token),
        )
