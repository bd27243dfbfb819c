"""The limits in force in a workspace: the bot's defaults with the workspace's overrides applied."""

from __future__ import annotations

from bot.jobs.policy import Defaults, Policy, WorkspaceSettings

DEFAULTS = Defaults(max_active_per_user=2, max_active_per_guild=10, max_active_total=20, max_queued=50,
                    daily_quota_per_user=3, daily_quota_per_guild=5, cooldown_seconds=0.0, models=("a", "b"))


def policy(**changes: object) -> Policy:
    return Policy.effective(DEFAULTS, WorkspaceSettings("discord", "10", **changes))  # type: ignore[arg-type]


async def test_effective_policy_applies_overrides() -> None:
    p = policy(max_active_per_user=5, allowed_models=("b", "zzz"))
    assert p.max_active_per_user == 5 and p.max_active_per_guild == 10 and p.models == ("b",)
    assert policy().models == ("a", "b") and policy().daily_quota_per_user == 3
