"""The store's queries on members' preferences (``/veo-prefer``): one row per member and workspace."""

from __future__ import annotations

from bot.jobs.preferences import MemberPreferences
from bot.jobs.records import Workspace
from db.postgres.base import Executor, PostgresStoreBase

_KEY = "platform = $1 AND workspace_id = $2 AND user_id = $3"


async def _read(conn: Executor, workspace: Workspace, user_id: str) -> MemberPreferences:
    row = await conn.fetchrow(
        f"SELECT model, orientation, dm_when_ready, updated_at FROM member_preferences WHERE {_KEY}",
        workspace.platform, workspace.id, user_id)
    if row is None:
        return MemberPreferences(workspace.platform, workspace.id, user_id)
    return MemberPreferences(workspace.platform, workspace.id, user_id, model=row["model"],
                             orientation=row["orientation"], dm_when_ready=bool(row["dm_when_ready"]),
                             updated_at=float(row["updated_at"]))


class PreferenceQueries(PostgresStoreBase):
    """Members' own defaults per workspace: read, save, reset."""

    async def member_preferences(self, workspace: Workspace, user_id: str) -> MemberPreferences:
        """The member's preferences in the workspace (every field at its default when none are saved)."""
        return await _read(self._pool, workspace, user_id)

    async def save_member_preferences(self, preferences: MemberPreferences, now: float) -> MemberPreferences:
        """Store the member's preferences whole (replacing earlier ones) and return them as stored."""
        p = preferences
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO member_preferences (platform, workspace_id, user_id, model, orientation, dm_when_ready,"
                " updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (platform, workspace_id, user_id)"
                " DO UPDATE SET model = excluded.model, orientation = excluded.orientation,"
                " dm_when_ready = excluded.dm_when_ready, updated_at = excluded.updated_at",
                p.platform, p.workspace_id, p.user_id, p.model or None, p.orientation or None, bool(p.dm_when_ready),
                now)
            return await _read(conn, p.workspace, p.user_id)

    async def reset_member_preferences(self, workspace: Workspace, user_id: str) -> bool:
        """Forget the member's preferences in the workspace; False when there were none."""
        return await self._update(f"DELETE FROM member_preferences WHERE {_KEY}",
                                  workspace.platform, workspace.id, user_id)

    async def forget_preferred_model(self, workspace: Workspace, user_id: str, model: str, now: float) -> bool:
        """Clear the member's preferred model if it is still ``model``; True when this call cleared it."""
        return await self._update(
            f"UPDATE member_preferences SET model = NULL, updated_at = $4 WHERE {_KEY} AND model = $5",
            workspace.platform, workspace.id, user_id, now, model)
