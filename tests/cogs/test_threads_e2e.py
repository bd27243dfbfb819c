"""Job threads end to end: /veo-admin threads, a job's status in the channel with a thread started from it,
the result in the thread mentioning the requester, exactly once across crashes, and the fallbacks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.jobs.records import JobStatus
from tests.fakes.comet.api import TaskScript
from tests.fakes.discord.models import (
    BOT_DEFAULT_PERMISSIONS,
    CREATE_PUBLIC_THREADS,
    SEND_MESSAGES_IN_THREADS,
    FakeChannel,
    MessageRecord,
)
from tests.support.e2e import MEMBER_PERMISSIONS, MODERATOR_PERMISSIONS, World, guild_workspace, running_bot, world
from tests.support.mp4 import coloured_mp4

ADMIN_PERMISSIONS = MODERATOR_PERMISSIONS | (1 << 5)
THREAD_MESSAGES = r"/channels/\d+/messages$"


async def _admin(w: World, permissions: int = ADMIN_PERMISSIONS, **options: Any) -> str:
    interaction = await w.discord.invoke_command("veo-admin threads", channel_id=w.channel.id, user=w.moderator,
                                                 options=options, permissions=permissions)
    reply = await interaction.wait_for_response(predicate=lambda m: bool(m.content or m.embeds))
    assert reply.ephemeral
    return reply.content + " " + str(reply.embeds)


async def _veo(w: World, channel: FakeChannel | None = None, prompt: str = "a paper boat on a stream") -> str:
    interaction = await w.discord.invoke_command("veo", channel_id=(channel or w.channel).id, user=w.member,
                                                 options={"prompt": prompt}, permissions=MEMBER_PERMISSIONS)
    reply = await interaction.wait_for_response(predicate=lambda m: "Job #" in m.content or "can't" in m.content)
    return reply.content


def _bot_messages(w: World, channel_id: int) -> list[MessageRecord]:
    return [m for m in w.discord.messages(channel_id) if m.author.id == w.discord.bot_user.id and not m.ephemeral]


async def _delivered(app: Any, job_id: int = 1) -> Any:
    job = await app.store.get_job(job_id)
    return job if job is not None and job.delivered_at is not None else None


async def test_admins_turn_threads_on_and_off_and_the_settings_list_them(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w) as app:
        other = w.discord.add_channel(w.guild.id, "clips")
        text = await _admin(w, channel=w.channel, enabled=True)
        assert f"<#{w.channel.id}>" in text and "A thread for each job" in text and "I lack" not in text
        text = await _admin(w, channel=other, enabled=True)
        assert f"<#{w.channel.id}>, <#{other.id}>" in text
        text = await _admin(w, channel=w.channel, enabled=False)
        assert f"<#{w.channel.id}>" not in text.split("A thread for each job")[1]
        text = await _admin(w, enabled=False)
        assert "in no channel" in text
        workspace = guild_workspace(w.guild.id)
        assert (await app.store.workspace_settings(workspace)).thread_channels is None
        actions = [(e.action, e.details) for e in await app.store.audit_entries(workspace, 10)]
        assert actions == [("threads off", "every channel"), ("threads off", f"<#{w.channel.id}>"),
                           ("threads on", f"<#{other.id}>"), ("threads on", f"<#{w.channel.id}>")]
        registered = {c["name"]: c for c in w.discord.commands(w.guild.id)}
        threads = next(o for o in registered["veo-admin"]["options"] if o["name"] == "threads")
        channel = next(o for o in threads["options"] if o["name"] == "channel")
        assert sorted(channel["channel_types"]) == [0, 5]  # text and announcement channels: no voice, no forum


async def test_bad_thread_requests_are_refused_and_change_nothing(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w) as app:
        elsewhere = w.discord.add_guild("Another Server")
        foreign = w.discord.add_channel(elsewhere.id, "theirs")
        await _admin(w, channel=w.channel, enabled=True)
        workspace = guild_workspace(w.guild.id)
        before = await app.store.workspace_settings(workspace)
        assert "already on" in await _admin(w, channel=w.channel, enabled=True)
        other = w.discord.add_channel(w.guild.id, "clips")
        assert "not on in that channel" in await _admin(w, channel=other, enabled=False)
        text = await _admin(w, channel=foreign, enabled=True)
        assert "One of the options has a value I can't use" in text  # not a channel of this server
        assert "Say which channel" in await _admin(w, enabled=True)
        text = await _admin(w, permissions=MODERATOR_PERMISSIONS, channel=w.channel, enabled=False)
        assert "Manage Server" in text
        assert await app.store.workspace_settings(workspace) == before
        assert len(await app.store.audit_entries(workspace, 10)) == 1


async def test_turning_threads_on_warns_when_the_bot_lacks_thread_permissions(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w) as app:
        bare = w.discord.add_channel(w.guild.id, "no-threads")
        without = BOT_DEFAULT_PERMISSIONS & ~CREATE_PUBLIC_THREADS & ~SEND_MESSAGES_IN_THREADS
        w.discord.set_bot_permissions(bare, without)
        await w.discord.wait_until(lambda: _cached_lacks_threads(app, bare.id), timeout=5)
        text = await _admin(w, channel=bare, enabled=True)
        assert "I lack Create Public Threads, Send Messages in Threads" in text and f"<#{bare.id}>" in text
        settings = await app.store.workspace_settings(guild_workspace(w.guild.id))
        assert settings.thread_channels == (str(bare.id),)  # a warning: the setting is kept


def _cached_lacks_threads(app: Any, channel_id: int) -> bool | None:
    channel = app.bot.get_channel(channel_id)
    if channel is None:
        return None
    return not channel.permissions_for(channel.guild.me).create_public_threads or None


async def test_a_job_in_a_thread_channel_gets_its_own_thread_with_the_result(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w) as app:
        w.api.default_script = TaskScript(polls_until_done=2)
        await _admin(w, channel=w.channel, enabled=True)
        reply = await _veo(w, prompt="a paper   boat\non a stream")
        assert "in the job's thread" in reply
        job = await w.discord.wait_until(lambda: _delivered(app), timeout=15)
        [status] = w.status_messages()
        [thread] = w.discord.threads(w.channel.id)
        assert thread.id == status.id and thread.name == "#1 · a paper boat on a stream"
        assert thread.auto_archive_duration == 1440
        [result] = _bot_messages(w, thread.id)
        assert result.attachments and result.content.startswith(f"<@{w.member.id}> your video is ready")
        assert result.pinged_user_ids == {w.member.id} and w.member.id in thread.member_ids
        assert w.results() == []  # nothing but the status message in the channel
        assert job.in_thread and job.delivered_message_id == str(result.id)
        await w.discord.wait_until(lambda: "Delivered" in str(status.embeds), timeout=5)
        assert f"/{w.guild.id}/{thread.id}/{result.id}" in str(status.embeds)  # the jump link opens the thread


async def test_a_job_in_another_channel_gets_no_thread(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w) as app:
        w.api.default_script = TaskScript(polls_until_done=0)
        other = w.discord.add_channel(w.guild.id, "clips")
        await _admin(w, channel=other, enabled=True)
        assert "in this channel" in await _veo(w)
        job = await w.discord.wait_until(lambda: _delivered(app), timeout=15)
        assert not job.in_thread and w.discord.threads(w.channel.id) == []
        [result] = w.results()
        assert result.attachments and not any("/threads" in r.path for r in w.discord.requests)


async def test_a_failure_notice_goes_into_the_thread_too(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w) as app:
        w.api.default_script = TaskScript.safety_failure(polls_until_done=1)
        await _admin(w, channel=w.channel, enabled=True)
        await _veo(w)
        job = await w.discord.wait_until(lambda: _delivered(app), timeout=15)
        [thread] = w.discord.threads(w.channel.id)
        [notice] = _bot_messages(w, thread.id)
        assert job.status is JobStatus.FAILED and "failed" in notice.content and w.results() == []


async def test_a_crash_after_the_thread_started_posts_nothing_twice(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        w.api.default_script = TaskScript(polls_until_done=6)
        async with running_bot(w) as first:
            await _admin(w, channel=w.channel, enabled=True)
            await _veo(w)
            await w.discord.wait_until(lambda: w.discord.threads(w.channel.id) or None, timeout=10)
            await first.kill()
        async with running_bot(w) as second:
            await w.discord.wait_until(lambda: _delivered(second), timeout=15)
        [thread] = w.discord.threads(w.channel.id)
        assert len(_bot_messages(w, thread.id)) == 1 and len(w.status_messages()) == 1 and w.results() == []


async def test_a_crash_mid_upload_in_the_thread_is_found_in_the_thread(tmp_path: Path) -> None:
    # Past the nonce window, only the scan of the thread's history can tell that the video got through.
    async with world(tmp_path, nonce_window=0.0) as w, running_bot(w) as app:
        w.api.default_script = TaskScript(polls_until_done=3)
        await _admin(w, channel=w.channel, enabled=True)
        await _veo(w)
        await w.discord.wait_until(lambda: w.discord.threads(w.channel.id) or None, timeout=10)
        [thread] = w.discord.threads(w.channel.id)
        w.discord.inject_drop("POST", rf"/channels/{thread.id}/messages$", after_processing=True)
        job = await w.discord.wait_until(lambda: _delivered(app), timeout=15)
        [result] = _bot_messages(w, thread.id)
        assert job.delivery_attempts >= 2 and job.delivered_message_id == str(result.id)
        assert w.results() == []


@pytest.mark.parametrize("missing", [CREATE_PUBLIC_THREADS, SEND_MESSAGES_IN_THREADS])
async def test_without_thread_permissions_the_result_goes_into_the_channel(tmp_path: Path, missing: int) -> None:
    async with world(tmp_path) as w, running_bot(w) as app:
        w.api.default_script = TaskScript(polls_until_done=1)
        await _admin(w, channel=w.channel, enabled=True)
        w.discord.set_bot_permissions(w.channel, BOT_DEFAULT_PERMISSIONS & ~missing)
        await _veo(w)
        job = await w.discord.wait_until(lambda: _delivered(app), timeout=15)
        [status] = w.status_messages()
        [result] = w.results()
        assert result.attachments and result.pinged_user_ids == {w.member.id}
        assert result.referenced_message_id == status.id and job.delivered_message_id == str(result.id)
        assert all(_bot_messages(w, t.id) == [] for t in w.discord.threads(w.channel.id))


async def test_an_archived_thread_reopens_and_a_locked_one_sends_the_result_to_the_channel(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w) as app:
        w.api.default_script = TaskScript(polls_until_done=10_000)
        await _admin(w, channel=w.channel, enabled=True)
        await _veo(w, prompt="first")
        await _veo(w, prompt="second")
        await w.discord.wait_until(lambda: len(w.discord.threads(w.channel.id)) == 2 or None, timeout=10)
        archived, locked = w.discord.threads(w.channel.id)
        w.discord.set_thread_state(archived, archived=True)
        w.discord.set_thread_state(locked, archived=True, locked=True)
        for task in list(w.api.tasks.values()):
            task.script = TaskScript(polls_until_done=0)
        await w.discord.wait_until(lambda: _delivered(app, 1), timeout=15)
        await w.discord.wait_until(lambda: _delivered(app, 2), timeout=15)
        assert len(_bot_messages(w, archived.id)) == 1 and not archived.archived
        assert _bot_messages(w, locked.id) == []
        [in_channel] = w.results()
        assert "second" in in_channel.content and in_channel.referenced_message_id == locked.id


@pytest.mark.parametrize("restart_refused", [False, True])
async def test_a_deleted_thread_is_started_again_or_the_result_goes_to_the_channel(
    tmp_path: Path, restart_refused: bool
) -> None:
    async with world(tmp_path) as w, running_bot(w) as app:
        w.api.default_script = TaskScript(polls_until_done=10_000)
        await _admin(w, channel=w.channel, enabled=True)
        await _veo(w)
        [thread] = await w.discord.wait_until(lambda: w.discord.threads(w.channel.id) or None, timeout=10)
        w.discord.delete_thread(thread)
        if restart_refused:
            # Should Discord refuse a new thread from the same message, the thread's id stays unknown.
            w.discord.inject("POST", r"/messages/\d+/threads$", status=400, code=160004, times=10)
        for task in list(w.api.tasks.values()):
            task.script = TaskScript(polls_until_done=0)
        job = await w.discord.wait_until(lambda: _delivered(app), timeout=15)
        [status] = w.status_messages()
        if restart_refused:
            [result] = w.results()
            assert result.referenced_message_id == status.id and w.discord.threads(w.channel.id) == []
        else:
            [again] = w.discord.threads(w.channel.id)
            [result] = _bot_messages(w, again.id)
            assert again.id == status.id and w.results() == []
        assert job.delivered_message_id == str(result.id)


async def test_a_deleted_status_message_keeps_its_thread_for_the_result(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w) as app:
        w.api.default_script = TaskScript(polls_until_done=10_000)
        await _admin(w, channel=w.channel, enabled=True)
        await _veo(w)
        [thread] = await w.discord.wait_until(lambda: w.discord.threads(w.channel.id) or None, timeout=10)
        [status] = w.status_messages()
        w.discord.store.delete(w.discord.message(status.id))  # a moderator tidies the channel
        for task in list(w.api.tasks.values()):
            task.script = TaskScript(polls_until_done=0)
        job = await w.discord.wait_until(lambda: _delivered(app), timeout=15)
        [result] = _bot_messages(w, thread.id)
        assert job.delivered_message_id == str(result.id) and w.results() == []
        # No second status message, so no second thread: the job's thread still has the deleted message's id.
        assert w.status_messages() == [] and w.discord.threads(w.channel.id) == [thread]
        assert job.status_message_id == str(thread.id)


async def test_regenerate_in_a_thread_keeps_the_new_take_in_that_thread(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w) as app:
        w.api.default_script = TaskScript(polls_until_done=0)
        await _admin(w, channel=w.channel, enabled=True)
        text = await _admin_channel_list(w)
        assert f"<#{w.channel.id}>" in text
        await _veo(w)
        await w.discord.wait_until(lambda: _delivered(app), timeout=15)
        [thread] = w.discord.threads(w.channel.id)
        [result] = _bot_messages(w, thread.id)
        # The thread's parent is the one allowed channel: its rules apply in the thread.
        click = await w.discord.invoke_component(result, f"veo:regen:{1}", user=w.member,
                                                 permissions=MEMBER_PERMISSIONS)
        answer = await click.wait_for_response(predicate=lambda m: bool(m.content))
        assert "Queued job #2" in answer.content
        second = await w.discord.wait_until(lambda: _delivered(app, 2), timeout=15)
        assert second.channel_id == str(thread.id) and not second.in_thread
        assert len(w.discord.threads(w.channel.id)) == 1 and w.results() == []
        assert str(second.delivered_message_id) in {str(m.id) for m in _bot_messages(w, thread.id)}


async def _admin_channel_list(w: World) -> str:
    interaction = await w.discord.invoke_command("veo-admin channel", channel_id=w.channel.id, user=w.moderator,
                                                 options={"action": "add", "channel": w.channel},
                                                 permissions=ADMIN_PERMISSIONS)
    reply = await interaction.wait_for_response(predicate=lambda m: bool(m.embeds))
    return str(reply.embeds)


async def test_continue_in_a_thread_follows_the_parent_channels_rules(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w) as app:
        w.api.default_script = TaskScript(polls_until_done=0, video=coloured_mp4(tmp_path / "clip.mp4").read_bytes())
        await _admin(w, channel=w.channel, enabled=True)
        await _admin_channel_list(w)  # /veo works in this channel only, and in its threads
        await _veo(w)
        await w.discord.wait_until(lambda: _delivered(app), timeout=15)
        [thread] = w.discord.threads(w.channel.id)
        [result] = _bot_messages(w, thread.id)
        click = await w.discord.invoke_component(result, "veo:continue:1", user=w.member,
                                                 permissions=MEMBER_PERMISSIONS)
        await click.wait_modal()
        submit = await w.discord.invoke_modal_submit(click, {"prompt": "the boat reaches the sea"},
                                                     permissions=MEMBER_PERMISSIONS)
        answer = await submit.wait_for_response(predicate=lambda m: bool(m.content))
        assert "Queued job #2" in answer.content
        second = await w.discord.wait_until(lambda: _delivered(app, 2), timeout=15)
        assert second.channel_id == str(thread.id) and len(_bot_messages(w, thread.id)) == 3  # status and result


async def test_the_direct_message_links_to_the_result_in_the_thread(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w) as app:
        w.api.default_script = TaskScript(polls_until_done=0)
        await _admin(w, channel=w.channel, enabled=True)
        prefer = await w.discord.invoke_command("veo-prefer", channel_id=w.channel.id, user=w.member,
                                                options={"dm": True}, permissions=MEMBER_PERMISSIONS)
        await prefer.wait_for_response(predicate=lambda m: m.content.startswith("Saved."))
        await _veo(w)
        await w.discord.wait_until(lambda: _delivered(app), timeout=15)
        [thread] = w.discord.threads(w.channel.id)
        [result] = _bot_messages(w, thread.id)
        [dm] = await w.discord.wait_until(lambda: w.discord.dm_messages(w.member) or None, timeout=10)
        assert f"https://discord.com/channels/{w.guild.id}/{thread.id}/{result.id}" in dm.content
