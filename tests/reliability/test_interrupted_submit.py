"""The real bot process SIGKILLed while its create request is at CometAPI: at the restart the job is failed and
its member told within one poll interval (not after ``VEO_LEASE_SECONDS``), and the job is never sent again."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

import pytest

from bot.jobs.worker import INTERRUPTED_SUBMISSION
from tests.fakes.discord.models import MessageRecord
from tests.reliability.faults import CreateHold
from tests.reliability.process import BotProcess
from tests.reliability.prompts import tag
from tests.reliability.world import World, reliability_world, tag_of
from tests.support.e2e import IDENTIFY_WINDOW, MEMBER_PERMISSIONS

POLL_INTERVAL = 0.5
LEASE_SECONDS = 60  # the default: with one SQLite process, the notice must not wait for it


def _settings(w: World, workdir: Path) -> dict[str, str]:
    return {
        "DISCORD_TOKEN": w.token,
        "COMETAPI_KEY": w.key,
        "COMETAPI_BASE_URL": w.api.base_url,
        "DISCORD_API_BASE_URL": w.discord.api_base,
        "DISCORD_GATEWAY_URL": w.discord.gateway_url,
        "DISCORD_IDENTIFY_WINDOW": str(IDENTIFY_WINDOW),
        "DATABASE_URL": f"sqlite:///{workdir / 'veo.sqlite3'}",
        "VEO_DATA_DIR": str(workdir / "data"),
        "DISCORD_GUILD_IDS": str(w.guild.id),
        "VEO_POLL_INTERVAL": str(POLL_INTERVAL),
        "VEO_LEASE_SECONDS": str(LEASE_SECONDS),
        "VEO_ALLOW_HTTP_DOWNLOADS": "true",
        "VEO_LOG_LEVEL": "INFO",
    }


def _row(workdir: Path, prompt_tag: str) -> tuple[int, str, str | None]:
    with contextlib.closing(sqlite3.connect(workdir / "veo.sqlite3", timeout=10)) as conn:
        row = conn.execute("SELECT id, status, error FROM jobs WHERE prompt LIKE ?", (prompt_tag + "%",)).fetchone()
    assert row is not None, f"no job for {prompt_tag}"
    return int(row[0]), str(row[1]), row[2]


def _notice(w: World, channel_id: int, job_id: int) -> MessageRecord | None:
    bot_id = w.discord.bot_user.id
    return next((m for m in w.discord.messages(channel_id) if m.author.id == bot_id and not m.embeds
                 and f"job #{job_id} failed" in m.content), None)


@pytest.mark.parametrize("task_created", [True, False], ids=["task-created", "task-not-created"])
async def test_a_submission_killed_mid_create_is_reported_at_the_restart(tmp_path: Path, task_created: bool) -> None:
    async with reliability_world(7, comet_rates={}, upload_rates={}, request_timeout=30.0) as w:
        bot = BotProcess(w.discord, _settings(w, tmp_path), tmp_path)
        member, channel = w.members[0], w.channels[0]
        prompt_tag = tag(1)
        try:
            await bot.start()
            # The create request is held open at CometAPI (after creating the task, or before) and the bot killed.
            hold = CreateHold(after_processing=task_created)
            w.comet_faults.hold = hold
            await w.discord.invoke_command("veo", channel_id=channel.id, user=member, permissions=MEMBER_PERMISSIONS,
                                           options={"prompt": f"{prompt_tag} a lighthouse in a winter storm"})
            await asyncio.wait_for(hold.arrived.wait(), 30)
            await asyncio.sleep(0.3)  # the fake reads the form (and, held after processing, creates the task)
            await bot.kill()
            assert bool(w.api.tasks_for(prompt_tag)) is task_created
            job_id, status, _ = _row(tmp_path, prompt_tag)
            assert status == "submitting"  # the process died mid-create

            await bot.start()
            # The restart: the new process's login, right before its worker starts.
            restarted_at = [r.at for r in w.discord.requests if r.method == "GET" and r.path == "/users/@me"][-1]
            notice = await w.discord.wait_until(lambda: _notice(w, channel.id, job_id), timeout=10 * POLL_INTERVAL)
            delay = notice.versions[0].at - restarted_at
            assert delay <= POLL_INTERVAL, f"the notice came {delay:.2f}s after the restart"
            assert f"<@{member.id}>" in notice.content and "not sent again" in notice.content
            assert notice.pinged_user_ids == {member.id}
            assert _row(tmp_path, prompt_tag)[1:] == ("failed", INTERRUPTED_SUBMISSION)

            await asyncio.sleep(2 * POLL_INTERVAL)  # a few more ticks: nothing is resent
            creates = [r for r in w.api.create_requests() if tag_of(r.fields.get("prompt", "")) == prompt_tag]
            assert len(creates) == 1
            assert len([m for m in w.discord.messages(channel.id) if f"job #{job_id} failed" in m.content]) == 1
            assert await bot.stop() == 0
        except BaseException:
            if bot.alive:
                await bot.kill()
            print(bot.log_text()[-4000:])
            raise
