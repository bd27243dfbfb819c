"""The store's queries on members' preferences (``/veo-prefer``): one row per member and workspace."""

from __future__ import annotations

import sqlite3

from bot.jobs.preferences import MemberPreferences
from bot.jobs.records import Workspace
from db.sqlite.base import StoreBase

_KEY = "platform = ? AND workspace_id = ? AND user_id = ?"


def _read(conn: sqlite3.Connection, workspace: Workspace, user_id: str) -> MemberPreferences:
    row = conn.execute(
        f"SELECT model, orientation, dm_when_ready, updated_at FROM member_preferences WHERE {_KEY}",
        (workspace.platform, workspace.id, user_id),
    ).fetchone()
    if row is None:
        return MemberPreferences(workspace.platform, workspace.id, user_id)
    model, orientation, dm_when_ready, updated_at = row
    return MemberPreferences(workspace.platform, workspace.id, user_id, model=model, orientation=orientation,
                             dm_when_ready=bool(dm_when_ready), updated_at=float(updated_at))


class PreferenceQueries(StoreBase):
    """Members' own defaults per workspace: read, save, reset."""

    async def member_preferences(self, workspace: Workspace, user_id: str) -> MemberPreferences:
        """The member's preferences in the workspace (every field at its default when none are saved)."""
        return await self._read(lambda conn: _read(conn, workspace, user_id))

    async def save_member_preferences(self, preferences: MemberPreferences, now: float) -> MemberPreferences:
        """Store the member's preferences whole (replacing earlier ones) and return them as stored."""
        p = preferences

        def work(conn: sqlite3.Connection) -> MemberPreferences:
            conn.execute(
                "INSERT INTO member_preferences (platform, workspace_id, user_id, model, orientation, dm_when_ready,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (platform, workspace_id, user_id) DO UPDATE"
                " SET model = excluded.model, orientation = excluded.orientation,"
                " dm_when_ready = excluded.dm_when_ready, updated_at = excluded.updated_at",
                (p.platform, p.workspace_id, p.user_id, p.model or None, p.orientation or None, int(p.dm_when_ready),
                 now),
            )
            return _read(conn, p.workspace, p.user_id)

        return await self._write(work)

    async def reset_member_preferences(self, workspace: Workspace, user_id: str) -> bool:
        """Forget the member's preferences in the workspace; False when there were none."""
        return await self._update(f"DELETE FROM member_preferences WHERE {_KEY}",
                                  (workspace.platform, workspace.id, user_id))

    async def forget_preferred_model(self, workspace: Workspace, user_id: str, model: str, now: float) -> bool:
        """Clear the member's preferred model if it is still ``model``; True when this call cleared it."""
        return await self._update(
            f"UPDATE member_preferences SET model = NULL, updated_at = ? WHERE {_KEY} AND model = ?",
            (now, workspace.platform, workspace.id, user_id, model),
        )
