"""The fake Discord enforces Discord's documented size limits on every route that carries them.

One character (or item) over a limit gets 400 with code 50035 and the problem at its path in Discord's
nested `errors` object; exactly at the limit is accepted. Raw HTTP keeps these fast; one test goes
through discord.py to show what the bot would see.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import discord
import pytest

from tests.fakes.discord.models import FakeChannel, FakeUser, MessageRecord
from tests.fakes.discord.server import FakeDiscord

TOKEN = "limits-bot-token"
Body = dict[str, Any]


@dataclass
class Api:
    """Raw requests to one running fake, with the bot's token."""

    fake: FakeDiscord
    http: aiohttp.ClientSession
    channel: FakeChannel
    user: FakeUser

    async def call(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bot {TOKEN}"}
        async with self.http.request(method, self.fake.api_base + path, json=body, headers=headers) as resp:
            return resp.status, await resp.json() if resp.status != 204 else None

    def interaction(self, *, focused: str | None = None) -> Any:
        """A slash-command interaction registered with the fake (no gateway needed for the REST side)."""
        return self.fake.factory.command(
            "veo",
            guild_id=self.channel.guild_id,
            channel_id=self.channel.id,
            user=self.user,
            options={},
            permissions=None,
            app_permissions=None,
            locale="en-US",
            focused=focused,
        )


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    async with FakeDiscord(token=TOKEN) as fake, aiohttp.ClientSession() as http:
        guild = fake.add_guild("Limits")
        channel = fake.add_channel(guild.id, "general")
        user = fake.add_user("member")
        fake.add_member(guild.id, user)
        yield Api(fake, http, channel, user)


def problem(answer: Any, path: str) -> str:
    """The error code Discord reported at `path` (dotted), after checking the envelope."""
    assert answer["code"] == 50035 and answer["message"] == "Invalid Form Body"
    node = answer["errors"]
    for part in path.split(".") if path else []:
        assert part in node, f"no error at {path}: {answer['errors']}"
        node = node[part]
    return str(node["_errors"][0]["code"])


def _row(*components: Body) -> Body:
    return {"type": 1, "components": list(components)}


def _button(**extra: Any) -> Body:
    return {"type": 2, "style": 1, "label": "Go", "custom_id": "go", **extra}


def _select(**extra: Any) -> Body:
    return {"type": 3, "custom_id": "pick", "options": [{"label": "One", "value": "1"}], **extra}


def _embed(**extra: Any) -> Body:
    return {"embeds": [{"title": "t", **extra}]}


# (what, body for size n, the limit, the path of the error)
MESSAGE_LIMITS: list[tuple[str, Callable[[int], Body], int, str]] = [
    ("content", lambda n: {"content": "x" * n}, 2000, "content"),
    ("content in code points", lambda n: {"content": "🦊" * n}, 2000, "content"),
    ("embeds", lambda n: {"embeds": [{"title": "t"}] * n}, 10, "embeds"),
    ("embed title", lambda n: _embed(title="x" * n), 256, "embeds.0.title"),
    ("embed description", lambda n: _embed(description="x" * n), 4096, "embeds.0.description"),
    ("field count", lambda n: _embed(fields=[{"name": "n", "value": "v"}] * n), 25, "embeds.0.fields"),
    ("field name", lambda n: _embed(fields=[{"name": "x" * n, "value": "v"}]), 256, "embeds.0.fields.0.name"),
    ("field value", lambda n: _embed(fields=[{"name": "n", "value": "x" * n}]), 1024, "embeds.0.fields.0.value"),
    ("footer text", lambda n: _embed(footer={"text": "x" * n}), 2048, "embeds.0.footer.text"),
    ("author name", lambda n: _embed(author={"name": "x" * n}), 256, "embeds.0.author.name"),
    (
        "all embeds together",
        lambda n: {"embeds": [{"description": "x" * 4000}, {"title": "y" * 200, "description": "x" * (n - 4200)}]},
        6000,
        "embeds",
    ),
    (
        "custom_id",
        lambda n: {"components": [_row(_button(custom_id="x" * n))]},
        100,
        "components.0.components.0.custom_id",
    ),
    ("button label", lambda n: {"components": [_row(_button(label="x" * n))]}, 80, "components.0.components.0.label"),
    (
        "select placeholder",
        lambda n: {"components": [_row(_select(placeholder="x" * n))]},
        150,
        "components.0.components.0.placeholder",
    ),
    (
        "select option count",
        lambda n: {"components": [_row(_select(options=[{"label": f"o{i}", "value": f"{i}"} for i in range(n)]))]},
        25,
        "components.0.components.0.options",
    ),
    (
        "select option label",
        lambda n: {"components": [_row(_select(options=[{"label": "x" * n, "value": "1"}]))]},
        100,
        "components.0.components.0.options.0.label",
    ),
    (
        "select option value",
        lambda n: {"components": [_row(_select(options=[{"label": "a", "value": "x" * n}]))]},
        100,
        "components.0.components.0.options.0.value",
    ),
    (
        "select option description",
        lambda n: {"components": [_row(_select(options=[{"label": "a", "value": "1", "description": "x" * n}]))]},
        100,
        "components.0.components.0.options.0.description",
    ),
    ("action rows", lambda n: {"components": [_row(_button(custom_id=f"b{i}")) for i in range(n)]}, 5, "components"),
    (
        "buttons in a row",
        lambda n: {"components": [_row(*(_button(custom_id=f"b{i}") for i in range(n)))]},
        5,
        "components.0.components",
    ),
]


@pytest.mark.parametrize(("what", "body", "limit", "path"), MESSAGE_LIMITS, ids=[c[0] for c in MESSAGE_LIMITS])
async def test_message_limits_on_channel_create(
    api: Api, what: str, body: Callable[[int], Body], limit: int, path: str
) -> None:
    route = f"/channels/{api.channel.id}/messages"
    status, answer = await api.call("POST", route, body(limit + 1))
    assert status == 400, what
    assert problem(answer, path).startswith(("BASE_TYPE", "MAX_EMBED_SIZE"))
    assert api.fake.messages(api.channel.id) == []
    status, answer = await api.call("POST", route, body(limit))
    assert status == 200, answer
    assert len(api.fake.messages(api.channel.id)) == 1


async def test_every_problem_is_reported_at_once(api: Api) -> None:
    body = {"content": "x" * 2001, "embeds": [{"title": "x" * 257, "fields": [{"name": "", "value": "v"}]}]}
    status, answer = await api.call("POST", f"/channels/{api.channel.id}/messages", body)
    assert status == 400
    assert problem(answer, "content") == "BASE_TYPE_MAX_LENGTH"
    assert problem(answer, "embeds.0.title") == "BASE_TYPE_MAX_LENGTH"
    assert problem(answer, "embeds.0.fields.0.name") == "BASE_TYPE_REQUIRED"


async def test_a_select_fills_its_row_and_custom_ids_are_unique(api: Api) -> None:
    route = f"/channels/{api.channel.id}/messages"
    status, answer = await api.call("POST", route, {"components": [_row(_select(), _button())]})
    assert status == 400 and problem(answer, "components.0.components") == "COMPONENT_LAYOUT_WIDTH_EXCEEDED"
    status, answer = await api.call("POST", route, {"components": [_row(_button()), _row(_button())]})
    assert status == 400 and problem(answer, "components.1.components.0.custom_id") == "COMPONENT_CUSTOM_ID_DUPLICATED"


async def _posted(api: Api) -> MessageRecord:
    status, answer = await api.call("POST", f"/channels/{api.channel.id}/messages", {"content": "before"})
    assert status == 200
    return api.fake.message(int(answer["id"]))


async def test_channel_edit_is_checked_and_a_refused_edit_changes_nothing(api: Api) -> None:
    message = await _posted(api)
    route = f"/channels/{api.channel.id}/messages/{message.id}"
    status, answer = await api.call("PATCH", route, {"content": "x" * 2001, "embeds": [{"description": "d"}]})
    assert status == 400 and problem(answer, "content") == "BASE_TYPE_MAX_LENGTH"
    assert message.content == "before" and message.embeds == [] and len(message.versions) == 1
    status, _ = await api.call("PATCH", route, {"embeds": [{"description": "x" * 4096}]})
    assert status == 200 and len(message.embeds[0]["description"]) == 4096


async def test_interaction_callback_is_checked(api: Api) -> None:
    interaction = api.interaction()
    route = f"/interactions/{interaction.id}/{interaction.token}/callback?with_response=true"
    status, answer = await api.call("POST", route, {"type": 4, "data": {"content": "x" * 2001}})
    assert status == 400 and problem(answer, "content") == "BASE_TYPE_MAX_LENGTH"
    assert not interaction.acked
    status, _ = await api.call("POST", route, {"type": 4, "data": {"content": "x" * 2000}})
    assert status == 200 and interaction.original is not None and len(interaction.original.content) == 2000


async def test_component_update_callback_is_checked(api: Api) -> None:
    message = await _posted(api)
    interaction = api.fake.factory.component(
        message,
        "go",
        user=api.user,
        component_type=2,
        values=None,
        permissions=None,
        app_permissions=None,
        locale="en-US",
    )
    route = f"/interactions/{interaction.id}/{interaction.token}/callback"
    body = {"type": 7, "data": {"components": [_row(_button(label="x" * 81))]}}
    status, answer = await api.call("POST", route, body)
    assert status == 400 and problem(answer, "components.0.components.0.label") == "BASE_TYPE_MAX_LENGTH"
    assert message.components == []
    body = {"type": 7, "data": {"components": [_row(_button(label="x" * 80))]}}
    status, _ = await api.call("POST", route, body)
    assert status == 204 and message.components[0]["components"][0]["label"] == "x" * 80


async def test_webhook_followup_and_edits_are_checked(api: Api) -> None:
    interaction = api.interaction()
    status, _ = await api.call("POST", f"/interactions/{interaction.id}/{interaction.token}/callback", {"type": 5})
    assert status == 204
    hook = f"/webhooks/{api.fake.application_id}/{interaction.token}"
    # The first followup after a defer resolves the "thinking…" placeholder: checked like any message.
    status, answer = await api.call("POST", hook + "?wait=true", _embed(description="x" * 4097))
    assert status == 400 and problem(answer, "embeds.0.description") == "BASE_TYPE_MAX_LENGTH"
    assert interaction.original is not None and interaction.original.loading
    status, _ = await api.call("PATCH", hook + "/messages/@original", _embed(description="x" * 4096))
    assert status == 200 and not interaction.original.loading
    status, answer = await api.call("PATCH", hook + "/messages/@original", {"content": "x" * 2001})
    assert status == 400 and problem(answer, "content") == "BASE_TYPE_MAX_LENGTH"
    status, answer = await api.call("POST", hook + "?wait=true", {"content": "x" * 2001})
    assert status == 400 and problem(answer, "content") == "BASE_TYPE_MAX_LENGTH"
    status, answer = await api.call("POST", hook + "?wait=true", {"content": "x" * 2000})
    assert status == 200
    followup = f"{hook}/messages/{answer['id']}"
    status, answer = await api.call("PATCH", followup, _embed(fields=[{"name": "n", "value": "x" * 1025}]))
    assert status == 400 and problem(answer, "embeds.0.fields.0.value") == "BASE_TYPE_MAX_LENGTH"
    status, _ = await api.call("PATCH", followup, _embed(fields=[{"name": "n", "value": "x" * 1024}]))
    assert status == 200


async def test_autocomplete_choices_are_checked(api: Api) -> None:
    def choices(n: int, name: int = 1, value: int = 1) -> Body:
        return {"type": 8, "data": {"choices": [{"name": "n" * name, "value": "v" * value}] * n}}

    for body, path in (
        (choices(26), "data.choices"),
        (choices(1, name=101), "data.choices.0.name"),
        (choices(1, value=101), "data.choices.0.value"),
    ):
        interaction = api.interaction(focused="model")
        route = f"/interactions/{interaction.id}/{interaction.token}/callback"
        status, answer = await api.call("POST", route, body)
        assert status == 400 and problem(answer, path).startswith("BASE_TYPE")
        status, _ = await api.call("POST", route, choices(25, name=100, value=100))
        assert status == 204 and interaction.choices is not None and len(interaction.choices) == 25


def _command(**extra: Any) -> Body:
    return {"name": "veo", "type": 1, "description": "Make a video", **extra}


def _option(**extra: Any) -> Body:
    return {"name": "prompt", "type": 3, "description": "What to show", **extra}


def _choice(**extra: Any) -> Body:
    return {"name": "Landscape", "value": "16x9", **extra}


# (what, a command for size n, the limit, the path of the error); the lower bound of lengths is 1.
COMMAND_LIMITS: list[tuple[str, Callable[[int], Body], int, str]] = [
    ("name", lambda n: _command(name="v" * n), 32, "0.name"),
    ("description", lambda n: _command(description="d" * n), 100, "0.description"),
    ("option count", lambda n: _command(options=[_option(name=f"o{i}") for i in range(n)]), 25, "0.options"),
    ("option name", lambda n: _command(options=[_option(name="o" * n)]), 32, "0.options.0.name"),
    ("option description", lambda n: _command(options=[_option(description="d" * n)]), 100, "0.options.0.description"),
    (
        "choice count",
        lambda n: _command(options=[_option(choices=[_choice(value=f"{i}") for i in range(n)])]),
        25,
        "0.options.0.choices",
    ),
    (
        "choice name",
        lambda n: _command(options=[_option(choices=[_choice(name="c" * n)])]),
        100,
        "0.options.0.choices.0.name",
    ),
    (
        "choice value",
        lambda n: _command(options=[_option(choices=[_choice(value="c" * n)])]),
        100,
        "0.options.0.choices.0.value",
    ),
    (
        "subcommand option description",
        lambda n: _command(
            options=[{"name": "sub", "type": 1, "description": "Sub", "options": [_option(description="d" * n)]}]
        ),
        100,
        "0.options.0.options.0.description",
    ),
    ("name localization", lambda n: _command(name_localizations={"vi": "t" * n}), 32, "0.name_localizations.vi"),
    (
        "description localization",
        lambda n: _command(description_localizations={"ko": "설" * n}),
        100,
        "0.description_localizations.ko",
    ),
    (
        "option name localization",
        lambda n: _command(options=[_option(name_localizations={"vi": "ả" * n})]),
        32,
        "0.options.0.name_localizations.vi",
    ),
    (
        "option description localization",
        lambda n: _command(options=[_option(description_localizations={"vi": "ả" * n})]),
        100,
        "0.options.0.description_localizations.vi",
    ),
    (
        "choice name localization",
        lambda n: _command(options=[_option(choices=[_choice(name_localizations={"vi": "ả" * n})])]),
        100,
        "0.options.0.choices.0.name_localizations.vi",
    ),
]


@pytest.mark.parametrize(("what", "command", "limit", "path"), COMMAND_LIMITS, ids=[c[0] for c in COMMAND_LIMITS])
async def test_command_registration_limits(
    api: Api, what: str, command: Callable[[int], Body], limit: int, path: str
) -> None:
    route = f"/applications/{api.fake.application_id}/guilds/{api.channel.guild_id}/commands"
    status, answer = await api.call("PUT", route, [command(limit + 1)])
    assert status == 400, what
    assert problem(answer, path).startswith("BASE_TYPE")
    assert api.fake.sync_count(api.channel.guild_id) == 0
    if not path.endswith(("choices", "options", "value")):
        status, answer = await api.call("PUT", route, [command(0)])  # empty text: below the lower bound
        assert status == 400 and problem(answer, path) in ("BASE_TYPE_BAD_LENGTH", "BASE_TYPE_REQUIRED")
    status, answer = await api.call("PUT", route, [command(limit)])
    assert status == 200, answer
    assert api.fake.sync_count(api.channel.guild_id) == 1


@pytest.mark.parametrize(
    ("command", "path", "code"),
    [
        (_command(name="Veo"), "0.name", "APPLICATION_COMMAND_INVALID_NAME"),
        (_command(name="make video"), "0.name", "APPLICATION_COMMAND_INVALID_NAME"),
        (_command(name="veo!"), "0.name", "APPLICATION_COMMAND_INVALID_NAME"),
        (_command(options=[_option(name="Prompt")]), "0.options.0.name", "APPLICATION_COMMAND_INVALID_NAME"),
        (_command(name_localizations={"vi": "Tạo"}), "0.name_localizations.vi", "APPLICATION_COMMAND_INVALID_NAME"),
        (_command(name_localizations={"xx": "veo"}), "0.name_localizations.xx", "ENUM_TYPE_COERCE"),
        (_command(description=""), "0.description", "BASE_TYPE_BAD_LENGTH"),
    ],
)
async def test_command_names_follow_discords_pattern(api: Api, command: Body, path: str, code: str) -> None:
    route = f"/applications/{api.fake.application_id}/commands"
    status, answer = await api.call("PUT", route, [command])
    assert status == 400 and problem(answer, path) == code


async def test_non_latin_lower_case_names_are_accepted(api: Api) -> None:
    command = _command(
        name="tạo-video_2",
        name_localizations={"ko": "동영상", "vi": "tạo-video", "hi": "वीडियो"},
        options=[_option(name="mô-tả", name_localizations={"ja": "プロンプト"})],
    )
    status, answer = await api.call("PUT", f"/applications/{api.fake.application_id}/commands", [command])
    assert status == 200, answer


async def test_discord_py_sees_the_form_error(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(discord.http.Route, "BASE", api.fake.api_base)
    client = discord.Client(intents=discord.Intents.none())
    await client.login(TOKEN)
    try:
        channel = client.get_partial_messageable(api.channel.id, guild_id=api.channel.guild_id)
        with pytest.raises(discord.HTTPException) as refused:
            await channel.send(embed=discord.Embed(description="x" * 4097))
        assert (refused.value.status, refused.value.code) == (400, 50035)
        assert "In embeds.0.description: Must be 4096 or fewer in length." in str(refused.value)
        sent = await channel.send(embed=discord.Embed(description="x" * 4096))
        assert api.fake.message(sent.id).embeds[0]["description"] == "x" * 4096
    finally:
        await client.close()
