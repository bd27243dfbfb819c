"""Migration 0004 converts a database of Discord-only integer ids in place: every row, every setting, kept."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from bot.jobs.records import JobStatus, NewJob, Workspace
from db.sqlite.connection import migrate, migration_scripts
from db.sqlite.store import SqliteJobStore

GUILD, OTHER_GUILD = 1_180_000_000_000_000_001, 1_180_000_000_000_000_002
CHANNEL, USER, MOD = 1_180_000_000_000_000_101, 1_180_000_000_000_000_201, 1_180_000_000_000_000_202
STATUS_MSG, RESULT_MSG = 1_180_000_000_000_000_301, 1_180_000_000_000_000_302
T0 = 1_790_000_000.0


def _old_database(path: Path) -> None:
    """A database as the bot left it before 0004: migrations 1-3 applied, integer ids, a few rows."""
    conn = sqlite3.connect(path, isolation_level=None)
    for version, _, sql in migration_scripts():
        if version > 3:
            break
        conn.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;")
    insert = ("INSERT INTO jobs (id, guild_id, channel_id, user_id, prompt, model, orientation, image_count, input_dir,"
              " locale, status, progress, task_id, error, safety_rejection, video_url, attempts, polls, next_poll_at,"
              " created_at, submitted_at, completed_at, finished_at, status_message_id, status_rendered,"
              " status_edited_at, delivery_attempts, delivered_at, delivered_message_id, refunded)"
              " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
    conn.execute(insert, (1, GUILD, CHANNEL, USER, "a fox", "veo3.1", "9x16", 1, "data/inputs/1", "ko", "delivered",
                          100, "task_a", None, 0, "https://v/a.mp4", 0, 7, None, T0, T0 + 1, T0 + 60, T0 + 60,
                          STATUS_MSG, "delivered|100|0", T0 + 61, 1, T0 + 61, RESULT_MSG, 0))
    conn.execute(insert, (2, GUILD, CHANNEL, MOD, "a cat", "veo3.1-fast", "16x9", 0, None, None, "failed",
                          0, None, "blocked", 1, None, 2, 0, None, T0 + 5, None, None, T0 + 9,
                          None, None, None, 0, None, None, 1))
    conn.execute(insert, (5, OTHER_GUILD, CHANNEL, USER, "queued one", "veo3", "16x9", 0, None, None, "queued",
                          0, None, None, 0, None, 0, 0, T0 + 20, T0 + 10, None, None, None,
                          None, None, None, 0, None, None, 0))
    conn.execute("DELETE FROM jobs WHERE id = 5")  # the highest number once existed: it must not come back
    conn.execute("INSERT INTO jobs (id, guild_id, channel_id, user_id, prompt, model, orientation, status, created_at)"
                 " VALUES (3, ?, ?, ?, 'waiting', 'veo3', '16x9', 'queued', ?)", (OTHER_GUILD, CHANNEL, USER, T0 + 11))
    conn.execute("INSERT INTO guild_settings (guild_id, max_active_per_user, max_active_per_guild, max_queued,"
                 " daily_quota_per_user, daily_quota_per_guild, cooldown_seconds, allowed_channels, allowed_roles,"
                 " allowed_models, paused, pause_reason, updated_at, updated_by)"
                 " VALUES (?, 1, 3, 7, 2, 9, 2.5, ?, ?, ?, 1, 'budget', ?, ?)",
                 (GUILD, json.dumps([CHANNEL, CHANNEL + 1]), json.dumps([MOD]), json.dumps(["veo3"]), T0 + 30, MOD))
    conn.execute("INSERT INTO guild_settings (guild_id, paused) VALUES (?, 0)", (OTHER_GUILD,))
    conn.execute("INSERT INTO audit_log (guild_id, actor_id, action, details, job_id, at) VALUES (?, ?, ?, ?, ?, ?)",
                 (GUILD, MOD, "cancel", f"job #2 of <@{USER}>", 2, T0 + 8))
    conn.execute("INSERT INTO meta (key, value) VALUES ('nonce_salt', 'abc123')")
    conn.close()


async def test_an_old_database_is_converted_in_place_with_every_row_and_setting(tmp_path: Path) -> None:
    path = tmp_path / "veo.sqlite3"
    _old_database(path)
    store = await SqliteJobStore.open(path)  # migrates
    try:
        discord, other = Workspace("discord", str(GUILD)), Workspace("discord", str(OTHER_GUILD))
        first = await store.get_job(1)
        assert first is not None
        assert (first.platform, first.workspace_id, first.channel_id, first.user_id) == (
            "discord", str(GUILD), str(CHANNEL), str(USER))
        assert (first.status_message_id, first.delivered_message_id) == (str(STATUS_MSG), str(RESULT_MSG))
        assert (first.prompt, first.model, first.orientation, first.image_count, first.input_dir, first.locale) == (
            "a fox", "veo3.1", "9x16", 1, "data/inputs/1", "ko")
        assert (first.status, first.progress, first.task_id, first.video_url, first.polls) == (
            JobStatus.DELIVERED, 100, "task_a", "https://v/a.mp4", 7)
        assert (first.created_at, first.submitted_at, first.completed_at, first.finished_at, first.delivered_at) == (
            T0, T0 + 1, T0 + 60, T0 + 60, T0 + 61)
        assert (first.status_rendered, first.status_edited_at, first.delivery_attempts, first.refunded) == (
            "delivered|100|0", T0 + 61, 1, False)
        second = await store.get_job(2)
        assert second is not None and second.user_id == str(MOD) and second.status is JobStatus.FAILED
        assert second.safety_rejection and second.refunded and second.error == "blocked" and second.attempts == 2
        assert second.status_message_id is None and second.delivered_message_id is None
        waiting = await store.get_job(3)
        assert waiting is not None and waiting.workspace == other and waiting.status is JobStatus.QUEUED
        assert [j.id for j in await store.user_jobs(discord, str(USER), 10)] == [1]
        assert [j.id for j in await store.in_flight(other)] == [3]

        settings = await store.workspace_settings(discord)
        assert (settings.platform, settings.workspace_id) == ("discord", str(GUILD))
        assert (settings.max_active_per_user, settings.max_active_per_guild, settings.max_queued) == (1, 3, 7)
        assert (settings.daily_quota_per_user, settings.daily_quota_per_guild, settings.cooldown_seconds) == (2, 9, 2.5)
        assert settings.allowed_channels == (str(CHANNEL), str(CHANNEL + 1))
        assert settings.allowed_roles == (str(MOD),) and settings.allowed_models == ("veo3",)
        assert settings.paused and settings.pause_reason == "budget"
        assert (settings.updated_at, settings.updated_by) == (T0 + 30, str(MOD))
        untouched = await store.workspace_settings(other)
        assert not untouched.paused and untouched.allowed_channels is None and untouched.max_queued is None

        [entry] = await store.audit_entries(discord, 10)
        assert (entry.platform, entry.workspace_id, entry.actor_id, entry.action, entry.job_id, entry.at) == (
            "discord", str(GUILD), str(MOD), "cancel", 2, T0 + 8)
        assert entry.details == f"job #2 of <@{USER}>"
        assert await store.get_meta("nonce_salt") == "abc123"

        # Job numbers go on after the highest ever given, even one whose row is gone.
        later = await store.insert_job(NewJob("discord", str(GUILD), str(CHANNEL), str(USER), "next", "veo3", "16x9"),
                                       T0 + 100)
        assert later.id == 6
    finally:
        await store.close()


def test_ids_are_stored_as_text_so_slack_ids_fit(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "fresh.sqlite3", isolation_level=None)
    migrate(conn)
    types = {row[1]: row[2] for row in conn.execute("PRAGMA table_info(jobs)")}
    assert {types[c] for c in ("platform", "workspace_id", "channel_id", "user_id", "status_message_id",
                               "delivered_message_id")} == {"TEXT"}
    conn.execute("INSERT INTO jobs (platform, workspace_id, channel_id, user_id, prompt, model, orientation, status,"
                 " created_at, status_message_id) VALUES ('slack', 'T0123', 'C0456', 'U0789', 'p', 'm', '16x9',"
                 " 'queued', 0, '1712345678.123456')")
    row = conn.execute("SELECT workspace_id, status_message_id, typeof(status_message_id) FROM jobs").fetchone()
    assert row == ("T0123", "1712345678.123456", "text")
    settings = {row[1]: row[2] for row in conn.execute("PRAGMA table_info(workspace_settings)")}
    assert settings["workspace_id"] == "TEXT" and settings["updated_by"] == "TEXT"
    conn.close()
