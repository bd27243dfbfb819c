"""Settings for the chat faces and the provider: which credentials are required when, and what is said when
they are missing."""

from __future__ import annotations

import pytest

from bot import config
from bot.config import Face, SettingsError, load_settings

TOKEN = {"DISCORD_TOKEN": "discord-token-value-123"}
KEY = {"COMETAPI_KEY": "sk-comet-key-value-456"}
NO_FACE = ("DISCORD_TOKEN is missing: set it to the bot token from the Discord developer portal"
           " (or SLACK_BOT_TOKEN for the Slack face).")
NO_DISCORD = "DISCORD_TOKEN is missing: set it to the bot token from the Discord developer portal."
NO_KEY = "COMETAPI_KEY is missing: set it to your CometAPI key (or VEO_PROVIDER=mock to try the bot without one)."
BAD_FRONTENDS = "VEO_FRONTENDS is malformed: expected a comma-separated list of the chat faces: discord, slack."


def problems(env: dict[str, str]) -> list[str]:
    with pytest.raises(SettingsError) as info:
        load_settings(env)
    return info.value.problems


def test_faces_default_to_those_whose_credentials_are_set() -> None:
    s = load_settings({**TOKEN, **KEY})
    assert s.frontends == ("discord",) and s.chosen_frontends is None


@pytest.mark.parametrize("value", ["discord", "Discord", " discord , DISCORD ", "discord,"])
def test_frontends_are_read(value: str) -> None:
    assert load_settings({**TOKEN, **KEY, "VEO_FRONTENDS": value}).frontends == ("discord",)


@pytest.mark.parametrize("value", ["teams", "discord,teams", " , ", '["discord"]', "discord;slack"])
def test_unknown_or_malformed_frontends_give_one_line(value: str) -> None:
    assert problems({**TOKEN, **KEY, "VEO_FRONTENDS": value}) == [BAD_FRONTENDS]


def test_no_face_credentials_name_the_discord_token() -> None:
    assert problems(KEY) == [NO_FACE]
    assert problems({**KEY, "DISCORD_TOKEN": " "}) == [NO_FACE]


def test_a_chosen_face_needs_its_credentials() -> None:
    assert problems({**KEY, "VEO_FRONTENDS": "discord"}) == [NO_DISCORD]


def test_malformed_frontends_do_not_also_report_a_missing_token() -> None:
    # Whether the token is needed depends on the faces chosen, which are unknown: only the real problem is listed.
    assert problems({**KEY, "VEO_FRONTENDS": "discrod"}) == [BAD_FRONTENDS]


def test_no_face_line_names_every_other_face_as_the_alternative(monkeypatch: pytest.MonkeyPatch) -> None:
    teams = Face("teams", "Teams", "TEAMS_TOKEN", lambda settings: ("TEAMS_TOKEN",))
    monkeypatch.setattr(config, "FACES", (*config.FACES, teams))
    assert config._no_face_line() == (
        "DISCORD_TOKEN is missing: set it to the bot token from the Discord developer portal"
        " (or SLACK_BOT_TOKEN for the Slack face, or TEAMS_TOKEN for the Teams face)."
    )


def test_mock_provider_needs_no_key() -> None:
    s = load_settings({**TOKEN, "VEO_PROVIDER": "mock"})
    assert s.provider == "mock" and s.cometapi_key.get_secret_value() == ""
    with_key = load_settings({**TOKEN, **KEY, "VEO_PROVIDER": "mock"})
    assert with_key.cometapi_key.get_secret_value() == KEY["COMETAPI_KEY"]


@pytest.mark.parametrize("provider", [None, "cometapi", "CometAPI"])
def test_cometapi_provider_needs_its_key(provider: str | None) -> None:
    env = {**TOKEN} if provider is None else {**TOKEN, "VEO_PROVIDER": provider}
    assert problems(env) == [NO_KEY]
    assert problems({**env, "COMETAPI_KEY": "   "}) == [NO_KEY]


def test_malformed_provider_does_not_also_report_a_missing_key() -> None:
    assert problems({**TOKEN, "VEO_PROVIDER": "mokc"}) == [
        "VEO_PROVIDER is malformed: expected one of: cometapi, mock."
    ]


def test_missing_and_malformed_settings_are_listed_together() -> None:
    assert problems({"VEO_POLL_INTERVAL": "soon", "VEO_MAX_ACTIVE_TOTAL": "0"}) == [
        NO_FACE,
        NO_KEY,
        "VEO_POLL_INTERVAL is malformed: expected a number of seconds greater than 0.",
        "VEO_MAX_ACTIVE_TOTAL is malformed: expected a whole number, 1 or more.",
    ]
