"""``PostgresJobStore``: the job store on PostgreSQL, with the SQLite store's semantics, safe for several processes.

Single-row transitions are one guarded ``UPDATE`` each (atomic under the row lock; in READ COMMITTED a row
changed meanwhile is re-checked against the guard). The two steps that count before they act take a
transaction-scoped advisory lock first, so that counts and the write are one step for every connection:
``claim_submittable`` one lock for all (only a claim raises the number of jobs at the provider), ``admit_job``
one per workspace (only an admission raises a workspace's queue, quotas and cooldown clock). READ COMMITTED,
not REPEATABLE READ: there each statement reads what was committed before it, so the counts taken after the
lock wait see every claim and admission that held the lock before; a REPEATABLE READ snapshot could predate
the wait and let the caps be exceeded.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

import asyncpg

from bot.jobs.policy import Admission, Policy, Refusal, day_start
from bot.jobs.records import ACTIVE_STATUSES, IN_FLIGHT_STATUSES, Job, JobStatus, Limits, NewJob, Workspace
from db.claims import select_claimable, workspace_caps
from db.postgres.base import Connection, Executor, texts
from db.postgres.connection import schema_version
from db.postgres.preference_queries import PreferenceQueries
from db.postgres.workspace_queries import WorkspaceQueries, last_request_at, quota_used

_ACTIVE = texts(sorted(ACTIVE_STATUSES))
_IN_FLIGHT = texts(sorted(IN_FLIGHT_STATUSES))
_POLLABLE = texts((JobStatus.SUBMITTED, JobStatus.RUNNING))
_NOTICE_DUE = texts((JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.TIMED_OUT))
_ENDED = texts((JobStatus.DELIVERED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.TIMED_OUT))

# Transaction-scoped advisory locks (two-key form): one for every claim, one per workspace for admissions.
CLAIM_LOCK = (7305, 1)
ADMIT_LOCK_SPACE = 7306

_JOB_COLUMNS = ", ".join(field.name for field in dataclasses.fields(Job))
_STATUS_AT = [field.name for field in dataclasses.fields(Job)].index("status")


def _job(row: asyncpg.Record) -> Job:
    values = list(row)
    values[_STATUS_AT] = JobStatus(values[_STATUS_AT])
    return Job(*values)


async def _job_by_id(conn: Executor, job_id: int) -> Job | None:
    row = await conn.fetchrow(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = $1", job_id)
    return _job(row) if row is not None else None


async def _insert(conn: Executor, new: NewJob, now: float) -> Job:
    row = await conn.fetchrow(
        "INSERT INTO jobs (platform, workspace_id, channel_id, user_id, prompt, model, orientation, image_count,"
        " input_dir, locale, in_thread, dm_when_ready, status, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        f" RETURNING {_JOB_COLUMNS}",
        new.platform, new.workspace_id, new.channel_id, new.user_id, new.prompt, new.model, new.orientation,
        new.image_count, new.input_dir, new.locale, bool(new.in_thread), bool(new.dm_when_ready),
        str(JobStatus.QUEUED), now)
    assert row is not None
    return _job(row)


async def _admit(conn: Connection, new: NewJob, policy: Policy, now: float) -> Admission:
    """Check the limits and insert the job (see ``admit_job``); in a transaction holding the workspace's lock."""
    since = day_start(now)
    queued = await conn.fetchval(
        "SELECT COUNT(*) FROM jobs WHERE workspace_id = $1 AND platform = $2 AND status = 'queued'",
        new.workspace_id, new.platform)
    if policy.max_queued and queued >= policy.max_queued:
        return Admission(None, Refusal.QUEUE_FULL)
    if policy.cooldown_seconds > 0:
        last = await last_request_at(conn, new.workspace, new.user_id)
        if last is not None and now - last < policy.cooldown_seconds:
            return Admission(None, Refusal.COOLDOWN, retry_at=last + policy.cooldown_seconds)
    user_used, workspace_used = await quota_used(conn, new.workspace, new.user_id, since)
    if policy.daily_quota_per_user and user_used >= policy.daily_quota_per_user:
        return Admission(None, Refusal.USER_QUOTA, retry_at=since + 86400, used_today=user_used)
    if policy.daily_quota_per_guild and workspace_used >= policy.daily_quota_per_guild:
        return Admission(None, Refusal.GUILD_QUOTA, retry_at=since + 86400, used_today=user_used)
    job = await _insert(conn, new, now)
    return Admission(job.id, used_today=user_used + 1)


async def _claim(conn: Connection, limits: Limits, deadline: float, batch: int) -> list[Job]:
    """Claim the oldest queued jobs that fit under the caps; in a transaction holding the claim lock."""
    # Every job at the provider, grouped by member: a few dozen rows at most (the total cap bounds them).
    active = await conn.fetch(
        "SELECT platform, workspace_id, user_id, COUNT(*) AS n FROM jobs WHERE status = ANY($1::text[])"
        " GROUP BY platform, workspace_id, user_id", _ACTIVE)
    per_user = {(r["platform"], r["workspace_id"], r["user_id"]): int(r["n"]) for r in active}
    per_workspace: dict[tuple[str, str], int] = {}
    for (platform, workspace_id, _user), n in per_user.items():
        per_workspace[(platform, workspace_id)] = per_workspace.get((platform, workspace_id), 0) + n
    total = sum(per_user.values())
    if total >= limits.total:
        return []
    caps = workspace_caps(await conn.fetch(
        "SELECT platform, workspace_id, max_active_per_user, max_active_per_guild, paused FROM workspace_settings"
    ), limits)
    queued = await conn.fetch(
        "SELECT id, user_id, workspace_id, platform FROM jobs WHERE status = 'queued' ORDER BY id")
    claimed = select_claimable(
        ((r["id"], r["user_id"], r["workspace_id"], r["platform"]) for r in queued), active_total=total,
        user_count=lambda key: per_user.get(key, 0), workspace_count=lambda key: per_workspace.get(key, 0),
        caps=caps, limits=limits, batch=batch)
    if not claimed:
        return []
    rows = await conn.fetch(
        "UPDATE jobs SET status = 'submitting', next_poll_at = $2, attempts = 0"
        f" WHERE id = ANY($1::bigint[]) AND status = 'queued' RETURNING {_JOB_COLUMNS}",
        claimed, deadline)
    return sorted((_job(r) for r in rows), key=lambda job: job.id)


class PostgresJobStore(WorkspaceQueries, PreferenceQueries):
    """The job store on a PostgreSQL database, shared safely by any number of connections and processes."""

    async def _one(self, sql: str, *params: object) -> Job | None:
        row = await self._pool.fetchrow(sql, *params)
        return _job(row) if row is not None else None

    async def _many(self, sql: str, *params: object) -> list[Job]:
        return [_job(r) for r in await self._rows(sql, *params)]

    async def describe(self) -> str:
        """The server and its version, and the schema version the database is at (for ``veo-bot doctor``)."""
        async with self._pool.acquire() as conn:
            server = await conn.fetchval("SHOW server_version")
            version = await schema_version(conn)
        return f"PostgreSQL {server}, schema version {version}"

    async def count_by_status(self) -> Mapping[JobStatus, int]:
        """How many jobs the store holds in each state (states with none are left out)."""
        rows = await self._rows("SELECT status, COUNT(*) FROM jobs GROUP BY status")
        return {JobStatus(row[0]): int(row[1]) for row in rows if row[0] in JobStatus.__members__.values()}

    # -- creating and reading -------------------------------------------------------------------

    async def insert_job(self, new: NewJob, now: float) -> Job:
        """Store a new job as queued, with no limit checks, and return it with its number."""
        return await _insert(self._pool, new, now)

    async def admit_job(self, new: NewJob, policy: Policy, now: float) -> Admission:
        """Check the queue length, cooldown and daily quotas and store the job, in one transaction.

        The workspace's advisory lock makes check-and-insert one step for every process: concurrent requests
        can never exceed a limit. Unrelated workspaces admit in parallel (a hash collision only serialises two).
        """
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", ADMIT_LOCK_SPACE,
                               f"{new.platform}:{new.workspace_id}")
            return await _admit(conn, new, policy, now)

    async def get_job(self, job_id: int) -> Job | None:
        """The job with this number, or None."""
        return await _job_by_id(self._pool, job_id)

    async def get_job_by_task(self, task_id: str) -> Job | None:
        """The job the provider knows by this task id, or None."""
        return await self._one(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE task_id = $1", task_id)

    async def due_jobs(self, now: float, limit: int) -> list[Job]:
        """Jobs with work due (poll, deliver, notify, recover), soonest first, at most ``limit``."""
        return await self._many(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE next_poll_at IS NOT NULL AND next_poll_at <= $1"
            " ORDER BY next_poll_at LIMIT $2", now, limit)

    async def submitting_jobs(self) -> list[Job]:
        """Jobs whose submission is under way (status ``submitting``), oldest first."""
        return await self._many(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE status = 'submitting' ORDER BY id")

    async def next_due_at(self) -> float | None:
        """When the soonest scheduled work is due, or None when nothing is scheduled."""
        value = await self._scalar("SELECT MIN(next_poll_at) FROM jobs WHERE next_poll_at IS NOT NULL")
        return float(value) if value is not None else None

    async def recent_durations(self, limit: int) -> list[tuple[str, float, float]]:
        """(model, submitted_at, seconds until the bot saw it finished) of the newest finished jobs, oldest
        first."""
        rows = await self._rows(
            "SELECT model, submitted_at, completed_at - submitted_at FROM jobs"
            " WHERE completed_at IS NOT NULL AND submitted_at IS NOT NULL ORDER BY id DESC LIMIT $1", limit)
        return [(str(model), float(at), float(seconds)) for model, at, seconds in reversed(rows)]

    async def user_jobs(self, workspace: Workspace, user_id: str, limit: int) -> list[Job]:
        """A user's most recent jobs in a guild, newest first."""
        return await self._many(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE workspace_id = $1 AND platform = $2 AND user_id = $3"
            " ORDER BY id DESC LIMIT $4", workspace.id, workspace.platform, user_id, limit)

    async def in_flight(self, workspace: Workspace) -> list[Job]:
        """A workspace's jobs that are queued or at the provider, oldest first."""
        return await self._many(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE workspace_id = $1 AND platform = $2"
            " AND status = ANY($3::text[]) ORDER BY id", workspace.id, workspace.platform, _IN_FLIGHT)

    async def failures_since(self, workspace: Workspace, since: float) -> list[Job]:
        """A workspace's jobs that failed or timed out since ``since``, newest first."""
        return await self._many(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE workspace_id = $1 AND platform = $2 AND finished_at >= $3"
            " AND status IN ('failed', 'timed_out') ORDER BY finished_at DESC",
            workspace.id, workspace.platform, since)

    async def stale_status_messages(self, limit: int) -> list[Job]:
        """Finished jobs whose status message may not show how they ended (the process died in between)."""
        return await self._many(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE status_message_id IS NOT NULL AND status = ANY($1::text[])"
            " AND (status_rendered IS NULL OR NOT starts_with(status_rendered, status || '|'))"
            " ORDER BY id DESC LIMIT $2", _ENDED, limit)

    async def queue_position(self, job: Job) -> int:
        """1-based position of a job among its workspace's in-flight jobs (0 when it is not in flight)."""
        if job.status not in IN_FLIGHT_STATUSES:
            return 0
        ahead = await self._scalar(
            "SELECT COUNT(*) FROM jobs WHERE workspace_id = $1 AND platform = $2 AND id < $3"
            " AND status = ANY($4::text[])", job.workspace_id, job.platform, job.id, _IN_FLIGHT)
        return int(ahead) + 1

    # -- the submit queue -------------------------------------------------------------------------

    async def claim_submittable(self, limits: Limits, now: float, deadline: float, batch: int) -> list[Job]:
        """Move the oldest queued jobs that fit under the caps to submitting, in one transaction.

        ``limits`` are the bot's defaults; a workspace's own caps (and its pause) come from workspace_settings.
        The claim lock makes counting and claiming one step for every process.
        """
        # Every poll tick asks; with nothing queued (the usual case) one index probe answers, without the lock.
        if not await self._scalar("SELECT EXISTS (SELECT 1 FROM jobs WHERE status = 'queued')"):
            return []
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", *CLAIM_LOCK)
            return await _claim(conn, limits, deadline, batch)

    # -- state transitions; each guarded by the states it may leave, so a cancel always wins ------

    async def mark_submitted(self, job_id: int, task_id: str, now: float, next_poll_at: float) -> bool:
        """Record the provider's task id for a job that was being submitted."""
        return await self._update(
            "UPDATE jobs SET status = 'submitted', task_id = $2, submitted_at = $3, next_poll_at = $4, attempts = 0"
            " WHERE id = $1 AND status = 'submitting'", job_id, task_id, now, next_poll_at)

    async def record_progress(self, job_id: int, status: JobStatus, progress: int, next_poll_at: float) -> bool:
        """Record a poll's answer for a job still at the provider and schedule the next poll."""
        return await self._update(
            "UPDATE jobs SET status = $2, progress = GREATEST(progress, $3), next_poll_at = $4, attempts = 0,"
            " polls = polls + 1 WHERE id = $1 AND status = ANY($5::text[])",
            job_id, str(status), progress, next_poll_at, _POLLABLE)

    async def record_poll_error(self, job_id: int, next_poll_at: float) -> bool:
        """Count a failed poll and schedule a retry."""
        return await self._update(
            "UPDATE jobs SET attempts = attempts + 1, polls = polls + 1, next_poll_at = $2"
            " WHERE id = $1 AND status = ANY($3::text[])", job_id, next_poll_at, _POLLABLE)

    async def mark_completed(self, job_id: int, video_url: str | None, now: float) -> bool:
        """The provider finished the video: due for delivery at once."""
        return await self._update(
            "UPDATE jobs SET status = 'completed', progress = 100, video_url = $2, completed_at = $3,"
            " next_poll_at = $3, attempts = 0, polls = polls + 1 WHERE id = $1 AND status = ANY($4::text[])",
            job_id, video_url, now, _POLLABLE)

    async def mark_failed(
        self,
        job_id: int,
        status: JobStatus,
        error: str,
        now: float,
        *,
        safety_rejection: bool = False,
        from_statuses: Iterable[JobStatus] = (JobStatus.SUBMITTING, JobStatus.SUBMITTED, JobStatus.RUNNING),
    ) -> bool:
        """End a job without a video (failed or timed out); its failure notice is due at once."""
        return await self._update(
            "UPDATE jobs SET status = $2, error = $3, safety_rejection = $4, finished_at = $5, next_poll_at = $5,"
            " attempts = 0, refunded = true WHERE id = $1 AND status = ANY($6::text[])",
            job_id, str(status), error, bool(safety_rejection), now, texts(tuple(from_statuses)))

    async def cancel(self, job_id: int, now: float) -> bool:
        """Cancel a job that has not finished; nothing is delivered for it afterwards."""
        return await self._update(
            "UPDATE jobs SET status = 'cancelled', finished_at = $2, next_poll_at = NULL,"
            " refunded = (status = 'queued' OR refunded) WHERE id = $1 AND status = ANY($3::text[])",
            job_id, now, _IN_FLIGHT)

    # -- delivery ---------------------------------------------------------------------------------

    async def begin_delivery(self, job_id: int, retry_at: float) -> Job | None:
        """Count a delivery attempt before it starts, so a crash mid-upload is known after a restart."""
        return await self._one(
            "UPDATE jobs SET delivery_attempts = delivery_attempts + 1, next_poll_at = $2"
            f" WHERE id = $1 AND delivered_at IS NULL AND status = ANY($3::text[]) RETURNING {_JOB_COLUMNS}",
            job_id, retry_at, _NOTICE_DUE)

    async def mark_delivered(self, job_id: int, message_id: str, now: float) -> bool:
        """Record the message that carried the result (the video, or the failure notice).

        A job whose requester asked for a direct message stays due (now) until that message is sent: usually in
        the same step, or by a later tick when the process died in between.
        """
        return await self._update(
            "UPDATE jobs SET status = CASE WHEN status = 'completed' THEN 'delivered' ELSE status END,"
            " delivered_at = $3::double precision, delivered_message_id = $2::text,"
            " next_poll_at = CASE WHEN dm_when_ready AND dm_sent_at IS NULL THEN $3::double precision END,"
            " finished_at = COALESCE(finished_at, $3::double precision) WHERE id = $1 AND delivered_at IS NULL",
            job_id, message_id, now)

    async def mark_dm_sent(self, job_id: int, now: float) -> bool:
        """Record that the requester's direct message was sent (or given up on): nothing more is due."""
        return await self._update(
            "UPDATE jobs SET dm_sent_at = $2, next_poll_at = NULL"
            " WHERE id = $1 AND dm_when_ready AND delivered_at IS NOT NULL AND dm_sent_at IS NULL", job_id, now)

    async def postpone_dm(self, job_id: int, retry_at: float) -> bool:
        """Try the requester's direct message again at ``retry_at`` (after an error that may pass)."""
        return await self._update(
            "UPDATE jobs SET next_poll_at = $2"
            " WHERE id = $1 AND dm_when_ready AND delivered_at IS NOT NULL AND dm_sent_at IS NULL", job_id, retry_at)

    async def postpone_delivery(self, job_id: int, retry_at: float | None, error: str | None) -> bool:
        """Schedule another delivery attempt (or none, with ``retry_at`` None) after a failed one."""
        return await self._update(
            "UPDATE jobs SET next_poll_at = $2, error = COALESCE($3, error) WHERE id = $1 AND delivered_at IS NULL",
            job_id, retry_at, error)

    # -- the status message -----------------------------------------------------------------------

    async def set_status_shown(self, job_id: int, rendered: str, now: float, *, message_id: str | None = None
                               ) -> bool:
        """Remember what the status message shows now (and its id, when it was just posted), in one write."""
        return await self._update(
            "UPDATE jobs SET status_rendered = $2, status_edited_at = $3,"
            " status_message_id = COALESCE($4, status_message_id) WHERE id = $1",
            job_id, rendered, now, message_id)

    # -- small notes (command payload hash, ...) ----------------------------------------------------

    async def get_meta(self, key: str) -> str | None:
        """A stored note, or None."""
        value = await self._scalar("SELECT value FROM meta WHERE key = $1", key)
        return str(value) if value is not None else None

    async def set_meta(self, key: str, value: str) -> None:
        """Store a note, replacing any earlier value."""
        await self._pool.execute(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            key, value)

    async def get_or_create_meta(self, key: str, value: str) -> str:
        """The stored note, or ``value`` stored now when there is none; every caller, in every process, gets the
        same one."""
        # Insert-if-absent, then read back. In READ COMMITTED a racing insert waits for the first one to commit
        # and then does nothing; the read that follows sees the winner's value.
        await self._pool.execute("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
                                 key, value)
        stored = await self._scalar("SELECT value FROM meta WHERE key = $1", key)
        return str(stored)
