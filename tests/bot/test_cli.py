"""The command line: settings problems stop start-up before any network, one line each, exit code 2."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main

ROOT = Path(__file__).resolve().parents[2]
ALL_SETTINGS = ("DISCORD_TOKEN", "COMETAPI_KEY", "VEO_POLL_INTERVAL", "DATABASE_URL")


def _clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ALL_SETTINGS and not k.startswith(("VEO_", "DISCORD_"))}
    env.update(extra)
    return env


def test_run_without_settings_prints_one_line_per_missing_variable(tmp_path: Path) -> None:
    # A fresh working directory: no .env file to read.
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=_clean_env(tmp_path),
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith("veo-bot: DISCORD_TOKEN is missing")
    assert lines[1].startswith("veo-bot: COMETAPI_KEY is missing")
    assert len(lines) == 3 and ".env.example" in lines[2]
    assert proc.stdout == ""
    assert not (tmp_path / "data").exists()  # nothing was created: it stopped before doing anything


def test_malformed_value_is_reported_without_echoing_it(tmp_path: Path) -> None:
    env = _clean_env(tmp_path, DISCORD_TOKEN="tok-123456789", COMETAPI_KEY="sk-secret-987654321",
                     VEO_POLL_INTERVAL="sk-secret-987654321")
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 2
    assert "VEO_POLL_INTERVAL is malformed" in proc.stderr
    assert "sk-secret-987654321" not in proc.stderr + proc.stdout
    assert "tok-123456789" not in proc.stderr + proc.stdout


def test_check_config_hides_secrets(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                    tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DISCORD_TOKEN", "discord-token-abcdef")
    monkeypatch.setenv("COMETAPI_KEY", "sk-comet-abcdef")
    assert main(["check-config"]) == 0
    out = capsys.readouterr().out
    assert "poll_interval = 10.0" in out
    assert "discord-token-abcdef" not in out and "sk-comet-abcdef" not in out


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "run" in capsys.readouterr().err


def test_bot_package_does_not_import_discord() -> None:
    """The runtime and job core stay free of Discord so that another chat front-end can drive them."""
    offenders = []
    for path in (ROOT / "bot").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in ("discord", "cogs")]
    assert offenders == []


def test_sql_lives_only_in_db() -> None:
    """No module outside db/ speaks SQL or imports the SQLite driver."""
    offenders = []
    for folder in ("bot", "cogs"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text()
            if "aiosqlite" in text or "sqlite3" in text.replace("veo.sqlite3", "") or "SELECT " in text:
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_mock_provider_without_the_mock_extra_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # PyAV missing: importing it fails (None in sys.modules), and the mock's video module must be imported anew.
    monkeypatch.setitem(sys.modules, "av", None)
    monkeypatch.delitem(sys.modules, "bot.mock.video", raising=False)
    monkeypatch.chdir(tmp_path)
    for name, value in {"DISCORD_TOKEN": "discord-token-abcdef", "COMETAPI_KEY": "sk-comet-abcdef",
                        "VEO_PROVIDER": "mock", "DATABASE_URL": f"sqlite:///{tmp_path / 'veo.sqlite3'}",
                        "VEO_DATA_DIR": str(tmp_path / "data")}.items():
        monkeypatch.setenv(name, value)
    assert main(["run"]) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "veo-bot: VEO_PROVIDER=mock needs the mock extra (PyAV and Pillow): pip install 'veo-bot[mock]'"
    ]
    assert captured.out == ""
    assert list(tmp_path.iterdir()) == []  # nothing was started: no database, no data folder
