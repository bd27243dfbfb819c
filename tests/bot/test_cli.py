"""The command line: settings problems stop start-up before any network, one line each, exit code 2."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import entry, main
from bot.config import Settings

ROOT = Path(__file__).resolve().parents[2]
ALL_SETTINGS = ("DISCORD_TOKEN", "COMETAPI_KEY", "VEO_POLL_INTERVAL", "DATABASE_URL")


def _clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ALL_SETTINGS and not k.startswith(("VEO_", "DISCORD_", "SLACK_"))}
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


def test_no_value_is_echoed_whichever_variable_holds_it(tmp_path: Path) -> None:
    leak = "sk-secret-987654321 /@"
    env = _clean_env(tmp_path, **dict.fromkeys((str(f.validation_alias) for f in Settings.model_fields.values()), leak))
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 2
    assert len(proc.stderr.splitlines()) > 30  # one line per malformed setting
    assert "sk-secret" not in proc.stderr + proc.stdout


def _run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=_clean_env(tmp_path, **env),
        capture_output=True, text=True, timeout=60, check=False,
    )


def test_no_face_credentials_exit_2_naming_the_discord_token(tmp_path: Path) -> None:
    proc = _run(tmp_path, COMETAPI_KEY="sk-secret-987654321")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines[0] == ("veo-bot: DISCORD_TOKEN is missing: set it to the bot token from the Discord developer portal"
                        " (or SLACK_BOT_TOKEN for the Slack face).")
    assert len(lines) == 2 and ".env.example" in lines[1]
    assert "sk-secret-987654321" not in proc.stderr + proc.stdout


def test_unknown_frontend_exits_2(tmp_path: Path) -> None:
    proc = _run(tmp_path, DISCORD_TOKEN="tok-123456789", COMETAPI_KEY="sk-secret-987654321", VEO_FRONTENDS="teams")
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[0] == (
        "veo-bot: VEO_FRONTENDS is malformed: expected a comma-separated list of the chat faces: discord, slack."
    )
    assert "teams" not in proc.stderr


def test_cometapi_without_key_exits_2(tmp_path: Path) -> None:
    proc = _run(tmp_path, DISCORD_TOKEN="tok-123456789", VEO_PROVIDER="cometapi")
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[0].startswith("veo-bot: COMETAPI_KEY is missing")


def test_mock_provider_starts_without_a_key(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COMETAPI_KEY", raising=False)
    monkeypatch.setenv("DISCORD_TOKEN", "discord-token-abcdef")
    monkeypatch.setenv("VEO_PROVIDER", "mock")
    assert main(["check-config"]) == 0
    out = capsys.readouterr().out
    assert "provider = 'mock'" in out and "frontends = ('discord',)" in out


@pytest.mark.parametrize(("name", "value", "line"), [
    ("VEO_FRONTENDS", "discord,teams", "expected a comma-separated list of the chat faces: discord, slack."),
    ("DISCORD_EDIT_RATE", "0", "expected a number of edits per second greater than 0."),
    ("DISCORD_EDIT_BURST", "0.5", "expected a whole number, 1 or more."),
])
def test_bad_new_setting_exits_2_with_one_line(name: str, value: str, line: str, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for variable in list(os.environ):
        if variable.startswith(("VEO_", "DISCORD_", "COMETAPI_")):
            monkeypatch.delenv(variable)
    monkeypatch.setenv("DISCORD_TOKEN", "discord-token-abcdef")
    monkeypatch.setenv("COMETAPI_KEY", "sk-comet-abcdef")
    monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "argv", ["veo-bot", "run"])
    with pytest.raises(SystemExit) as exited:
        entry()
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [f"veo-bot: {name} is malformed: {line}",
                                         "veo-bot: see .env.example for every setting."]
    assert captured.out == "" and not (tmp_path / "data").exists()


def test_check_config_hides_secrets(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                    tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DISCORD_TOKEN", "discord-token-abcdef")
    monkeypatch.setenv("COMETAPI_KEY", "sk-comet-abcdef")
    monkeypatch.setenv("DATABASE_URL", "postgresql://veo:db-pa55-word@db.internal/veo")
    assert main(["check-config"]) == 0
    out = capsys.readouterr().out
    assert "poll_interval = 10.0" in out
    assert "discord-token-abcdef" not in out and "sk-comet-abcdef" not in out
    assert "database_url = 'postgresql://veo:***@db.internal/veo'" in out and "db-pa55-word" not in out


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
