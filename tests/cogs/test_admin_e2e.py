"""Limits, quotas and moderation end to end: /veo-admin, moderator buttons, and the race-free queue."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bot.jobs.policy import WorkspaceSettings
from bot.jobs.records import JobStatus
from tests.fakes.comet.api import TaskScript
from tests.support.e2e import MEMBER_PERMISSIONS, MODERATOR_PERMISSIONS, World, guild_workspace, running_bot, world

MANAGE_GUILD = 1 << 5
ADMIN_PERMISSIONS = MODERATOR_PERMISSIONS | MANAGE_GUILD


async def _admin(w: World, sub: str, user: Any = None, permissions: int = ADMIN_PERMISSIONS, **options: Any) -> str:
    interaction = await w.discord.invoke_command(
        f"veo-admin {sub}", channel_id=w.channel.id, user=user or w.moderator, options=options,
        permissions=permissions,
    )
    reply = await interaction.wait_for_response(predicate=lambda m: bool(m.content or m.embeds))
    assert reply.ephemeral
    return reply.content + " " + str(reply.embeds)


async def _veo(w: World, user: Any = None, prompt: str = "a fox") -> str:
    interaction = await w.veo(user, prompt=prompt)
    reply = await interaction.wait_for_response(predicate=lambda m: bool(m.content))
    return reply.content


async def test_admin_commands_refuse_members_without_manage_server(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w) as app:
        # A moderator (Manage Messages) is not an admin; Discord's default permissions were overridden.
        text = await _admin(w, "limit", permissions=MODERATOR_PERMISSIONS, setting="max_queued", value=1)
        assert "Only members with the Manage Server permission" in text
        text = await _admin(w, "pause", user=w.member, permissions=MEMBER_PERMISSIONS)
        assert "Manage Server" in text
        settings = await app.store.workspace_settings(guild_workspace(w.guild.id))
        assert settings.max_queued is None and not settings.paused
        assert await app.store.audit_entries(guild_workspace(w.guild.id), 10) == []
        registered = {c["name"]: c for c in w.discord.commands(w.guild.id)}
        assert int(registered["veo-admin"]["default_member_permissions"]) == MANAGE_GUILD


async def test_settings_limits_and_audit(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w):
        text = await _admin(w, "settings")
        assert "max_active_per_user**: 2 (bot default)" in text and "Running" in text
        text = await _admin(w, "limit", setting="daily_quota_per_user", value=1)
        assert "daily_quota_per_user**: 1 (set here)" in text
        assert "Job #1" in await _veo(w)
        refused = await _veo(w)
        assert "You have used your 1 videos for today" in refused
        text = await _admin(w, "reset", setting="daily_quota_per_user")
        assert "daily_quota_per_user**: 10 (bot default)" in text
        assert "Job #2" in await _veo(w)
        text = await _admin(w, "audit")
        assert "daily_quota_per_user: default → 1" in text and "back to the default" in text
        assert f"<@{w.moderator.id}>" in text


async def test_bad_admin_values_are_refused_and_change_nothing(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w) as app:
        text = await _admin(w, "limit", setting="max_active_per_user", value=0)
        assert "give a number from 1" in text
        text = await _admin(w, "model", action="add", model="sora-2")
        assert "not one of the bot's models" in text
        text = await _admin(w, "model", action="remove", model="veo3.1")
        assert "not on the list" in text
        assert await app.store.workspace_settings(guild_workspace(w.guild.id)) == WorkspaceSettings(
            "discord", str(w.guild.id))
        assert await app.store.audit_entries(guild_workspace(w.guild.id), 10) == []


async def test_allowed_models_and_channels(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w):
        await _admin(w, "model", action="add", model="veo3.1")
        text = await _veo(w)  # the bot default veo3.1-fast is not allowed here: the allowed one is used
        assert "Job #1" in text
        assert w.api.create_requests()[0].fields["model"] == "veo3.1"
        interaction = await w.veo(prompt="x", model="veo3.1-fast")
        reply = await interaction.wait_for_response(predicate=lambda m: bool(m.content))
        assert "Unknown model" in reply.content and "`veo3.1`" in reply.content
        other = w.discord.add_channel(w.guild.id, "other")
        await _admin(w, "channel", action="add", channel=other)
        text = await _veo(w)
        assert "can't be made in this channel" in text and f"<#{other.id}>" in text
        await _admin(w, "channel", action="clear")
        assert "Job #2" in await _veo(w)


async def test_pause_keeps_the_queue_and_says_why(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w) as app:
        w.api.default_script = TaskScript(polls_until_done=0)
        await _admin(w, "pause", reason="monthly budget reached")
        text = await _veo(w)
        assert "Job #1" in text
        job = await app.store.get_job(1)
        assert job is not None and job.status is JobStatus.QUEUED and w.api.create_requests() == []
        [status] = w.status_messages()
        assert "monthly budget reached" in str(status.embeds)
        await _admin(w, "resume")
        await w.discord.wait_until(lambda: w.results() or None, timeout=10)
        assert len(w.api.create_requests()) == 1
        actions = [e.action for e in await app.store.audit_entries(guild_workspace(w.guild.id), 10)]
        assert actions == ["resume", "pause"]


async def test_usage_report(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w, env={"VEO_PRICES": "veo3.1-fast=0.10,veo3.1=0.50"}):
        w.api.default_script = TaskScript(polls_until_done=0)
        await _veo(w)
        await w.discord.wait_until(lambda: w.results() or None, timeout=10)
        text = await _admin(w, "usage", period="today")
        # One delivered 8 s clip at $0.10/s.
        assert "total: 1 jobs, 1 with a video · 8 s · ~$0.80" in text
        assert f"<@{w.member.id}>: 1 jobs" in text and "veo3.1-fast: 1 jobs" in text


async def test_moderator_buttons_cancel_a_job_and_pause(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w) as app:
        w.api.default_script = TaskScript(polls_until_done=10_000)
        await _veo(w, prompt="first")
        interaction = await w.discord.invoke_command(
            "veo-queue", channel_id=w.channel.id, user=w.moderator, permissions=MODERATOR_PERMISSIONS)
        queue = await interaction.wait_for_response(predicate=lambda m: bool(m.embeds))
        # A member who sees the message (permissions changed) cannot use the buttons.
        refused = await w.discord.invoke_component(queue, "veo:queue:pause", user=w.member,
                                                   permissions=MEMBER_PERMISSIONS)
        await refused.wait_acked()
        assert not (await app.store.workspace_settings(guild_workspace(w.guild.id))).paused
        click = await w.discord.invoke_component(queue, "veo:queue:cancel", user=w.moderator, component_type=3,
                                                 values=["1"], permissions=MODERATOR_PERMISSIONS)
        await click.wait_acked()
        await w.discord.wait_until(lambda: "Cancelled job #1" in queue.content, timeout=5)
        assert (await app.store.get_job(1)).status is JobStatus.CANCELLED  # type: ignore[union-attr]
        click = await w.discord.invoke_component(queue, "veo:queue:pause", user=w.moderator,
                                                 permissions=MODERATOR_PERMISSIONS)
        await click.wait_acked()
        await w.discord.wait_until(lambda: "Paused" in queue.content, timeout=5)
        assert (await app.store.workspace_settings(guild_workspace(w.guild.id))).paused
        actions = [e.action for e in await app.store.audit_entries(guild_workspace(w.guild.id), 10)]
        assert actions == ["pause", "cancel"]


async def test_twenty_simultaneous_requests_respect_the_cap_in_order(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w, env={"VEO_MAX_ACTIVE_PER_USER": "2",
                                                         "VEO_DAILY_QUOTA_PER_USER": "0"}) as app:
        w.api.default_script = TaskScript(polls_until_done=10_000)
        interactions = await asyncio.gather(*(w.veo(prompt=f"clip {i}") for i in range(20)))
        await asyncio.gather(*(i.wait_for_response(predicate=lambda m: "Job #" in m.content, timeout=20)
                               for i in interactions))
        jobs = [await app.store.get_job(i) for i in range(1, 21)]
        statuses = [j.status for j in jobs if j is not None]
        assert len(statuses) == 20
        assert statuses.count(JobStatus.SUBMITTED) + statuses.count(JobStatus.RUNNING) == 2
        assert len(w.api.create_requests()) == 2
        queued = [j for j in jobs if j is not None and j.status is JobStatus.QUEUED]
        assert [await app.store.queue_position(j) for j in queued] == list(range(3, 21))
        # When a slot frees, the oldest waiting job goes next.
        first_queued = queued[0]
        running = next(j for j in jobs if j is not None and j.status is not JobStatus.QUEUED)
        await app.service.cancel(str(running.id), guild_workspace(w.guild.id), str(w.member.id), is_moderator=False)
        await w.discord.wait_until(lambda: len(w.api.create_requests()) == 3, timeout=5)
        assert (await app.store.get_job(first_queued.id)).status is not JobStatus.QUEUED  # type: ignore[union-attr]


async def test_twenty_simultaneous_requests_never_exceed_the_quota(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w, env={"VEO_DAILY_QUOTA_PER_USER": "5"}) as app:
        w.api.default_script = TaskScript(polls_until_done=10_000)
        interactions = await asyncio.gather(*(w.veo(prompt=f"clip {i}") for i in range(20)))
        replies = await asyncio.gather(*(i.wait_for_response(predicate=lambda m: bool(m.content), timeout=20)
                                         for i in interactions))
        accepted = [r for r in replies if "Job #" in r.content]
        refused = [r for r in replies if "You have used your 5 videos" in r.content]
        assert (len(accepted), len(refused)) == (5, 15)
        assert await app.store.get_job(6) is None


async def test_allowed_roles_and_full_queue(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        creators = w.discord.add_role(w.guild.id, "Creators")  # exists before the bot connects
        async with running_bot(w, env={"VEO_MAX_ACTIVE_PER_GUILD": "1"}) as app:
            await _roles_and_queue(w, app, creators)


async def _roles_and_queue(w: World, app: Any, creators: Any) -> None:
    w.api.default_script = TaskScript(polls_until_done=10_000)
    await _admin(w, "role", action="add", role=creators)
    refused = await _veo(w)
    assert "Only members with one of the roles" in refused
    creator = w.discord.add_user("creator")
    w.discord.add_member(w.guild.id, creator, permissions=MEMBER_PERMISSIONS, roles=(creators.id,))
    assert "Job #1" in await _veo(w, user=creator)
    await _admin(w, "limit", setting="max_queued", value=1)
    assert "Job #2" in await _veo(w, user=creator)  # waits: the server runs one job at a time
    full = await _veo(w, user=creator)
    assert "queue is full (1 waiting)" in full
    assert await app.store.get_job(3) is None
