"""/veo-admin usage end to end: the embed with usage.png drawn from the server's jobs, or why there is none."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

from PIL import Image

from bot.jobs.records import NewJob
from tests.cogs.test_admin_e2e import ADMIN_PERMISSIONS
from tests.fakes.comet.api import TaskScript
from tests.fakes.discord.interactions import FakeInteraction
from tests.fakes.discord.models import MessageRecord
from tests.support.e2e import World, guild_workspace, running_bot, world

PRICES = {"VEO_PRICES": "veo3.1-fast=0.10,veo3.1=0.50"}


async def _usage(w: World, locale: str = "en-US", **options: Any) -> tuple[FakeInteraction, MessageRecord]:
    interaction = await w.discord.invoke_command(
        "veo-admin usage", channel_id=w.channel.id, user=w.moderator, options=options,
        permissions=ADMIN_PERMISSIONS, locale=locale,
    )
    reply = await interaction.wait_for_response(predicate=lambda m: bool(m.content or m.embeds), timeout=20)
    assert reply.ephemeral
    return interaction, reply


async def _make_videos(w: World, *users: Any) -> None:
    for user in users:
        interaction = await w.veo(user, prompt="a fox")
        await interaction.wait_for_response(predicate=lambda m: bool(m.content))
    await w.discord.wait_until(lambda: len(w.results()) == len(users) or None, timeout=10)


async def test_usage_attaches_a_phone_sized_chart_of_the_servers_jobs(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w, env=PRICES):
        w.api.default_script = TaskScript(polls_until_done=0)
        nicked = w.discord.add_user("quiet-user", global_name="Quiet")
        w.discord.add_member(w.guild.id, nicked, nick="Nickname ✨")
        await _make_videos(w, w.member, nicked, nicked)
        w.discord.remove_member(w.guild.id, w.member)  # left the server since: their account's name is used
        _, reply = await _usage(w, period="7d")
        assert "total: 3 jobs, 3 with a video · 24 s · ~$2.40" in str(reply.embeds)
        assert reply.content == ""
        [attachment] = reply.attachments
        assert attachment.filename == "usage.png" and attachment.content_type == "image/png"
        image = Image.open(io.BytesIO(reply.attachment_bytes[0]))
        assert (image.format, image.size) == ("PNG", (1080, 1350))
        # The two members' names were looked up (the bot caches no members: it has no members intent).
        looked_up = {r.path for r in w.discord.requests if r.method == "GET" and "/members/" in r.path}
        assert looked_up == {f"/guilds/{w.guild.id}/members/{u.id}" for u in (w.member, nicked)}
        assert [r.path for r in w.discord.requests if r.path.startswith("/users/") and r.path != "/users/@me"] == [
            f"/users/{w.member.id}"]


async def test_a_korean_admin_gets_the_chart_and_a_korean_embed(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w, env=PRICES):
        w.api.default_script = TaskScript(polls_until_done=0)
        await _make_videos(w, w.member)
        _, reply = await _usage(w, locale="ko", period="today")
        assert "동영상 사용량" in str(reply.embeds)
        image = Image.open(io.BytesIO(reply.attachment_bytes[0]))
        assert image.size == (1080, 1350)


async def test_a_period_without_jobs_says_so_and_attaches_nothing(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w) as app:
        # A job in another server is not this server's usage.
        await app.store.insert_job(NewJob(platform="discord", workspace_id=str(w.guild.id + 1), channel_id="1",
                                          user_id="2", prompt="x", model="veo3.1", orientation="16x9"), time.time())
        _, reply = await _usage(w, period="30d")
        assert reply.content == "No videos in this period, so there is no chart."
        assert reply.attachments == [] and "total: 0 jobs" in str(reply.embeds)
        _, reply = await _usage(w, locale="vi", period="all")
        assert reply.content == "Không có video nào trong khoảng thời gian này nên không có biểu đồ."
        assert await app.store.usage(guild_workspace(w.guild.id), 0.0) == []


async def test_an_unknown_period_is_refused_and_nothing_is_drawn(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w, env=PRICES):
        w.api.default_script = TaskScript(polls_until_done=0)
        await _make_videos(w, w.member)
        _, reply = await _usage(w, period="1y")
        assert "Period must be one of: today, 7d, 30d, all." in reply.content
        assert reply.attachments == [] and reply.embeds == []
        assert not [r for r in w.discord.requests if "/members/" in r.path]


async def test_names_that_cannot_be_looked_up_do_not_stop_the_chart(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w, env=PRICES):
        w.api.default_script = TaskScript(polls_until_done=0)
        await _make_videos(w, w.member)
        fault = w.discord.inject("GET", r"/guilds/\d+/members/\d+$", status=403, code=50001, message="Missing Access")
        _, reply = await _usage(w, period="today")
        assert fault.hits == 1
        assert [a.filename for a in reply.attachments] == ["usage.png"] and reply.content == ""
        # Refused is not "gone": the account is not looked up instead.
        assert not [r for r in w.discord.requests if r.path == f"/users/{w.member.id}"]
