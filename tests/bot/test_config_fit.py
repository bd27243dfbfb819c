"""Settings for fitting videos to the upload limit: on by default, read, checked at start-up, documented."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import SettingsError, load_settings
from bot.media.fitter import VideoFitter
from bot.ops.instrument import BotMetrics, InstrumentedFitter
from bot.runtime import build_fitter
from tests.bot.test_cli import _clean_env

REQUIRED = {"DISCORD_TOKEN": "discord-token-abcdef", "COMETAPI_KEY": "sk-comet-abcdef"}
ROOT = Path(__file__).resolve().parents[2]
NEW = ("VEO_FIT_VIDEOS", "VEO_FIT_TIMEOUT", "VEO_FIT_CONCURRENCY")


def test_fitting_is_on_by_default_one_at_a_time_within_five_minutes() -> None:
    s = load_settings(REQUIRED)
    assert (s.fit_videos, s.fit_timeout, s.fit_concurrency) == (True, 300.0, 1)
    fitter = build_fitter(s, BotMetrics())
    assert isinstance(fitter, InstrumentedFitter) and isinstance(fitter.inner, VideoFitter)
    assert fitter.inner.timeout == 300.0


def test_values_are_read_and_fitting_can_be_turned_off() -> None:
    s = load_settings({**REQUIRED, "VEO_FIT_TIMEOUT": "90.5", "VEO_FIT_CONCURRENCY": "2"})
    assert (s.fit_timeout, s.fit_concurrency) == (90.5, 2)
    off = load_settings({**REQUIRED, "VEO_FIT_VIDEOS": "false"})
    assert off.fit_videos is False and build_fitter(off, BotMetrics()) is None


@pytest.mark.parametrize(("name", "value"), [
    ("VEO_FIT_VIDEOS", "sometimes"),
    ("VEO_FIT_TIMEOUT", "0"),
    ("VEO_FIT_TIMEOUT", "-5"),
    ("VEO_FIT_TIMEOUT", "five minutes"),
    ("VEO_FIT_TIMEOUT", "inf"),
    ("VEO_FIT_CONCURRENCY", "0"),
    ("VEO_FIT_CONCURRENCY", "1.5"),
])
def test_malformed_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({**REQUIRED, name: value})
    [problem] = caught.value.problems
    assert problem.startswith(f"{name} is malformed")


def test_a_malformed_fit_setting_stops_start_up_with_exit_2(tmp_path: Path) -> None:
    env = _clean_env(tmp_path, DISCORD_TOKEN="tok-123456789", COMETAPI_KEY="sk-secret-987654321",
                     VEO_FIT_TIMEOUT="never")
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 2 and "VEO_FIT_TIMEOUT is malformed" in proc.stderr


def test_new_settings_are_documented() -> None:
    example = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()
    for name in NEW:
        assert f"\n{name}=" in example, name
        assert f"| `{name}` |" in readme, name
