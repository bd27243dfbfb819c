# ruff: noqa: F811 - the fixtures of test_fake_discord are imported, and requested by name
"""Self-test of the fake Discord's threads with the real discord.py client: started from a message (same id),
once only, within permissions and channel types; posting in archived and locked threads."""

from __future__ import annotations

import discord
import pytest

from tests.fakes.discord.models import (
    BOT_DEFAULT_PERMISSIONS,
    CREATE_PUBLIC_THREADS,
    GUILD_FORUM,
    GUILD_VOICE,
    PUBLIC_THREAD,
    SEND_MESSAGES_IN_THREADS,
)
from tests.fakes.discord.server import FakeDiscord
from tests.fakes.discord.test_fake_discord import (  # noqa: F401 - the fixtures
    VeoBot,
    World,
    bot,
    fake,
    manual_clock,
    text_channel,
    world,
)


async def _start(bot: VeoBot, channel_id: int, message_id: int, **fields: object) -> dict[str, object]:
    body = {"name": "#1 · a fox", "auto_archive_duration": 1440, **fields}
    return await bot.http.start_thread_with_message(channel_id, message_id, **body)  # type: ignore[arg-type]


async def test_a_thread_takes_the_message_id_and_holds_its_own_messages(
    fake: FakeDiscord, world: World, bot: VeoBot
) -> None:
    status = await text_channel(bot, world).send("status")
    data = await _start(bot, world.channel.id, status.id)
    assert (data["id"], data["type"], data["parent_id"]) == (str(status.id), PUBLIC_THREAD, str(world.channel.id))
    [thread] = fake.threads(world.channel.id)
    assert thread.id == status.id and thread.name == "#1 · a fox"
    await fake.wait_until(lambda: bot.get_channel(thread.id))  # THREAD_CREATE reached the cache
    in_thread = bot.get_partial_messageable(thread.id, guild_id=world.guild.id)
    sent = await in_thread.send(f"<@{world.user.id}> done", allowed_mentions=discord.AllowedMentions(users=True))
    assert [m.id for m in fake.messages(thread.id)] == [sent.id]
    assert sent.id not in [m.id for m in fake.messages(world.channel.id)]
    assert world.user.id in thread.member_ids  # a mention adds the member to the thread
    assert [m.content async for m in in_thread.history(limit=5)] == [f"<@{world.user.id}> done"]
    with pytest.raises(discord.HTTPException) as again:
        await _start(bot, world.channel.id, status.id)
    assert (again.value.status, again.value.code) == (400, 160004)
    await status.delete()  # the thread outlives its starter message
    with pytest.raises(discord.NotFound) as gone:
        await _start(bot, world.channel.id, status.id)
    assert gone.value.code == 10008
    await in_thread.send("still here")
    assert len(fake.messages(thread.id)) == 2


@pytest.mark.parametrize("name", ["", "x" * 101])
async def test_thread_names_are_1_to_100_characters(
    fake: FakeDiscord, world: World, bot: VeoBot, name: str
) -> None:
    status = await text_channel(bot, world).send("status")
    with pytest.raises(discord.HTTPException) as bad:
        await _start(bot, world.channel.id, status.id, name=name)
    assert (bad.value.status, bad.value.code) == (400, 50035)
    with pytest.raises(discord.HTTPException) as bad:
        await _start(bot, world.channel.id, status.id, auto_archive_duration=30)
    assert bad.value.code == 50035
    assert fake.threads(world.channel.id) == []


async def test_threads_need_the_permission_and_a_text_channel(fake: FakeDiscord, world: World, bot: VeoBot) -> None:
    status = await text_channel(bot, world).send("status")
    fake.set_bot_permissions(world.channel, BOT_DEFAULT_PERMISSIONS & ~CREATE_PUBLIC_THREADS)
    with pytest.raises(discord.Forbidden) as forbidden:
        await _start(bot, world.channel.id, status.id)
    assert forbidden.value.code == 50013
    cached = text_channel(bot, world)
    # The bot's cache sees the change too (a member overwrite), as it would on Discord.
    await fake.wait_until(lambda: not cached.permissions_for(cached.guild.me).create_public_threads or None)
    assert cached.permissions_for(cached.guild.me).send_messages
    for kind in (GUILD_VOICE, GUILD_FORUM):
        other = fake.add_channel(world.guild.id, f"kind-{kind}", channel_type=kind)
        message = fake.post_user_message(other.id, world.user, "hi")
        with pytest.raises(discord.HTTPException) as wrong:
            await _start(bot, other.id, message.id)
        assert wrong.value.code == 50024
    assert fake.threads(world.channel.id) == []


async def test_archived_threads_reopen_on_a_post_and_locked_ones_refuse(
    fake: FakeDiscord, world: World, bot: VeoBot
) -> None:
    status = await text_channel(bot, world).send("status")
    await _start(bot, world.channel.id, status.id)
    [thread] = fake.threads(world.channel.id)
    in_thread = bot.get_partial_messageable(thread.id, guild_id=world.guild.id)
    fake.set_thread_state(thread, archived=True)
    await in_thread.send("wakes it")
    assert not thread.archived
    fake.set_thread_state(thread, archived=True, locked=True)
    with pytest.raises(discord.HTTPException) as archived:
        await in_thread.send("refused")
    assert (archived.value.status, archived.value.code) == (400, 50083)
    fake.set_thread_state(thread, archived=False, locked=True)
    with pytest.raises(discord.Forbidden) as locked:
        await in_thread.send("refused")
    assert locked.value.code == 160005
    fake.set_thread_state(thread, archived=False)
    fake.set_bot_permissions(world.channel, BOT_DEFAULT_PERMISSIONS & ~SEND_MESSAGES_IN_THREADS)
    with pytest.raises(discord.Forbidden):
        await in_thread.send("refused")
    assert [m.content for m in fake.messages(thread.id)] == ["wakes it"]
