"""The store's per-guild queries: limit overrides, the audit log, quota counts and usage."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from bot.jobs.policy import OVERRIDABLE, AuditEntry, GuildSettings, UsageRow
from db.sqlite.base import StoreBase, scalar

_LIST_COLUMNS = {"allowed_channels": int, "allowed_roles": int, "allowed_models": str}
_COLUMNS = (*OVERRIDABLE, "paused", "pause_reason", "updated_at", "updated_by")


def _encode(name: str, value: Any) -> Any:
    if name in _LIST_COLUMNS and value is not None:
        return json.dumps(list(value))
    if name == "paused":
        return int(bool(value))
    return value


def _decode(name: str, value: Any) -> Any:
    if name in _LIST_COLUMNS and value is not None:
        kind = _LIST_COLUMNS[name]
        return tuple(kind(v) for v in json.loads(value))
    if name == "paused":
        return bool(value)
    return value


def quota_used(conn: sqlite3.Connection, guild_id: int, user_id: int, since: float) -> tuple[int, int]:
    """Jobs counted against the daily quotas since ``since``: (this user's, the whole guild's)."""
    user = scalar(
        conn, "SELECT COUNT(*) FROM jobs WHERE guild_id = ? AND user_id = ? AND created_at >= ? AND refunded = 0",
        (guild_id, user_id, since),
    )
    guild = scalar(
        conn, "SELECT COUNT(*) FROM jobs WHERE guild_id = ? AND created_at >= ? AND refunded = 0", (guild_id, since)
    )
    return int(user), int(guild)


def last_request_at(conn: sqlite3.Connection, guild_id: int, user_id: int) -> float | None:
    """When the user last asked for a video in the guild (for the cooldown)."""
    value = scalar(conn, "SELECT MAX(created_at) FROM jobs WHERE guild_id = ? AND user_id = ?", (guild_id, user_id))
    return float(value) if value is not None else None


def _insert_audit(
    conn: sqlite3.Connection, guild_id: int, actor_id: int, action: str, details: str, job_id: int | None, now: float
) -> None:
    conn.execute(
        "INSERT INTO audit_log (guild_id, actor_id, action, details, job_id, at) VALUES (?, ?, ?, ?, ?, ?)",
        (guild_id, actor_id, action, details, job_id, now),
    )


class GuildQueries(StoreBase):
    """Per-guild settings, audit entries and usage figures."""

    async def guild_settings(self, guild_id: int) -> GuildSettings:
        """The guild's overrides (all None when it never changed anything)."""
        rows = await self._rows(f"SELECT {', '.join(_COLUMNS)} FROM guild_settings WHERE guild_id = ?", (guild_id,))
        if not rows:
            return GuildSettings(guild_id=guild_id)
        return GuildSettings(guild_id=guild_id, **{name: _decode(name, rows[0][name]) for name in _COLUMNS})

    async def save_guild_settings(
        self, settings: GuildSettings, *, actor_id: int, action: str, details: str, now: float
    ) -> None:
        """Store a guild's overrides and the audit entry that explains the change, atomically."""
        values = [_encode(name, getattr(settings, name)) for name in _COLUMNS]
        values[_COLUMNS.index("updated_at")] = now
        values[_COLUMNS.index("updated_by")] = actor_id
        assignments = ", ".join(f"{name} = excluded.{name}" for name in _COLUMNS)
        upsert = (f"INSERT INTO guild_settings (guild_id, {', '.join(_COLUMNS)})"
                  f" VALUES (?, {', '.join('?' for _ in _COLUMNS)})"
                  f" ON CONFLICT (guild_id) DO UPDATE SET {assignments}")

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(upsert, (settings.guild_id, *values))
            _insert_audit(conn, settings.guild_id, actor_id, action, details, None, now)
        await self._write(work)

    async def add_audit(
        self, guild_id: int, actor_id: int, action: str, details: str, now: float, job_id: int | None = None
    ) -> None:
        """Record a moderator or admin action."""
        await self._write(lambda conn: _insert_audit(conn, guild_id, actor_id, action, details, job_id, now))

    async def audit_entries(self, guild_id: int, limit: int) -> list[AuditEntry]:
        """The guild's most recent audit entries, newest first."""
        rows = await self._rows(
            "SELECT id, guild_id, actor_id, action, details, job_id, at FROM audit_log WHERE guild_id = ?"
            " ORDER BY id DESC LIMIT ?", (guild_id, limit),
        )
        return [AuditEntry(**dict(r)) for r in rows]

    async def quota_used(self, guild_id: int, user_id: int, since: float) -> tuple[int, int]:
        """Jobs counted against the daily quotas since ``since``: (this user's, the whole guild's)."""
        return await self._read(lambda conn: quota_used(conn, guild_id, user_id, since))

    async def last_request_at(self, guild_id: int, user_id: int) -> float | None:
        """When the user last asked for a video in the guild (for the cooldown)."""
        return await self._read(lambda conn: last_request_at(conn, guild_id, user_id))

    async def usage(self, guild_id: int, since: float) -> list[UsageRow]:
        """Jobs per user and model since ``since``, and how many are likely billed by the provider.

        Likely billed: a video was made (completed or delivered), or the job was cancelled after the
        provider accepted it. Failures and refusals are taken as not billed.
        """
        rows = await self._rows(
            "SELECT user_id, model, COUNT(*) AS jobs, SUM(CASE WHEN status IN ('completed', 'delivered')"
            " OR (status = 'cancelled' AND task_id IS NOT NULL) THEN 1 ELSE 0 END) AS billed"
            " FROM jobs WHERE guild_id = ? AND created_at >= ? GROUP BY user_id, model"
            " ORDER BY billed DESC, jobs DESC",
            (guild_id, since),
        )
        return [UsageRow(user_id=r["user_id"], model=r["model"], jobs=r["jobs"], billed_jobs=r["billed"]) for r in rows]
