"""The two steps that count before they act, on PostgreSQL: admitting a job under the workspace's limits and
claiming queued jobs under the caps. Each runs in a transaction that holds its advisory lock (see
``db.postgres.store``)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.jobs.policy import Admission, Policy, Refusal, day_start
from bot.jobs.provider import ImageInput
from bot.jobs.records import ACTIVE_STATUSES, Job, Limits, NewJob
from db.claims import select_claimable, workspace_caps
from db.postgres.base import Connection, texts
from db.postgres.rows import JOB_COLUMNS, insert, job_of
from db.postgres.shared_state import insert_images
from db.postgres.workspace_queries import last_request_at, quota_used

_ACTIVE = texts(sorted(ACTIVE_STATUSES))

# Transaction-scoped advisory locks (two-key form): one for every claim, one per workspace for admissions.
CLAIM_LOCK = (7305, 1)
ADMIT_LOCK_SPACE = 7306


async def admit(conn: Connection, new: NewJob, policy: Policy, now: float,
                images: Sequence[ImageInput] = ()) -> Admission:
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
    job = await insert(conn, new, now)
    await insert_images(conn, job.id, images)
    return Admission(job.id, used_today=user_used + 1)


async def claim(conn: Connection, limits: Limits, deadline: float, batch: int, owner: str | None) -> list[Job]:
    """Claim the oldest queued jobs that fit under the caps (leased to ``owner``, under new fencing tokens); in a
    transaction holding the claim lock."""
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
        "UPDATE jobs SET status = 'submitting', next_poll_at = $2, attempts = 0, lease_owner = $3,"
        f" lease_token = lease_token + 1 WHERE id = ANY($1::bigint[]) AND status = 'queued' RETURNING {JOB_COLUMNS}",
        claimed, deadline, owner)
    return sorted((job_of(r) for r in rows), key=lambda job: job.id)
