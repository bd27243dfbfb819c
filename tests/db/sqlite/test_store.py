"""What is particular to the SQLite store: migrations, pragmas, file mode, indexes, write counts, the lock.

Its behaviour, the same for every backend, is tested in ``tests/db/contract/``.
"""

from __future__ import annotations

import dataclasses
import stat
from pathlib import Path

import pytest

from bot.jobs.ports import StoreInUse
from bot.jobs.records import Job, Limits, NewJob
from db.sqlite.connection import migration_scripts, open_database
from db.sqlite.store import SqliteJobStore

T0 = 1_790_000_000.0


def new_job(user: int = 1, guild: int = 10, channel: int = 100, prompt: str = "a cat") -> NewJob:
    return NewJob(platform="discord", workspace_id=str(guild), channel_id=str(channel), user_id=str(user),
                  prompt=prompt, model="veo3.1-fast",
                  orientation="16x9")


async def test_migrations_from_empty_then_rerun_is_a_no_op(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "veo.sqlite3"
    conn = open_database(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(migration_scripts())
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'jobs_%'")}
    assert {"jobs_due", "jobs_in_flight_user", "jobs_in_flight_workspace", "jobs_queue"} <= indexes
    conn.execute("INSERT INTO meta (key, value) VALUES ('k', 'v')")
    conn.close()
    conn = open_database(path)  # a second start applies nothing and keeps the data
    assert conn.execute("SELECT value FROM meta WHERE key = 'k'").fetchone()[0] == "v"
    conn.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_migration_numbering_has_no_gaps() -> None:
    versions = [v for v, _, _ in migration_scripts()]
    assert versions == list(range(1, len(versions) + 1))


async def test_a_job_record_has_every_column_of_the_table_and_nothing_else(store: SqliteJobStore) -> None:
    # Jobs are read column by column into Job's fields, in order: a column Job lacks would go unread.
    columns = await store._read(lambda conn: [row[1] for row in conn.execute("PRAGMA table_info(jobs)")])
    assert sorted(columns) == sorted(field.name for field in dataclasses.fields(Job))


async def test_hot_queries_use_indexes(tmp_path: Path) -> None:
    conn = open_database(tmp_path / "plan.sqlite3")
    plans = {}
    queries = {
        "due": ("SELECT * FROM jobs WHERE next_poll_at IS NOT NULL AND next_poll_at <= ? ORDER BY next_poll_at"
                " LIMIT ?", (T0, 10)),
        "per_user": ("SELECT COUNT(*) FROM jobs WHERE user_id = ? AND status IN ('queued', 'submitting',"
                     " 'submitted', 'running')", ("1",)),
        "queue": ("SELECT id, user_id, workspace_id, platform FROM jobs WHERE status = 'queued' ORDER BY id", ()),
        "anything_queued": ("SELECT EXISTS (SELECT 1 FROM jobs WHERE status = 'queued')", ()),
        "at_provider": ("SELECT COUNT(*) FROM jobs WHERE status IN ('running', 'submitted', 'submitting')", ()),
        "position": ("SELECT COUNT(*) FROM jobs WHERE workspace_id = ? AND platform = ? AND id < ? AND status IN"
                     " ('queued', 'running', 'submitted', 'submitting')", ("1", "discord", 100)),
    }
    for name, (sql, params) in queries.items():
        plans[name] = " ".join(str(r[3]) for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))
    conn.close()
    for name, plan in plans.items():
        assert "USING" in plan and "INDEX" in plan, (name, plan)
        assert not plan.startswith("SCAN jobs") or "INDEX" in plan


async def test_rows_written_counts_every_row_each_write_touches(store: SqliteJobStore) -> None:
    before = store.rows_written()
    jobs = [await store.insert_job(new_job(user=u), T0) for u in (1, 2, 3)]
    await store.claim_submittable(Limits(5, 5, 5), T0, T0 + 60, 5)
    for offset, job in enumerate(jobs):
        await store.mark_submitted(job.id, f"task-{job.id}", T0 + offset, T0 + 30)
    await store.mark_completed(jobs[0].id, None, T0 + 80)
    await store.mark_completed(jobs[2].id, None, T0 + 102)
    await store.set_status_shown(jobs[1].id, "running|40|1", T0 + 5, message_id="777")
    await store.set_status_shown(jobs[1].id, "running|60|1", T0 + 9)
    assert store.rows_written() - before == 3 + 3 + 3 + 2 + 2


async def test_a_second_open_of_the_same_database_is_refused_until_the_first_closes(tmp_path: Path) -> None:
    path = tmp_path / "data" / "veo.sqlite3"
    first = await SqliteJobStore.open(path)
    try:
        with pytest.raises(StoreInUse) as refused:
            await SqliteJobStore.open(path)
        assert str(refused.value) == (
            f"another veo-bot process is using {path}; one SQLite database serves one process — "
            "use PostgreSQL (DATABASE_URL=postgresql://…) to run several")
        job = await first.insert_job(new_job(), T0)  # the refusal left the open store alone
    finally:
        await first.close()
    lock = tmp_path / "data" / "veo.sqlite3.lock"
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600
    second = await SqliteJobStore.open(path)  # closed: the next one may open it
    try:
        assert await second.get_job(job.id) == job
    finally:
        await second.close()
        await second.close()  # closing twice is harmless

