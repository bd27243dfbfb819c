"""``PostgresJobStore``: the job store on PostgreSQL, with the SQLite store's semantics across many connections.

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

from collections.abc import Callable, Iterable, Mapping, Sequence

from bot.jobs.policy import Admission, Policy
from bot.jobs.provider import ImageInput
from bot.jobs.records import IN_FLIGHT_STATUSES, Job, JobStatus, Limits, NewJob, Workspace
from db.image_kinds import image_rows
from db.postgres.base import texts
from db.postgres.connection import schema_version
from db.postgres.post_intent_queries import PostIntentQueries
from db.postgres.preference_queries import PreferenceQueries
from db.postgres.rows import JOB_COLUMNS, insert, job_by_id, job_of
from db.postgres.shared_state import SharedStateQueries
from db.postgres.status_queries import StatusMessageQueries
from db.postgres.submit_queue import ADMIT_LOCK_SPACE, CLAIM_LOCK, admit, claim
from db.postgres.wakeups import NOTIFY_WAKE, WAKE_CHANNEL, WakeupListener
from db.postgres.workspace_queries import WorkspaceQueries

_IN_FLIGHT = texts(sorted(IN_FLIGHT_STATUSES))
_POLLABLE = texts((JobStatus.SUBMITTED, JobStatus.RUNNING))
_NOTICE_DUE = texts((JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.TIMED_OUT))
_ENDED = texts((JobStatus.DELIVERED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.TIMED_OUT))


# Claim the soonest due jobs ($4 at most) for $1 until $3. The claimed ids are one array the update looks up by
# index: joined to the locked rows instead, with a backlog of due jobs (10,000 in flight, all due) the planner
# read the whole table on every claim (a sequential scan and a hash join; tests/db/postgres/test_claim_plan.py).
CLAIM_DUE = (
    "UPDATE jobs SET lease_owner = $1, lease_token = lease_token + 1, next_poll_at = $3"
    " WHERE id = ANY(ARRAY(SELECT id FROM jobs WHERE next_poll_at IS NOT NULL AND next_poll_at <= $2"
    " ORDER BY next_poll_at LIMIT $4 FOR UPDATE SKIP LOCKED))"
    f" AND next_poll_at <= $2 RETURNING {JOB_COLUMNS}"
)

# Fencing: a worker step's write names its claim's token (``_FENCED[n]``: parameter ``$n``) and is refused once
# another claim has taken the job (a NULL token: an unfenced write).
_FENCED = {n: f" AND (${n}::bigint IS NULL OR lease_token = ${n}::bigint)" for n in range(1, 10)}
# The schedule a write in the middle of a leased step sets (``_KEEP_LEASE[n]``: parameter ``$n``), but no earlier
# than the lease runs out, so that no other process takes the job while its owner is still at work.
_KEEP_LEASE = {
    n: f"CASE WHEN lease_owner IS NOT NULL THEN GREATEST(next_poll_at, ${n}::double precision)"
       f" ELSE ${n}::double precision END"
    for n in range(1, 10)
}


class PostgresJobStore(WorkspaceQueries, PreferenceQueries, SharedStateQueries, StatusMessageQueries,
                       PostIntentQueries):
    """The job store on a PostgreSQL database; any number of connections (and store objects) may share it, and
every method keeps its meaning among them."""

    async def _one(self, sql: str, *params: object) -> Job | None:
        row = await self._pool.fetchrow(sql, *params)
        return job_of(row) if row is not None else None

    async def _many(self, sql: str, *params: object) -> list[Job]:
        return [job_of(r) for r in await self._rows(sql, *params)]

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
        return await insert(self._pool, new, now)

    async def admit_job(self, new: NewJob, policy: Policy, now: float, images: Sequence[ImageInput] = ()
                        ) -> Admission:
        """Check the queue length, cooldown and daily quotas and store the job with its ``images``, in one
        transaction (a job is never stored without its images).

        The workspace's advisory lock makes check-and-insert one step for every process: concurrent requests
        can never exceed a limit. Unrelated workspaces admit in parallel (a hash collision only serialises two).
        """
        image_rows(images)  # more images than a job holds: refused before anything is written
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", ADMIT_LOCK_SPACE,
                               f"{new.platform}:{new.workspace_id}")
            admission = await admit(conn, new, policy, now, images)
            if admission.job_id is not None:
                await conn.execute(NOTIFY_WAKE)  # sent at commit: other processes' workers may submit it now
            return admission

    async def get_job(self, job_id: int) -> Job | None:
        """The job with this number, or None."""
        return await job_by_id(self._pool, job_id)

    async def get_job_by_task(self, task_id: str) -> Job | None:
        """The job the provider knows by this task id, or None."""
        return await self._one(f"SELECT {JOB_COLUMNS} FROM jobs WHERE task_id = $1", task_id)

    async def due_jobs(self, now: float, limit: int) -> list[Job]:
        """Jobs with work due (poll, deliver, notify, recover), soonest first, at most ``limit``."""
        return await self._many(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE next_poll_at IS NOT NULL AND next_poll_at <= $1"
            " ORDER BY next_poll_at LIMIT $2", now, limit)

    async def claim_due(self, owner: str, now: float, lease_s: float, limit: int) -> list[Job]:
        """Claim the jobs with work due, soonest first, at most ``limit``: each leased to ``owner`` until
        ``now + lease_s`` under a new fencing token (a lease that ran out is taken over).

        ``SKIP LOCKED``: processes claiming at once get disjoint jobs without waiting for each other; a row changed
        meanwhile (a cancel) is checked against the condition again before it is taken.
        """
        rows = await self._rows(CLAIM_DUE, owner, now, now + lease_s, limit)
        return [job_of(r) for r in rows]

    async def renew_leases(self, owner: str, tokens: Mapping[int, int], now: float, lease_s: float) -> set[int]:
        """Extend to ``now + lease_s`` the leases ``owner`` still holds among ``tokens`` (job id: token), in one
        statement; return the ids of the jobs whose lease was renewed."""
        if not tokens:
            return set()
        rows = await self._rows(
            "UPDATE jobs j SET next_poll_at = GREATEST(j.next_poll_at, $2) FROM unnest($3::bigint[], $4::bigint[])"
            " AS held(id, token) WHERE j.id = held.id AND j.lease_token = held.token AND j.lease_owner = $1"
            " RETURNING j.id", owner, now + lease_s, list(tokens), list(tokens.values()))
        return {int(row[0]) for row in rows}

    async def end_dead_leases(self, now: float) -> int:
        """Nothing to do: several processes share the database, so a lease is known to be dead only once it
        runs out (then ``claim_due`` takes it over)."""
        return 0

    async def watch_for_work(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` whenever another process announces new work (and after each reconnection of the listening
        connection), until cancelled; never raises: the worker's timed tick is the safety net."""
        if self._url is not None:
            await WakeupListener(self._url).run(wake)

    async def submitting_jobs(self) -> list[Job]:
        """Jobs whose submission is under way (status ``submitting``), oldest first."""
        return await self._many(f"SELECT {JOB_COLUMNS} FROM jobs WHERE status = 'submitting' ORDER BY id")

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
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE workspace_id = $1 AND platform = $2 AND user_id = $3"
            " ORDER BY id DESC LIMIT $4", workspace.id, workspace.platform, user_id, limit)

    async def in_flight(self, workspace: Workspace) -> list[Job]:
        """A workspace's jobs that are queued or at the provider, oldest first."""
        return await self._many(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE workspace_id = $1 AND platform = $2"
            " AND status = ANY($3::text[]) ORDER BY id", workspace.id, workspace.platform, _IN_FLIGHT)

    async def failures_since(self, workspace: Workspace, since: float) -> list[Job]:
        """A workspace's jobs that failed or timed out since ``since``, newest first."""
        return await self._many(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE workspace_id = $1 AND platform = $2 AND finished_at >= $3"
            " AND status IN ('failed', 'timed_out') ORDER BY finished_at DESC",
            workspace.id, workspace.platform, since)

    async def stale_status_messages(self, limit: int) -> list[Job]:
        """Finished jobs whose status message may not show how they ended (the process died in between)."""
        return await self._many(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE status_message_id IS NOT NULL AND status = ANY($1::text[])"
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

    async def claim_submittable(self, limits: Limits, now: float, deadline: float, batch: int,
                                owner: str | None = None) -> list[Job]:
        """Move the oldest queued jobs that fit under the caps to submitting, in one transaction.

        ``limits`` are the bot's defaults; a workspace's own caps (and its pause) come from workspace_settings.
        The claim lock makes counting and claiming one step for every process. Each claim gets a new fencing
        token; with an ``owner`` it is leased to it until ``deadline``.
        """
        # Every poll tick asks; with nothing queued (the usual case) one index probe answers, without the lock.
        if not await self._scalar("SELECT EXISTS (SELECT 1 FROM jobs WHERE status = 'queued')"):
            return []
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", *CLAIM_LOCK)
            return await claim(conn, limits, deadline, batch, owner)

    # -- state transitions; each guarded by the states it may leave, so a cancel always wins ------

    async def mark_submitted(self, job_id: int, task_id: str, now: float, next_poll_at: float, *,
                             token: int | None = None) -> bool:
        """Record the provider's task id for a job that was being submitted (ends the step: frees the lease)."""
        return await self._update(
            "UPDATE jobs SET status = 'submitted', task_id = $2, submitted_at = $3, next_poll_at = $4, attempts = 0,"
            f" lease_owner = NULL WHERE id = $1 AND status = 'submitting'{_FENCED[5]}",
            job_id, task_id, now, next_poll_at, token)

    async def record_progress(self, job_id: int, status: JobStatus, progress: int, next_poll_at: float, *,
                              token: int | None = None) -> bool:
        """Record a poll's answer for a job still at the provider and schedule the next poll (frees the lease)."""
        return await self._update(
            "UPDATE jobs SET status = $2, progress = GREATEST(progress, $3), next_poll_at = $4, attempts = 0,"
            f" polls = polls + 1, lease_owner = NULL WHERE id = $1 AND status = ANY($5::text[]){_FENCED[6]}",
            job_id, str(status), progress, next_poll_at, _POLLABLE, token)

    async def record_poll_error(self, job_id: int, next_poll_at: float, *, token: int | None = None) -> bool:
        """Count a failed poll and schedule a retry (frees the lease)."""
        return await self._update(
            "UPDATE jobs SET attempts = attempts + 1, polls = polls + 1, next_poll_at = $2, lease_owner = NULL"
            f" WHERE id = $1 AND status = ANY($3::text[]){_FENCED[4]}", job_id, next_poll_at, _POLLABLE, token)

    async def mark_completed(self, job_id: int, video_url: str | None, now: float, *,
                             token: int | None = None) -> bool:
        """The provider finished the video: due for delivery at once (or when the step's lease runs out)."""
        return await self._update(
            "UPDATE jobs SET status = 'completed', progress = 100, video_url = $2, completed_at = $3,"
            f" next_poll_at = {_KEEP_LEASE[3]}, attempts = 0, polls = polls + 1"
            f" WHERE id = $1 AND status = ANY($4::text[]){_FENCED[5]}",
            job_id, video_url, now, _POLLABLE, token)

    async def mark_failed(
        self,
        job_id: int,
        status: JobStatus,
        error: str,
        now: float,
        *,
        safety_rejection: bool = False,
        from_statuses: Iterable[JobStatus] = (JobStatus.SUBMITTING, JobStatus.SUBMITTED, JobStatus.RUNNING),
        token: int | None = None,
    ) -> bool:
        """End a job without a video (failed or timed out); its failure notice is due at once (or when the
        step's lease runs out)."""
        return await self._update(
            "UPDATE jobs SET status = $2, error = $3, safety_rejection = $4, finished_at = $5,"
            f" next_poll_at = {_KEEP_LEASE[5]}, attempts = 0, refunded = true"
            f" WHERE id = $1 AND status = ANY($6::text[]){_FENCED[7]}",
            job_id, str(status), error, bool(safety_rejection), now, texts(tuple(from_statuses)), token)

    async def cancel(self, job_id: int, now: float) -> bool:
        """Cancel a job that has not finished; nothing is delivered for it afterwards. Its slot is free: every
        process's worker is woken to fill it."""
        rows = await self._rows(
            "WITH cancelled AS (UPDATE jobs SET status = 'cancelled', finished_at = $2, next_poll_at = NULL,"
            " lease_owner = NULL, refunded = (status = 'queued' OR refunded) WHERE id = $1"
            " AND status = ANY($3::text[]) RETURNING id)"
            " SELECT pg_notify($4, '') FROM cancelled",
            job_id, now, _IN_FLIGHT, WAKE_CHANNEL)
        return len(rows) > 0

    # -- delivery ---------------------------------------------------------------------------------

    async def begin_delivery(self, job_id: int, retry_at: float, *, token: int | None = None) -> Job | None:
        """Count a delivery attempt before it starts, so a crash mid-upload is known after a restart."""
        return await self._one(
            f"UPDATE jobs SET delivery_attempts = delivery_attempts + 1, next_poll_at = {_KEEP_LEASE[2]}"
            f" WHERE id = $1 AND delivered_at IS NULL AND status = ANY($3::text[]){_FENCED[4]} RETURNING {JOB_COLUMNS}",
            job_id, retry_at, _NOTICE_DUE, token)

    async def mark_delivered(self, job_id: int, message_id: str, now: float, *, token: int | None = None) -> bool:
        """Record the message that carried the result (the video, or the failure notice).

        A job whose requester asked for a direct message stays due (now, or when the step's lease runs out) until
        that message is sent: usually in the same step, or by a later tick when the process died in between.
        Otherwise this ends the step and frees the lease.
        """
        return await self._update(
            "UPDATE jobs SET status = CASE WHEN status = 'completed' THEN 'delivered' ELSE status END,"
            " delivered_at = $3::double precision, delivered_message_id = $2::text,"
            f" next_poll_at = CASE WHEN dm_when_ready AND dm_sent_at IS NULL THEN {_KEEP_LEASE[3]} END,"
            " lease_owner = CASE WHEN dm_when_ready AND dm_sent_at IS NULL THEN lease_owner END,"
            " finished_at = COALESCE(finished_at, $3::double precision)"
            f" WHERE id = $1 AND delivered_at IS NULL{_FENCED[4]}",
            job_id, message_id, now, token)

    async def mark_dm_sent(self, job_id: int, now: float, *, token: int | None = None) -> bool:
        """Record that the requester's direct message was sent (or given up on): nothing more is due."""
        return await self._update(
            "UPDATE jobs SET dm_sent_at = $2, next_poll_at = NULL, lease_owner = NULL"
            f" WHERE id = $1 AND dm_when_ready AND delivered_at IS NOT NULL AND dm_sent_at IS NULL{_FENCED[3]}",
            job_id, now, token)

    async def postpone_dm(self, job_id: int, retry_at: float, *, token: int | None = None) -> bool:
        """Try the requester's direct message again at ``retry_at`` (after an error that may pass)."""
        return await self._update(
            "UPDATE jobs SET next_poll_at = $2, lease_owner = NULL"
            f" WHERE id = $1 AND dm_when_ready AND delivered_at IS NOT NULL AND dm_sent_at IS NULL{_FENCED[3]}",
            job_id, retry_at, token)

    async def postpone_delivery(self, job_id: int, retry_at: float | None, error: str | None, *,
                                token: int | None = None) -> bool:
        """Schedule another delivery attempt (or none, with ``retry_at`` None) after a failed one (frees the
        lease)."""
        return await self._update(
            "UPDATE jobs SET next_poll_at = $2, error = COALESCE($3, error), lease_owner = NULL"
            f" WHERE id = $1 AND delivered_at IS NULL{_FENCED[4]}",
            job_id, retry_at, error, token)

    # -- small notes (command payload hash, ...) ----------------------------------------------------

    async def reserve_identify_slot(self, bucket: int, window: float, now: float) -> float:
        """Book the next moment a gateway session of ``bucket`` may identify: ``now``, or ``window`` seconds
        after the moment booked before it (by any process); return the seconds to wait until then."""
        # One statement: a racing booking of the same bucket waits for this row's lock, then books after it.
        booked = await self._scalar(
            "INSERT INTO identify_buckets (bucket, identify_at) VALUES ($1, $2) ON CONFLICT (bucket) DO UPDATE"
            " SET identify_at = GREATEST(excluded.identify_at, identify_buckets.identify_at + $3)"
            " RETURNING identify_at",
            bucket, now, window)
        return max(0.0, float(booked) - now)

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
