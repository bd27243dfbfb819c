"""Settings for running the Discord face across processes: shards, and the REST-only worker role."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from bot.cli import entry
from bot.config import SettingsError, load_settings

REQUIRED = {"DISCORD_TOKEN": "discord-token-abcdef", "COMETAPI_KEY": "sk-comet-abcdef"}
ROOT = Path(__file__).resolve().parents[2]
COUNT_LINE = "DISCORD_SHARD_COUNT is malformed: expected a whole number of shards, 1 or more."
IDS_EXPECTED = "expected comma-separated shard numbers from 0 to DISCORD_SHARD_COUNT - 1, without repeats."
WITHOUT_COUNT = ("DISCORD_SHARD_IDS is set without DISCORD_SHARD_COUNT: set DISCORD_SHARD_COUNT to the number of "
                 "shards that every process of the bot shares.")


def test_unsharded_gateway_and_every_role_by_default() -> None:
    s = load_settings(REQUIRED)
    assert s.shard_count is None and s.shard_ids is None and s.shards is None
    assert s.role == "all"


def test_a_count_alone_runs_every_shard() -> None:
    assert load_settings({**REQUIRED, "DISCORD_SHARD_COUNT": "4"}).shards == (0, 1, 2, 3)


@pytest.mark.parametrize(("ids", "shards"), [("1", (1,)), ("3, 0", (3, 0)), ("0,1,2,3", (0, 1, 2, 3))])
def test_shard_ids_pick_a_subset(ids: str, shards: tuple[int, ...]) -> None:
    s = load_settings({**REQUIRED, "DISCORD_SHARD_COUNT": "4", "DISCORD_SHARD_IDS": ids})
    assert s.shards == shards and s.shard_count == 4


@pytest.mark.parametrize("role", ["worker", "Worker", " WORKER "])
def test_worker_role(role: str) -> None:
    assert load_settings({**REQUIRED, "VEO_ROLE": role}).role == "worker"


def test_a_worker_needs_no_shard_settings() -> None:
    s = load_settings({**REQUIRED, "VEO_ROLE": "worker"})
    assert s.shards is None


def test_shard_ids_without_a_count_are_refused_with_their_own_line() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({**REQUIRED, "DISCORD_SHARD_IDS": "1"})
    assert caught.value.problems == [WITHOUT_COUNT]


@pytest.mark.parametrize("ids", ["4", "0,4", "1,1", "-1", "a", "1;2", "0, 2, 0"])
def test_bad_shard_ids_are_refused(ids: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({**REQUIRED, "DISCORD_SHARD_COUNT": "4", "DISCORD_SHARD_IDS": ids})
    assert caught.value.problems == [f"DISCORD_SHARD_IDS is malformed: {IDS_EXPECTED}"]


@pytest.mark.parametrize("count", ["0", "-2", "two", "1.5", "65537"])
def test_bad_shard_counts_are_refused(count: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({**REQUIRED, "DISCORD_SHARD_COUNT": count, "DISCORD_SHARD_IDS": "0"})
    # The ids cannot be checked against a count that is not one: only the count's line.
    assert caught.value.problems == [COUNT_LINE]


@pytest.mark.parametrize("role", ["gateway", "both", "workers"])
def test_unknown_roles_are_refused(role: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({**REQUIRED, "VEO_ROLE": role})
    assert caught.value.problems == ["VEO_ROLE is malformed: expected one of: all, worker."]


@pytest.mark.parametrize(("env", "line"), [
    ({"DISCORD_SHARD_IDS": "0"}, WITHOUT_COUNT),
    ({"DISCORD_SHARD_COUNT": "2", "DISCORD_SHARD_IDS": "2"}, f"DISCORD_SHARD_IDS is malformed: {IDS_EXPECTED}"),
    ({"DISCORD_SHARD_COUNT": "none"}, COUNT_LINE),
    ({"VEO_ROLE": "gateway"}, "VEO_ROLE is malformed: expected one of: all, worker."),
])
def test_bad_settings_exit_2_before_anything_starts(env: dict[str, str], line: str, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for variable in list(os.environ):
        if variable.startswith(("VEO_", "DISCORD_", "COMETAPI_")):
            monkeypatch.delenv(variable)
    for name, value in {**REQUIRED, **env}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "argv", ["veo-bot", "run"])
    with pytest.raises(SystemExit) as exited:
        entry()
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [f"veo-bot: {line}", "veo-bot: see .env.example for every setting."]
    assert not (tmp_path / "data").exists()


def test_settings_are_documented() -> None:
    example = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()
    for name in ("DISCORD_SHARD_COUNT", "DISCORD_SHARD_IDS", "VEO_ROLE"):
        assert f"\n{name}=" in example or f"\n# {name}=" in example, name
        assert f"| `{name}` |" in readme, name


@pytest.mark.parametrize("value", ["0", "-1", "61", "nan", "soon"])
def test_a_bad_identify_window_is_refused_by_name(value: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings({**REQUIRED, "DISCORD_IDENTIFY_WINDOW": value})
    [problem] = info.value.problems
    assert problem.startswith("DISCORD_IDENTIFY_WINDOW is malformed")
    assert load_settings({**REQUIRED, "DISCORD_IDENTIFY_WINDOW": "0.3"}).discord_identify_window == 0.3
    assert load_settings(REQUIRED).discord_identify_window == 5.0
