"""Workspace settings saved with their audit entry, the audit log, and usage with its likely billed jobs."""

from __future__ import annotations

import asyncio
import dataclasses

from bot.jobs.ports import JobStore
from bot.jobs.records import JobStatus, Limits
from tests.db.contract.helpers import T0, new_job, policy, settings_of, ws


async def test_settings_round_trip_with_audit(store: JobStore) -> None:
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


async def test_usage_counts_likely_billed_jobs(store: JobStore) -> None:
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


async def test_audit_entries_newest_first_and_limited(store: JobStore) -> None:
    assert await store.audit_entries(ws(10), 10) == []
    for n in range(5):
        await store.add_audit(ws(10), f"mod{n}", "cancel", f"job {n}", T0 + n, job_id=n + 1 if n % 2 else None)
    await store.add_audit(ws(11), "mod9", "pause", "elsewhere", T0 + 9)
    entries = await store.audit_entries(ws(10), 10)
    assert [e.actor_id for e in entries] == ["mod4", "mod3", "mod2", "mod1", "mod0"]
    assert [e.job_id for e in entries] == [None, 4, None, 2, None]
    assert [(e.platform, e.workspace_id, e.action, e.details, e.at) for e in entries[:1]] == [
        ("discord", "10", "cancel", "job 4", T0 + 4)]
    assert len({e.id for e in entries}) == 5
    assert [e.actor_id for e in await store.audit_entries(ws(10), 2)] == ["mod4", "mod3"]
    [other] = await store.audit_entries(ws(11), 10)
    assert (other.actor_id, other.action, other.job_id) == ("mod9", "pause", None)


async def test_every_settings_change_is_audited_and_a_reset_clears_overrides(store: JobStore) -> None:
    await store.save_workspace_settings(settings_of(10, max_queued=3, allowed_roles=("7",)), actor_id="1",
                                        action="set", details="max_queued=3", now=T0)
    await store.add_audit(ws(10), "2", "cancel", "job 9", T0 + 1, job_id=9)
    await store.save_workspace_settings(settings_of(10), actor_id="3", action="reset", details="all", now=T0 + 2)
    assert await store.workspace_settings(ws(10)) == settings_of(10, updated_at=T0 + 2, updated_by="3")
    entries = await store.audit_entries(ws(10), 10)
    assert [(e.actor_id, e.action, e.details, e.job_id, e.at) for e in entries] == [
        ("3", "reset", "all", None, T0 + 2),
        ("2", "cancel", "job 9", 9, T0 + 1),
        ("1", "set", "max_queued=3", None, T0),
    ]


async def test_concurrent_settings_changes_each_leave_their_entry_and_the_newest_is_in_force(store: JobStore) -> None:
    # The entry is written with the settings, in one step: the newest entry explains the settings in force.
    await asyncio.gather(*(store.save_workspace_settings(settings_of(10, max_queued=n), actor_id=str(n),
                                                         action="set", details=f"max_queued={n}", now=T0)
                           for n in range(1, 21)))
    entries = await store.audit_entries(ws(10), 50)
    assert sorted(e.details for e in entries) == sorted(f"max_queued={n}" for n in range(1, 21))
    saved = await store.workspace_settings(ws(10))
    assert entries[0].details == f"max_queued={saved.max_queued}" and entries[0].actor_id == saved.updated_by


async def test_usage_counts_billed_deliveries_and_orders_by_billed_jobs(store: JobStore) -> None:
    p = policy(daily_quota_per_user=0, daily_quota_per_guild=0, max_queued=0)
    plan = [("1", "a"), ("2", "a"), ("2", "a"), ("2", "b"), ("3", "a")]
    ids: list[int] = []
    for n, (user, model) in enumerate(plan):
        job_id = (await store.admit_job(new_job(user=user, model=model), p, T0 + n)).job_id
        assert job_id is not None
        ids.append(job_id)
    await store.claim_submittable(Limits(9, 9, 9), T0, T0, 9)
    for job_id in ids[1:3]:
        assert await store.mark_submitted(job_id, f"t{job_id}", T0 + 10, T0 + 20)
        assert await store.mark_completed(job_id, None, T0 + 30)
    assert await store.mark_delivered(ids[1], "m", T0 + 40)  # delivered: still billed
    assert await store.cancel(ids[0], T0 + 10)  # before the provider saw it: not billed
    assert await store.mark_failed(ids[4], JobStatus.FAILED, "x", T0 + 10)
    rows = [(r.user_id, r.model, r.jobs, r.billed_jobs) for r in await store.usage(ws(10), T0)]
    assert rows[0] == ("2", "a", 2, 2)  # the most billed first
    assert sorted(rows) == [("1", "a", 1, 0), ("2", "a", 2, 2), ("2", "b", 1, 0), ("3", "a", 1, 0)]
    # ``since`` counts by when jobs were asked for: those from T0 + 3 on.
    later = sorted((r.user_id, r.model, r.jobs) for r in await store.usage(ws(10), T0 + 3))
    assert later == [("2", "b", 1), ("3", "a", 1)]
