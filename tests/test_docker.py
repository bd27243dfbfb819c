"""The Dockerfile and compose.yaml mirror the README's install: what they copy, run and configure exists."""

from __future__ import annotations

import importlib
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

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


COMPOSE_FILES = ("compose.yaml", "compose.scale.yaml")
# Set in compose for the postgres image (POSTGRES_*), not settings of the bot.
POSTGRES_IMAGE_VARIABLES = {"POSTGRES_USER", "POSTGRES_DB", "POSTGRES_PASSWORD"}
# How compose.yaml names the database password: from .env, refusing to start without it.
PASSWORD = "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env}"
INTERPOLATED = re.compile(r"\$\{([A-Z_]+)(?::?[-?+][^}]*)?\}")


def compose(name: str = "compose.yaml") -> dict[str, Any]:
    """A compose file as Docker Compose reads it: YAML, anchors and ``<<`` merges resolved."""
    loaded = yaml.safe_load((ROOT / name).read_text())
    assert isinstance(loaded, dict)
    return loaded


def bots(name: str) -> dict[str, dict[str, Any]]:
    """The services of a compose file that run this bot's image."""
    return {k: v for k, v in compose(name)["services"].items() if v.get("image") == "veo-bot:latest"}


def documented() -> set[str]:
    return set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_every_variable_a_compose_file_sets_or_reads_is_documented(name: str) -> None:
    text = (ROOT / name).read_text()
    used = set(INTERPOLATED.findall(text))
    assert used == {"POSTGRES_PASSWORD"}  # the one secret compose itself needs, from .env
    assert used <= documented()
    for service in bots(name).values():
        assert set(service["environment"]) <= documented()
    database = compose(name)["services"]["postgres"]["environment"]
    assert set(database) == POSTGRES_IMAGE_VARIABLES


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_the_bot_pins_the_image_paths_and_port_and_uses_the_postgres_service(name: str) -> None:
    image_paths = {k: v for k, v in image_env().items() if k.startswith("VEO_")}
    database = compose(name)["services"]["postgres"]["environment"]
    for service in bots(name).values():
        env = {k: str(v) for k, v in service["environment"].items()}
        assert {k: env[k] for k in image_paths} == image_paths
        url = env["DATABASE_URL"]
        assert url == f"postgresql://{database['POSTGRES_USER']}:{PASSWORD}@postgres:5432/{database['POSTGRES_DB']}"
        assert service["depends_on"] == {"postgres": {"condition": "service_healthy"}}
        assert service["build"] == "." and service["env_file"] == ".env"
        assert "veo-data:/data" in service["volumes"]
        settings = load_settings({"DISCORD_TOKEN": "x" * 10, "COMETAPI_KEY": "y" * 10,
                                  **{k: v.replace(PASSWORD, "pw")
                                     for k, v in env.items()}})
        assert settings.database_url.startswith("postgresql://veo:pw@postgres:5432/")


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_no_secret_is_written_in_a_compose_file(name: str) -> None:
    text = (ROOT / name).read_text()
    for service in compose(name)["services"].values():
        for key, value in (service.get("environment") or {}).items():
            if re.search("PASSWORD|TOKEN|KEY", key):
                assert str(value).startswith("${"), key
        for key in ("DISCORD_TOKEN", "COMETAPI_KEY"):
            assert key not in (service.get("environment") or {})
    # Passwords only ever come from .env: no user:password@ in a URL but the interpolated one.
    assert set(re.findall(r"://[^/@\s:]+:(\$\{[^}]*\}|[^@\s]+)@", text)) == {PASSWORD}


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_every_service_has_a_health_check(name: str) -> None:
    services = compose(name)["services"]
    database = services["postgres"]
    assert database["image"].split(":")[0] == "postgres" and ":" in database["image"]  # the official image, pinned
    assert database["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    assert "--username=veo" in database["healthcheck"]["test"]
    assert "veo-postgres:/var/lib/postgresql/data" in database["volumes"]
    assert set(compose(name)["volumes"]) == {"veo-data", "veo-postgres"}
    [docker_check] = [json.loads(rest.split(" CMD ", 1)[1]) for k, rest in final_stage() if k == "HEALTHCHECK"]
    for service in bots(name).values():
        assert service["healthcheck"]["test"] == ["CMD", *docker_check]


def test_compose_builds_this_image_with_the_data_volume_and_local_port() -> None:
    [bot] = bots("compose.yaml").values()
    port = image_env()["VEO_HTTP_PORT"]
    assert bot["ports"] == [f"127.0.0.1:{port}:{port}"]


def test_the_scaled_out_example_runs_two_shards_and_a_worker() -> None:
    services = bots("compose.scale.yaml")
    shards = {name: s["environment"] for name, s in services.items() if s["environment"]["VEO_ROLE"] == "all"}
    workers = [s["environment"] for s in services.values() if s["environment"]["VEO_ROLE"] == "worker"]
    assert sorted(env["DISCORD_SHARD_IDS"] for env in shards.values()) == ["0", "1"]
    assert len(workers) == 1
    for env in [*shards.values(), *workers]:
        values = {k: str(v).replace(PASSWORD, "pw") for k, v in env.items()}
        settings = load_settings({"DISCORD_TOKEN": "x" * 10, "COMETAPI_KEY": "y" * 10, **values})
        assert settings.shard_count == 2 and settings.role == values["VEO_ROLE"]
    # One published port each, all on this machine, none twice.
    published = [p for s in services.values() for p in s["ports"]]
    assert all(p.startswith("127.0.0.1:") for p in published) and len(set(published)) == len(services)


@pytest.mark.parametrize("name", ["compose.scale.yaml", "README.md"])
def test_the_scaled_out_example_says_its_processes_stay_on_one_machine(name: str) -> None:
    # Input images and stored videos are still files: every process needs the same volume.
    text = " ".join((ROOT / name).read_text().split())
    assert "veo-data" in text and "one machine" in text
