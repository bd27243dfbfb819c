"""The store's per-workspace queries: limit overrides, the audit log, quota counts and usage."""

from __future__ import annotations

import datetime
from typing import Any

from bot.jobs.policy import AuditEntry, DailyUsageRow, UsageRow, WorkspaceSettings
from bot.jobs.records import Workspace
from db.postgres.base import Executor, PostgresStoreBase
from db.postgres.wakeups import NOTIFY_WAKE
from db.workspace_columns import BILLED_SQL, EPOCH, LIST_COLUMNS, SETTINGS_COLUMNS, decode_list, encode_list

# Every column bound ($3 onwards, after platform and workspace id); only names from SETTINGS_COLUMNS in the text.
_BOUND = tuple(f"${n}" for n in range(3, len(SETTINGS_COLUMNS) + 3))
_UPSERT = (f"INSERT INTO workspace_settings (platform, workspace_id, {', '.join(SETTINGS_COLUMNS)})"
           f" VALUES ($1, $2, {', '.join(_BOUND)})"
           f" ON CONFLICT (platform, workspace_id) DO UPDATE SET"
           f" {', '.join(f'{name} = excluded.{name}' for name in SETTINGS_COLUMNS)}")


def _encode(name: str, value: Any) -> Any:
    if name in LIST_COLUMNS and value is not None:
        return encode_list(value)
    if name == "paused":
        return bool(value)
    if name == "cooldown_seconds" and value is not None:
        return float(value)
    return value


def _decode(name: str, value: Any) -> Any:
    if name in LIST_COLUMNS and value is not None:
        return decode_list(value)
    return value


async def quota_used(conn: Executor, workspace: Workspace, user_id: str, since: float) -> tuple[int, int]:
    """Jobs counted against the daily quotas since ``since``: (this member's, the whole workspace's)."""
    row = await conn.fetchrow(
        "SELECT COUNT(*) FILTER (WHERE user_id = $3), COUNT(*) FROM jobs"
        " WHERE workspace_id = $1 AND platform = $2 AND created_at >= $4 AND NOT refunded",
        workspace.id, workspace.platform, user_id, since)
    assert row is not None
    return int(row[0]), int(row[1])


async def last_request_at(conn: Executor, workspace: Workspace, user_id: str) -> float | None:
    """When the member last asked for a video in the workspace (for the cooldown)."""
    value = await conn.fetchval(
        "SELECT MAX(created_at) FROM jobs WHERE workspace_id = $1 AND platform = $2 AND user_id = $3",
        workspace.id, workspace.platform, user_id)
    return float(value) if value is not None else None


async def _insert_audit(conn: Executor, workspace: Workspace, actor_id: str, action: str, details: str,
                        job_id: int | None, now: float) -> None:
    await conn.execute(
        "INSERT INTO audit_log (platform, workspace_id, actor_id, action, details, job_id, at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        workspace.platform, workspace.id, actor_id, action, details, job_id, now)


class WorkspaceQueries(PostgresStoreBase):
    """Per-workspace settings, audit entries and usage figures."""

    async def workspace_settings(self, workspace: Workspace) -> WorkspaceSettings:
        """The workspace's overrides (all None when it never changed anything)."""
        row = await self._pool.fetchrow(
            f"SELECT {', '.join(SETTINGS_COLUMNS)} FROM workspace_settings WHERE workspace_id = $1 AND platform = $2",
            workspace.id, workspace.platform)
        if row is None:
            return WorkspaceSettings(platform=workspace.platform, workspace_id=workspace.id)
        return WorkspaceSettings(platform=workspace.platform, workspace_id=workspace.id,
                                 **{name: _decode(name, row[name]) for name in SETTINGS_COLUMNS})

    async def save_workspace_settings(
        self, settings: WorkspaceSettings, *, actor_id: str, action: str, details: str, now: float
    ) -> None:
        """Store a workspace's overrides and the audit entry that explains the change, atomically."""
        values = [_encode(name, getattr(settings, name)) for name in SETTINGS_COLUMNS]
        values[SETTINGS_COLUMNS.index("updated_at")] = now
        values[SETTINGS_COLUMNS.index("updated_by")] = actor_id
        workspace = Workspace(settings.platform, settings.workspace_id)
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(_UPSERT, settings.platform, settings.workspace_id, *values)
            await _insert_audit(conn, workspace, actor_id, action, details, None, now)
            # A pause lifted or caps raised may let queued jobs start: wake every process's worker (at commit).
            await conn.execute(NOTIFY_WAKE)

    async def add_audit(
        self, workspace: Workspace, actor_id: str, action: str, details: str, now: float, job_id: int | None = None
    ) -> None:
        """Record a moderator or admin action."""
        await _insert_audit(self._pool, workspace, actor_id, action, details, job_id, now)

    async def audit_entries(self, workspace: Workspace, limit: int) -> list[AuditEntry]:
        """The workspace's most recent audit entries, newest first."""
        rows = await self._rows(
            "SELECT id, platform, workspace_id, actor_id, action, details, job_id, at FROM audit_log"
            " WHERE workspace_id = $1 AND platform = $2 ORDER BY id DESC LIMIT $3",
            workspace.id, workspace.platform, limit)
        return [AuditEntry(**dict(r)) for r in rows]

    async def quota_used(self, workspace: Workspace, user_id: str, since: float) -> tuple[int, int]:
        """Jobs counted against the daily quotas since ``since``: (this member's, the whole workspace's)."""
        return await quota_used(self._pool, workspace, user_id, since)

    async def last_request_at(self, workspace: Workspace, user_id: str) -> float | None:
        """When the member last asked for a video in the workspace (for the cooldown)."""
        return await last_request_at(self._pool, workspace, user_id)

    async def usage(self, workspace: Workspace, since: float) -> list[UsageRow]:
        """Jobs per member and model since ``since``, and how many are likely billed by the provider.

        Likely billed: a video was made (completed or delivered), or the job was cancelled after the
        provider accepted it. Failures and refusals are taken as not billed.
        """
        rows = await self._rows(
            f"SELECT user_id, model, COUNT(*) AS jobs, {BILLED_SQL} AS billed"
            " FROM jobs WHERE workspace_id = $1 AND platform = $2 AND created_at >= $3 GROUP BY user_id, model"
            " ORDER BY billed DESC, jobs DESC",
            workspace.id, workspace.platform, since)
        return [UsageRow(user_id=r["user_id"], model=r["model"], jobs=int(r["jobs"]), billed_jobs=int(r["billed"]))
                for r in rows]

    async def usage_by_day(self, workspace: Workspace, since: float) -> list[DailyUsageRow]:
        """Jobs per UTC day and model since ``since`` (by when they were asked for), oldest day first.

        Likely billed jobs are counted as ``usage`` counts them.
        """
        # Whole days since the epoch: the UTC calendar day, as the daily quotas count them. floor(), not a
        # cast: PostgreSQL rounds a double to the nearest integer where SQLite truncates.
        rows = await self._rows(
            f"SELECT floor(created_at / 86400)::bigint AS day, model, COUNT(*) AS jobs, {BILLED_SQL} AS billed"
            " FROM jobs WHERE workspace_id = $1 AND platform = $2 AND created_at >= $3 GROUP BY day, model"
            " ORDER BY day, model",
            workspace.id, workspace.platform, since)
        return [DailyUsageRow(day=EPOCH + datetime.timedelta(days=int(r["day"])), model=r["model"],
                              jobs=int(r["jobs"]), billed_jobs=int(r["billed"])) for r in rows]
