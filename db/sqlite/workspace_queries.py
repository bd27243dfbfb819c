"""The store's per-workspace queries: limit overrides, the audit log, quota counts and usage."""

from __future__ import annotations

import datetime
import sqlite3
from typing import Any

from bot.jobs.policy import AuditEntry, DailyUsageRow, UsageRow, WorkspaceSettings
from bot.jobs.records import Workspace
from db.sqlite.base import StoreBase, scalar
from db.workspace_columns import BILLED_SQL, EPOCH, LIST_COLUMNS, SETTINGS_COLUMNS, decode_list, encode_list


def _encode(name: str, value: Any) -> Any:
    if name in LIST_COLUMNS and value is not None:
        return encode_list(value)
    if name == "paused":
        return int(bool(value))
    return value


def _decode(name: str, value: Any) -> Any:
    if name in LIST_COLUMNS and value is not None:
        return decode_list(value)
    if name == "paused":
        return bool(value)
    return value


def quota_used(conn: sqlite3.Connection, workspace: Workspace, user_id: str, since: float) -> tuple[int, int]:
    """Jobs counted against the daily quotas since ``since``: (this member's, the whole workspace's)."""
    platform, workspace_id = workspace
    user = scalar(
        conn, "SELECT COUNT(*) FROM jobs WHERE workspace_id = ? AND platform = ? AND user_id = ?"
        " AND created_at >= ? AND refunded = 0",
        (workspace_id, platform, user_id, since),
    )
    everyone = scalar(
        conn, "SELECT COUNT(*) FROM jobs WHERE workspace_id = ? AND platform = ? AND created_at >= ? AND refunded = 0",
        (workspace_id, platform, since),
    )
    return int(user), int(everyone)


def last_request_at(conn: sqlite3.Connection, workspace: Workspace, user_id: str) -> float | None:
    """When the member last asked for a video in the workspace (for the cooldown)."""
    platform, workspace_id = workspace
    value = scalar(conn, "SELECT MAX(created_at) FROM jobs WHERE workspace_id = ? AND platform = ? AND user_id = ?",
                   (workspace_id, platform, user_id))
    return float(value) if value is not None else None


def _insert_audit(
    conn: sqlite3.Connection, workspace: Workspace, actor_id: str, action: str, details: str, job_id: int | None,
    now: float,
) -> None:
    conn.execute(
        "INSERT INTO audit_log (platform, workspace_id, actor_id, action, details, job_id, at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (workspace.platform, workspace.id, actor_id, action, details, job_id, now),
    )


class WorkspaceQueries(StoreBase):
    """Per-workspace settings, audit entries and usage figures."""

    async def workspace_settings(self, workspace: Workspace) -> WorkspaceSettings:
        """The workspace's overrides (all None when it never changed anything)."""
        rows = await self._rows(
            f"SELECT {', '.join(SETTINGS_COLUMNS)} FROM workspace_settings WHERE workspace_id = ? AND platform = ?",
            (workspace.id, workspace.platform),
        )
        if not rows:
            return WorkspaceSettings(platform=workspace.platform, workspace_id=workspace.id)
        return WorkspaceSettings(platform=workspace.platform, workspace_id=workspace.id,
                                 **{name: _decode(name, rows[0][name]) for name in SETTINGS_COLUMNS})

    async def save_workspace_settings(
        self, settings: WorkspaceSettings, *, actor_id: str, action: str, details: str, now: float
    ) -> None:
        """Store a workspace's overrides and the audit entry that explains the change, atomically."""
        values = [_encode(name, getattr(settings, name)) for name in SETTINGS_COLUMNS]
        values[SETTINGS_COLUMNS.index("updated_at")] = now
        values[SETTINGS_COLUMNS.index("updated_by")] = actor_id
        assignments = ", ".join(f"{name} = excluded.{name}" for name in SETTINGS_COLUMNS)
        upsert = (f"INSERT INTO workspace_settings (platform, workspace_id, {', '.join(SETTINGS_COLUMNS)})"
                  f" VALUES (?, ?, {', '.join('?' for _ in SETTINGS_COLUMNS)})"
                  f" ON CONFLICT (platform, workspace_id) DO UPDATE SET {assignments}")
        workspace = Workspace(settings.platform, settings.workspace_id)

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(upsert, (settings.platform, settings.workspace_id, *values))
            _insert_audit(conn, workspace, actor_id, action, details, None, now)
        await self._write(work)

    async def add_audit(
        self, workspace: Workspace, actor_id: str, action: str, details: str, now: float, job_id: int | None = None
    ) -> None:
        """Record a moderator or admin action."""
        await self._write(lambda conn: _insert_audit(conn, workspace, actor_id, action, details, job_id, now))

    async def audit_entries(self, workspace: Workspace, limit: int) -> list[AuditEntry]:
        """The workspace's most recent audit entries, newest first."""
        rows = await self._rows(
            "SELECT id, platform, workspace_id, actor_id, action, details, job_id, at FROM audit_log"
            " WHERE workspace_id = ? AND platform = ? ORDER BY id DESC LIMIT ?",
            (workspace.id, workspace.platform, limit),
        )
        return [AuditEntry(**dict(r)) for r in rows]

    async def quota_used(self, workspace: Workspace, user_id: str, since: float) -> tuple[int, int]:
        """Jobs counted against the daily quotas since ``since``: (this member's, the whole workspace's)."""
        return await self._read(lambda conn: quota_used(conn, workspace, user_id, since))

    async def last_request_at(self, workspace: Workspace, user_id: str) -> float | None:
        """When the member last asked for a video in the workspace (for the cooldown)."""
        return await self._read(lambda conn: last_request_at(conn, workspace, user_id))

    async def usage(self, workspace: Workspace, since: float) -> list[UsageRow]:
        """Jobs per member and model since ``since``, and how many are likely billed by the provider.

        Likely billed: a video was made (completed or delivered), or the job was cancelled after the
        provider accepted it. Failures and refusals are taken as not billed.
        """
        rows = await self._rows(
            f"SELECT user_id, model, COUNT(*) AS jobs, {BILLED_SQL} AS billed"
            " FROM jobs WHERE workspace_id = ? AND platform = ? AND created_at >= ? GROUP BY user_id, model"
            " ORDER BY billed DESC, jobs DESC",
            (workspace.id, workspace.platform, since),
        )
        return [UsageRow(user_id=r["user_id"], model=r["model"], jobs=r["jobs"], billed_jobs=r["billed"]) for r in rows]

    async def usage_by_day(self, workspace: Workspace, since: float) -> list[DailyUsageRow]:
        """Jobs per UTC day and model since ``since`` (by when they were asked for), oldest day first.

        Likely billed jobs are counted as ``usage`` counts them.
        """
        # Whole days since the epoch: the UTC calendar day, as the daily quotas count them.
        rows = await self._rows(
            f"SELECT CAST(created_at / 86400 AS INTEGER) AS day, model, COUNT(*) AS jobs, {BILLED_SQL} AS billed"
            " FROM jobs WHERE workspace_id = ? AND platform = ? AND created_at >= ? GROUP BY day, model"
            " ORDER BY day, model",
            (workspace.id, workspace.platform, since),
        )
        return [DailyUsageRow(day=EPOCH + datetime.timedelta(days=int(r["day"])), model=r["model"], jobs=r["jobs"],
                              billed_jobs=r["billed"]) for r in rows]
