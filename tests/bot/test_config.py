"""Settings: defaults, every variable parsed, every malformed value reported by name, secrets hidden."""

from __future__ import annotations

from pathlib import Path

import pytest
from dotenv import dotenv_values
from pydantic import ValidationError

from bot.config import Settings, SettingsError, load_settings, settings_from_environment

BASE = {"DISCORD_TOKEN": "discord-token-value-123", "COMETAPI_KEY": "sk-comet-key-value-456"}


def test_defaults_match_the_interface() -> None:
    s = load_settings(BASE)
    assert s.cometapi_base_url == "https://api.cometapi.com/v1"
    assert s.discord_api_base_url == "https://discord.com/api/v10"
    assert s.discord_gateway_url == "wss://gateway.discord.gg/"
    assert s.database_url == "sqlite:///data/veo.sqlite3"
    assert s.database_path == Path("data/veo.sqlite3")
    assert (s.poll_interval, s.job_timeout) == (10.0, 1800.0)
    assert s.guild_ids == ()
    assert (s.max_active_per_user, s.max_active_per_guild, s.max_active_total) == (2, 10, 20)
    assert s.daily_quota_per_user == 10
    assert s.provider == "cometapi"
    assert s.http_port is None
    assert s.default_model == "veo3.1-fast"


def test_every_variable_is_read() -> None:
    s = load_settings({
        **BASE,
        "COMETAPI_BASE_URL": "http://127.0.0.1:9000/v1/",
        "DISCORD_API_BASE_URL": "http://127.0.0.1:9001/api/v10",
        "DISCORD_GATEWAY_URL": "ws://127.0.0.1:9001/gateway",
        "DATABASE_URL": "sqlite:////var/lib/veo/veo.sqlite3",
        "VEO_POLL_INTERVAL": "2.5",
        "VEO_JOB_TIMEOUT": "600",
        "DISCORD_GUILD_IDS": "123, 456",
        "VEO_MAX_ACTIVE_PER_USER": "1",
        "VEO_MAX_ACTIVE_PER_GUILD": "3",
        "VEO_MAX_ACTIVE_TOTAL": "5",
        "VEO_DAILY_QUOTA_PER_USER": "0",
        "VEO_PROVIDER": "MOCK",
        "VEO_HTTP_PORT": "8080",
        "VEO_MODELS": "veo3.1,veo3.1-fast",
        "VEO_ORIENTATION_MAP": "16x9=1280x720:8,9x16=720x1280:8",
        "VEO_MAX_PROMPT_CHARS": "200",
        "VEO_UPLOAD_LIMIT_BYTES": "1048576",
        "VEO_LOG_LEVEL": "debug",
        "VEO_ALLOW_HTTP_DOWNLOADS": "yes",
    })
    assert s.cometapi_base_url == "http://127.0.0.1:9000/v1"  # trailing slash dropped: the client appends /videos
    assert s.database_path == Path("/var/lib/veo/veo.sqlite3")
    assert s.poll_interval == 2.5 and s.job_timeout == 600.0
    assert s.guild_ids == (123, 456)
    assert (s.max_active_per_user, s.max_active_per_guild, s.max_active_total) == (1, 3, 5)
    assert s.daily_quota_per_user == 0
    assert s.provider == "mock"
    assert s.http_port == 8080
    assert s.models == ("veo3.1", "veo3.1-fast") and s.default_model == "veo3.1"
    assert s.max_prompt_chars == 200 and s.upload_limit_bytes == 1048576
    assert s.log_level == "DEBUG"
    assert s.allow_http_downloads is True


def test_missing_required_settings_give_one_line_each() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings({})
    assert len(info.value.problems) == 2
    assert info.value.problems[0].startswith("DISCORD_TOKEN is missing")
    assert info.value.problems[1].startswith("COMETAPI_KEY is missing")


def test_blank_required_setting_counts_as_missing() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings({"DISCORD_TOKEN": "  ", "COMETAPI_KEY": "k" * 10})
    assert [p.split(" ")[0] for p in info.value.problems] == ["DISCORD_TOKEN"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("COMETAPI_BASE_URL", "api.cometapi.com/v1"),
        ("COMETAPI_BASE_URL", "ftp://x/v1"),
        ("DISCORD_API_BASE_URL", "not a url"),
        ("DISCORD_GATEWAY_URL", "https://gateway.discord.gg"),
        ("DATABASE_URL", "mysql://localhost/veo"),
        ("DATABASE_URL", "postgresql://"),
        ("DATABASE_URL", "sqlite:///"),
        ("VEO_POLL_INTERVAL", "0"),
        ("VEO_POLL_INTERVAL", "-1"),
        ("VEO_POLL_INTERVAL", "nan"),
        ("VEO_POLL_INTERVAL", "ten"),
        ("VEO_JOB_TIMEOUT", "inf"),
        ("DISCORD_GUILD_IDS", "123,abc"),
        ("DISCORD_GUILD_IDS", "-5"),
        ("VEO_MAX_ACTIVE_PER_USER", "0"),
        ("VEO_MAX_ACTIVE_PER_GUILD", "2.5"),
        ("VEO_MAX_ACTIVE_TOTAL", "many"),
        ("VEO_DAILY_QUOTA_PER_USER", "-1"),
        ("VEO_PROVIDER", "openai"),
        ("VEO_HTTP_PORT", "70000"),
        ("VEO_HTTP_PORT", "http"),
        ("VEO_MODELS", " , "),
        ("VEO_ORIENTATION_MAP", "square=1x1"),
        ("VEO_MAX_PROMPT_CHARS", "0"),
        ("VEO_LOG_LEVEL", "loud"),
        ("VEO_ALLOW_HTTP_DOWNLOADS", "maybe"),
    ],
)
def test_malformed_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings({**BASE, name: value})
    assert len(info.value.problems) == 1
    line = info.value.problems[0]
    assert line.startswith(f"{name} is malformed: expected ")


@pytest.mark.parametrize("url", ["postgresql://veo:pa55-word@db.internal:5432/veo",
                                 "postgres://veo:pa55-word@127.0.0.1/veo?sslmode=require"])
def test_a_postgresql_url_is_accepted_and_its_password_never_shown(url: str) -> None:
    s = load_settings({**BASE, "DATABASE_URL": url})
    assert s.database_url == url and s.database_path is None
    assert "pa55-word" not in repr(s) and "pa55-word" not in str(s)


def test_a_malformed_database_url_is_refused_without_echoing_its_password() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings({**BASE, "DATABASE_URL": "postgresql://veo:pa55-word@db host/veo"})
    assert info.value.problems[0].startswith("DATABASE_URL is malformed: expected ")
    assert "pa55-word" not in str(info.value) and info.value.__cause__ is None


def test_default_model_must_be_listed() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings({**BASE, "VEO_MODELS": "veo3.1", "VEO_DEFAULT_MODEL": "veo9"})
    assert info.value.problems == ["VEO_DEFAULT_MODEL is malformed: expected one of the models in VEO_MODELS."]


def test_secrets_never_appear_in_repr_or_str() -> None:
    s = load_settings(BASE)
    for text in (repr(s), str(s), repr(s.discord_token), f"{s.cometapi_key}"):
        assert BASE["DISCORD_TOKEN"] not in text
        assert BASE["COMETAPI_KEY"] not in text
    assert s.discord_token.get_secret_value() == BASE["DISCORD_TOKEN"]


def test_secret_pasted_into_a_wrong_variable_is_not_echoed() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings({**BASE, "VEO_POLL_INTERVAL": "sk-live-secret-abc"})
    assert "sk-live-secret-abc" not in str(info.value)


VARIABLES = [str(field.validation_alias) for field in Settings.model_fields.values()]
# Secret-looking values, also ones that look like JSON (which pydantic-settings decodes for some types).
LEAKS = ["sk-live-secret-abc", "sk-live secret/abc@x", '["sk-live-secret-abc"]', '{"k": "sk-live-secret-abc"}']


def _not_echoed(error: SettingsError, value: str) -> None:
    for text in (*error.problems, str(error), repr(error)):
        assert value not in text and "sk-live" not in text
    # pydantic's own error, which quotes values, is neither the cause nor shown as the context.
    assert error.__cause__ is None and error.__suppress_context__


# Variables some of those values are good for: secrets, paths, a host name, model names.
TAKE_TEXT = {"DISCORD_TOKEN", "SLACK_SIGNING_SECRET", "COMETAPI_KEY", "VEO_DATA_DIR", "VEO_VIDEO_DIR", "VEO_HTTP_HOST",
             "VEO_MODELS"}


@pytest.mark.parametrize("value", LEAKS)
@pytest.mark.parametrize("name", VARIABLES)
def test_no_variable_echoes_its_value(name: str, value: str) -> None:
    try:
        load_settings({**BASE, name: value})
    except SettingsError as exc:
        assert [p.split(" ")[0] for p in exc.problems] == [name]
        _not_echoed(exc, value)
    else:
        assert name in TAKE_TEXT


@pytest.mark.parametrize("value", LEAKS)
def test_every_variable_malformed_at_once_echoes_nothing(value: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(dict.fromkeys(VARIABLES, value))
    _not_echoed(info.value, value)
    named = [p.split(" ")[0] for p in info.value.problems]
    assert len(named) == len(set(named))  # one line each
    # VEO_DEFAULT_MODEL is checked against VEO_MODELS, which is the same text or malformed itself.
    assert set(VARIABLES) - TAKE_TEXT - {"VEO_DEFAULT_MODEL"} <= set(named)


def test_env_file_is_read_and_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("DISCORD_TOKEN=from-file-token\nCOMETAPI_KEY=from-file-key\nVEO_POLL_INTERVAL=3\n")
    for name in ("DISCORD_TOKEN", "COMETAPI_KEY", "VEO_POLL_INTERVAL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VEO_POLL_INTERVAL", "7")
    s = settings_from_environment(env_file)
    assert s.discord_token.get_secret_value() == "from-file-token"
    assert s.poll_interval == 7.0


def test_settings_is_immutable() -> None:
    s = load_settings(BASE)
    with pytest.raises(ValidationError, match="frozen"):
        s.poll_interval = 1.0
    assert isinstance(s, Settings)


def test_every_setting_is_documented() -> None:
    """Each variable appears in .env.example (with a one-line comment above it) and in the README's table."""
    root = Path(__file__).resolve().parents[2]
    example = (root / ".env.example").read_text(encoding="utf-8").splitlines()
    readme = (root / "README.md").read_text(encoding="utf-8")
    for name in VARIABLES:
        [at] = [i for i, line in enumerate(example) if line.startswith(f"{name}=")]
        assert example[at - 1].startswith("# "), name
        assert f"| `{name}` |" in readme, name


def test_env_example_values_are_the_defaults() -> None:
    example = dotenv_values(Path(__file__).resolve().parents[2] / ".env.example")
    assert load_settings({**{k: v for k, v in example.items() if v is not None}, **BASE}) == load_settings(BASE)
