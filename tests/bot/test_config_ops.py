"""Settings for operations: the HTTP server, stored videos, log format; safe defaults and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import SettingsError, load_settings

REQUIRED = {"DISCORD_TOKEN": "discord-token-abcdef", "COMETAPI_KEY": "sk-comet-abcdef"}
ROOT = Path(__file__).resolve().parents[2]
ANY_ADDRESS = "0.0.0.0"  # noqa: S104 - the value under test, nothing binds here
NEW = ("VEO_HTTP_HOST", "VEO_PUBLIC_BASE_URL", "VEO_VIDEO_DIR", "VEO_VIDEO_RETENTION_DAYS", "VEO_LOG_FORMAT")


def test_defaults_are_safe() -> None:
    s = load_settings(REQUIRED)
    assert s.http_port is None and s.http_host == "127.0.0.1"  # nothing listens unless asked, and only locally
    assert s.public_base_url is None and s.video_retention_days == 7.0
    assert s.videos_path == Path("data") / "videos" and s.log_format == "text"


def test_values_are_read() -> None:
    s = load_settings({**REQUIRED, "VEO_HTTP_PORT": "8080", "VEO_HTTP_HOST": ANY_ADDRESS,
                       "VEO_PUBLIC_BASE_URL": "https://videos.example.org/veo/", "VEO_VIDEO_DIR": "/srv/videos",
                       "VEO_VIDEO_RETENTION_DAYS": "0.5", "VEO_LOG_FORMAT": "JSON", "VEO_DATA_DIR": "/var/veo"})
    assert (s.http_port, s.http_host) == (8080, ANY_ADDRESS)
    assert s.public_base_url == "https://videos.example.org/veo"
    assert s.videos_path == Path("/srv/videos") and s.video_retention_days == 0.5 and s.log_format == "json"
    assert load_settings({**REQUIRED, "VEO_DATA_DIR": "/var/veo"}).videos_path == Path("/var/veo/videos")


@pytest.mark.parametrize(("name", "value"), [
    ("VEO_HTTP_HOST", "http://0.0.0.0"),
    ("VEO_PUBLIC_BASE_URL", "videos.example.org"),
    ("VEO_PUBLIC_BASE_URL", "ftp://videos.example.org"),
    ("VEO_VIDEO_RETENTION_DAYS", "-1"),
    ("VEO_VIDEO_RETENTION_DAYS", "a week"),
    ("VEO_LOG_FORMAT", "xml"),
])
def test_malformed_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({**REQUIRED, name: value})
    [problem] = caught.value.problems
    assert problem.startswith(f"{name} is malformed")


def test_new_settings_are_documented() -> None:
    example = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()
    for name in NEW:
        assert f"\n{name}=" in example, name
        assert f"| `{name}` |" in readme, name
    assert "Not yet acted on" not in readme or "VEO_HTTP_PORT` are read" not in readme
