"""What a request gets: its options, else the member's preferences while allowed, else the workspace's defaults."""

from __future__ import annotations

import pytest

from bot.jobs.errors import InvalidInput, NotAllowed
from bot.jobs.policy import Defaults, Policy, WorkspaceSettings
from bot.jobs.preferences import MemberPreferences, RequestChoices, choose, preferred_model, preferred_orientation

DEFAULTS = Defaults(max_active_per_user=2, max_active_per_guild=10, max_active_total=20, max_queued=50,
                    daily_quota_per_user=3, daily_quota_per_guild=5, cooldown_seconds=0.0,
                    models=("fast", "pro", "old"), default_model="pro")


def policy(**changes: object) -> Policy:
    return Policy.effective(DEFAULTS, WorkspaceSettings("discord", "10", **changes))  # type: ignore[arg-type]


def prefs(**fields: object) -> MemberPreferences:
    return MemberPreferences("discord", "10", "1", **fields)  # type: ignore[arg-type]


def test_the_workspace_default_model_is_the_bots_while_allowed_else_the_first_allowed() -> None:
    assert policy().default_model == "pro"
    assert policy(allowed_models=("old", "fast")).default_model == "fast"
    assert Policy.effective(Defaults(1, 1, 1, 0, 0, 0, 0.0, models=("x", "y")),
                            WorkspaceSettings("discord", "1")).default_model == "x"


def test_without_preferences_the_workspace_defaults_apply() -> None:
    assert choose(prefs(), policy(), model=None, orientation=None) == RequestChoices("pro", "16x9", False)


def test_preferences_fill_what_the_request_leaves_out() -> None:
    mine = prefs(model="fast", orientation="9x16", dm_when_ready=True)
    assert choose(mine, policy(), model=None, orientation=None) == RequestChoices("fast", "9x16", True)
    assert choose(mine, policy(), model=" ", orientation=None).model == "fast"  # a blank option is no option


def test_options_win_over_preferences() -> None:
    mine = prefs(model="fast", orientation="9x16", dm_when_ready=True)
    assert choose(mine, policy(), model="old", orientation="16x9") == RequestChoices("old", "16x9", True)


def test_an_option_the_workspace_does_not_allow_is_refused_even_with_preferences() -> None:
    with pytest.raises(InvalidInput, match="Unknown model"):
        choose(prefs(model="fast"), policy(allowed_models=("fast",)), model="pro", orientation=None)
    with pytest.raises(InvalidInput, match="Orientation"):
        choose(prefs(), policy(), model=None, orientation="4x3")


def test_a_preferred_model_no_longer_allowed_falls_back_and_says_which() -> None:
    chosen = choose(prefs(model="old", orientation="9x16"), policy(allowed_models=("fast", "pro")), model=None,
                    orientation=None)
    assert chosen == RequestChoices("pro", "9x16", False, unavailable_model="old")


def test_what_a_member_may_prefer() -> None:
    offered = DEFAULTS.models
    assert preferred_model(" old ", policy(), offered) == "old"
    with pytest.raises(InvalidInput, match=r"Unknown model\. Pick one of: `fast`, `pro`"):
        preferred_model("veo9", policy(allowed_models=("fast", "pro")), offered)
    with pytest.raises(NotAllowed, match="allows these models only: `fast`, `pro`"):
        preferred_model("old", policy(allowed_models=("fast", "pro")), offered)
    assert preferred_orientation("9x16") == "9x16"
    with pytest.raises(InvalidInput):
        preferred_orientation("square")
