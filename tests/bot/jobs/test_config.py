"""The job core's configuration: taken from the settings, and its defaults are the settings' own."""

from __future__ import annotations

import dataclasses

import pytest

from bot.config import SettingsError, load_settings
from bot.jobs.config import CoreConfig
from bot.jobs.records import Limits
from bot.jobs.status_messages import StatusMessages

BASE = {"DISCORD_TOKEN": "discord-token-value-123", "COMETAPI_KEY": "sk-comet-key-value-456"}


def test_defaults_are_the_settings_defaults() -> None:
    limits = Limits(1, 1, 1)
    from_settings = dataclasses.replace(CoreConfig.from_settings(load_settings(BASE)), limits=limits, defaults=None)
    assert CoreConfig(limits=limits) == from_settings


def test_edit_budget_defaults() -> None:
    s = load_settings(BASE)
    assert (s.discord_edit_rate, s.discord_edit_burst) == (5.0, 10)


def test_edit_budget_reaches_the_status_messages() -> None:
    s = load_settings({**BASE, "DISCORD_EDIT_RATE": "0.5", "DISCORD_EDIT_BURST": "3"})
    core = CoreConfig.from_settings(s)
    assert (core.progress_edits_per_second, core.progress_edit_burst) == (0.5, 3)
    status = StatusMessages(None, None, core)  # type: ignore[arg-type]
    assert (status.budget("discord").rate, status.budget("discord").burst) == (0.5, 3)
    budget = status.budget("discord")
    assert budget.take(0.0) and budget.take(0.0) and budget.take(0.0)
    assert not budget.take(0.0)  # the burst of three is spent


RATE = "a number of edits per second greater than 0"


@pytest.mark.parametrize(("name", "value", "expected"), [
    *[("DISCORD_EDIT_RATE", v, RATE) for v in ("0", "-1", "nan", "inf", "fast")],
    *[("DISCORD_EDIT_BURST", v, "a whole number, 1 or more") for v in ("0", "-3", "2.5", "many")],
])
def test_bad_edit_budget_is_refused_by_name(name: str, value: str, expected: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings({**BASE, name: value})
    assert info.value.problems == [f"{name} is malformed: expected {expected}."]
