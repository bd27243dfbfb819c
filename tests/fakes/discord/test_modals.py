"""Modals on the fake Discord with the real discord.py: Discord's limits on a modal, what a member's client can
submit, and the answers a modal submission allows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest
import yarl
from discord.gateway import DiscordWebSocket

from tests.fakes.discord.modals import check_modal
from tests.fakes.discord.models import FakeHTTPError
from tests.fakes.discord.server import FakeDiscord
from tests.fakes.discord.test_fake_discord import TOKEN, VeoBot, World, start_bot, stop_bot, text_channel


@pytest.fixture
async def server(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    """A running fake with discord.py pointed at it."""
    async with FakeDiscord(token=TOKEN) as fake:
        monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)
        monkeypatch.setattr(DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url))
        yield fake


@pytest.fixture
def place(server: FakeDiscord) -> World:
    """A guild with one channel and one member."""
    guild = server.add_guild("Test Guild")
    channel = server.add_channel(guild.id, "videos")
    user = server.add_user("alice")
    server.add_member(guild.id, user)
    return World(guild, channel, user)


@pytest.fixture
async def client(server: FakeDiscord, place: World) -> AsyncIterator[VeoBot]:
    """A ready client connected to the fake."""
    bot = VeoBot()
    task = await start_bot(bot)
    try:
        yield bot
    finally:
        await stop_bot(bot, task)


class StoryForm(discord.ui.Modal, title="Next clip"):
    """A paragraph field in a label, as the bot's own forms are built."""

    prompt: discord.ui.Label[StoryForm] = discord.ui.Label(
        text="What happens next",
        description="The clip starts from the last frame.",
        component=discord.ui.TextInput(custom_id="prompt", style=discord.TextStyle.paragraph, min_length=1,
                                       max_length=20),
    )

    def __init__(self, seen: list[Any], **kwargs: Any) -> None:
        super().__init__(custom_id="story:1", **kwargs)
        self.seen = seen

    async def on_submit(self, interaction: discord.Interaction) -> None:
        assert isinstance(self.prompt.component, discord.ui.TextInput)
        self.seen.append((interaction.user.id, self.prompt.component.value, interaction.message))
        await interaction.response.send_message("queued", ephemeral=True)


async def _post_button(client: VeoBot, place: World, server: FakeDiscord, seen: list[Any], *,
                       defer_first: bool = False, title: str = "Next clip") -> Any:
    class Opener(discord.ui.View):
        @discord.ui.button(label="Continue", custom_id="veo:continue:1")
        async def open(self, interaction: discord.Interaction, button: discord.ui.Button[Opener]) -> None:
            if defer_first:
                await interaction.response.defer()
            try:
                await interaction.response.send_modal(StoryForm(seen, title=title))
            except discord.HTTPException as error:
                seen.append(error)

    sent = await text_channel(client, place).send("Result", view=Opener(timeout=None))
    return server.message(sent.id)


async def test_a_button_opens_a_modal_and_its_submission_reaches_discord_py(
    server: FakeDiscord, place: World, client: VeoBot
) -> None:
    seen: list[Any] = []
    record = await _post_button(client, place, server, seen)
    press = await server.invoke_component(record, "veo:continue:1", user=place.user)
    modal = await press.wait_modal()
    assert press.callback_type == 9 and modal["custom_id"] == "story:1"
    submit = await server.invoke_modal_submit(press, {"prompt": "the fox jumps"})
    reply = await submit.wait_for_response()
    assert (reply.content, reply.ephemeral, submit.type) == ("queued", True, 5)
    [(user_id, value, message)] = seen
    assert (user_id, value) == (place.user.id, "the fox jumps")
    assert message is not None and message.id == record.id  # the submission names the button's message


async def test_what_a_members_client_cannot_submit(server: FakeDiscord, place: World, client: VeoBot) -> None:
    seen: list[Any] = []
    record = await _post_button(client, place, server, seen)
    press = await server.invoke_component(record, "veo:continue:1", user=place.user)
    await press.wait_modal()
    with pytest.raises(ValueError, match="required field"):
        await server.invoke_modal_submit(press, {"prompt": ""})
    with pytest.raises(ValueError, match="between 1 and 20"):
        await server.invoke_modal_submit(press, {"prompt": "x" * 21})
    with pytest.raises(ValueError, match="no text input"):
        await server.invoke_modal_submit(press, {"prompt": "ok", "title": "x"})
    other = await server.invoke_component(record, "veo:other", user=place.user)
    with pytest.raises(ValueError, match="opened no modal"):
        await server.invoke_modal_submit(other, {"prompt": "ok"})


async def test_a_modal_must_be_the_first_answer(server: FakeDiscord, place: World, client: VeoBot) -> None:
    seen: list[Any] = []
    record = await _post_button(client, place, server, seen, defer_first=True)
    press = await server.invoke_component(record, "veo:continue:1", user=place.user)
    await press.wait_acked()
    assert press.callback_type == 6
    # discord.py refuses this itself; a client that tried anyway gets Discord's answer.
    modal = {"title": "Next clip", "custom_id": "story:1", "components": [
        {"type": 18, "label": "Prompt", "component": {"type": 4, "custom_id": "prompt", "style": 2}}]}
    url = f"{server.api_base}/interactions/{press.id}/{press.token}/callback?with_response=true"
    async with aiohttp.ClientSession() as session, session.post(url, json={"type": 9, "data": modal}) as answer:
        assert answer.status == 400 and (await answer.json())["code"] == 40060
    assert press.modal is None


async def test_a_modal_title_over_45_characters_is_refused(server: FakeDiscord, place: World, client: VeoBot) -> None:
    seen: list[Any] = []
    record = await _post_button(client, place, server, seen, title="x" * 46)
    press = await server.invoke_component(record, "veo:continue:1", user=place.user)
    await press.wait_for(lambda: seen, timeout=5.0, what="the refused modal")
    [error] = seen
    assert isinstance(error, discord.HTTPException) and error.code == 50035 and press.modal is None


def test_modal_limits() -> None:
    def field(**extra: Any) -> dict[str, Any]:
        return {"type": 18, "label": "Prompt", "component": {"type": 4, "custom_id": "p", "style": 2, **extra}}

    assert check_modal({"title": "t", "custom_id": "m", "components": [field(max_length=4000)]})
    for bad in (
        {"title": "t", "custom_id": "m", "components": []},
        {"title": "t", "custom_id": "m", "components": [field(max_length=4001)]},
        {"title": "t", "custom_id": "m", "components": [field(min_length=5, max_length=4)]},
        {"title": "t", "custom_id": "m", "components": [field(placeholder="x" * 101)]},
        {"title": "t", "custom_id": "m", "components": [field(style=3)]},
        {"title": "t", "custom_id": "m", "components": [{**field(), "label": "x" * 46}]},
        {"title": "t", "custom_id": "m", "components": [{**field(), "description": "x" * 101}]},
        {"title": "t", "custom_id": "m", "components": [field(), field()]},  # the same custom id twice
        {"title": "t", "custom_id": "m",
         "components": [{"type": 1, "components": [{"type": 4, "custom_id": "p", "style": 1}]}]},  # no label
        {"title": "t", "custom_id": "m", "components": [field()] * 6},
        {"title": "", "custom_id": "m", "components": [field()]},
    ):
        with pytest.raises(FakeHTTPError) as refused:
            check_modal(bad)
        assert refused.value.code == 50035


async def test_a_modal_submission_cannot_open_another_modal(
    server: FakeDiscord, place: World, client: VeoBot
) -> None:
    seen: list[Any] = []

    class Chained(StoryForm):
        async def on_submit(self, interaction: discord.Interaction) -> None:
            try:
                await interaction.response.send_modal(StoryForm(seen))
            except discord.HTTPException as error:
                seen.append(error)

    class Opener(discord.ui.View):
        @discord.ui.button(label="Continue", custom_id="veo:continue:1")
        async def open(self, interaction: discord.Interaction, button: discord.ui.Button[Opener]) -> None:
            await interaction.response.send_modal(Chained(seen))

    sent = await text_channel(client, place).send("Result", view=Opener(timeout=None))
    press = await server.invoke_component(server.message(sent.id), "veo:continue:1", user=place.user)
    await press.wait_modal()
    submit = await server.invoke_modal_submit(press, {"prompt": "next"})
    await submit.wait_for(lambda: seen, timeout=5.0, what="the refused modal")
    [error] = seen
    assert isinstance(error, discord.HTTPException) and error.code == 50035 and submit.modal is None
