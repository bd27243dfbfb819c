"""``veo-bot migrate-db``: a SQLite database copied into the test harness's real PostgreSQL, read back through
the PostgreSQL store, and every refusal leaving the target as it was."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

import db.migrate
from bot.jobs.policy import WorkspaceSettings
from bot.jobs.ports import JobStore
from bot.jobs.preferences import MemberPreferences
from bot.jobs.provider import ImageInput
from bot.jobs.records import JobStatus
from bot.jobs.videos import KEY_META
from bot.runtime import NONCE_SALT_META
from db import open_store
from db.migrate import BadArguments, MigrationRefused, copy_database
from db.migrate_command import main as migrate_db
from db.sqlite.store import SqliteJobStore
from tests.db.contract.helpers import ROOMY, T0, new_job, policy, submitted, ws
from tests.support.postgres import PostgresServer, with_database

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[2]
TABLES = ("jobs", "workspace_settings", "audit_log", "member_preferences", "meta", "identify_buckets", "job_images",
          "process_leases")
IMAGES = [ImageInput(b"\x89PNG\r\n\x1a\n\x00\xff" * 9, "image.png", "image/png"),
          ImageInput(b"\xff\xd8\xff\x00" * 5, "last_frame.jpg", "image/jpeg")]


@pytest.fixture
async def target(postgres_server: PostgresServer) -> AsyncIterator[str]:
    """A new, empty PostgreSQL database (no schema): what an operator creates with createdb."""
    async with postgres_server.database(migrated=False) as url:
        yield url


@pytest.fixture
async def migrated_target(postgres_server: PostgresServer) -> AsyncIterator[str]:
    """A new PostgreSQL database with the bot's schema and no rows."""
    async with postgres_server.database() as url:
        yield url


def source_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'veo.sqlite3'}"


async def fill(store: JobStore) -> list[int]:
    """Jobs in every state, settings, audit, preferences, meta and identify turns; returns the job ids."""
    ids = []
    for user in range(2, 12):
        job = await submitted(store, user=user, task=f"task_{user}")
        ids.append(job.id)
    at_provider = ids
    # running, completed, delivered, failed (a safety rejection), timed out, cancelled, and one left submitted.
    assert await store.record_progress(at_provider[0], JobStatus.RUNNING, 40, T0 + 20)
    assert await store.mark_completed(at_provider[1], "https://videos.example/1.mp4", T0 + 30)
    assert await store.mark_completed(at_provider[2], "https://videos.example/2.mp4", T0 + 30)
    assert await store.begin_delivery(at_provider[2], T0 + 60) is not None
    assert await store.mark_delivered(at_provider[2], "555000111", T0 + 31)
    assert await store.mark_failed(at_provider[3], JobStatus.FAILED, "blocked", T0 + 40, safety_rejection=True)
    assert await store.mark_failed(at_provider[4], JobStatus.TIMED_OUT, "took too long", T0 + 50)
    assert await store.set_status_shown(at_provider[5], "⏳ rendering", T0 + 5, message_id="777000")
    cancelled = await store.insert_job(
        dataclasses.replace(new_job(user=20, prompt="changed my mind ✨"), in_thread=True, dm_when_ready=True,
                            image_count=2, input_dir="inputs/abc", locale="ko"), T0 + 1)
    assert await store.cancel(cancelled.id, T0 + 2)
    ids.append(cancelled.id)
    claimed = await store.insert_job(new_job(user=21, guild="T0123", platform="slack"), T0 + 3)
    assert claimed.id in [j.id for j in await store.claim_submittable(ROOMY, T0 + 3, T0 + 120, 99)]
    ids.append(claimed.id)  # submitting
    with_images = await store.admit_job(dataclasses.replace(new_job(user=22, prompt="two frames"), image_count=2),
                                        policy(daily_quota_per_user=0, daily_quota_per_guild=0), T0 + 5, IMAGES)
    assert with_images.job_id is not None
    ids.append(with_images.job_id)
    queued = await store.insert_job(new_job(user=1, prompt="still queued"), T0 + 4)
    ids.append(queued.id)
    assert await store.take_process_lease("shard:1:0", "a-process", T0, 60.0) is not None
    await store.save_workspace_settings(
        WorkspaceSettings("discord", "10", max_active_per_user=1, cooldown_seconds=2.5, allowed_channels=("100",),
                          allowed_models=("veo3.1",), thread_channels=("101",), paused=True, pause_reason="maint"),
        actor_id="42", action="pause", details="maintenance", now=T0 + 7)
    await store.add_audit(ws(10), "42", "cancel", "job cancelled", T0 + 8, job_id=cancelled.id)
    await store.save_member_preferences(
        MemberPreferences("discord", "10", "1", model="veo3.1", orientation="9x16", dm_when_ready=True), T0 + 9)
    await store.get_or_create_meta(NONCE_SALT_META, "a1b2c3")
    await store.get_or_create_meta(KEY_META, "ff" * 32)
    await store.reserve_identify_slot(0, 5.0, T0)
    return ids


async def filled_source(tmp_path: Path) -> tuple[str, dict[int, Any]]:
    """A SQLite database filled through its store, and its jobs as the SQLite store reads them."""
    store = await SqliteJobStore.open(tmp_path / "veo.sqlite3")
    try:
        ids = await fill(store)
        return source_url(tmp_path), {i: await store.get_job(i) for i in ids}
    finally:
        await store.close()


async def row_counts(url: str) -> dict[str, int]:
    """Rows per table of the bot in the PostgreSQL database (an absent table counts as none)."""
    conn = await asyncpg.connect(url)
    try:
        counts = {}
        for table in TABLES:
            exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", table)
            counts[table] = await conn.fetchval(f"SELECT count(*) FROM {table}") if exists else 0  # noqa: S608
        return counts
    finally:
        await conn.close()


async def test_everything_is_copied_and_reads_back_equal(tmp_path: Path, target: str) -> None:
    source, jobs = await filled_source(tmp_path)
    sqlite_store = await SqliteJobStore.open(tmp_path / "veo.sqlite3")
    try:
        expected_settings = await sqlite_store.workspace_settings(ws(10))
        expected_audit = await sqlite_store.audit_entries(ws(10), 50)
        expected_prefs = await sqlite_store.member_preferences(ws(10), "1")
    finally:
        await sqlite_store.close()

    report = await copy_database(source, target)

    copied = {t.name: t.rows for t in report.tables}
    assert copied["jobs"] == len(jobs) and copied["meta"] == 2 and copied["identify_buckets"] == 1
    assert copied["workspace_settings"] == 1 and copied["member_preferences"] == 1
    assert copied["audit_log"] == len(expected_audit) >= 2
    # A queued job's images go with it; who held which lease is the source's processes' state, not copied.
    assert copied["job_images"] == 2 and "process_leases" not in copied
    assert {j.status for j in jobs.values()} == set(JobStatus)  # every state
    pg = await open_store(target)
    try:
        for job_id, job in jobs.items():
            assert await pg.get_job(job_id) == job
        assert await pg.workspace_settings(ws(10)) == expected_settings
        assert await pg.audit_entries(ws(10), 50) == expected_audit
        assert await pg.member_preferences(ws(10), "1") == expected_prefs
        assert await pg.get_meta(NONCE_SALT_META) == "a1b2c3"
        assert await pg.get_meta(KEY_META) == "ff" * 32
        [with_images] = [j for j in jobs.values() if j.image_count == 2 and j.status is JobStatus.QUEUED]
        assert await pg.job_images(with_images.id) == IMAGES
        assert await pg.live_process_leases(T0) == []
        # The identify turn booked in SQLite still holds: the next one waits a window.
        assert await pg.reserve_identify_slot(0, 5.0, T0) == 5.0
        # The sequence was set: the next job (and audit entry) gets the next number.
        after = await pg.insert_job(new_job(user=99), T0 + 100)
        assert after.id == max(jobs) + 1
        await pg.add_audit(ws(10), "42", "resume", "", T0 + 101)
        assert (await pg.audit_entries(ws(10), 1))[0].id == max(e.id for e in expected_audit) + 1
    finally:
        await pg.close()


async def test_ids_of_deleted_jobs_are_not_handed_out_again(tmp_path: Path, target: str) -> None:
    source, jobs = await filled_source(tmp_path)
    conn = sqlite3.connect(tmp_path / "veo.sqlite3")
    with conn:
        conn.execute("DELETE FROM jobs WHERE id = ?", (max(jobs),))
    conn.close()
    report = await copy_database(source, target)
    assert report.sequences["jobs"] == max(jobs)
    pg = await open_store(target)
    try:
        assert (await pg.insert_job(new_job(), T0)).id == max(jobs) + 1
    finally:
        await pg.close()


async def test_many_jobs_are_copied_in_batches(tmp_path: Path, target: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    store = await SqliteJobStore.open(tmp_path / "veo.sqlite3")
    try:
        for n in range(25):
            await store.insert_job(new_job(user=n), T0 + n)
    finally:
        await store.close()
    monkeypatch.setattr(db.migrate, "BATCH_ROWS", 10)
    seen: list[tuple[str, int]] = []
    report = await copy_database(source_url(tmp_path), target, lambda t, n: seen.append((t, n)))
    assert [n for t, n in seen if t == "jobs"] == [10, 20, 25]
    assert report.tables[0].name == "jobs" and report.tables[0].rows == 25
    assert (await row_counts(target))["jobs"] == 25


async def test_images_are_copied_a_few_rows_at_a_time(tmp_path: Path, target: str) -> None:
    store = await SqliteJobStore.open(tmp_path / "veo.sqlite3")
    try:
        for n in range(10):
            await store.admit_job(new_job(user=n), policy(daily_quota_per_user=0, daily_quota_per_guild=0), T0,
                                  IMAGES)
    finally:
        await store.close()
    seen: list[tuple[str, int]] = []
    await copy_database(source_url(tmp_path), target, lambda t, n: seen.append((t, n)))
    # Each image may be VEO_MAX_IMAGE_BYTES: a batch holds a bounded few, never the whole table.
    assert [n for t, n in seen if t == "job_images"] == [8, 16, 20]


async def test_an_error_half_way_leaves_the_target_empty(tmp_path: Path, target: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    source, _ = await filled_source(tmp_path)
    monkeypatch.setattr(db.migrate, "BATCH_ROWS", 4)

    def fail_after_first_batch(table: str, rows: int) -> None:
        raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError, match="disk gone"):
        await copy_database(source, target, fail_after_first_batch)
    conn = await asyncpg.connect(target)
    try:
        # Not even the schema was kept: the target is as the operator made it.
        assert await conn.fetchval("SELECT to_regclass('jobs')") is None
    finally:
        await conn.close()
    # And the copy can simply be run again.
    report = await copy_database(source, target)
    assert report.tables[0].rows > 4


async def test_a_killed_copy_leaves_the_target_empty(tmp_path: Path, migrated_target: str) -> None:
    """The copy is held half way (a table it writes last is locked), killed, and nothing of it stays."""
    source, jobs = await filled_source(tmp_path)
    holder = await asyncpg.connect(migrated_target)
    watcher = await asyncpg.connect(migrated_target)  # outside the holder's transaction (its view of activity)
    process = None
    try:
        await holder.execute("BEGIN")
        await holder.execute("LOCK TABLE meta IN SHARE MODE")  # reads pass, the copy's writes wait
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "bot", "migrate-db", source, migrated_target],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
        waiting = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'veo-bot migrate-db' " \
                  "AND wait_event_type = 'Lock'"
        async with asyncio.timeout(20):
            while not await watcher.fetchval(waiting):
                assert process.poll() is None, process.communicate()
                await asyncio.sleep(0.02)
        # It has written the jobs, inside its transaction, and waits for the meta table.
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        await holder.execute("ROLLBACK")
        gone = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'veo-bot migrate-db'"
        async with asyncio.timeout(20):
            while await watcher.fetchval(gone):
                await asyncio.sleep(0.02)
    finally:
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(10)
        await holder.close()
        await watcher.close()
    assert set((await row_counts(migrated_target)).values()) == {0}
    # The source is free again (the killed process's lock went with it) and the copy goes through.
    assert (await copy_database(source, migrated_target)).tables[0].rows == len(jobs)


async def test_a_non_empty_target_is_refused(tmp_path: Path, migrated_target: str) -> None:
    source, _ = await filled_source(tmp_path)
    pg = await open_store(migrated_target)
    try:
        await pg.set_meta("anything", "1")
    finally:
        await pg.close()
    with pytest.raises(MigrationRefused, match=r"not empty \(rows in meta\)"):
        await copy_database(source, migrated_target)
    assert await row_counts(migrated_target) == dict.fromkeys(TABLES, 0) | {"meta": 1}


async def test_a_running_bot_on_the_source_is_refused(tmp_path: Path, target: str) -> None:
    source, _ = await filled_source(tmp_path)
    running = await SqliteJobStore.open(tmp_path / "veo.sqlite3")
    try:
        with pytest.raises(MigrationRefused, match="running on the source"):
            await copy_database(source, target)
    finally:
        await running.close()
    assert set((await row_counts(target)).values()) == {0}


async def test_a_source_behind_the_latest_migration_is_refused(tmp_path: Path, target: str) -> None:
    source, _ = await filled_source(tmp_path)
    conn = sqlite3.connect(tmp_path / "veo.sqlite3")
    conn.execute("PRAGMA user_version = 3")
    conn.close()
    with pytest.raises(MigrationRefused, match=r"schema version 3.*start this veo-bot on it once"):
        await copy_database(source, target)
    assert set((await row_counts(target)).values()) == {0}


async def test_a_file_that_is_no_bot_database_is_refused(tmp_path: Path, target: str) -> None:
    path = tmp_path / "other.sqlite3"
    sqlite3.connect(path).close()
    with pytest.raises(MigrationRefused, match="not a veo-bot database"):
        await copy_database(f"sqlite:///{path}", target)
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(MigrationRefused, match=r"cannot read the source .*not a database"):
        await copy_database(f"sqlite:///{path}", target)
    assert set((await row_counts(target)).values()) == {0}


@pytest.mark.parametrize(("source", "target", "message"), [
    ("postgresql://a@h/x", "postgresql://a@h/y", "source must be a SQLite database .*not supported"),
    ("mysql://a@h/x", "postgresql://a@h/y", "source must be a SQLite database"),
    ("sqlite:///{tmp}/veo.sqlite3", "sqlite:///{tmp}/b.sqlite3", "target must be a PostgreSQL database.*not SQLite"),
    ("sqlite:///{tmp}/veo.sqlite3", "mysql://u:hunter2@h/y", "target must be a PostgreSQL database"),
    ("sqlite:///{tmp}/veo.sqlite3", "sqlite:///{tmp}/veo.sqlite3", "the same database"),
    ("sqlite:///{tmp}/missing.sqlite3", "postgresql://a@h/y", "missing.sqlite3 does not exist"),
])
async def test_bad_urls_are_refused_before_anything_is_opened(tmp_path: Path, source: str, target: str,
                                                              message: str) -> None:
    (tmp_path / "veo.sqlite3").touch()
    with pytest.raises(BadArguments, match=message) as caught:
        await copy_database(source.format(tmp=tmp_path), target.format(tmp=tmp_path))
    assert "hunter2" not in str(caught.value)
    assert not (tmp_path / "missing.sqlite3").exists()


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "COMETAPI_", "VEO_"))}
    return subprocess.run([sys.executable, "-m", "bot", "migrate-db", *args],  # noqa: S603
                          capture_output=True, text=True, timeout=60, cwd=ROOT, env=env, check=False)


async def test_the_command_prints_counts_and_time_without_settings(tmp_path: Path, target: str) -> None:
    source, jobs = await filled_source(tmp_path)
    done = await asyncio.to_thread(run_cli, source, target)
    assert done.returncode == 0, done.stderr
    assert f"jobs                {len(jobs)} rows" in done.stdout
    assert "meta                2 rows" in done.stdout
    assert f"next jobs id: {max(jobs) + 1}" in done.stdout
    assert " s. Now point DATABASE_URL" in done.stdout


async def test_the_command_exits_1_on_a_refusal_2_on_usage(tmp_path: Path, migrated_target: str) -> None:
    source, _ = await filled_source(tmp_path)
    pg = await open_store(migrated_target)
    try:
        await pg.insert_job(new_job(), T0)
    finally:
        await pg.close()
    refused = await asyncio.to_thread(run_cli, source, migrated_target)
    assert refused.returncode == 1
    assert "is not empty (rows in jobs)" in refused.stderr and "nothing was written" in refused.stderr
    usage = await asyncio.to_thread(run_cli, source, source)
    assert usage.returncode == 2 and "the same database" in usage.stderr
    missing = await asyncio.to_thread(run_cli, source)
    assert missing.returncode == 2 and "TARGET" in missing.stderr


async def test_an_unreachable_target_is_named_without_its_password(tmp_path: Path) -> None:
    source, _ = await filled_source(tmp_path)
    with contextlib.closing(__import__("socket").socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once closed
    url = f"postgresql://veo:s3cret-pw@127.0.0.1:{port}/veo"
    done = await asyncio.to_thread(run_cli, source, url)
    assert done.returncode == 1
    assert "cannot open the PostgreSQL database postgresql://veo:***@127.0.0.1" in done.stderr
    assert "s3cret-pw" not in done.stderr + done.stdout


async def test_a_wrong_password_is_never_printed(tmp_path: Path, postgres_server: PostgresServer) -> None:
    source, _ = await filled_source(tmp_path)
    url = with_database(postgres_server.url, "no_such_database_here").replace("postgres@", "postgres:pw-x9z@")
    done = await asyncio.to_thread(run_cli, source, url)
    assert done.returncode == 1 and "nothing was written" in done.stderr
    assert "pw-x9z" not in done.stderr + done.stdout


def test_without_asyncpg_the_command_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "asyncpg", None)  # as if the postgres extra were not installed
    monkeypatch.delitem(sys.modules, "db.migrate")
    assert migrate_db("sqlite:///veo.sqlite3", "postgresql://veo@db/veo") == 2
    assert capsys.readouterr().err == ("veo-bot: migrate-db needs asyncpg to reach PostgreSQL: "
                                       "pip install 'veo-bot[postgres]'\n")


@pytest.mark.parametrize("name", ['jobs"; DROP TABLE meta; --', "Jobs", "job s", "", "x" * 64, "jobs\"", "1jobs"])
def test_a_name_that_is_not_a_plain_schema_name_never_reaches_a_statement(name: str) -> None:
    with pytest.raises(MigrationRefused, match="not a veo-bot schema"):
        db.migrate._identifier(name)


def test_plain_names_are_quoted() -> None:
    assert db.migrate._identifier("delivered_message_id") == '"delivered_message_id"'
    assert db.migrate._identifier("id", "prompt") == '"id", "prompt"'
    with pytest.raises(MigrationRefused):
        db.migrate._identifier("id", 'prompt" FROM meta --')
