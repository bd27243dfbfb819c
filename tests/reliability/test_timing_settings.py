"""The advanced timing settings the reliability runs shorten: production-safe defaults, validated, documented,
and reaching the job core and the video client of a real app."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.comet.client import VideoClient
from bot.config import SettingsError, load_settings
from bot.jobs.config import CoreConfig
from cogs.app import VeoApp

ROOT = Path(__file__).resolve().parents[2]
BASE = {"DISCORD_TOKEN": "discord-token-value-123", "COMETAPI_KEY": "sk-comet-key-value-456"}
TIMINGS = ("VEO_REQUEST_TIMEOUT", "VEO_DELIVERY_RETRY_BASE")


def test_defaults_are_the_production_timings() -> None:
    settings = load_settings(BASE)
    assert (settings.request_timeout, settings.lease_seconds, settings.delivery_retry_base) == (30.0, 60.0, 15.0)
    core = CoreConfig.from_settings(settings)
    assert (core.lease_seconds, core.delivery_retry_base) == (60.0, 15.0)


@pytest.mark.parametrize("name", TIMINGS)
@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "soon"])
def test_bad_timings_are_refused_by_name(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings({**BASE, name: value})
    assert info.value.problems == [f"{name} is malformed: expected a number of seconds greater than 0."]


@pytest.mark.parametrize("value", ["4.9", "0", "-1", "nan", "soon"])
def test_a_lease_under_five_seconds_is_refused(value: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings({**BASE, "VEO_LEASE_SECONDS": value})
    assert info.value.problems == ["VEO_LEASE_SECONDS is malformed: expected a number of seconds, 5 or more."]
    assert load_settings({**BASE, "VEO_LEASE_SECONDS": "5"}).lease_seconds == 5.0


def test_timings_are_documented() -> None:
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in (*TIMINGS, "VEO_LEASE_SECONDS"):
        assert f"\n{name}=" in example and f"| `{name}` |" in readme


async def test_the_app_uses_them(tmp_path: Path) -> None:
    env = {**BASE, "DATABASE_URL": f"sqlite:///{tmp_path / 'veo.sqlite3'}", "VEO_DATA_DIR": str(tmp_path / "data"),
           "VEO_REQUEST_TIMEOUT": "2.5", "VEO_LEASE_SECONDS": "7", "VEO_DELIVERY_RETRY_BASE": "0.5"}
    app = await VeoApp.create(load_settings(env))
    try:
        assert (app.worker.config.lease_seconds, app.worker.config.delivery_retry_base) == (7.0, 0.5)
        client = app.worker.provider
        while not isinstance(client, VideoClient):  # unwrap decorators such as the metrics wrapper
            client = client.inner  # type: ignore[attr-defined]
        assert client._retry.request_timeout == 2.5
    finally:
        await app.close()
