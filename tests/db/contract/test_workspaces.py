"""Workspaces of two platforms with the same id never mix, and every id is kept verbatim, as opaque text.

Discord's and Slack's ids can coincide ("10" on both); a workspace is its platform and its id together.
Ids are text the platforms hand over: Slack's ``T…``/``C…``/``U…`` ids and message timestamps, Discord's
snowflakes beyond what a float holds exactly, leading zeros, any length, any script. None is a number.
"""

from __future__ import annotations

import asyncio

from bot.jobs.policy import Refusal
from bot.jobs.ports import JobStore
from bot.jobs.records import JobStatus, Limits, NewJob, Workspace
from tests.db.contract.helpers import ROOMY, T0, new_job, policy, settings_of

DISCORD, SLACK = Workspace("discord", "10"), Workspace("slack", "10")


def job_in(workspace: Workspace, user: str = "1", model: str = "veo3.1-fast") -> NewJob:
    return new_job(user, workspace.id, platform=workspace.platform, model=model)


async def test_lists_positions_failures_quota_counts_and_usage_are_per_platform(store: JobStore) -> None:
    d1 = await store.insert_job(job_in(DISCORD), T0)
    s1 = await store.insert_job(job_in(SLACK), T0 + 1)
    d2 = await store.insert_job(job_in(DISCORD), T0 + 2)
    assert (s1.platform, s1.workspace_id, s1.workspace) == ("slack", "10", SLACK)
    assert await store.queue_position(d1) == 1 and await store.queue_position(s1) == 1
    assert await store.queue_position(d2) == 2
    assert [j.id for j in await store.in_flight(DISCORD)] == [d1.id, d2.id]
    assert [j.id for j in await store.in_flight(SLACK)] == [s1.id]
    assert [j.id for j in await store.user_jobs(DISCORD, "1", 10)] == [d2.id, d1.id]
    assert [j.id for j in await store.user_jobs(SLACK, "1", 10)] == [s1.id]
    assert await store.quota_used(DISCORD, "1", T0) == (2, 2)
    assert await store.quota_used(SLACK, "1", T0) == (1, 1)
    assert await store.claim_submittable(ROOMY, T0, T0 + 60, 99)
    assert await store.mark_failed(s1.id, JobStatus.FAILED, "nope", T0 + 10)
    assert [j.id for j in await store.failures_since(SLACK, T0)] == [s1.id]
    assert await store.failures_since(DISCORD, T0) == []
    assert await store.quota_used(SLACK, "1", T0) == (0, 0)  # refunded there only
    assert await store.quota_used(DISCORD, "1", T0) == (2, 2)
    usage = await store.usage(DISCORD, T0)
    assert [(r.user_id, r.jobs) for r in usage] == [("1", 2)]
    assert [(r.user_id, r.jobs, r.billed_jobs) for r in await store.usage(SLACK, T0)] == [("1", 1, 0)]


async def test_quotas_queue_length_and_cooldown_are_per_platform(store: JobStore) -> None:
    for workspace in (DISCORD, SLACK):
        quota = policy(workspace.id, workspace.platform, daily_quota_per_user=0, daily_quota_per_guild=2)
        assert (await store.admit_job(job_in(workspace, "1"), quota, T0)).job_id is not None
        assert (await store.admit_job(job_in(workspace, "2"), quota, T0)).job_id is not None
        assert (await store.admit_job(job_in(workspace, "3"), quota, T0)).refusal is Refusal.GUILD_QUOTA
    user_quota = policy(daily_quota_per_user=1, daily_quota_per_guild=0, max_queued=0)
    assert (await store.admit_job(job_in(DISCORD, "u"), user_quota, T0)).job_id is not None
    assert (await store.admit_job(job_in(DISCORD, "u"), user_quota, T0)).refusal is Refusal.USER_QUOTA
    slack_quota = policy("10", "slack", daily_quota_per_user=1, daily_quota_per_guild=0, max_queued=0)
    assert (await store.admit_job(job_in(SLACK, "u"), slack_quota, T0)).job_id is not None
    queue = policy(max_queued=3, daily_quota_per_user=0, daily_quota_per_guild=0)
    assert (await store.admit_job(job_in(DISCORD, "4"), queue, T0)).refusal is Refusal.QUEUE_FULL  # 3 queued
    slack_queue = policy("10", "slack", max_queued=4, daily_quota_per_user=0, daily_quota_per_guild=0)
    assert (await store.admit_job(job_in(SLACK, "4"), slack_queue, T0)).job_id is not None  # 3 of its own, not 6
    assert (await store.admit_job(job_in(SLACK, "5"), slack_queue, T0)).refusal is Refusal.QUEUE_FULL
    cool = policy(cooldown_seconds=60, daily_quota_per_user=0, daily_quota_per_guild=0, max_queued=0)
    assert (await store.admit_job(job_in(DISCORD, "c"), cool, T0 + 100)).job_id is not None
    assert (await store.admit_job(job_in(DISCORD, "c"), cool, T0 + 110)).refusal is Refusal.COOLDOWN
    slack_cool = policy("10", "slack", cooldown_seconds=60, daily_quota_per_user=0, daily_quota_per_guild=0,
                        max_queued=0)
    assert (await store.admit_job(job_in(SLACK, "c"), slack_cool, T0 + 110)).job_id is not None


async def test_caps_and_pauses_in_claims_are_per_platform(store: JobStore) -> None:
    one_each = Limits(per_user=1, per_guild=1, total=10)
    d0 = await store.insert_job(job_in(DISCORD, "1"), T0)
    assert [j.id for j in await store.claim_submittable(one_each, T0, T0 + 60, 10)] == [d0.id]
    # Discord's member 1 and workspace 10 are at their caps; Slack's member 1 in Slack's 10 is not.
    s0 = await store.insert_job(job_in(SLACK, "1"), T0)
    assert [j.id for j in await store.claim_submittable(one_each, T0, T0 + 60, 10)] == [s0.id]
    await store.save_workspace_settings(settings_of("10", "slack", paused=True), actor_id="a", action="pause",
                                        details="", now=T0)
    d1 = await store.insert_job(job_in(DISCORD, "1"), T0 + 1)
    s1 = await store.insert_job(job_in(SLACK, "1"), T0 + 1)
    assert await store.cancel(d0.id, T0 + 1) and await store.cancel(s0.id, T0 + 1)
    claimed = await store.claim_submittable(one_each, T0, T0 + 60, 10)
    assert [j.id for j in claimed] == [d1.id]  # only Slack's workspace 10 is paused
    assert (await store.get_job(s1.id)).status is JobStatus.QUEUED  # type: ignore[union-attr]
    await store.save_workspace_settings(settings_of("10", "slack", max_active_per_guild=0), actor_id="a",
                                        action="set", details="", now=T0)
    d2 = await store.insert_job(job_in(DISCORD, "2"), T0 + 2)
    claimed = await store.claim_submittable(ROOMY, T0, T0 + 60, 10)
    assert [j.id for j in claimed] == [d2.id]  # Slack's 10 is resumed, but its own cap is 0; Discord's is not


async def test_settings_and_audit_are_per_platform(store: JobStore) -> None:
    await store.save_workspace_settings(settings_of("10", "slack", max_queued=7, allowed_channels=("C0DEF",)),
                                        actor_id="U0XYZ", action="set", details="max_queued=7", now=T0)
    await store.add_audit(DISCORD, "42", "cancel", "job 1", T0 + 1, job_id=None)
    assert await store.workspace_settings(DISCORD) == settings_of("10")
    slack = await store.workspace_settings(SLACK)
    assert (slack.platform, slack.workspace_id, slack.max_queued, slack.allowed_channels) == (
        "slack", "10", 7, ("C0DEF",))
    [slack_entry] = await store.audit_entries(SLACK, 10)
    [discord_entry] = await store.audit_entries(DISCORD, 10)
    assert (slack_entry.platform, slack_entry.workspace_id, slack_entry.actor_id) == ("slack", "10", "U0XYZ")
    assert (discord_entry.platform, discord_entry.workspace_id, discord_entry.action) == ("discord", "10", "cancel")


# -- ids verbatim ------------------------------------------------------------------------------------

SNOWFLAKE = "1180000000000000001"  # beyond 2**53: as a float it would equal ...000 and ...002
LONG = "x" * 500 + "-end"
ODD = "工作区-ünï-🎬"


async def test_slack_ids_and_message_timestamps_are_kept_verbatim(store: JobStore) -> None:
    workspace = Workspace("slack", "T0ABC")
    new = NewJob(platform="slack", workspace_id="T0ABC", channel_id="C0DEF123", user_id="U0XYZ", prompt="p",
                 model="veo3.1-fast", orientation="9x16")
    job = await store.insert_job(new, T0)
    assert (job.platform, job.workspace_id, job.channel_id, job.user_id) == ("slack", "T0ABC", "C0DEF123", "U0XYZ")
    assert await store.claim_submittable(ROOMY, T0, T0 + 60, 9)
    assert await store.mark_submitted(job.id, "0042", T0 + 1, T0 + 10)
    assert await store.set_status_shown(job.id, "submitted|0|0", T0 + 2, message_id="1712345678.100000")
    assert await store.mark_completed(job.id, None, T0 + 3)
    assert await store.begin_delivery(job.id, T0 + 60) is not None
    assert await store.mark_delivered(job.id, "1712345678.123456", T0 + 4)
    done = await store.get_job(job.id)
    assert done is not None and done.task_id == "0042"
    assert done.status_message_id == "1712345678.100000" and done.delivered_message_id == "1712345678.123456"
    assert await store.get_job_by_task("0042") == done and await store.get_job_by_task("42") is None
    assert [j.id for j in await store.user_jobs(workspace, "U0XYZ", 5)] == [job.id]
    assert await store.user_jobs(Workspace("slack", "t0abc"), "U0XYZ", 5) == []  # case is part of the id
    assert await store.user_jobs(workspace, "u0xyz", 5) == []


async def test_number_like_long_and_non_ascii_ids_are_text(store: JobStore) -> None:
    ids = (SNOWFLAKE, "1180000000000000000", "1180000000000000002", "010", "10", LONG, ODD)
    jobs = {i: await store.insert_job(new_job(user=i, guild=i, channel=i), T0) for i in ids}
    for i, job in jobs.items():
        fresh = await store.get_job(job.id)
        assert fresh is not None and (fresh.workspace_id, fresh.channel_id, fresh.user_id) == (i, i, i)
        assert [j.id for j in await store.in_flight(Workspace("discord", i))] == [job.id]
        assert [j.id for j in await store.user_jobs(Workspace("discord", i), i, 5)] == [job.id]
        assert await store.queue_position(job) == 1
    await store.add_audit(Workspace("discord", ODD), LONG, "set", ODD, T0, job_id=jobs[ODD].id)
    [entry] = await store.audit_entries(Workspace("discord", ODD), 5)
    assert (entry.workspace_id, entry.actor_id, entry.details, entry.job_id) == (ODD, LONG, ODD, jobs[ODD].id)
    await store.save_workspace_settings(settings_of(SNOWFLAKE, allowed_channels=(LONG, ODD, "010"),
                                                    allowed_roles=(SNOWFLAKE,)),
                                        actor_id=SNOWFLAKE, action="set", details="", now=T0)
    saved = await store.workspace_settings(Workspace("discord", SNOWFLAKE))
    assert saved.allowed_channels == (LONG, ODD, "010") and saved.allowed_roles == (SNOWFLAKE,)
    assert saved.updated_by == SNOWFLAKE
    assert await store.workspace_settings(Workspace("discord", "1180000000000000000")) == settings_of(
        "1180000000000000000")
    rows = await store.usage(Workspace("discord", LONG), T0)
    assert [(r.user_id, r.jobs) for r in rows] == [(LONG, 1)]


async def test_ids_from_many_workspaces_at_once_stay_apart(store: JobStore) -> None:
    # Concurrent admissions into look-alike workspaces: each one's count is its own.
    workspaces = [Workspace(p, i) for p in ("discord", "slack") for i in ("10", "010", SNOWFLAKE)]
    quota = {w: policy(w.id, w.platform, daily_quota_per_user=0, daily_quota_per_guild=2, max_queued=0)
             for w in workspaces}
    results = await asyncio.gather(*(store.admit_job(job_in(w, str(n)), quota[w], T0)
                                     for w in workspaces for n in range(4)))
    admitted = [r for r in results if r.job_id is not None]
    assert len(admitted) == 2 * len(workspaces)
    for w in workspaces:
        assert len(await store.in_flight(w)) == 2


async def test_thread_channels_are_stored_as_a_list_per_workspace(store: JobStore) -> None:
    assert (await store.workspace_settings(DISCORD)).thread_channels is None
    await store.save_workspace_settings(settings_of("10", thread_channels=(SNOWFLAKE, "010")), actor_id="1",
                                        action="threads on", details="<#010>", now=T0)
    saved = await store.workspace_settings(DISCORD)
    assert saved.thread_channels == (SNOWFLAKE, "010") and saved.allowed_channels is None
    assert (await store.workspace_settings(SLACK)).thread_channels is None
    [entry] = await store.audit_entries(DISCORD, 5)
    assert (entry.action, entry.details) == ("threads on", "<#010>")
    await store.save_workspace_settings(settings_of("10", thread_channels=None), actor_id="1",
                                        action="threads off", details="every channel", now=T0 + 1)
    assert await store.workspace_settings(DISCORD) == settings_of("10", updated_at=T0 + 1, updated_by="1")
