"""The Dockerfile and compose.yaml mirror the README's install: what they copy, run and configure exists."""

from __future__ import annotations

import importlib
import json
import re
import tomllib
from pathlib import Path

from bot.cli import _parser
from bot.config import load_settings

ROOT = Path(__file__).resolve().parents[1]


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (k, _) in enumerate(steps) if k == "FROM")
    return steps[last_from:]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, rest in final_stage():
        if keyword == "ENV":
            env.update(dict(pair.split("=", 1) for pair in rest.split()))
    return env


def test_build_is_multi_stage_and_copies_only_what_exists() -> None:
    steps = instructions()
    assert sum(1 for k, _ in steps if k == "FROM") >= 2
    for keyword, rest in steps:
        if keyword == "COPY" and not rest.startswith("--from"):
            *sources, _dest = rest.split()
            for source in sources:
                assert (ROOT / source).exists(), source
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    copied = {rest.split()[0] for k, rest in steps if k == "COPY" and not rest.startswith("--from")}
    assert {p.rstrip("*") for p in packages["include"]} <= copied  # every package the install needs is copied


def test_extras_installed_in_the_image_exist() -> None:
    [extras] = [rest.split("=", 1)[1] for k, rest in instructions() if k == "ARG" and rest.startswith("EXTRAS=")]
    optional = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert all(extra in optional for extra in extras.split(",") if extra)


def test_command_and_healthcheck_exist_in_the_package() -> None:
    stage = dict(final_stage())
    command = json.loads(stage["CMD"])
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert command[0] in scripts and scripts[command[0]] == "bot.cli:entry"
    assert _parser().parse_args(command[1:]).command == "run"
    health = json.loads(stage["HEALTHCHECK"].split(" CMD ", 1)[1])
    assert health[:2] == ["python", "-m"]
    assert callable(importlib.import_module(health[2]).main)


def test_runs_as_a_non_root_user_with_data_on_the_volume() -> None:
    stage = final_stage()
    users = [rest for k, rest in stage if k == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    keywords = [k for k, _ in stage]
    assert keywords.index("USER") < keywords.index("CMD")
    [volume] = [json.loads(rest) for k, rest in stage if k == "VOLUME"]
    env = image_env()
    settings = load_settings({"DISCORD_TOKEN": "x" * 10, "COMETAPI_KEY": "y" * 10, **env})
    for path in (settings.database_path, settings.data_dir, settings.videos_path):
        assert str(path).startswith(volume[0]), path
    assert settings.http_port is not None and settings.http_host == "0.0.0.0"  # noqa: S104 - reachable through the published port
    assert [rest for k, rest in stage if k == "EXPOSE"] == [str(settings.http_port)]


def test_every_variable_the_image_or_compose_sets_is_a_documented_setting() -> None:
    documented = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    compose = (ROOT / "compose.yaml").read_text()
    compose_env = dict(re.findall(r"^\s+([A-Z][A-Z_]+): *\"?([^\"\n]*)\"?$", compose, re.M))
    settings_env = {k: v for k, v in image_env().items() if k.startswith(("VEO_", "DATABASE_"))}
    assert set(settings_env) <= documented and set(compose_env) <= documented
    assert compose_env == settings_env  # compose pins the same paths and port over whatever .env says


def test_compose_builds_this_image_with_the_data_volume_and_local_port() -> None:
    compose = (ROOT / "compose.yaml").read_text()
    assert re.search(r"^\s+build: \.$", compose, re.M)
    assert re.search(r"^\s+env_file: \.env$", compose, re.M)
    assert re.search(r"^\s+- veo-data:/data$", compose, re.M) and re.search(r"^volumes:\n\s+veo-data:", compose, re.M)
    port = image_env()["VEO_HTTP_PORT"]
    assert f'"127.0.0.1:{port}:{port}"' in compose
