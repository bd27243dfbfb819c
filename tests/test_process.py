"""The real ``veo-bot run`` process against the fakes: answers /veo, delivers once, stops on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

from cogs.render import MOCK_NOTE
from tests.fakes.comet.api import TaskScript, make_mp4_bytes
from tests.support.e2e import discord_world, world
from tests.support.mp4 import top_level_boxes

SETTING_PREFIXES = ("VEO_", "DISCORD_", "COMETAPI_", "DATABASE_")


def bot_env(settings: dict[str, str]) -> dict[str, str]:
    """This process's environment without any bot setting of its own, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SETTING_PREFIXES)}
    env.update(settings)
    return env


async def start_bot(cwd: Path, env: dict[str, str], *, merge_stderr: bool = True) -> asyncio.subprocess.Process:
    """``python -m bot run`` as a child process, its output piped."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT if merge_stderr else asyncio.subprocess.PIPE,
    )


async def test_process_serves_veo_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    video = make_mp4_bytes(20_000)
    async with world(tmp_path) as w:
        w.api.default_script = TaskScript(polls_until_done=1, video=video)
        proc = await start_bot(tmp_path, bot_env(w.env(VEO_POLL_INTERVAL="0.2")))
        try:
            await w.discord.wait_until(lambda: w.discord.identify_count >= 1, timeout=20)
            await w.discord.wait_until(lambda: w.discord.sync_count(w.guild.id) >= 1, timeout=10)
            interaction = await w.veo(prompt="a hummingbird in slow motion @everyone")
            await interaction.wait_acked(timeout=5)
            assert interaction.ack_latency is not None and interaction.ack_latency < 3.0
            await interaction.wait_for_response(predicate=lambda m: "Job #1" in m.content, timeout=10)
            [result] = await w.discord.wait_until(lambda: w.results() or None, timeout=20)
            assert result.attachment_bytes == [video] and result.pinged_user_ids == {w.member.id}
            await w.discord.wait_until(lambda: "Delivered" in str(w.status_messages()[0].embeds), timeout=10)
        finally:
            proc.send_signal(signal.SIGTERM)
            output, _ = await asyncio.wait_for(proc.communicate(), timeout=20)
        text = output.decode()
        assert proc.returncode == 0, text
        assert "job worker stopped" in text and "job=1 delivered" in text
        assert w.discord.token not in text and w.api.api_key not in text
        assert len(w.results()) == 1


async def test_a_second_process_on_the_same_database_is_refused_with_one_line(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        env = bot_env(w.env(VEO_POLL_INTERVAL="0.2"))
        first = await start_bot(tmp_path, env)
        try:
            await w.discord.wait_until(lambda: w.discord.identify_count >= 1, timeout=20)
            second = await start_bot(tmp_path, env, merge_stderr=False)
            out, err = await asyncio.wait_for(second.communicate(), timeout=30)
            assert second.returncode == 2
            assert out == b""
            assert err.decode().splitlines() == [
                f"veo-bot: another veo-bot process is using {tmp_path / 'veo.sqlite3'}; one SQLite database serves "
                "one process — use PostgreSQL (DATABASE_URL=postgresql://…) to run several"
            ]
            # It started nothing: no login, no gateway session; the first bot runs on.
            logins = [r for r in w.discord.requests if r.method == "GET" and r.path == "/users/@me"]
            assert len(logins) == 1 and w.discord.identify_count == 1
            assert first.returncode is None
        finally:
            first.send_signal(signal.SIGTERM)
            output, _ = await asyncio.wait_for(first.communicate(), timeout=20)
        assert first.returncode == 0, output.decode()


async def test_mock_provider_without_a_cometapi_key_delivers_a_real_mp4(tmp_path: Path) -> None:
    """``VEO_PROVIDER=mock`` with no CometAPI at all: no key, no base URL, no fake video service running."""
    async with discord_world(tmp_path) as w:
        role = w.discord.add_role(w.guild.id, "everyone-on-call", mentionable=True)
        env = bot_env(w.env(VEO_PROVIDER="mock", VEO_POLL_INTERVAL="0.1"))
        assert not [k for k in env if k.startswith("COMETAPI_")]
        proc = await start_bot(tmp_path, env)
        try:
            await w.discord.wait_until(lambda: w.discord.identify_count >= 1, timeout=20)
            await w.discord.wait_until(lambda: w.discord.sync_count(w.guild.id) >= 1, timeout=10)
            interaction = await w.veo(prompt=f"a paper boat on a stream @everyone <@&{role.id}> <@{w.moderator.id}>")
            await interaction.wait_acked(timeout=5)
            await interaction.wait_for_response(predicate=lambda m: "Job #1" in m.content, timeout=10)
            [result] = await w.discord.wait_until(lambda: w.results() or None, timeout=30)
            await w.discord.wait_until(lambda: "Delivered" in str(w.status_messages()[0].embeds), timeout=10)
        finally:
            proc.send_signal(signal.SIGTERM)
            output, _ = await asyncio.wait_for(proc.communicate(), timeout=20)
        text = output.decode()
        assert proc.returncode == 0, text
        assert "VEO_PROVIDER=mock" in text and "job=1 delivered" in text and "job worker stopped" in text
        assert w.discord.token not in text
        [attachment] = result.attachments
        assert attachment.filename.endswith(".mp4")
        video = attachment.data
        boxes = top_level_boxes(video)
        assert boxes[0] == "ftyp" and "moov" in boxes and "mdat" in boxes, boxes
        assert boxes.index("moov") < boxes.index("mdat"), boxes  # the mock writes faststart
        assert MOCK_NOTE in result.content
        assert result.referenced_message_id == w.status_messages()[0].id
        assert result.pinged_user_ids == {w.member.id}
        assert not result.pinged_role_ids and not result.pinged_everyone
        assert len(w.results()) == 1


async def test_a_worker_process_runs_the_jobs_of_its_database_without_a_gateway(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        # Long enough for the first process to stop first, short enough for the second to finish it.
        w.api.default_script = TaskScript(seconds_until_done=4.0)
        # The job is taken (and submitted) by a process with the gateway that stops before it is done...
        taker = await start_bot(tmp_path, bot_env(w.env(VEO_POLL_INTERVAL="0.2")))
        try:
            await w.discord.wait_until(lambda: w.discord.identify_count >= 1, timeout=20)
            await w.discord.wait_until(lambda: w.discord.sync_count(w.guild.id) >= 1, timeout=10)
            interaction = await w.veo(prompt="a paper lantern drifting up")
            await interaction.wait_for_response(predicate=lambda m: "Job #1" in m.content, timeout=10)
        finally:
            taker.send_signal(signal.SIGTERM)
            await asyncio.wait_for(taker.communicate(), timeout=20)
        syncs = len(w.discord.command_puts)
        # ...and a worker process on the same database polls and posts it, through REST only.
        worker = await start_bot(tmp_path, bot_env(w.env(VEO_POLL_INTERVAL="0.2", VEO_ROLE="worker")))
        try:
            [result] = await w.discord.wait_until(lambda: w.results() or None, timeout=20)
            assert result.pinged_user_ids == {w.member.id}
        finally:
            worker.send_signal(signal.SIGTERM)
            output, _ = await asyncio.wait_for(worker.communicate(), timeout=20)
        text = output.decode()
        assert worker.returncode == 0, text
        assert "VEO_ROLE=worker: no gateway connection" in text and "job=1 delivered" in text
        assert w.discord.identify_count == 1 and len(w.discord.command_puts) == syncs


async def test_an_unreachable_postgresql_database_stops_the_start_with_one_line_and_no_password(
    tmp_path: Path,
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket closes
    async with discord_world(tmp_path) as w:
        env = bot_env(w.env(VEO_PROVIDER="mock", DATABASE_URL=f"postgresql://veo:pg-pa55-word@127.0.0.1:{port}/veo"))
        proc = await start_bot(tmp_path, env, merge_stderr=False)
        out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
        assert proc.returncode == 2 and out == b""
        [line] = err.decode().splitlines()
        assert line.startswith(f"veo-bot: cannot open the PostgreSQL database postgresql://veo:***@127.0.0.1:{port}/veo")
        assert line.endswith("; check the host and port in DATABASE_URL, and that the PostgreSQL server is running "
                             "and reachable")
        assert "pg-pa55-word" not in line
        assert not [r for r in w.discord.requests if r.path == "/users/@me"]  # nothing was started
