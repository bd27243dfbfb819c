"""Query plans of the store's hot statements, captured as the store runs them on a populated database.

The statements are not copied from db/sqlite/store.py: the store's own methods run, SQLite's trace hook records
what they send, and each distinct statement is explained (EXPLAIN QUERY PLAN) on the same connection.
``python -m bench.plans`` prints them; the benchmark's report includes them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bot.jobs.config import CoreConfig
from bot.jobs.policy import Policy
from bot.jobs.records import Job, JobStatus, Limits, NewJob
from db.sqlite.store import SqliteJobStore

# A busy bot: this many jobs at the provider (across 200 guilds, 2000 users), as many finished.
ACTIVE_JOBS = 10_000
FINISHED_JOBS = 10_000
GUILDS = 200
T0 = 1_790_000_000.0


@dataclass(frozen=True, slots=True)
class Plan:
    """One statement the store sent on a hot path, and how SQLite runs it."""

    path: str  # which store call sent it
    sql: str
    plan: str

    @property
    def startup(self) -> bool:
        """Whether the statement runs once at start-up rather than on a hot path."""
        return self.path.startswith("start-up")

    @property
    def full_scan(self) -> bool:
        """Whether SQLite reads the whole table (or a whole index) to answer it."""
        return any(re.fullmatch(r"SCAN jobs( USING (COVERING )?INDEX \w+)?", step.strip())
                   for step in self.plan.split(";"))


async def populate(store: SqliteJobStore, active: int, finished: int) -> list[int]:
    """Fill the store with finished and active jobs through its own methods; return the active ids."""
    total = active + finished
    # no fsync per row while filling a throw-away database
    await store._read(lambda conn: conn.execute("PRAGMA synchronous = OFF"))
    ids = []
    for index in range(total):
        job = await store.insert_job(NewJob("discord", str(index % GUILDS), "1", str(10_000 + index % 2000),
                                            "p", "veo3.1-fast", "16x9"),
                                     T0 + index)
        ids.append(job.id)
    claimed = await store.claim_submittable(Limits(total, total, total), T0, T0 + 60, total)
    for job in claimed:
        await store.mark_submitted(job.id, f"task-{job.id}", T0 + job.id, T0 + 1e6 + job.id)
    for job_id in ids[:finished]:
        await store.mark_completed(job_id, None, T0 + job_id + 80)
        await store.mark_delivered(job_id, job_id, T0 + job_id + 82)
    await store._read(lambda conn: conn.execute("PRAGMA synchronous = FULL"))
    return ids[finished:]


async def capture(store: SqliteJobStore, active: list[int]) -> list[Plan]:
    """Run each hot store call and explain what it sent."""
    sent: list[str] = []
    # The benchmark watches the store's own connection (on the store's thread).
    await store._read(lambda conn: conn.set_trace_callback(sent.append))
    job = await store.get_job(active[len(active) // 2])
    assert job is not None
    # Something to claim.
    await store.insert_job(NewJob("discord", "7", "1", "10007", "p", "veo3.1-fast", "16x9"), T0 + 5e5)
    defaults = CoreConfig(limits=Limits(2, 10, 20)).workspace_defaults
    policy = Policy.effective(defaults, await store.workspace_settings(job.workspace))
    n = len(active)
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "worker tick: claim due jobs": lambda: store.claim_due("bench", T0 + 1e6 + n // 2, 60.0, 100),
        "heartbeat: renew leases": lambda: store.renew_leases(
            "bench", dict.fromkeys(active[:100], 2), T0 + 1e6 + n // 2, 60.0),
        "worker tick: next due time": store.next_due_at,
        "worker tick: claim queued jobs": lambda: store.claim_submittable(
            Limits(per_user=n, per_guild=n, total=2 * n), T0 + 6e5, T0 + 6e5 + 60, 20),
        "poll: record progress": lambda: store.record_progress(job.id, JobStatus.RUNNING, 40, T0 + 2e6),
        "poll: job finished": lambda: store.mark_completed(job.id, None, T0 + 2e6),
        "status message: queue position": lambda: store.queue_position(job),
        "status message: read the job": lambda: store.get_job(job.id),
        "/veo: admit (queue length, cooldown, quotas)": lambda: store.admit_job(
            NewJob("discord", "7", "1", "10007", "p", "veo3.1-fast", "16x9"), policy, T0 + 7e5),
        "start-up: recent durations": lambda: store.recent_durations(500),
    }
    plans: list[Plan] = []
    seen: set[str] = set()
    for path, call in calls.items():
        sent.clear()
        await call()
        statements = [s for s in sent
                      if not re.match(r"\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|PRAGMA)", s, re.I)]
        for sql in statements:
            if sql in seen:
                continue
            seen.add(sql)
            explain = f"EXPLAIN QUERY PLAN {sql}"
            rows = await store._read(lambda conn: conn.execute(explain).fetchall())  # noqa: B023 - awaited at once
            steps = [str(row[3]) for row in rows]
            plans.append(Plan(path, " ".join(sql.split()), "; ".join(steps)))
    await store._read(lambda conn: conn.set_trace_callback(None))  # None removes the hook
    return plans


async def query_plans(active: int = ACTIVE_JOBS, finished: int = FINISHED_JOBS) -> list[Plan]:
    """Populate a fresh database and return the plans of the hot statements."""
    with tempfile.TemporaryDirectory(prefix="veo-plans-") as tmp:
        store = await SqliteJobStore.open(Path(tmp) / "plans.sqlite3")
        try:
            return await capture(store, await populate(store, active, finished))
        finally:
            await store.close()


# A job is read with every column of the jobs table named, in the order of Job's fields; shown shorter.
_JOB_COLUMNS = ", ".join(field.name for field in dataclasses.fields(Job))


def format_plans(plans: list[Plan]) -> str:
    """The plans as Markdown-friendly text (a job's whole column list shown as ``<job>``)."""
    lines = []
    for plan in plans:
        flag = ""
        if plan.full_scan:
            # Read once at start-up; it walks the newest rows by id and stops after LIMIT matches.
            flag = "  <-- table walk (start-up only, stops at LIMIT)" if plan.startup else "  <-- FULL SCAN"
        sql = plan.sql.replace(f"SELECT {_JOB_COLUMNS} FROM", "SELECT <job> FROM")
        lines.append(f"- {plan.path}{flag}\n    {sql}\n    => {plan.plan}")
    return "\n".join(lines)


def main() -> None:
    """Print the plans."""
    plans = asyncio.run(query_plans())
    print(f"Query plans with {ACTIVE_JOBS} jobs at the provider and {FINISHED_JOBS} finished:")
    print(format_plans(plans))
    sys.exit(0)


if __name__ == "__main__":
    main()
