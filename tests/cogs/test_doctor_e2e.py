"""``veo-bot doctor`` against the fake Discord and the fake CometAPI: good and bad tokens, keys, intents, guilds."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import discord
import pytest

from bot.config import load_settings
from cogs.doctor import run_doctor
from db.postgres.connection import migration_scripts as pg_migrations
from tests.fakes.discord.models import VIEW_CHANNEL
from tests.support.e2e import World, world
from tests.support.postgres import PostgresServer


async def _doctor(w: World, *, intents: discord.Intents | None = None, **env: str) -> tuple[int, str]:
    lines: list[str] = []
    code = await run_doctor(load_settings(w.env(**env)), out=lines.append, intents=intents, gateway_wait=10)
    return code, "\n".join(lines)


async def test_a_healthy_setup_passes_and_prints_the_invite_link(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        code, text = await _doctor(w)
        assert code == 0, text
        assert "[ ok ] discord token: logged in as veo-bot" in text
        assert "[ ok ] gateway: connected; intents accepted (no privileged intents)" in text
        assert f"[ ok ] guild Test Server ({w.guild.id}): can post videos in 1 of 1 text channels" in text
        assert "[ ok ] cometapi: CometAPI accepted COMETAPI_KEY" in text
        assert "[ ok ] database:" in text and "No problems found" in text
        invite = (f"https://discord.com/oauth2/authorize?client_id={w.discord.application_id}"
                  "&scope=bot+applications.commands&permissions=117760")
        assert invite in text
        assert w.discord.identify_count == 1 and w.discord.connection_count == 0  # connected, then left
        assert w.discord.token not in text and w.api.api_key not in text


async def test_bad_discord_token_and_bad_cometapi_key_are_both_reported(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        code, text = await _doctor(w, DISCORD_TOKEN="not-the-token-123456", COMETAPI_KEY="sk-wrong-key-123456")
    assert code == 1
    assert "[FAIL] discord token: Discord refused DISCORD_TOKEN" in text and "Reset Token" in text
    assert "[FAIL] cometapi: CometAPI refused COMETAPI_KEY (HTTP 401)" in text
    assert "2 problem(s) to fix" in text
    assert "not-the-token-123456" not in text and "sk-wrong-key-123456" not in text
    assert "Invite link" not in text  # without a token the application id is unknown


async def test_missing_permissions_are_named_with_the_fix(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        w.guild.roles[w.guild.id].permissions = VIEW_CHANNEL  # the bot's only role: @everyone
        code, text = await _doctor(w)
    assert code == 1, text
    assert "the bot's roles lack: Send Messages, Embed Links, Attach Files, Read Message History" in text
    assert "cannot post videos in any of its 1 text channels" in text
    assert "permissions=117760" in text


async def test_a_configured_guild_the_bot_is_not_in(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        code, text = await _doctor(w, DISCORD_GUILD_IDS=f"{w.guild.id},42")
    assert code == 1
    assert "[FAIL] guild 42: the bot is not in this server" in text
    assert f"guild Test Server ({w.guild.id}): can post videos" in text


async def test_missing_applications_commands_scope(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        w.discord.inject("GET", r"/applications/\d+/guilds/\d+/commands$", status=403, code=50001,
                         message="Missing Access")
        code, text = await _doctor(w)
    assert code == 1 and "may not create slash commands here" in text and "applications.commands" in text


async def test_refused_privileged_intents(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        intents = discord.Intents.default()
        intents.members = True  # not enabled for the fake application
        code, text = await _doctor(w, intents=intents)
    assert code == 1
    assert "[FAIL] gateway: Discord refused the privileged gateway intents" in text and "developer portal" in text


async def test_mock_provider_skips_cometapi_and_says_so(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        code, text = await _doctor(w, VEO_PROVIDER="mock")
        assert code == 0, text
        assert "[skip] cometapi: not called with VEO_PROVIDER=mock" in text and "[warn] provider" in text
        assert w.api.requests == []


async def test_the_doctor_command_runs_as_a_process(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VEO_", "DISCORD_", "COMETAPI_"))}
        env.update(w.env(COMETAPI_KEY="sk-wrong-key-123456"))
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "doctor", cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    text = output.decode()
    assert proc.returncode == 1, text
    assert "[FAIL] cometapi: CometAPI refused COMETAPI_KEY (HTTP 401)" in text
    assert "[ ok ] gateway" in text and "Invite link" in text
    assert "sk-wrong-key-123456" not in text and w.discord.token not in text


@pytest.mark.postgres
async def test_a_postgresql_database_is_checked_and_its_password_never_printed(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    async with postgres_server.database(migrated=False) as url, world(tmp_path) as w:
        with_password = url.replace("postgresql://postgres@", "postgresql://postgres:doctor-db-pa55@")
        code, text = await _doctor(w, DATABASE_URL=with_password)
        [line] = [line for line in text.splitlines() if "database:" in line]
        assert line.startswith("[ ok ] database: postgresql://postgres:***@")
        assert "opens, is up to date and takes writes (PostgreSQL " in line
        assert f", schema version {len(pg_migrations())})" in line
        # The tests' server runs without fsync, for speed: the doctor's server checks say what that risks.
        assert code == 1 and "[FAIL] postgresql fsync: fsync is off" in text and "1 problem(s) to fix" in text
        assert "[warn] postgresql synchronous_commit" in text and "[ ok ] postgresql connections" in text
        assert "doctor-db-pa55" not in text
