"""The store's guild queries: overrides, race-free admission with quotas and cooldown, refunds, audit, usage."""

from __future__ import annotations

import asyncio
import dataclasses

from bot.jobs.policy import Defaults, Policy, Refusal, WorkspaceSettings, day_start
from bot.jobs.records import JobStatus, Limits, NewJob, Workspace
from db.sqlite.store import SqliteJobStore

T0 = 1_790_000_000.0  # 2026-09-21 14:13:20 UTC
DEFAULTS = Defaults(max_active_per_user=2, max_active_per_guild=10, max_active_total=20, max_queued=50,
                    daily_quota_per_user=3, daily_quota_per_guild=5, cooldown_seconds=0.0, models=("a", "b"))


def new_job(user: int = 1, guild: int = 10, model: str = "a") -> NewJob:
    return NewJob(platform="discord", workspace_id=str(guild), channel_id="100", user_id=str(user),
                  prompt="p", model=model, orientation="16x9")


def ws(number: int) -> Workspace:
    return Workspace("discord", str(number))


def settings_of(number: int, **changes: object) -> WorkspaceSettings:
    return WorkspaceSettings("discord", str(number), **changes)  # type: ignore[arg-type]


def policy(**changes: object) -> Policy:
    return Policy.effective(DEFAULTS, settings_of(10, **changes))


async def test_settings_round_trip_with_audit(store: SqliteJobStore) -> None:
    assert await store.workspace_settings(ws(10)) == settings_of(10)
    settings = settings_of(10, max_active_per_user=1, daily_quota_per_user=0, cooldown_seconds=2.5,
                             allowed_channels=("5", "6"), allowed_roles=("7",), allowed_models=("b",), paused=True,
                             pause_reason="budget")
    await store.save_workspace_settings(settings, actor_id="99", action="set", details="several", now=T0)
    saved = await store.workspace_settings(ws(10))
    assert saved == dataclasses.replace(settings, updated_at=T0, updated_by="99")
    assert (saved.allowed_channels, saved.allowed_roles, saved.allowed_models) == (("5", "6"), ("7",), ("b",))
    assert saved.paused and saved.pause_reason == "budget" and saved.updated_by == "99"
    [entry] = await store.audit_entries(ws(10), 10)
    assert (entry.actor_id, entry.action, entry.details, entry.at) == ("99", "set", "several", T0)
    assert await store.workspace_settings(ws(11)) == settings_of(11)  # other guilds untouched


async def test_effective_policy_applies_overrides() -> None:
    p = policy(max_active_per_user=5, allowed_models=("b", "zzz"))
    assert p.max_active_per_user == 5 and p.max_active_per_guild == 10 and p.models == ("b",)
    assert policy().models == ("a", "b") and policy().daily_quota_per_user == 3


async def test_user_quota_counts_the_utc_day_and_refunds(store: SqliteJobStore) -> None:
    p = policy(max_queued=0)
    ids = []
    for _ in range(3):
        admission = await store.admit_job(new_job(), p, T0)
        assert admission.job_id is not None
        ids.append(admission.job_id)
    refused = await store.admit_job(new_job(), p, T0)
    assert refused.job_id is None and refused.refusal is Refusal.USER_QUOTA
    assert refused.retry_at == day_start(T0) + 86400
    # Cancelled before submission: refunded.
    assert await store.cancel(ids[0], T0 + 1)
    assert (await store.admit_job(new_job(), p, T0 + 2)).job_id is not None
    # Failed without a video: refunded too.
    await store.claim_submittable(Limits(9, 9, 9), T0, T0, 9)
    assert await store.mark_failed(ids[1], JobStatus.FAILED, "nope", T0 + 3)
    assert (await store.admit_job(new_job(), p, T0 + 4)).job_id is not None
    assert (await store.admit_job(new_job(), p, T0 + 5)).refusal is Refusal.USER_QUOTA
    # A new UTC day starts afresh.
    assert (await store.admit_job(new_job(), p, day_start(T0) + 86400)).job_id is not None


async def test_cancel_after_submission_is_not_refunded(store: SqliteJobStore) -> None:
    p = policy(daily_quota_per_user=1)
    admission = await store.admit_job(new_job(), p, T0)
    assert admission.job_id is not None
    await store.claim_submittable(Limits(9, 9, 9), T0, T0, 9)
    await store.mark_submitted(admission.job_id, "task_1", T0, T0)
    assert await store.cancel(admission.job_id, T0 + 1)
    assert (await store.admit_job(new_job(), p, T0 + 2)).refusal is Refusal.USER_QUOTA


async def test_guild_quota_queue_length_and_cooldown(store: SqliteJobStore) -> None:
    p = policy(daily_quota_per_user=0, daily_quota_per_guild=2)
    assert (await store.admit_job(new_job(user=1), p, T0)).job_id
    assert (await store.admit_job(new_job(user=2), p, T0)).job_id
    assert (await store.admit_job(new_job(user=3), p, T0)).refusal is Refusal.GUILD_QUOTA
    assert (await store.admit_job(new_job(user=3, guild=11), p, T0)).job_id  # another guild's own count
    queue = policy(daily_quota_per_user=0, daily_quota_per_guild=0, max_queued=3)
    assert (await store.admit_job(new_job(user=4), queue, T0)).job_id  # 3 queued in guild 10 now
    assert (await store.admit_job(new_job(user=5), queue, T0)).refusal is Refusal.QUEUE_FULL
    cool = policy(daily_quota_per_user=0, daily_quota_per_guild=0, max_queued=0, cooldown_seconds=30)
    refused = await store.admit_job(new_job(user=4), cool, T0 + 10)
    assert refused.refusal is Refusal.COOLDOWN and refused.retry_at == T0 + 30
    assert (await store.admit_job(new_job(user=4), cool, T0 + 31)).job_id


async def test_concurrent_admissions_never_exceed_a_quota(store: SqliteJobStore) -> None:
    p = policy(daily_quota_per_user=5, max_queued=0)
    results = await asyncio.gather(*(store.admit_job(new_job(), p, T0) for _ in range(20)))
    admitted = [r.job_id for r in results if r.job_id is not None]
    assert len(admitted) == 5 and len(set(admitted)) == 5
    assert sum(r.refusal is Refusal.USER_QUOTA for r in results) == 15


async def test_claim_uses_guild_caps_and_skips_paused_guilds(store: SqliteJobStore) -> None:
    for user in (1, 1, 1, 2):
        await store.insert_job(new_job(user=user, guild=10), T0)
    paused_job = await store.insert_job(new_job(user=3, guild=20), T0)
    await store.save_workspace_settings(settings_of(10, max_active_per_user=3, max_active_per_guild=3),
                                    actor_id="1", action="set", details="", now=T0)
    await store.save_workspace_settings(settings_of(20, paused=True), actor_id="1", action="pause",
                                    details="", now=T0)
    claimed = await store.claim_submittable(Limits(per_user=1, per_guild=10, total=20), T0, T0, 20)
    assert [j.user_id for j in claimed] == ["1", "1", "1"]  # guild 10 allows 3 per user and 3 in all
    assert (await store.get_job(paused_job.id)).status is JobStatus.QUEUED  # type: ignore[union-attr]
    await store.save_workspace_settings(settings_of(20), actor_id="1", action="resume", details="", now=T0)
    assert [j.id for j in await store.claim_submittable(Limits(1, 10, 20), T0, T0, 20)] == [paused_job.id]


async def test_usage_counts_likely_billed_jobs(store: SqliteJobStore) -> None:
    p = policy(daily_quota_per_user=0, daily_quota_per_guild=0, max_queued=0)
    ids = [(await store.admit_job(new_job(user=u, model=m), p, T0)).job_id for u, m in ((1, "a"), (1, "b"), (2, "a"))]
    await store.claim_submittable(Limits(9, 9, 9), T0, T0, 9)
    for job_id, task in zip(ids, ("t1", "t2", "t3"), strict=True):
        assert job_id is not None
        await store.mark_submitted(job_id, task, T0, T0)
    await store.mark_completed(ids[0], None, T0 + 60)  # type: ignore[arg-type]
    await store.mark_failed(ids[1], JobStatus.FAILED, "x", T0 + 60)  # type: ignore[arg-type]
    await store.cancel(ids[2], T0 + 60)  # type: ignore[arg-type]
    rows = {(r.user_id, r.model): (r.jobs, r.billed_jobs) for r in await store.usage(ws(10), T0 - 1)}
    assert rows == {("1", "a"): (1, 1), ("1", "b"): (1, 0), ("2", "a"): (1, 1)}
    assert await store.usage(ws(10), T0 + 1) == []
