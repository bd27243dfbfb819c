"""Self-test of the fake Discord: the real, unmodified discord.py client against it, in the same event loop."""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import discord
import pytest
import yarl
from discord import app_commands
from discord.ext import commands
from discord.gateway import DiscordWebSocket

from tests.fakes.discord.models import (
    FLAG_EPHEMERAL,
    INTENT_GUILD_MEMBERS,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    FakeChannel,
    FakeGuild,
    FakeUser,
    ManualClock,
    MiB,
)
from tests.fakes.discord.server import FakeDiscord

TOKEN = "test-bot-token"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@dataclass
class World:
    """The guild, channel and requester most tests use."""

    guild: FakeGuild
    channel: FakeChannel
    user: FakeUser


class VeoBot(commands.Bot):
    """A small bot with the command shapes the real one uses; handlers record what they saw."""

    def __init__(self) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            allowed_mentions=discord.AllowedMentions.none(),
            guild_ready_timeout=0.05,
        )
        self.seen: dict[str, Any] = {}
        self.release_slow = asyncio.Event()
        self.handled: asyncio.Queue[str] = asyncio.Queue()
        self._add_commands()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py sleeps 5 s before every non-initial IDENTIFY; the fake has no identify rate limit."""

    def _add_commands(self) -> None:
        @self.tree.command(name="veo", description="Make a video")
        async def veo(interaction: discord.Interaction, prompt: str, image: discord.Attachment | None = None) -> None:
            await interaction.response.defer(thinking=True)
            data = await image.read() if image is not None else b""
            self.seen["veo"] = {"interaction": interaction, "prompt": prompt, "data": data, "image": image}
            self.seen.setdefault("veo_calls", []).append(interaction)
            await interaction.edit_original_response(content=f"Working on {prompt} ({len(data)} bytes)")
            self.handled.put_nowait("veo")

        @self.tree.command(name="later", description="Defers, then answers with followups")
        async def later(interaction: discord.Interaction) -> None:
            await interaction.response.defer(ephemeral=True)
            await interaction.followup.send("first", ephemeral=False)
            await interaction.followup.send("second", ephemeral=True)

        @self.tree.command(name="manage", description="Walks the interaction webhook routes")
        async def manage(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("original", file=discord.File(io.BytesIO(b"img"), "a.png"))
            fetched = await interaction.original_response()
            followup = await interaction.followup.send("followup", wait=True)
            again = await interaction.followup.fetch_message(followup.id)
            await again.edit(content="followup edited")
            await followup.delete()
            await fetched.edit(content="original edited", attachments=[])
            self.seen["manage"] = (fetched.id, followup.id)
            await interaction.delete_original_response()

        @self.tree.command(name="slow", description="Acks after the test says so")
        async def slow(interaction: discord.Interaction) -> None:
            await self.release_slow.wait()
            try:
                await interaction.response.defer()
            except discord.HTTPException as error:
                self.seen["slow_error"] = error

        @self.tree.command(name="style", description="Pick a style")
        async def style(interaction: discord.Interaction, name: str) -> None:
            await interaction.response.send_message(f"style {name}", ephemeral=True)

        @style.autocomplete("name")
        async def style_names(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
            names = ("cinematic", "claymation", "anime")
            return [app_commands.Choice(name=n, value=n) for n in names if n.startswith(current)]


@pytest.fixture
def manual_clock() -> ManualClock:
    """A real-time clock the test can jump forward."""
    return ManualClock()


@pytest.fixture
async def fake(manual_clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    """A running fake with discord.py pointed at it (short token life: 60 s on the manual clock). The identify
    window is off: these clients identify back to back, and test_shards.py tests the window itself."""
    async with FakeDiscord(token=TOKEN, token_life=60.0, clock=manual_clock, heartbeat_interval=5000,
                           identify_window=0.0) as server:
        monkeypatch.setattr(discord.http.Route, "BASE", server.api_base)
        monkeypatch.setattr(DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(server.gateway_url))
        yield server


@pytest.fixture
def world(fake: FakeDiscord) -> World:
    """A boosted (tier 2) guild with one channel and one member."""
    guild = fake.add_guild("Test Guild", premium_tier=2)
    channel = fake.add_channel(guild.id, "videos")
    user = fake.add_user("alice")
    fake.add_member(guild.id, user)
    return World(guild, channel, user)


async def start_bot(bot: VeoBot) -> asyncio.Task[None]:
    """Start the client and wait for on_ready (failing fast if start() dies)."""
    task = asyncio.create_task(bot.start(TOKEN))
    ready = asyncio.create_task(bot.wait_until_ready())
    done, _ = await asyncio.wait({task, ready}, timeout=5.0, return_when=asyncio.FIRST_COMPLETED)
    if ready not in done:
        ready.cancel()
        if task in done:
            task.result()
        raise AssertionError("the bot did not become ready")
    return task


async def stop_bot(bot: VeoBot, task: asyncio.Task[None]) -> None:
    """Close the client and wait for start() to return."""
    await bot.close()
    await asyncio.wait_for(task, 5.0)


@pytest.fixture
async def bot(fake: FakeDiscord, world: World) -> AsyncIterator[VeoBot]:
    """A ready VeoBot connected to the fake, closed after the test."""
    client = VeoBot()
    task = await start_bot(client)
    try:
        yield client
    finally:
        await stop_bot(client, task)


def text_channel(bot: VeoBot, world: World) -> discord.TextChannel:
    """The cached discord.py channel for the world's channel."""
    channel = bot.get_channel(world.channel.id)
    assert isinstance(channel, discord.TextChannel)
    return channel


async def test_login_ready_and_guild_create(fake: FakeDiscord, world: World, bot: VeoBot) -> None:
    assert bot.user is not None and bot.user.id == fake.bot_user.id
    assert bot.application_id == fake.application_id
    guild = bot.get_guild(world.guild.id)
    assert guild is not None and guild.name == "Test Guild"
    assert guild.premium_tier == 2 and guild.filesize_limit == 50 * MiB
    assert guild.me is not None and guild.default_role.id == guild.id
    assert [c.name for c in guild.text_channels] == ["videos"]
    paths = [r.path for r in fake.requests]
    assert paths[:2] == ["/users/@me", "/oauth2/applications/@me"]
    assert fake.identify_count == 1


async def test_wrong_token_is_rejected(fake: FakeDiscord, world: World) -> None:
    client = discord.Client(intents=discord.Intents.default())
    with pytest.raises(discord.LoginFailure):
        await client.login("not-the-token")
    await client.close()
    assert fake.requests[-1].status == 401


async def test_tree_sync_records_guild_and_global_puts(fake: FakeDiscord, world: World, bot: VeoBot) -> None:
    guild = discord.Object(world.guild.id)
    bot.tree.copy_global_to(guild=guild)
    synced_guild = await bot.tree.sync(guild=guild)
    synced_global = await bot.tree.sync()

    assert [(p.guild_id, sorted(c["name"] for c in p.commands)) for p in fake.command_puts] == [
        (world.guild.id, ["later", "manage", "slow", "style", "veo"]),
        (None, ["later", "manage", "slow", "style", "veo"]),
    ]
    assert fake.sync_count(world.guild.id) == 1 and fake.sync_count() == 1
    assert {c.id for c in synced_guild} == {int(c["id"]) for c in fake.commands(world.guild.id)}
    assert {c.name for c in synced_global} == {"veo", "later", "manage", "slow", "style"}
    await bot.tree.sync(guild=guild)
    assert fake.command_puts[-1].created_names == ()  # same names: ids kept, nothing created

    interaction = await fake.invoke_command(
        "veo", channel_id=world.channel.id, user=world.user, options={"prompt": "a cat"}
    )
    veo_id = next(c["id"] for c in fake.commands(world.guild.id) if c["name"] == "veo")
    assert interaction.payload["data"]["id"] == veo_id
    assert interaction.payload["data"]["guild_id"] == str(world.guild.id)
    assert (await interaction.wait_for_response()).content == "Working on a cat (0 bytes)"


async def test_slash_command_defer_attachment_edit_then_token_expiry(
    fake: FakeDiscord, world: World, bot: VeoBot, manual_clock: ManualClock
) -> None:
    image = fake.add_attachment(world.channel.id, "start.png", "image/png", PNG)
    interaction = await fake.invoke_command(
        "veo", channel_id=world.channel.id, user=world.user, options={"prompt": "a fox"}, attachments={"image": image}
    )
    await interaction.wait_acked()
    assert interaction.callback_type == 5 and not interaction.ephemeral
    assert interaction.ack_latency is not None and 0 <= interaction.ack_latency < 1.0
    response = await interaction.wait_for_response(predicate=lambda m: "a fox" in m.content)
    assert response.content == f"Working on a fox ({len(PNG)} bytes)"
    assert [v.via for v in response.versions] == ["defer", "webhook_edit"]
    assert response.type == 20 and response.interaction_metadata is not None
    assert [r.path.split("/")[-1] for r in fake.cdn_requests] == ["start.png"]

    await bot.handled.get()
    seen = bot.seen["veo"]
    assert seen["data"] == PNG and seen["image"].size == len(PNG) and seen["image"].content_type == "image/png"

    manual_clock.advance(61)  # past token_life
    with pytest.raises(discord.HTTPException) as expired:
        await seen["interaction"].edit_original_response(content="too late")
    assert expired.value.status == 401 and expired.value.code == 50027

    channel = text_channel(bot, world)
    edited = await channel.get_partial_message(response.id).edit(content="Video ready")
    assert edited.content == "Video ready"
    assert fake.message(response.id).versions[-1].via == "channel"
    partial = bot.get_partial_messageable(world.channel.id, guild_id=world.guild.id)
    sent = await partial.send("Here it is", file=discord.File(io.BytesIO(b"mp4-bytes"), "video.mp4"))
    stored = fake.message(sent.id)
    assert stored.attachment_bytes == [b"mp4-bytes"] and stored.attachments[0].content_type == "video/mp4"


async def test_followup_after_defer_replaces_the_original(fake: FakeDiscord, world: World, bot: VeoBot) -> None:
    interaction = await fake.invoke_command("later", channel_id=world.channel.id, user=world.user)
    followup = await interaction.wait_for_followup()
    original = await interaction.wait_for_response()
    assert original.content == "first" and original.ephemeral  # the defer fixed ephemerality
    assert followup.content == "second" and followup.flags & FLAG_EPHEMERAL
    assert [m.content for m in fake.messages(world.channel.id)] == ["first", "second"]
    assert fake.messages(world.channel.id, include_ephemeral=False) == []


async def test_channel_send_with_file_stores_bytes(fake: FakeDiscord, world: World, bot: VeoBot) -> None:
    payload = bytes(range(256)) * 100
    sent = await text_channel(bot, world).send("video", file=discord.File(io.BytesIO(payload), "clip.mp4"))
    [stored] = fake.messages(world.channel.id)
    assert stored.id == sent.id and stored.attachment_bytes == [payload]
    [part] = fake.requests[-1].files
    assert (part.field, part.filename, part.size) == ("files[0]", "clip.mp4", len(payload))
    assert part.sha256 == hashlib.sha256(payload).hexdigest()
    assert fake.requests[-1].json["attachments"] == [{"id": 0, "filename": "clip.mp4"}]
    assert await sent.attachments[0].read() == payload
    # Edit keeping nothing: `attachments: []` removes the file.
    await sent.edit(content="gone", attachments=[])
    assert stored.attachments == [] and stored.content == "gone"


async def test_enforce_nonce_returns_the_same_message(
    fake: FakeDiscord, world: World, bot: VeoBot, manual_clock: ManualClock
) -> None:
    channel = text_channel(bot, world)
    first = await channel.send("video", nonce="job-42")
    again = await channel.send("video", nonce="job-42")
    assert again.id == first.id and len(fake.messages(world.channel.id)) == 1
    assert [(h.nonce, h.message_id) for h in fake.nonce_hits] == [("job-42", first.id)]
    manual_clock.advance(301)  # past nonce_window
    later = await channel.send("video", nonce="job-42")
    assert later.id != first.id
    with pytest.raises(discord.HTTPException) as too_long:
        await channel.send("video", nonce="x" * 26)
    assert too_long.value.code == 50035


async def test_allowed_mentions_emulation(fake: FakeDiscord, world: World, bot: VeoBot) -> None:
    other = fake.add_user("bob")
    channel = text_channel(bot, world)
    text = f"@everyone <@{world.user.id}> <@{other.id}>"
    quiet = await channel.send(text)  # the client default is AllowedMentions.none()
    only_requester = await channel.send(text, allowed_mentions=discord.AllowedMentions(users=[world.user]))
    loud = await channel.send(text, allowed_mentions=discord.AllowedMentions.all())

    assert fake.message(quiet.id).pinged_user_ids == frozenset() and not fake.message(quiet.id).pinged_everyone
    assert fake.message(only_requester.id).pinged_user_ids == {world.user.id}
    assert not fake.message(only_requester.id).pinged_everyone
    assert [u.id for u in only_requester.mentions] == [world.user.id]
    assert fake.message(loud.id).pinged_everyone and fake.message(loud.id).pinged_user_ids == {world.user.id, other.id}
    assert fake.message(quiet.id).allowed_mentions == {"parse": []}


async def test_upload_over_the_limit_gets_413(fake: FakeDiscord, bot: VeoBot) -> None:
    guild = fake.add_guild("Tiny", upload_limit=1000)
    small = fake.add_channel(guild.id, "small")
    await fake.wait_until(lambda: bot.get_channel(small.id))
    channel = bot.get_channel(small.id)
    assert isinstance(channel, discord.TextChannel)
    with pytest.raises(discord.HTTPException) as too_big:
        await channel.send(file=discord.File(io.BytesIO(bytes(1001)), "big.mp4"))
    assert (too_big.value.status, too_big.value.code) == (413, 40005)
    assert fake.messages(small.id) == []


async def test_429_with_via_header_is_retried(fake: FakeDiscord, world: World, bot: VeoBot) -> None:
    fault = fake.inject("POST", r"/channels/\d+/messages$", status=429, retry_after=0.05)
    sent = await text_channel(bot, world).send("after a rate limit")
    assert fault.hits == 1 and sent.content == "after a rate limit"
    posts = [r.status for r in fake.requests if r.method == "POST" and r.path.endswith("/messages")]
    assert posts == [429, 200]


async def test_injected_4xx_reaches_the_caller(fake: FakeDiscord, world: World, bot: VeoBot) -> None:
    fake.inject("POST", r"/channels/\d+/messages$", status=403, code=50013)
    with pytest.raises(discord.Forbidden) as forbidden:
        await text_channel(bot, world).send("nope")
    assert forbidden.value.code == 50013 and fake.messages(world.channel.id) == []


async def test_drop_after_processing_leaves_the_message(fake: FakeDiscord, world: World, bot: VeoBot) -> None:
    channel = text_channel(bot, world)
    fake.inject_drop("POST", r"/channels/\d+/messages$", after_processing=True)
    with pytest.raises(aiohttp.ClientError):
        await channel.send("delivered?", nonce="job-7")
    [stored] = fake.messages(world.channel.id)
    assert stored.content == "delivered?"
    retried = await channel.send("delivered?", nonce="job-7")  # the nonce makes the retry harmless
    assert retried.id == stored.id and len(fake.messages(world.channel.id)) == 1

    fake.inject_drop("POST", r"/channels/\d+/messages$", after_processing=False)
    with pytest.raises(aiohttp.ClientError):
        await channel.send("never stored")
    assert len(fake.messages(world.channel.id)) == 1


async def test_gateway_disconnect_and_reconnect_resume(fake: FakeDiscord, world: World, bot: VeoBot) -> None:
    await fake.disconnect_gateway(4000)
    during = await fake.invoke_command("veo", channel_id=world.channel.id, user=world.user, options={"prompt": "a"})
    await during.wait_for_response()  # buffered while disconnected, replayed on RESUME
    await fake.wait_until(lambda: fake.resume_count == 1)

    fake.request_reconnect()
    await fake.wait_until(lambda: fake.resume_count == 2)
    after = await fake.invoke_command("veo", channel_id=world.channel.id, user=world.user, options={"prompt": "b"})
    assert (await after.wait_for_response()).content == "Working on b (0 bytes)"
    assert fake.identify_count == 1

    await fake.disconnect_gateway(4000, invalidate=True)
    await fake.wait_until(lambda: fake.identify_count == 2)
    last = await fake.invoke_command("veo", channel_id=world.channel.id, user=world.user, options={"prompt": "c"})
    assert (await last.wait_for_response()).content == "Working on c (0 bytes)"


async def test_late_ack_gets_10062_and_second_ack_40060(
    fake: FakeDiscord, world: World, bot: VeoBot, manual_clock: ManualClock
) -> None:
    slow = await fake.invoke_command("slow", channel_id=world.channel.id, user=world.user)
    manual_clock.advance(3.5)
    bot.release_slow.set()
    await slow.wait_for(lambda: slow.rejected_callbacks, timeout=5.0, what="the late callback")
    assert [(status, code) for _, status, code in slow.rejected_callbacks] == [(404, 10062)]
    assert not slow.acked
    await fake.wait_until(lambda: "slow_error" in bot.seen)
    assert bot.seen["slow_error"].code == 10062

    quick = await fake.invoke_command("veo", channel_id=world.channel.id, user=world.user, options={"prompt": "q"})
    await quick.wait_acked()
    url = f"{fake.api_base}/interactions/{quick.id}/{quick.token}/callback?with_response=true"
    async with aiohttp.ClientSession() as session, session.post(url, json={"type": 5}) as answer:
        assert answer.status == 400 and (await answer.json())["code"] == 40060


async def test_autocomplete_returns_choices(fake: FakeDiscord, world: World, bot: VeoBot) -> None:
    interaction = await fake.invoke_autocomplete(
        "style", focused="name", channel_id=world.channel.id, user=world.user, options={"name": "c"}
    )
    assert await interaction.wait_choices() == [
        {"name": "cinematic", "value": "cinematic"},
        {"name": "claymation", "value": "claymation"},
    ]
    assert interaction.callback_type == 8
    command = await fake.invoke_command(
        "style", channel_id=world.channel.id, user=world.user, options={"name": "anime"}
    )
    reply = await command.wait_for_response()
    assert (reply.content, reply.ephemeral, command.callback_type) == ("style anime", True, 4)


async def test_a_second_client_takes_over_on_the_same_fake(fake: FakeDiscord, world: World) -> None:
    first = VeoBot()
    task = await start_bot(first)
    done = await fake.invoke_command("veo", channel_id=world.channel.id, user=world.user, options={"prompt": "1"})
    await done.wait_for_response()
    await stop_bot(first, task)

    second = VeoBot()
    task = await start_bot(second)
    try:
        again = await fake.invoke_command("veo", channel_id=world.channel.id, user=world.user, options={"prompt": "2"})
        assert (await again.wait_for_response()).content == "Working on 2 (0 bytes)"
        # discord.py's close() sends 4000 (its reader closes first), so on Discord, as here, the first
        # session stays resumable until it times out; only one websocket is open.
        assert fake.identify_count == 2 and fake.connection_count == 1
    finally:
        await stop_bot(second, task)


async def test_button_press_updates_the_message(fake: FakeDiscord, world: World, bot: VeoBot) -> None:
    pressed: list[int] = []

    class Retry(discord.ui.View):
        @discord.ui.button(label="Retry", custom_id="veo:retry:1")
        async def retry(self, interaction: discord.Interaction, button: discord.ui.Button[Retry]) -> None:
            pressed.append(interaction.user.id)
            await interaction.response.edit_message(content="Retrying…", view=None)

    sent = await text_channel(bot, world).send("Failed", view=Retry(timeout=None))
    record = fake.message(sent.id)
    assert record.components and record.components[0]["components"][0]["custom_id"] == "veo:retry:1"
    press = await fake.invoke_component(record, "veo:retry:1", user=world.user)
    await press.wait_acked()
    assert press.callback_type == 7 and pressed == [world.user.id]
    assert record.content == "Retrying…" and record.components == []


async def test_permissions_and_locale_reach_the_handler(fake: FakeDiscord, world: World, bot: VeoBot) -> None:
    interaction = await fake.invoke_command(
        "veo",
        channel_id=world.channel.id,
        user=world.user,
        options={"prompt": "p"},
        app_permissions=VIEW_CHANNEL | SEND_MESSAGES,
        permissions=SEND_MESSAGES,
        locale="de",
    )
    await interaction.wait_for_response()
    seen = bot.seen["veo"]["interaction"]
    assert seen.app_permissions.value == VIEW_CHANNEL | SEND_MESSAGES and not seen.app_permissions.attach_files
    assert seen.permissions.value == SEND_MESSAGES
    assert seen.locale is discord.Locale.german and seen.filesize_limit == 50 * MiB
    assert seen.user.id == world.user.id and seen.guild_id == world.guild.id


async def test_channel_permissions_are_enforced(fake: FakeDiscord, world: World, bot: VeoBot) -> None:
    locked = fake.add_channel(world.guild.id, "no-files", bot_permissions=VIEW_CHANNEL | SEND_MESSAGES)
    channel = await fake.wait_until(lambda: bot.get_channel(locked.id))
    assert isinstance(channel, discord.TextChannel)
    await channel.send("text is fine")
    with pytest.raises(discord.Forbidden) as forbidden:
        await channel.send(file=discord.File(io.BytesIO(b"x"), "x.mp4"))
    assert forbidden.value.code == 50013
    assert [m.content for m in fake.messages(locked.id)] == ["text is fine"]


async def test_history_fetch_and_delete(fake: FakeDiscord, world: World, bot: VeoBot) -> None:
    channel = text_channel(bot, world)
    sent = [await channel.send(f"m{i}") for i in range(5)]
    assert [m.content async for m in channel.history(limit=3)] == ["m4", "m3", "m2"]
    assert [m.content async for m in channel.history(after=sent[1], oldest_first=True)] == ["m2", "m3", "m4"]
    assert {m.content async for m in channel.history(around=sent[2], limit=3)} == {"m1", "m2", "m3"}
    assert (await channel.fetch_message(sent[0].id)).content == "m0"
    await sent[0].delete()
    assert fake.message(sent[0].id).deleted
    with pytest.raises(discord.NotFound) as gone:
        await channel.fetch_message(sent[0].id)
    assert gone.value.code == 10008


async def test_replies_ping_the_author_only_when_allowed(fake: FakeDiscord, world: World, bot: VeoBot) -> None:
    question = fake.post_user_message(world.channel.id, world.user, "make me a video")
    channel = text_channel(bot, world)
    target = await channel.fetch_message(question.id)
    assert target.content == ""  # no MESSAGE_CONTENT privileged intent: other users' text is hidden
    quiet = await target.reply("on it")
    loud = await target.reply("done", mention_author=True)
    assert fake.message(quiet.id).pinged_user_ids == frozenset()
    assert fake.message(loud.id).pinged_user_ids == {world.user.id}
    assert fake.message(loud.id).type == 19 and loud.reference is not None
    assert isinstance(loud.reference.resolved, discord.Message) and loud.reference.resolved.id == question.id


async def test_role_mentions_follow_allowed_mentions(fake: FakeDiscord, world: World, bot: VeoBot) -> None:
    role = fake.add_role(world.guild.id, "Artists", mentionable=True)
    channel = text_channel(bot, world)
    quiet = await channel.send(f"{role.mention} new video")
    loud = await channel.send(f"{role.mention} new video", allowed_mentions=discord.AllowedMentions(roles=True))
    assert fake.message(quiet.id).pinged_role_ids == frozenset()
    assert fake.message(loud.id).pinged_role_ids == {role.id}


async def test_many_concurrent_interactions(fake: FakeDiscord, world: World, bot: VeoBot) -> None:
    invoked = [
        await fake.invoke_command("veo", channel_id=world.channel.id, user=world.user, options={"prompt": f"n{i}"})
        for i in range(50)
    ]
    responses = await asyncio.gather(*(i.wait_for_response() for i in invoked))
    assert sorted(r.content for r in responses) == sorted(f"Working on n{i} (0 bytes)" for i in range(50))
    assert all(i.ack_latency is not None for i in invoked)
    assert len({r.id for r in responses}) == 50


async def test_privileged_intents_must_be_enabled(fake: FakeDiscord, world: World) -> None:
    client = discord.Client(intents=discord.Intents.all())
    try:
        with pytest.raises(discord.PrivilegedIntentsRequired):
            await asyncio.wait_for(client.start(TOKEN), 5.0)
    finally:
        await client.close()


async def test_members_intent_gets_member_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeDiscord(token=TOKEN, privileged_intents=INTENT_GUILD_MEMBERS) as server:
        monkeypatch.setattr(discord.http.Route, "BASE", server.api_base)
        monkeypatch.setattr(DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(server.gateway_url))
        guild = server.add_guild("Members")
        for name in ("ann", "ben"):
            server.add_member(guild.id, server.add_user(name))
        intents = discord.Intents.default()
        intents.members = True
        client = discord.Client(intents=intents, guild_ready_timeout=0.05)
        task = asyncio.create_task(client.start(TOKEN))
        try:
            await asyncio.wait_for(client.wait_until_ready(), 5.0)
            cached = client.get_guild(guild.id)
            assert cached is not None
            assert {m.name for m in cached.members} == {"veo-bot", "app-owner", "ann", "ben"}
        finally:
            await client.close()
            await task


async def test_interaction_webhook_message_routes(fake: FakeDiscord, world: World, bot: VeoBot) -> None:
    interaction = await fake.invoke_command("manage", channel_id=world.channel.id, user=world.user)
    await fake.wait_until(lambda: interaction.original is not None and interaction.original.deleted)
    original_id, followup_id = bot.seen["manage"]
    original, followup = fake.message(original_id), fake.message(followup_id)
    assert [v.via for v in original.versions] == ["callback", "webhook_edit"]
    assert original.content == "original edited" and original.attachments == [] and original.deleted
    assert (followup.content, followup.deleted) == ("followup edited", True)
    assert followup.interaction_metadata is not None
    assert followup.interaction_metadata["original_response_message_id"] == str(original_id)
    assert fake.messages(world.channel.id) == []
    methods = [(r.method, r.path.rsplit("/", 1)[-1]) for r in fake.requests if r.path.startswith("/webhooks/")]
    assert methods == [
        ("GET", "@original"),
        ("POST", interaction.token),
        ("GET", str(followup_id)),
        ("PATCH", str(followup_id)),
        ("DELETE", str(followup_id)),
        ("PATCH", "@original"),
        ("DELETE", "@original"),
    ]


async def test_member_and_user_lookups(fake: FakeDiscord, world: World, bot: VeoBot) -> None:
    guild = bot.get_guild(world.guild.id)
    assert guild is not None
    nicked = fake.add_user("nick-owner", global_name="Global Name")
    fake.add_member(world.guild.id, nicked, nick="Server Nick")
    member = await guild.fetch_member(nicked.id)
    assert (member.id, member.nick, member.display_name) == (nicked.id, "Server Nick", "Server Nick")
    assert fake.requests[-1].method == "GET" and fake.requests[-1].path == f"/guilds/{guild.id}/members/{nicked.id}"
    # A user who left: no longer a member, still a user.
    fake.remove_member(world.guild.id, nicked)
    with pytest.raises(discord.NotFound) as left:
        await guild.fetch_member(nicked.id)
    assert left.value.code == 10007
    user = await bot.fetch_user(nicked.id)
    assert (user.name, user.display_name) == ("nick-owner", "Global Name")
    with pytest.raises(discord.NotFound) as nobody:
        await bot.fetch_user(nicked.id + 999)
    assert nobody.value.code == 10013
    with pytest.raises(discord.NotFound) as no_guild:
        await bot.http.get_member(world.guild.id + 999, nicked.id)
    assert no_guild.value.code == 10004


async def test_interaction_edit_with_a_file_stores_it(fake: FakeDiscord, world: World, bot: VeoBot) -> None:
    # An edit of a deferred answer with a file: multipart, the file becomes the message's attachment.
    interaction = await fake.invoke_command("veo", channel_id=world.channel.id, user=world.user,
                                            options={"prompt": "a fox"})
    await interaction.wait_for_response(predicate=lambda m: m.content.startswith("Working"))
    seen: discord.Interaction = bot.seen["veo"]["interaction"]
    chart = PNG * 3
    await seen.edit_original_response(content="chart", attachments=[discord.File(io.BytesIO(chart), "usage.png")])
    [part] = fake.requests[-1].files
    assert (part.field, part.filename, part.size) == ("files[0]", "usage.png", len(chart))
    original = await interaction.wait_for_response(predicate=lambda m: m.content == "chart")
    assert original.attachment_bytes == [chart] and original.attachments[0].content_type == "image/png"


async def test_direct_messages_follow_discords_rules(fake: FakeDiscord, world: World, bot: VeoBot) -> None:
    dm = await bot.create_dm(discord.Object(world.user.id))
    first = await dm.send("your video is ready", nonce="dm-1")
    again = await dm.send("your video is ready", nonce="dm-1")
    assert again.id == first.id and [m.content for m in fake.dm_messages(world.user)] == ["your video is ready"]
    assert fake.dm_messages(world.user)[0].guild_id is None
    # Opening the channel again gives the same one (a new client has no cache).
    opened = [r for r in fake.requests if r.path == "/users/@me/channels"]
    assert len(opened) == 1 and opened[0].json == {"recipient_id": world.user.id}
    assert (await bot.http.start_private_message(world.user.id))["id"] == str(dm.id)
    # A member who refuses DMs from server members, or who shares no server with the bot: 403 / 50007.
    closed = fake.add_user("closed", accepts_dms=False)
    fake.add_member(world.guild.id, closed)
    stranger = fake.add_user("stranger")
    for user in (closed, stranger):
        with pytest.raises(discord.Forbidden) as refused:
            await (await bot.create_dm(discord.Object(user.id))).send("hello")
        assert refused.value.code == 50007 and fake.dm_messages(user) == []
    fake.remove_member(world.guild.id, world.user)
    with pytest.raises(discord.Forbidden) as left:
        await dm.send("after leaving")
    assert left.value.code == 50007
    # Nobody by that id, or the bot itself: 400 / 50033.
    for recipient in (123, fake.bot_user.id):
        with pytest.raises(discord.HTTPException) as invalid:
            await bot.http.start_private_message(recipient)
        assert invalid.value.status == 400 and invalid.value.code == 50033
