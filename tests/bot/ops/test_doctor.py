"""``veo-bot doctor``'s own checks: settings, the database, and the CometAPI key against the fake CometAPI."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from bot.config import load_settings
from bot.ops.doctor import Finding, Level, check_cometapi, check_database, check_settings, exit_code, report
from db import open_store
from db.sqlite.connection import migration_scripts
from db.sqlite.store import SqliteJobStore
from tests.fakes.comet.api import FakeCometAPI, Fault


def _settings(**env: str) -> object:
    return load_settings({"DISCORD_TOKEN": "discord-token-abcdef", "COMETAPI_KEY": "sk-comet-abcdef", **env})


async def _comet(api: FakeCometAPI, key: str, base: str | None = None) -> Finding:
    env = {"DISCORD_TOKEN": "t" * 10, "COMETAPI_KEY": key, "COMETAPI_BASE_URL": base or api.base_url}
    settings = load_settings(env)
    async with aiohttp.ClientSession() as session:
        return await check_cometapi(settings, session)


async def test_a_good_key_passes_with_one_status_request_for_a_made_up_task() -> None:
    async with FakeCometAPI() as api:
        finding = await _comet(api, api.api_key)
        assert finding.level is Level.OK and "accepted COMETAPI_KEY" in finding.message
        [request] = api.requests
        assert request.method == "GET" and request.path.endswith("/videos/veo-bot-doctor-probe")
        assert request.headers["Authorization"] == f"Bearer {api.api_key}"
        assert api.create_requests() == []  # nothing billable


async def test_a_bad_key_fails_with_how_to_fix_it_and_never_shows_the_key() -> None:
    async with FakeCometAPI() as api:
        finding = await _comet(api, "sk-wrong-key-999999")
    assert finding.level is Level.FAIL and "refused COMETAPI_KEY (HTTP 401)" in finding.message
    assert finding.fix is not None and "CometAPI console" in finding.fix
    assert "sk-wrong-key-999999" not in report([finding])


async def test_a_base_url_that_is_not_the_api_is_named() -> None:
    async with FakeCometAPI() as api:
        api.inject("get", Fault.html(200), times=5)
        finding = await _comet(api, api.api_key)
    assert finding.level is Level.FAIL and "does not answer like CometAPI" in finding.message
    assert finding.fix is not None and "COMETAPI_BASE_URL" in finding.fix


async def test_an_unreachable_api_is_a_failure_with_the_reason() -> None:
    async with FakeCometAPI() as api:
        base = api.base_url
    finding = await _comet(api, api.api_key, base)  # the fake has stopped: connection refused
    assert finding.level is Level.FAIL and "could not be reached" in finding.message


async def test_mock_provider_skips_cometapi() -> None:
    settings = _settings(VEO_PROVIDER="mock")
    async with aiohttp.ClientSession() as session:
        finding = await check_cometapi(settings, session)  # type: ignore[arg-type]
    assert finding.level is Level.SKIP


async def test_database_check_creates_migrates_and_writes(tmp_path: Path) -> None:
    path = tmp_path / "data" / "veo.sqlite3"
    finding = await check_database(f"sqlite:///{path}", open_store)
    assert finding.level is Level.OK and path.exists()
    assert f"{path} opens, is up to date and takes writes (SQLite 3." in finding.message
    assert finding.message.endswith(f", schema version {len(migration_scripts())})")
    store = await SqliteJobStore.open(path)
    try:
        assert await store.get_meta("doctor_checked_at") == "ok"
    finally:
        await store.close()


async def test_database_check_fails_when_the_path_cannot_be_a_database(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("a file where the directory should be")
    finding = await check_database(f"sqlite:///{tmp_path / 'data' / 'veo.sqlite3'}", open_store)
    assert finding.level is Level.FAIL and "is not a directory" in finding.message and finding.fix
    finding = await check_database(f"sqlite:///{tmp_path / 'data' / 'sub' / 'veo.sqlite3'}", open_store)
    assert finding.level is Level.FAIL and "cannot open" in finding.message and finding.fix


async def test_database_check_does_not_open_a_database_the_bot_is_using(tmp_path: Path) -> None:
    path = tmp_path / "veo.sqlite3"
    running = await SqliteJobStore.open(path)
    try:
        finding = await check_database(f"sqlite:///{path}", open_store)
    finally:
        await running.close()
    assert finding.level is Level.WARN and "in use by a running veo-bot process" in finding.message
    assert exit_code([finding]) == 0


def test_settings_findings_warn_about_mock_and_public_urls_without_a_server() -> None:
    found = check_settings(_settings(VEO_PROVIDER="mock", VEO_PUBLIC_BASE_URL="https://v.example.org"),  # type: ignore[arg-type]
                           mock_ready=True)
    text = report(found)
    assert "[warn] provider: VEO_PROVIDER=mock" in text
    assert "VEO_PUBLIC_BASE_URL is set but VEO_HTTP_PORT is not" in text
    assert exit_code(found) == 0
    missing = check_settings(_settings(VEO_PROVIDER="mock"), mock_ready=False)  # type: ignore[arg-type]
    assert exit_code(missing) == 1 and "pip install 'veo-bot[mock]'" in report(missing)


def test_report_lists_fixes_for_failures_and_counts_them() -> None:
    text = report([
        Finding(Level.OK, "a", "fine"),
        Finding(Level.FAIL, "b", "broken", "do this"),
        Finding(Level.OK, "c", "fine", "never shown for ok"),
    ])
    assert text.splitlines() == [
        "[ ok ] a: fine", "[FAIL] b: broken", "       fix: do this", "[ ok ] c: fine",
        "1 problem(s) to fix, 0 warning(s).",
    ]
