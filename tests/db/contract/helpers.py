"""Small builders shared by the contract tests: a fixed clock value, new jobs, workspaces and policies."""

from __future__ import annotations

from bot.jobs.policy import Defaults, Policy, WorkspaceSettings
from bot.jobs.ports import JobStore
from bot.jobs.records import Job, Limits, NewJob, Workspace

T0 = 1_790_000_000.0  # 2026-09-21 14:13:20 UTC
ROOMY = Limits(per_user=99, per_guild=99, total=99)  # caps no test reaches
DEFAULTS = Defaults(max_active_per_user=2, max_active_per_guild=10, max_active_total=20, max_queued=50,
                    daily_quota_per_user=3, daily_quota_per_guild=5, cooldown_seconds=0.0, models=("a", "b"))


def new_job(user: int | str = 1, guild: int | str = 10, channel: int | str = 100, prompt: str = "a cat",
            model: str = "veo3.1-fast", platform: str = "discord") -> NewJob:
    """A request for a video; ids are given as numbers or text and stored as text."""
    return NewJob(platform=platform, workspace_id=str(guild), channel_id=str(channel), user_id=str(user),
                  prompt=prompt, model=model, orientation="16x9")


def ws(number: int | str, platform: str = "discord") -> Workspace:
    return Workspace(platform, str(number))


def settings_of(number: int | str, platform: str = "discord", **changes: object) -> WorkspaceSettings:
    return WorkspaceSettings(platform, str(number), **changes)  # type: ignore[arg-type]


def policy(number: int | str = 10, platform: str = "discord", **changes: object) -> Policy:
    """The policy in force in a workspace with these overrides of ``DEFAULTS``."""
    return Policy.effective(DEFAULTS, settings_of(number, platform, **changes))


async def submitted(store: JobStore, user: int | str = 1, guild: int | str = 10, task: str = "task_1",
                    platform: str = "discord") -> Job:
    """A new job taken all the way to the provider: claimed, then submitted as ``task``."""
    job = await store.insert_job(new_job(user, guild, platform=platform), T0)
    claimed = await store.claim_submittable(ROOMY, T0, T0 + 120, 99)
    assert job.id in [j.id for j in claimed]
    assert await store.mark_submitted(job.id, task, T0 + 1, T0 + 10)
    fresh = await store.get_job(job.id)
    assert fresh is not None
    return fresh
