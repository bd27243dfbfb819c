"""The Slack face's settings: which credentials each mode needs, what a bad value says, and that no line quotes
a secret."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from bot.config import SettingsError, load_settings

KEY = {"COMETAPI_KEY": "sk-comet-key-value-456"}
BOT = {"SLACK_BOT_TOKEN": "xoxb-1111-2222-secretbotvalue"}
APP = {"SLACK_APP_TOKEN": "xapp-1-A111-222-secretappvalue"}
SIGNING = {"SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5"}


def problems(env: dict[str, str]) -> list[str]:
    with pytest.raises(SettingsError) as info:
        load_settings(env)
    for line in info.value.problems:  # never a secret, whatever variable it was pasted into
        assert not any(secret in line for secret in (*BOT.values(), *APP.values(), *SIGNING.values()))
    return info.value.problems


def test_slack_alone_in_socket_mode_needs_the_bot_and_app_tokens() -> None:
    s = load_settings({**KEY, **BOT, **APP})
    assert s.frontends == ("slack",) and s.slack_mode == "socket"
    assert isinstance(s.slack_bot_token, SecretStr) and BOT["SLACK_BOT_TOKEN"] not in repr(s)
    assert APP["SLACK_APP_TOKEN"] not in repr(s)
    assert s.slack_api_base_url == "https://slack.com/api" and s.slack_admin_users == ()
    assert s.slack_join_channels is False


def test_both_faces_run_when_both_have_credentials() -> None:
    s = load_settings({**KEY, **BOT, **APP, "DISCORD_TOKEN": "discord-token-value-123"})
    assert s.frontends == ("discord", "slack")


def test_a_missing_app_token_in_socket_mode_is_named() -> None:
    assert problems({**KEY, **BOT}) == [
        "SLACK_APP_TOKEN is missing: set it to an app-level token (xapp-…) with the connections:write scope."]


def test_a_missing_bot_token_is_named_when_slack_is_chosen() -> None:
    assert problems({**KEY, **APP, "VEO_FRONTENDS": "slack"}) == [
        "SLACK_BOT_TOKEN is missing: set it to the bot token (xoxb-…) shown after installing the Slack app."]


def test_http_mode_needs_the_signing_secret_and_the_http_port_not_the_app_token() -> None:
    assert problems({**KEY, **BOT, "SLACK_MODE": "http"}) == [
        "SLACK_SIGNING_SECRET is missing: set it to the signing secret from the Slack app's Basic Information page.",
        "VEO_HTTP_PORT is missing: set it to a TCP port number from 1 to 65535.",
    ]
    s = load_settings({**KEY, **BOT, **SIGNING, "SLACK_MODE": "HTTP", "VEO_HTTP_PORT": "8080"})
    assert s.slack_mode == "http" and s.slack_signing_secret.get_secret_value() == SIGNING["SLACK_SIGNING_SECRET"]


@pytest.mark.parametrize(("variable", "value", "line"), [
    ("SLACK_BOT_TOKEN", "xapp-1-A111-222-secretappvalue",
     "SLACK_BOT_TOKEN is malformed: expected the bot token (xoxb-…) shown after installing the Slack app."),
    ("SLACK_BOT_TOKEN", "xoxb-with space",
     "SLACK_BOT_TOKEN is malformed: expected the bot token (xoxb-…) shown after installing the Slack app."),
    ("SLACK_APP_TOKEN", "xoxb-1111-2222-secretbotvalue",
     "SLACK_APP_TOKEN is malformed: expected an app-level token (xapp-…) with the connections:write scope."),
    ("SLACK_MODE", "websocket", "SLACK_MODE is malformed: expected one of: socket, http."),
    ("SLACK_API_BASE_URL", "slack.com/api", "SLACK_API_BASE_URL is malformed: expected an http(s) URL."),
    ("SLACK_API_BASE_URL", "ftp://slack.com/api", "SLACK_API_BASE_URL is malformed: expected an http(s) URL."),
    ("SLACK_ADMIN_USERS", "U123,bob",
     "SLACK_ADMIN_USERS is malformed: expected comma-separated Slack user ids such as U0123ABCD."),
    ("SLACK_ADMIN_USERS", "<@U123ABC>",
     "SLACK_ADMIN_USERS is malformed: expected comma-separated Slack user ids such as U0123ABCD."),
    ("SLACK_JOIN_CHANNELS", "sometimes", "SLACK_JOIN_CHANNELS is malformed: expected true or false."),
    ("SLACK_EDIT_RATE", "0", "SLACK_EDIT_RATE is malformed: expected a number of edits per second greater than 0."),
    ("SLACK_EDIT_BURST", "-1", "SLACK_EDIT_BURST is malformed: expected a whole number, 1 or more."),
    ("SLACK_SOCKET_TIMEOUT", "1", "SLACK_SOCKET_TIMEOUT is malformed: expected a number of seconds, 2 or more."),
    ("SLACK_SOCKET_TIMEOUT", "nan", "SLACK_SOCKET_TIMEOUT is malformed: expected a number of seconds, 2 or more."),
])
def test_bad_values_get_one_line_naming_the_variable(variable: str, value: str, line: str) -> None:
    assert problems({**KEY, **BOT, **APP, variable: value}) == [line]


def test_admin_users_are_read_without_repeats() -> None:
    s = load_settings({**KEY, **BOT, **APP, "SLACK_ADMIN_USERS": " U0123ABCD, W0456EFGH ,U0123ABCD"})
    assert s.slack_admin_users == ("U0123ABCD", "W0456EFGH")


def test_a_malformed_mode_does_not_also_report_a_missing_secret() -> None:
    # Which credential is needed depends on the mode, which is unknown: only the real problem is listed.
    assert problems({**KEY, **BOT, "SLACK_MODE": "sockets"}) == [
        "SLACK_MODE is malformed: expected one of: socket, http."]


def test_a_chosen_face_without_its_library_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot import serve

    assert serve.missing_face_extra(("discord", "slack")) is None  # installed here
    real = serve.importlib.util.find_spec
    monkeypatch.setattr(serve.importlib.util, "find_spec",
                        lambda name, *a: None if name == "slack_bolt" else real(name, *a))
    assert serve.missing_face_extra(("discord",)) is None
    assert serve.missing_face_extra(("discord", "slack")) == (
        "the slack face needs the slack extra: pip install 'veo-bot[slack]' (from a checkout: pip install '.[slack]')")
