"""``SqliteJobStore``: every SQL statement of the bot, parameterised, returning typed records."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from bot.jobs.policy import Admission, Policy, Refusal, day_start
from bot.jobs.provider import ImageInput
from bot.jobs.records import ACTIVE_STATUSES, IN_FLIGHT_STATUSES, Job, JobStatus, Limits, NewJob, Workspace
from db.claims import UserKey, WorkspaceKey, select_claimable, workspace_caps
from db.image_kinds import image_rows
from db.sqlite.base import marks, scalar
from db.sqlite.post_intent_queries import PostIntentQueries
from db.sqlite.preference_queries import PreferenceQueries
from db.sqlite.shared_state import SharedStateQueries, insert_images
from db.sqlite.stats_queries import StatsQueries
from db.sqlite.status_queries import StatusMessageQueries
from db.sqlite.workspace_queries import WorkspaceQueries, last_request_at, quota_used

_ACTIVE = tuple(sorted(ACTIVE_STATUSES))
_IN_FLIGHT = tuple(sorted(IN_FLIGHT_STATUSES))
_POLLABLE = (JobStatus.SUBMITTED, JobStatus.RUNNING)


_marks = marks

# Fencing: a worker step's write names the token of its claim and is refused once another claim has taken
# the job (None: an unfenced write). Two parameters: (token, token).
_FENCED = " AND (? IS NULL OR lease_token = ?)"
# A write in the middle of a leased step schedules the job no earlier than its lease runs out, so that no
# other process takes it while its owner is still at work (two parameters: (at, at)).
_KEEP_LEASE = "CASE WHEN lease_owner IS NOT NULL THEN MAX(next_poll_at, ?) ELSE ? END"


# Jobs are read with their columns in the order of Job's fields and built positionally: a third of the
# time of building one from a dict of the row, which counts on the hot path (a row per poll).
_JOB_FIELDS = tuple(field.name for field in dataclasses.fields(Job))
_JOB_COLUMNS = ", ".join(_JOB_FIELDS)
_STATUS_AT = _JOB_FIELDS.index("status")
_FLAGS_AT = tuple(_JOB_FIELDS.index(n) for n in ("safety_rejection", "refunded", "in_thread", "dm_when_ready"))


def _job(row: Sequence[Any]) -> Job:
    values = list(row)
    values[_STATUS_AT] = JobStatus(values[_STATUS_AT])
    for at in _FLAGS_AT:
        values[at] = bool(values[at])
    return Job(*values)


def _fetch_job(conn: sqlite3.Connection, sql: str, params: Sequence[object]) -> Job | None:
    row = conn.execute(sql, params).fetchone()
    return _job(row) if row else None


def _job_by_id(conn: sqlite3.Connection, job_id: int) -> Job | None:
    return _fetch_job(conn, f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,))


def _insert(conn: sqlite3.Connection, new: NewJob, now: float) -> int:
    cur = conn.execute(
        "INSERT INTO jobs (platform, workspace_id, channel_id, user_id, prompt, model, orientation, image_count,"
        " input_dir, locale, in_thread, dm_when_ready, status, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (new.platform, new.workspace_id, new.channel_id, new.user_id, new.prompt, new.model, new.orientation,
         new.image_count, new.input_dir, new.locale, new.in_thread, new.dm_when_ready, JobStatus.QUEUED, now),
    )
    return int(cur.lastrowid or 0)


def _record_progress(conn: sqlite3.Connection, job_id: int, status: JobStatus, progress: int,
                     next_poll_at: float, token: int | None) -> bool:
    # Most polls leave the status as it was. Setting it anyway would rewrite the row's entry in every index
    # on status (four), which costs about three times the rest of the update; so try without it first.
    if status in _POLLABLE and conn.execute(
        "UPDATE jobs SET progress = MAX(progress, ?), next_poll_at = ?, attempts = 0, polls = polls + 1,"
        f" lease_owner = NULL WHERE id = ? AND status = ?{_FENCED}",
        (progress, next_poll_at, job_id, status, token, token)
    ).rowcount > 0:
        return True
    return conn.execute(
        "UPDATE jobs SET status = ?, progress = MAX(progress, ?), next_poll_at = ?, attempts = 0,"
        f" polls = polls + 1, lease_owner = NULL WHERE id = ? AND status IN ({_marks(_POLLABLE)}){_FENCED}",
        (status, progress, next_poll_at, job_id, *_POLLABLE, token, token),
    ).rowcount > 0


def _claim(conn: sqlite3.Connection, limits: Limits, deadline: float, batch: int, owner: str | None) -> list[Job]:
    """Claim the oldest queued jobs that fit under the caps (see ``claim_submittable``)."""
    total = int(scalar(conn, f"SELECT COUNT(*) FROM jobs WHERE status IN ({_marks(_ACTIVE)})", _ACTIVE))
    if total >= limits.total:
        return []
    # Counts per candidate's workspace and member, through the indexes, only for the workspaces and members
    # in the queue: a claim costs the same whether ten or ten thousand jobs are at the provider.

    def workspace_count(key: WorkspaceKey) -> int:
        return int(scalar(
            conn, "SELECT COUNT(*) FROM jobs WHERE workspace_id = ? AND platform = ?"
            f" AND status IN ({_marks(_ACTIVE)})", (key[1], key[0], *_ACTIVE)))

    def user_count(key: UserKey) -> int:
        return int(scalar(
            # "+user_id": read the workspace's active jobs through jobs_status (covering), not the
            # member's whole history through jobs_user_created.
            conn, "SELECT COUNT(*) FROM jobs WHERE +user_id = ? AND workspace_id = ? AND platform = ?"
            f" AND status IN ({_marks(_ACTIVE)})", (key[2], key[1], key[0], *_ACTIVE)))

    caps = workspace_caps(conn.execute(
        "SELECT platform, workspace_id, max_active_per_user, max_active_per_guild, paused FROM workspace_settings"
    ), limits)
    queued = conn.execute(
        "SELECT id, user_id, workspace_id, platform FROM jobs WHERE status = ? ORDER BY id", (JobStatus.QUEUED,)
    ).fetchall()
    claimed = select_claimable(queued, active_total=total, user_count=user_count, workspace_count=workspace_count,
                               caps=caps, limits=limits, batch=batch)
    jobs = []
    for job_id in claimed:
        conn.execute(
            "UPDATE jobs SET status = ?, next_poll_at = ?, attempts = 0, lease_owner = ?,"
            " lease_token = lease_token + 1 WHERE id = ? AND status = ?",
            (JobStatus.SUBMITTING, deadline, owner, job_id, JobStatus.QUEUED),
        )
        job = _job_by_id(conn, job_id)
        if job is not None:
            jobs.append(job)
    return jobs


def _admit(conn: sqlite3.Connection, new: NewJob, policy: Policy, now: float,
           images: Sequence[ImageInput]) -> Admission:
    """Check the limits and insert the job (see ``admit_job``)."""
    since = day_start(now)
    queued = int(scalar(conn, "SELECT COUNT(*) FROM jobs WHERE workspace_id = ? AND platform = ? AND status = ?",
                        (new.workspace_id, new.platform, JobStatus.QUEUED)))
    if policy.max_queued and queued >= policy.max_queued:
        return Admission(None, Refusal.QUEUE_FULL)
    if policy.cooldown_seconds > 0:
        last = last_request_at(conn, new.workspace, new.user_id)
        if last is not None and now - last < policy.cooldown_seconds:
            return Admission(None, Refusal.COOLDOWN, retry_at=last + policy.cooldown_seconds)
    user_used, workspace_used = quota_used(conn, new.workspace, new.user_id, since)
    if policy.daily_quota_per_user and user_used >= policy.daily_quota_per_user:
        return Admission(None, Refusal.USER_QUOTA, retry_at=since + 86400, used_today=user_used)
    if policy.daily_quota_per_guild and workspace_used >= policy.daily_quota_per_guild:
        return Admission(None, Refusal.GUILD_QUOTA, retry_at=since + 86400, used_today=user_used)
    job_id = _insert(conn, new, now)
    insert_images(conn, job_id, images)
    return Admission(job_id, used_today=user_used + 1)


class SqliteJobStore(WorkspaceQueries, PreferenceQueries, PostIntentQueries, StatsQueries, SharedStateQueries,
                     StatusMessageQueries):
    """The job store on one long-lived SQLite connection; with its query groups, the only place that speaks SQL."""

    async def _one(self, sql: str, params: Sequence[object] = ()) -> Job | None:
        return await self._read(lambda conn: _fetch_job(conn, sql, params))

    async def _many(self, sql: str, params: Sequence[object] = ()) -> list[Job]:
        return await self._read(lambda conn: [_job(r) for r in conn.execute(sql, params).fetchall()])

    # -- creating and reading -------------------------------------------------------------------

    async def insert_job(self, new: NewJob, now: float) -> Job:
        """Store a new job as queued, with no limit checks, and return it with its number."""
        def work(conn: sqlite3.Connection) -> Job:
            job = _job_by_id(conn, _insert(conn, new, now))
            assert job is not None
            return job
        return await self._write(work)

    async def admit_job(self, new: NewJob, policy: Policy, now: float, images: Sequence[ImageInput] = ()
                        ) -> Admission:
        """Check the queue length, cooldown and daily quotas and store the job with its ``images``, in one
        transaction.

        Checking and inserting together means concurrent requests can never exceed a limit; a job is never stored
        without its images.
        """
        image_rows(images)  # more images than a job holds: refused before anything is written
        return await self._write(lambda conn: _admit(conn, new, policy, now, images))

    async def get_job(self, job_id: int) -> Job | None:
        """The job with this number, or None."""
        return await self._read(lambda conn: _job_by_id(conn, job_id))

    async def get_job_by_task(self, task_id: str) -> Job | None:
        """The job the provider knows by this task id, or None."""
        return await self._one(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE task_id = ?", (task_id,))

    async def due_jobs(self, now: float, limit: int) -> list[Job]:
        """Jobs with work due (poll, deliver, notify, recover), soonest first, at most ``limit``."""
        return await self._many(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE next_poll_at IS NOT NULL AND next_poll_at <= ?"
            " ORDER BY next_poll_at LIMIT ?",
            (now, limit),
        )

    async def claim_due(self, owner: str, now: float, lease_s: float, limit: int) -> list[Job]:
        """Claim the jobs with work due, soonest first, at most ``limit``: each leased to ``owner`` until
        ``now + lease_s`` under a new fencing token (a lease that ran out is taken over)."""
        return await self._write(lambda conn: [_job(r) for r in conn.execute(
            "UPDATE jobs SET lease_owner = ?, lease_token = lease_token + 1, next_poll_at = ? WHERE id IN"
            " (SELECT id FROM jobs WHERE next_poll_at IS NOT NULL AND next_poll_at <= ? ORDER BY next_poll_at"
            f" LIMIT ?) RETURNING {_JOB_COLUMNS}", (owner, now + lease_s, now, limit)).fetchall()])

    async def renew_leases(self, owner: str, tokens: Mapping[int, int], now: float, lease_s: float) -> set[int]:
        """Extend to ``now + lease_s`` the leases ``owner`` still holds among ``tokens`` (job id: token), in one
        statement; return the ids of the jobs whose lease was renewed."""
        if not tokens:
            return set()
        pairs = json.dumps([[job_id, token] for job_id, token in tokens.items()])
        rows = await self._write(lambda conn: conn.execute(
            "UPDATE jobs SET next_poll_at = MAX(next_poll_at, ?) WHERE lease_owner = ? AND (id, lease_token) IN"
            " (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?)) RETURNING id",
            (now + lease_s, owner, pairs)).fetchall())
        return {int(row[0]) for row in rows}

    async def end_dead_leases(self, now: float) -> int:
        """Make due now the steps a dead process left under way; return how many.

        One SQLite database serves one process (the store's file lock), so at start every lease, and every job
        left in ``submitting``, is a dead process's: no need to wait for them to run out.
        """
        return await self._write(lambda conn: conn.execute(
            "UPDATE jobs SET next_poll_at = ?, lease_owner = NULL WHERE lease_owner IS NOT NULL OR status = ?",
            (now, JobStatus.SUBMITTING)).rowcount)

    async def watch_for_work(self, wake: Callable[[], None]) -> None:
        """Nothing to watch: one SQLite database serves one process, whose commands wake its worker themselves."""

    async def submitting_jobs(self) -> list[Job]:
        """Jobs whose submission is under way (status ``submitting``), oldest first."""
        return await self._many(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE status = ? ORDER BY id", (JobStatus.SUBMITTING,)
        )

    async def next_due_at(self) -> float | None:
        """When the soonest scheduled work is due, or None when nothing is scheduled."""
        value = await self._scalar("SELECT MIN(next_poll_at) FROM jobs WHERE next_poll_at IS NOT NULL")
        return float(value) if value is not None else None

    def rows_written(self) -> int:
        """Rows inserted, updated or deleted through this connection since it opened (SQLite total_changes)."""
        return self._db.total_changes

    def commits(self) -> tuple[int, int]:
        """(write transactions committed, write calls they held) since the store opened: under load one
        commit holds many writes (group commit)."""
        return self._db.commits, self._db.units_written

    async def recent_durations(self, limit: int) -> list[tuple[str, float, float]]:
        """(model, submitted_at, seconds until the bot saw it finished) of the newest finished jobs, oldest
        first; read once at start-up, it walks the newest rows by id and stops after ``limit``."""
        rows = await self._rows(
            "SELECT model, submitted_at, completed_at - submitted_at FROM jobs"
            " WHERE completed_at IS NOT NULL AND submitted_at IS NOT NULL ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [(str(model), float(at), float(seconds)) for model, at, seconds in reversed(rows)]

    async def user_jobs(self, workspace: Workspace, user_id: str, limit: int) -> list[Job]:
        """A user's most recent jobs in a guild, newest first."""
        return await self._many(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE workspace_id = ? AND platform = ? AND user_id = ?"
            " ORDER BY id DESC LIMIT ?",
            (workspace.id, workspace.platform, user_id, limit),
        )

    async def in_flight(self, workspace: Workspace) -> list[Job]:
        """A workspace's jobs that are queued or at the provider, oldest first."""
        return await self._many(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE workspace_id = ? AND platform = ?"
            f" AND status IN ({_marks(_IN_FLIGHT)}) ORDER BY id",
            (workspace.id, workspace.platform, *_IN_FLIGHT),
        )

    async def failures_since(self, workspace: Workspace, since: float) -> list[Job]:
        """A workspace's jobs that failed or timed out since ``since``, newest first."""
        return await self._many(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE workspace_id = ? AND platform = ? AND finished_at >= ?"
            " AND status IN (?, ?)"
            " ORDER BY finished_at DESC",
            (workspace.id, workspace.platform, since, JobStatus.FAILED, JobStatus.TIMED_OUT),
        )

    async def stale_status_messages(self, limit: int) -> list[Job]:
        """Finished jobs whose status message may not show how they ended (the process died in between)."""
        return await self._many(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE status_message_id IS NOT NULL AND status IN (?, ?, ?, ?)"
            " AND (status_rendered IS NULL OR substr(status_rendered, 1, length(status) + 1) != status || '|')"
            " ORDER BY id DESC LIMIT ?",
            (JobStatus.DELIVERED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.TIMED_OUT, limit),
        )

    async def queue_position(self, job: Job) -> int:
        """1-based position of a job among its workspace's in-flight jobs (0 when it is not in flight)."""
        if job.status not in IN_FLIGHT_STATUSES:
            return 0
        ahead = await self._scalar(
            f"SELECT COUNT(*) FROM jobs WHERE workspace_id = ? AND platform = ? AND id < ?"
            f" AND status IN ({_marks(_IN_FLIGHT)})",
            (job.workspace_id, job.platform, job.id, *_IN_FLIGHT),
        )
        return int(ahead) + 1

    # -- the submit queue -------------------------------------------------------------------------

    async def claim_submittable(self, limits: Limits, now: float, deadline: float, batch: int,
                                owner: str | None = None) -> list[Job]:
        """Move the oldest queued jobs that fit under the caps to submitting, in one transaction.

        ``limits`` are the bot's defaults; a workspace's own caps (and its pause) come from workspace_settings.
        Each claim gets a new fencing token; with an ``owner`` it is leased to it until ``deadline``.
        """
        # Every poll tick asks; with nothing queued (the usual case) one index probe answers, without the
        # write transaction and the counts over every job at the provider.
        if not await self._scalar("SELECT EXISTS (SELECT 1 FROM jobs WHERE status = ?)", (JobStatus.QUEUED,)):
            return []
        return await self._write(lambda conn: _claim(conn, limits, deadline, batch, owner))

    # -- state transitions; each guarded by the states it may leave, so a cancel always wins ------

    async def mark_submitted(self, job_id: int, task_id: str, now: float, next_poll_at: float, *,
                             token: int | None = None) -> bool:
        """Record the provider's task id for a job that was being submitted (ends the step: frees the lease)."""
        return await self._update(
            "UPDATE jobs SET status = ?, task_id = ?, submitted_at = ?, next_poll_at = ?, attempts = 0,"
            f" lease_owner = NULL WHERE id = ? AND status = ?{_FENCED}",
            (JobStatus.SUBMITTED, task_id, now, next_poll_at, job_id, JobStatus.SUBMITTING, token, token),
        )

    async def record_progress(
        self, job_id: int, status: JobStatus, progress: int, next_poll_at: float, *, token: int | None = None
    ) -> bool:
        """Record a poll's answer for a job still at the provider and schedule the next poll (frees the lease)."""
        return await self._write(lambda conn: _record_progress(conn, job_id, status, progress, next_poll_at, token))

    async def record_poll_error(self, job_id: int, next_poll_at: float, *, token: int | None = None) -> bool:
        """Count a failed poll and schedule a retry (frees the lease)."""
        return await self._update(
            "UPDATE jobs SET attempts = attempts + 1, polls = polls + 1, next_poll_at = ?, lease_owner = NULL"
            f" WHERE id = ? AND status IN ({_marks(_POLLABLE)}){_FENCED}",
            (next_poll_at, job_id, *_POLLABLE, token, token),
        )

    async def mark_completed(self, job_id: int, video_url: str | None, now: float, *,
                             token: int | None = None) -> bool:
        """The provider finished the video: due for delivery at once (or when the step's lease runs out)."""
        return await self._update(
            "UPDATE jobs SET status = ?, progress = 100, video_url = ?, completed_at = ?,"
            f" next_poll_at = {_KEEP_LEASE}, attempts = 0, polls = polls + 1"
            f" WHERE id = ? AND status IN ({_marks(_POLLABLE)}){_FENCED}",
            (JobStatus.COMPLETED, video_url, now, now, now, job_id, *_POLLABLE, token, token),
        )

    async def mark_failed(
        self,
        job_id: int,
        status: JobStatus,
        error: str,
        now: float,
        *,
        safety_rejection: bool = False,
        from_statuses: Iterable[JobStatus] = (JobStatus.SUBMITTING, *_POLLABLE),
        token: int | None = None,
    ) -> bool:
        """End a job without a video (failed or timed out); its failure notice is due at once (or when the
        step's lease runs out)."""
        allowed = tuple(from_statuses)
        return await self._update(
            "UPDATE jobs SET status = ?, error = ?, safety_rejection = ?, finished_at = ?,"
            f" next_poll_at = {_KEEP_LEASE}, attempts = 0, refunded = 1"
            f" WHERE id = ? AND status IN ({_marks(allowed)}){_FENCED}",
            (status, error, int(safety_rejection), now, now, now, job_id, *allowed, token, token),
        )

    async def cancel(self, job_id: int, now: float) -> bool:
        """Cancel a job that has not finished; nothing is delivered for it afterwards."""
        return await self._update(
            "UPDATE jobs SET status = ?, finished_at = ?, next_poll_at = NULL, lease_owner = NULL,"
            " refunded = CASE WHEN status = ? THEN 1 ELSE refunded END"
            f" WHERE id = ? AND status IN ({_marks(_IN_FLIGHT)})",
            (JobStatus.CANCELLED, now, JobStatus.QUEUED, job_id, *_IN_FLIGHT),
        )

    # -- delivery ---------------------------------------------------------------------------------

    async def begin_delivery(self, job_id: int, retry_at: float, *, token: int | None = None) -> Job | None:
        """Count a delivery attempt before it starts, so a crash mid-upload is known after a restart."""
        def work(conn: sqlite3.Connection) -> Job | None:
            updated = conn.execute(
                f"UPDATE jobs SET delivery_attempts = delivery_attempts + 1, next_poll_at = {_KEEP_LEASE}"
                f" WHERE id = ? AND delivered_at IS NULL AND status IN (?, ?, ?){_FENCED}",
                (retry_at, retry_at, job_id, JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.TIMED_OUT,
                 token, token),
            ).rowcount
            return _job_by_id(conn, job_id) if updated else None
        return await self._write(work)

    async def mark_delivered(self, job_id: int, message_id: str, now: float, *, token: int | None = None) -> bool:
        """Record the message that carried the result (the video, or the failure notice).

        A job whose requester asked for a direct message stays due (now, or when the step's lease runs out) until
        that message is sent: usually in the same step, or by a later tick when the process died in between.
        Otherwise this ends the step and frees the lease.
        """
        return await self._update(
            "UPDATE jobs SET status = CASE status WHEN ? THEN ? ELSE status END, delivered_at = ?,"
            " delivered_message_id = ?,"
            f" next_poll_at = CASE WHEN dm_when_ready = 1 AND dm_sent_at IS NULL THEN {_KEEP_LEASE} ELSE NULL END,"
            " lease_owner = CASE WHEN dm_when_ready = 1 AND dm_sent_at IS NULL THEN lease_owner END,"
            f" finished_at = COALESCE(finished_at, ?) WHERE id = ? AND delivered_at IS NULL{_FENCED}",
            (JobStatus.COMPLETED, JobStatus.DELIVERED, now, message_id, now, now, now, job_id, token, token),
        )

    async def mark_dm_sent(self, job_id: int, now: float, *, token: int | None = None) -> bool:
        """Record that the requester's direct message was sent (or given up on): nothing more is due."""
        return await self._update(
            "UPDATE jobs SET dm_sent_at = ?, next_poll_at = NULL, lease_owner = NULL"
            f" WHERE id = ? AND dm_when_ready = 1 AND delivered_at IS NOT NULL AND dm_sent_at IS NULL{_FENCED}",
            (now, job_id, token, token),
        )

    async def postpone_dm(self, job_id: int, retry_at: float, *, token: int | None = None) -> bool:
        """Try the requester's direct message again at ``retry_at`` (after an error that may pass)."""
        return await self._update(
            "UPDATE jobs SET next_poll_at = ?, lease_owner = NULL"
            f" WHERE id = ? AND dm_when_ready = 1 AND delivered_at IS NOT NULL AND dm_sent_at IS NULL{_FENCED}",
            (retry_at, job_id, token, token),
        )

    async def postpone_delivery(self, job_id: int, retry_at: float | None, error: str | None, *,
                                token: int | None = None) -> bool:
        """Schedule another delivery attempt (or none, with ``retry_at`` None) after a failed one (frees the
        lease)."""
        return await self._update(
            "UPDATE jobs SET next_poll_at = ?, error = COALESCE(?, error), lease_owner = NULL"
            f" WHERE id = ? AND delivered_at IS NULL{_FENCED}",
            (retry_at, error, job_id, token, token),
        )

    # -- gateway identifies ---------------------------------------------------------------------------

    async def reserve_identify_slot(self, bucket: int, window: float, now: float) -> float:
        """Book the next moment a gateway session of ``bucket`` may identify: ``now``, or ``window`` seconds
        after the moment booked before it (by any process); return the seconds to wait until then."""

        def work(conn: sqlite3.Connection) -> float:
            conn.execute(
                "INSERT INTO identify_buckets (bucket, identify_at) VALUES (?, ?) ON CONFLICT (bucket) DO UPDATE"
                " SET identify_at = MAX(excluded.identify_at, identify_buckets.identify_at + ?)",
                (bucket, now, window),
            )
            booked = float(scalar(conn, "SELECT identify_at FROM identify_buckets WHERE bucket = ?", (bucket,)))
            return max(0.0, booked - now)

        return await self._write(work)

    # -- small notes (command payload hash, ...) ----------------------------------------------------

    async def get_meta(self, key: str) -> str | None:
        """A stored note, or None."""
        value = await self._scalar("SELECT value FROM meta WHERE key = ?", (key,))
        return str(value) if value is not None else None

    async def set_meta(self, key: str, value: str) -> None:
        """Store a note, replacing any earlier value."""
        await self._update(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    async def get_or_create_meta(self, key: str, value: str) -> str:
        """The stored note, or ``value`` stored now when there is none; every caller gets the same one."""

        def work(conn: sqlite3.Connection) -> str:
            # Insert-if-absent, then read back: two processes racing here both end with the first value.
            conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", (key, value))
            return str(scalar(conn, "SELECT value FROM meta WHERE key = ?", (key,)))

        return await self._write(work)
