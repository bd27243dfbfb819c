"""The SQLite job store: migrations, every query, and the guards that make transitions race-safe."""

from __future__ import annotations

import asyncio
import dataclasses
import stat
from pathlib import Path

import pytest

from bot.jobs.ports import StoreInUse
from bot.jobs.records import Job, JobStatus, Limits, NewJob, Workspace
from db.sqlite.connection import migration_scripts, open_database
from db.sqlite.store import SqliteJobStore

T0 = 1_790_000_000.0


def new_job(user: int = 1, guild: int = 10, channel: int = 100, prompt: str = "a cat") -> NewJob:
    return NewJob(platform="discord", workspace_id=str(guild), channel_id=str(channel), user_id=str(user),
                  prompt=prompt, model="veo3.1-fast",
                  orientation="16x9")


async def submitted(store: SqliteJobStore, user: int = 1, guild: int = 10, task: str = "task_1") -> Job:
    job = await store.insert_job(new_job(user, guild), T0)
    claimed = await store.claim_submittable(Limits(99, 99, 99), T0, T0 + 120, 99)
    assert job.id in [j.id for j in claimed]
    assert await store.mark_submitted(job.id, task, T0 + 1, T0 + 10)
    fresh = await store.get_job(job.id)
    assert fresh is not None
    return fresh


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


async def test_insert_and_read_back(store: SqliteJobStore) -> None:
    job = await store.insert_job(new_job(prompt="ünïcödé 🎬 'quotes'; DROP TABLE jobs;--"), T0)
    assert job.status is JobStatus.QUEUED and job.created_at == T0 and job.progress == 0
    assert job.prompt == "ünïcödé 🎬 'quotes'; DROP TABLE jobs;--"
    again = await store.get_job(job.id)
    assert again == job
    assert await store.get_job(job.id + 1) is None


async def test_a_job_record_has_every_column_of_the_table_and_nothing_else(store: SqliteJobStore) -> None:
    # Jobs are read column by column into Job's fields, in order: a column Job lacks would go unread.
    columns = await store._read(lambda conn: [row[1] for row in conn.execute("PRAGMA table_info(jobs)")])
    assert sorted(columns) == sorted(field.name for field in dataclasses.fields(Job))
    job = await submitted(store)
    assert await store.mark_failed(job.id, JobStatus.FAILED, "no", T0 + 5, safety_rejection=True)
    failed = await store.get_job(job.id)
    assert failed is not None and failed.status is JobStatus.FAILED and failed.safety_rejection is True
    assert failed.refunded is True and failed.task_id == "task_1" and failed.error == "no"  # no video, no charge


async def test_progress_is_only_recorded_for_jobs_at_the_provider(store: SqliteJobStore) -> None:
    job = await store.insert_job(new_job(), T0)
    assert not await store.record_progress(job.id, JobStatus.RUNNING, 50, T0)
    assert (await store.get_job(job.id)).progress == 0  # type: ignore[union-attr]


async def test_claim_respects_user_guild_and_total_caps_in_fifo_order(store: SqliteJobStore) -> None:
    a1 = await store.insert_job(new_job(user=1, guild=10), T0)
    a2 = await store.insert_job(new_job(user=1, guild=10), T0)
    a3 = await store.insert_job(new_job(user=1, guild=10), T0)
    b1 = await store.insert_job(new_job(user=2, guild=10), T0)
    c1 = await store.insert_job(new_job(user=3, guild=20), T0)
    claimed = await store.claim_submittable(Limits(per_user=2, per_guild=3, total=4), T0, T0 + 120, 10)
    # user 1 is capped at 2, guild 10 at 3 (a1, a2, b1), total 4 leaves room for c1
    assert [j.id for j in claimed] == [a1.id, a2.id, b1.id, c1.id]
    assert all(j.status is JobStatus.SUBMITTING and j.next_poll_at == T0 + 120 for j in claimed)
    assert (await store.get_job(a3.id)).status is JobStatus.QUEUED  # type: ignore[union-attr]
    assert await store.claim_submittable(Limits(2, 3, 4), T0, T0 + 120, 10) == []
    assert await store.cancel(a1.id, T0 + 5)
    again = await store.claim_submittable(Limits(2, 3, 4), T0, T0 + 120, 10)
    assert [j.id for j in again] == [a3.id]


async def test_claim_is_race_free_under_concurrency(store: SqliteJobStore) -> None:
    for _ in range(20):
        await store.insert_job(new_job(user=1), T0)
    results = await asyncio.gather(
        *(store.claim_submittable(Limits(per_user=2, per_guild=10, total=20), T0, T0 + 1, 5) for _ in range(10))
    )
    claimed = [j.id for batch in results for j in batch]
    assert len(claimed) == 2 and len(set(claimed)) == 2


async def test_claim_batch_limit(store: SqliteJobStore) -> None:
    for user in range(5):
        await store.insert_job(new_job(user=user), T0)
    assert len(await store.claim_submittable(Limits(9, 9, 9), T0, T0, batch=3)) == 3


async def test_lifecycle_transitions_and_guards(store: SqliteJobStore) -> None:
    job = await submitted(store)
    assert job.status is JobStatus.SUBMITTED and job.task_id == "task_1" and job.submitted_at == T0 + 1
    assert (await store.get_job_by_task("task_1")) == job
    assert await store.record_progress(job.id, JobStatus.RUNNING, 40, T0 + 20)
    assert await store.record_progress(job.id, JobStatus.RUNNING, 30, T0 + 30)  # progress never goes back
    running = await store.get_job(job.id)
    assert running is not None and running.progress == 40 and running.polls == 2
    assert await store.record_poll_error(job.id, T0 + 90)
    errored = await store.get_job(job.id)
    assert errored is not None and errored.attempts == 1 and errored.next_poll_at == T0 + 90
    assert await store.mark_completed(job.id, "https://cdn/v.mp4", T0 + 100)
    done = await store.get_job(job.id)
    assert done is not None and done.status is JobStatus.COMPLETED and done.progress == 100
    assert done.attempts == 0 and done.needs_notice and done.next_poll_at == T0 + 100
    # A late poll answer cannot move a completed job back.
    assert not await store.record_progress(job.id, JobStatus.RUNNING, 50, T0 + 200)
    assert not await store.cancel(job.id, T0 + 101)  # finished at the provider: nothing to cancel


async def test_record_progress_with_and_without_a_change_of_status(store: SqliteJobStore) -> None:
    job = await submitted(store)
    # Same status: progress, next poll and poll count move on, the status stays.
    assert await store.record_progress(job.id, JobStatus.SUBMITTED, 0, T0 + 10)
    same = await store.get_job(job.id)
    assert same is not None and same.status is JobStatus.SUBMITTED and same.next_poll_at == T0 + 10
    assert same.polls == 1
    # A new status is written along with the rest.
    assert await store.record_progress(job.id, JobStatus.RUNNING, 20, T0 + 20)
    moved = await store.get_job(job.id)
    assert moved is not None and moved.status is JobStatus.RUNNING and moved.progress == 20
    assert moved.next_poll_at == T0 + 20 and moved.polls == 2
    # Only jobs at the provider take a poll's answer, whatever status the answer names.
    assert await store.mark_completed(job.id, None, T0 + 30)
    assert not await store.record_progress(job.id, JobStatus.COMPLETED, 90, T0 + 40)
    done = await store.get_job(job.id)
    assert done is not None and done.progress == 100 and done.polls == 3 and done.next_poll_at == T0 + 30


async def test_cancel_wins_over_a_poll_in_flight(store: SqliteJobStore) -> None:
    job = await submitted(store)
    assert await store.cancel(job.id, T0 + 5)
    assert not await store.mark_completed(job.id, "https://cdn/v.mp4", T0 + 6)
    assert not await store.mark_failed(job.id, JobStatus.FAILED, "x", T0 + 6)
    assert await store.begin_delivery(job.id, T0 + 60) is None
    cancelled = await store.get_job(job.id)
    assert cancelled is not None and cancelled.status is JobStatus.CANCELLED
    assert cancelled.next_poll_at is None and cancelled.finished_at == T0 + 5 and not cancelled.needs_notice


async def test_delivery_is_recorded_once(store: SqliteJobStore) -> None:
    job = await submitted(store)
    await store.mark_completed(job.id, None, T0 + 50)
    first = await store.begin_delivery(job.id, T0 + 80)
    assert first is not None and first.delivery_attempts == 1 and first.next_poll_at == T0 + 80
    second = await store.begin_delivery(job.id, T0 + 110)
    assert second is not None and second.delivery_attempts == 2
    assert await store.mark_delivered(job.id, "555", T0 + 60)
    assert not await store.mark_delivered(job.id, "556", T0 + 61)
    delivered = await store.get_job(job.id)
    assert delivered is not None and delivered.status is JobStatus.DELIVERED
    assert delivered.delivered_message_id == "555" and delivered.next_poll_at is None
    assert await store.begin_delivery(job.id, T0 + 200) is None


async def test_failure_notice_keeps_the_failed_status(store: SqliteJobStore) -> None:
    job = await submitted(store)
    assert await store.mark_failed(job.id, JobStatus.FAILED, "blocked by safety", T0 + 9, safety_rejection=True)
    failed = await store.get_job(job.id)
    assert failed is not None and failed.safety_rejection and failed.needs_notice
    assert await store.mark_delivered(job.id, "77", T0 + 10)
    notified = await store.get_job(job.id)
    assert notified is not None and notified.status is JobStatus.FAILED and not notified.needs_notice


async def test_postpone_delivery_can_give_up(store: SqliteJobStore) -> None:
    job = await submitted(store)
    await store.mark_completed(job.id, None, T0)
    assert await store.postpone_delivery(job.id, None, "Could not post the result: missing access")
    parked = await store.get_job(job.id)
    assert parked is not None and parked.next_poll_at is None and parked.error is not None
    assert await store.due_jobs(T0 + 10_000, 10) == []


async def test_due_jobs_soonest_first_and_bounded(store: SqliteJobStore) -> None:
    jobs = [await submitted(store, user=u, task=f"task_{u}") for u in range(1, 5)]
    for offset, job in zip((40, 10, 30, 20), jobs, strict=True):
        await store.record_progress(job.id, JobStatus.RUNNING, 1, T0 + offset)
    due = await store.due_jobs(T0 + 30, limit=10)
    assert [j.id for j in due] == [jobs[1].id, jobs[3].id, jobs[2].id]
    assert len(await store.due_jobs(T0 + 30, limit=2)) == 2
    assert await store.next_due_at() == T0 + 10


async def test_queue_position_lists_and_failures(store: SqliteJobStore) -> None:
    a = await store.insert_job(new_job(user=1), T0)
    b = await store.insert_job(new_job(user=2), T0 + 1)
    other_guild = await store.insert_job(new_job(user=3, guild=99), T0 + 2)
    assert await store.queue_position(a) == 1 and await store.queue_position(b) == 2
    assert await store.queue_position(other_guild) == 1
    assert [j.id for j in await store.in_flight(Workspace("discord", "10"))] == [a.id, b.id]
    assert [j.id for j in await store.user_jobs(Workspace("discord", "10"), "1", 5)] == [a.id]
    await store.claim_submittable(Limits(9, 9, 9), T0, T0, 9)
    await store.mark_failed(a.id, JobStatus.FAILED, "nope", T0 + 100)
    assert [j.id for j in await store.failures_since(Workspace("discord", "10"), T0)] == [a.id]
    assert await store.failures_since(Workspace("discord", "10"), T0 + 101) == []
    failed = await store.get_job(a.id)
    assert failed is not None and await store.queue_position(failed) == 0
    assert await store.queue_position(b) == 1


async def test_status_message_and_rendering(store: SqliteJobStore) -> None:
    job = await store.insert_job(new_job(), T0)
    assert await store.set_status_shown(job.id, "queued|0|0", T0 + 1, message_id="4242")
    assert await store.set_status_shown(job.id, "queued|0|1", T0 + 3)  # an edit keeps the message id
    fresh = await store.get_job(job.id)
    assert fresh is not None and fresh.status_message_id == "4242"
    assert (fresh.status_rendered, fresh.status_edited_at) == ("queued|0|1", T0 + 3)


async def test_meta_notes(store: SqliteJobStore) -> None:
    assert await store.get_meta("commands_hash") is None
    await store.set_meta("commands_hash", "abc")
    await store.set_meta("commands_hash", "def")
    assert await store.get_meta("commands_hash") == "def"


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


async def test_recent_durations_status_shown_and_rows_written(store: SqliteJobStore) -> None:
    before = store.rows_written()
    jobs = [await store.insert_job(new_job(user=u), T0) for u in (1, 2, 3)]
    await store.claim_submittable(Limits(5, 5, 5), T0, T0 + 60, 5)
    for offset, job in enumerate(jobs):
        await store.mark_submitted(job.id, f"task-{job.id}", T0 + offset, T0 + 30)
    await store.mark_completed(jobs[0].id, None, T0 + 80)
    await store.mark_completed(jobs[2].id, None, T0 + 102)
    # The newest finished jobs, oldest first; the one still running is not among them.
    assert await store.recent_durations(10) == [("veo3.1-fast", T0, 80.0), ("veo3.1-fast", T0 + 2, 100.0)]
    assert await store.recent_durations(1) == [("veo3.1-fast", T0 + 2, 100.0)]
    assert await store.set_status_shown(jobs[1].id, "running|40|1", T0 + 5, message_id="777")
    assert await store.set_status_shown(jobs[1].id, "running|60|1", T0 + 9)  # keeps the message id
    shown = await store.get_job(jobs[1].id)
    assert shown is not None and shown.status_message_id == "777"
    assert shown.status_rendered == "running|60|1" and shown.status_edited_at == T0 + 9
    assert store.rows_written() - before == 3 + 3 + 3 + 2 + 2


async def test_row_factory_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "veo.sqlite3"
    s1 = await SqliteJobStore.open(path)
    job = await s1.insert_job(new_job(), T0)
    await s1.close()
    s2 = await SqliteJobStore.open(path)
    assert await s2.get_job(job.id) == job
    await s2.close()


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
