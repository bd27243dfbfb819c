"""The real ``python -m bot run`` process with the Slack face: alone, and beside the Discord face in one process
on one store; a refused Slack token stops it with one line."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from tests.fakes.comet.api import TaskScript, make_mp4_bytes
from tests.slack.support import slack_world
from tests.support.e2e import world
from tests.test_process import bot_env, start_bot

ROOT = Path(__file__).resolve().parents[2]


def slack_bot_env(settings: dict[str, str]) -> dict[str, str]:
    """``bot_env`` with this checkout first on the path: slack_sdk installs a top-level ``slack`` package of its
    own (its deprecated v2 names), which an editable install of this one cannot shadow from another directory."""
    return {**bot_env(settings), "PYTHONPATH": str(ROOT)}


async def _stop(proc: asyncio.subprocess.Process) -> str:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
    output, _ = await asyncio.wait_for(proc.communicate(), timeout=30)
    return output.decode()


async def test_a_process_with_only_the_slack_face_serves_veo_and_stops_cleanly(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as w:
        w.api.default_script = TaskScript(polls_until_done=1, video=make_mp4_bytes(20_000))
        proc = await start_bot(tmp_path, slack_bot_env(w.env()))
        try:
            await w.slack.wait_connected(timeout=30)
            await w.veo("a hummingbird in slow motion <!channel>")
            assert "Job #1" in await w.answer()
            await w.slack.wait_for(lambda: w.slack.file_messages(w.channel), timeout=30)
        finally:
            text = await _stop(proc)
        assert proc.returncode == 0, text
        assert "job worker stopped" in text and "job=1 delivered" in text
        assert w.slack.bot_token not in text and w.slack.app_token not in text and w.api.api_key not in text
        assert len(w.slack.file_messages(w.channel)) == 1


async def test_one_process_serves_a_discord_guild_and_a_slack_workspace_from_one_store(tmp_path: Path) -> None:
    async with world(tmp_path) as d, slack_world(tmp_path) as s:
        d.api.default_script = TaskScript(polls_until_done=1, video=make_mp4_bytes(20_000))
        env = {**d.env(VEO_POLL_INTERVAL="0.1"), **{k: v for k, v in s.env().items() if k.startswith("SLACK_")},
               "VEO_FRONTENDS": "discord,slack"}
        proc = await start_bot(tmp_path, slack_bot_env(env))
        try:
            await d.discord.wait_until(lambda: d.discord.identify_count >= 1, timeout=30)
            await d.discord.wait_until(lambda: d.discord.sync_count(d.guild.id) >= 1, timeout=30)
            await s.slack.wait_connected(timeout=30)
            interaction = await d.veo(prompt="a fox in Discord")
            await interaction.wait_for_response(predicate=lambda m: "Job #1" in m.content, timeout=15)
            await s.veo("a fox in Slack")
            assert "Job #2" in await s.answer()
            await d.discord.wait_until(lambda: d.results() or None, timeout=30)
            await s.slack.wait_for(lambda: s.slack.file_messages(s.channel), timeout=30)
        finally:
            text = await _stop(proc)
        assert proc.returncode == 0, text
        assert "job=1 delivered" in text and "job=2 delivered" in text
        assert len(d.results()) == 1 and len(s.slack.file_messages(s.channel)) == 1
        assert d.api.create_requests() and s.api.create_requests() == []  # one provider, the Discord world's


async def test_a_refused_slack_token_exits_with_one_line(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as w:
        env = {**w.env(), "SLACK_BOT_TOKEN": "xoxb-revoked-0000"}
        proc = await start_bot(tmp_path, slack_bot_env(env))
        output, _ = await asyncio.wait_for(proc.communicate(), timeout=30)  # it stops by itself
        text = output.decode()
        assert proc.returncode == 1, text
        assert "Slack refused SLACK_BOT_TOKEN (invalid_auth)" in text
        assert "xoxb-revoked-0000" not in text and "Traceback" not in text
