"""Job rows on PostgreSQL: the columns in ``Job``'s order, a row as a ``Job``, reading one and inserting one."""

from __future__ import annotations

import dataclasses

import asyncpg

from bot.jobs.records import Job, JobStatus, NewJob
from db.postgres.base import Executor

JOB_COLUMNS = ", ".join(field.name for field in dataclasses.fields(Job))
_STATUS_AT = [field.name for field in dataclasses.fields(Job)].index("status")


def job_of(row: asyncpg.Record) -> Job:
    """The ``Job`` a row read with ``JOB_COLUMNS`` holds."""
    values = list(row)
    values[_STATUS_AT] = JobStatus(values[_STATUS_AT])
    return Job(*values)


async def job_by_id(conn: Executor, job_id: int) -> Job | None:
    """The job with this number, or None."""
    row = await conn.fetchrow(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1", job_id)
    return job_of(row) if row is not None else None


async def insert(conn: Executor, new: NewJob, now: float) -> Job:
    """Store a new job as queued and return it with its number."""
    row = await conn.fetchrow(
        "INSERT INTO jobs (platform, workspace_id, channel_id, user_id, prompt, model, orientation, image_count,"
        " input_dir, locale, in_thread, dm_when_ready, status, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        f" RETURNING {JOB_COLUMNS}",
        new.platform, new.workspace_id, new.channel_id, new.user_id, new.prompt, new.model, new.orientation,
        new.image_count, new.input_dir, new.locale, bool(new.in_thread), bool(new.dm_when_ready),
        str(JobStatus.QUEUED), now)
    assert row is not None
    return job_of(row)
