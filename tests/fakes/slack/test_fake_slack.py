"""Self-test of the fake Slack, driven by the real slack_sdk Web client and a real Bolt app over Socket Mode."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from slack_bolt.async_app import AsyncAck, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack.conftest import BoltRig
from tests.fakes.slack.files import LOGIN_PAGE
from tests.fakes.slack.models import ManualClock
from tests.fakes.slack.server import FakeSlack
from tests.fakes.slack.socket_mode import NotAcked

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))

FORM: dict[str, Any] = {
    "type": "modal", "callback_id": "veo_submit", "title": {"type": "plain_text", "text": "Make a video"},
    "submit": {"type": "plain_text", "text": "Generate"},
    "blocks": [
        {"type": "input", "block_id": "prompt", "label": {"type": "plain_text", "text": "Prompt"},
         "element": {"type": "plain_text_input", "action_id": "v", "max_length": 1500}},
        {"type": "input", "block_id": "first", "optional": True, "label": {"type": "plain_text", "text": "First"},
         "element": {"type": "file_input", "action_id": "v", "max_files": 1}},
        {"type": "input", "block_id": "orientation", "label": {"type": "plain_text", "text": "Orientation"},
         "element": {"type": "radio_buttons", "action_id": "v",
                     "initial_option": {"text": {"type": "plain_text", "text": "16:9"}, "value": "16x9"},
                     "options": [{"text": {"type": "plain_text", "text": "16:9"}, "value": "16x9"},
                                 {"text": {"type": "plain_text", "text": "9:16"}, "value": "9x16"}]}},
    ],
}


async def test_slash_command_round_trip_over_socket_mode(slack: FakeSlack, bolt: BoltRig) -> None:
    user = slack.add_user("ana")
    channel = slack.add_channel("general", members=(user,))
    seen: dict[str, Any] = {}

    @bolt.app.command("/veo")
    async def veo(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        seen.update(command)
        await respond(text=f"got {command['text']}")

    interaction = await slack.slash_command("/veo", "a fox", channel=channel, user=user)
    assert interaction.ack.payload is None and interaction.ack.seconds < 1.0
    await slack.wait_for(lambda: slack.ephemerals(user))
    assert seen["team_id"] == slack.team.id and seen["channel_id"] == channel.id and seen["user_id"] == user.id
    assert [e.text for e in slack.ephemerals(user)] == ["got a fox"]
    assert slack.ephemerals(user)[0].via == "response_url"


async def test_unacked_envelope_raises(slack: FakeSlack, bolt: BoltRig) -> None:
    user = slack.add_user("ana")
    channel = slack.add_channel("general", members=(user,))
    with pytest.raises(NotAcked):
        # No listener for /other: Bolt answers 404 and sends no ack.
        await slack.slash_command("/other", "", channel=channel, user=user, timeout=0.3)


async def test_form_errors_and_update_through_response_action(slack: FakeSlack, bolt: BoltRig) -> None:
    user = slack.add_user("ana")
    channel = slack.add_channel("general", members=(user,))

    @bolt.app.command("/veo")
    async def veo(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.views_open(trigger_id=body["trigger_id"], view=FORM)

    @bolt.app.view("veo_submit")
    async def submit(ack: AsyncAck, view: dict[str, Any]) -> None:
        values = view["state"]["values"]
        if values["prompt"]["v"]["value"].strip() == "bad":
            await ack(response_action="errors", errors={"prompt": "Say more"})
            return
        files = values["first"]["v"]["files"]
        working = {"type": "modal", "title": {"type": "plain_text", "text": "Working"},
                   "blocks": [{"type": "section", "text": {"type": "plain_text", "text": f"{len(files)} file"}}]}
        await ack(response_action="update", view=working)

    await slack.slash_command("/veo", "", channel=channel, user=user)
    view = await slack.wait_for(lambda: slack.views(user))
    modal = view[0]
    refused = await slack.submit_view(modal, {"prompt": "bad"})
    assert refused.action == "errors" and refused.errors == {"prompt": "Say more"} and modal.open
    image = slack.add_member_file(user, "first.png", PNG, "image/png")
    accepted = await slack.submit_view(modal, {"prompt": "a fox", "first": [image]})
    assert accepted.action == "update" and modal.view["title"]["text"] == "Working"
    assert modal.view["blocks"][0]["text"]["text"] == "1 file"


async def test_form_refuses_values_slack_would_not_send(slack: FakeSlack, bolt: BoltRig, web: AsyncWebClient) -> None:
    user = slack.add_user("ana")
    trigger = slack.state.issue_trigger(slack.team.id, user.id)
    await web.views_open(trigger_id=trigger, view=FORM)
    modal = slack.views(user)[0]
    with pytest.raises(ValueError, match="required"):
        await slack.submit_view(modal, {"prompt": ""})
    with pytest.raises(ValueError, match="1500"):
        await slack.submit_view(modal, {"prompt": "x" * 1501})
    with pytest.raises(ValueError, match="options"):
        await slack.submit_view(modal, {"prompt": "ok", "orientation": "4x3"})


async def test_metadata_round_trip_through_history(slack: FakeSlack, web: AsyncWebClient) -> None:
    channel = slack.add_channel("general")
    metadata = {"event_type": "veo_job", "event_payload": {"job": 12, "kind": "status", "salt": "s1"}}
    posted = await web.chat_postMessage(channel=channel.id, text="Job 12", metadata=metadata, unfurl_links=False)
    ts = posted["ts"]
    assert ts.count(".") == 1 and len(ts.split(".")[1]) == 6
    plain = await web.conversations_history(channel=channel.id)
    assert plain["messages"][0]["ts"] == ts and "metadata" not in plain["messages"][0]
    rich = await web.conversations_history(channel=channel.id, include_all_metadata=True, limit=10)
    assert rich["messages"][0]["metadata"] == metadata
    assert rich["messages"][0]["bot_id"] == slack.team.bot_id
    assert slack.calls("conversations.history")[1].args["include_all_metadata"] in ("1", "true", "True")


async def test_history_pages_newest_first_with_a_cursor(slack: FakeSlack, web: AsyncWebClient) -> None:
    channel = slack.add_channel("general")
    posted = [(await web.chat_postMessage(channel=channel.id, text=f"m{i}"))["ts"] for i in range(5)]
    assert len(set(posted)) == 5 and posted == sorted(posted)
    seen: list[str] = []
    cursor = None
    while True:
        page = await web.conversations_history(channel=channel.id, limit=2, cursor=cursor, oldest=posted[0])
        seen += [m["ts"] for m in page["messages"]]
        cursor = page["response_metadata"]["next_cursor"]
        if not page["has_more"]:
            break
    assert seen == list(reversed(posted[1:]))


async def test_update_delete_and_the_bots_own_messages(slack: FakeSlack, web: AsyncWebClient) -> None:
    user = slack.add_user("ana")
    channel = slack.add_channel("general", members=(user,))
    posted = await web.chat_postMessage(channel=channel.id, text="queued")
    await web.chat_update(channel=channel.id, ts=posted["ts"], text="running")
    assert slack.message(channel, posted["ts"]).text == "running"
    with pytest.raises(SlackApiError) as bad:
        await web.chat_update(channel=channel.id, ts=posted["ts"], text="half", metadata={"event_type": "x"})
    assert bad.value.response["error"] == "invalid_metadata_format"
    assert slack.message(channel, posted["ts"]).text == "running"
    theirs = slack.post_user_message(channel, user, "hello")
    with pytest.raises(SlackApiError) as refused:
        await web.chat_update(channel=channel.id, ts=theirs.ts, text="hacked")
    assert refused.value.response["error"] == "cant_update_message"
    await web.chat_delete(channel=channel.id, ts=posted["ts"])
    with pytest.raises(SlackApiError) as gone:
        await web.chat_update(channel=channel.id, ts=posted["ts"], text="again")
    assert gone.value.response["error"] == "message_not_found"


async def test_not_in_channel_and_join_rules(slack: FakeSlack, web: AsyncWebClient) -> None:
    public = slack.add_channel("public", bot_member=False)
    private = slack.add_channel("secret", private=True, bot_member=False)
    for channel, error in ((public, "not_in_channel"), (private, "channel_not_found")):
        with pytest.raises(SlackApiError) as refused:
            await web.chat_postMessage(channel=channel.id, text="hi")
        assert refused.value.response["error"] == error
    info = await web.conversations_info(channel=public.id)
    assert info["channel"]["is_member"] is False
    with pytest.raises(SlackApiError) as private_join:
        await web.conversations_join(channel=private.id)
    assert private_join.value.response["error"] == "method_not_supported_for_channel_type"
    await web.conversations_join(channel=public.id)
    assert (await web.chat_postMessage(channel=public.id, text="hi"))["ok"]


async def test_tokens_and_scopes(slack: FakeSlack) -> None:
    slack.team.scopes.discard("users:read")
    user = slack.add_user("ana", locale="ko-KR", is_admin=True)
    app_client = AsyncWebClient(token=slack.app_token, base_url=slack.api_url)
    no_token = AsyncWebClient(base_url=slack.api_url)
    wrong = AsyncWebClient(token="xoxb-nope", base_url=slack.api_url)
    bot = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    try:
        refusals = ((no_token, "not_authed"), (wrong, "invalid_auth"), (app_client, "not_allowed_token_type"))
        for client, error in refusals:
            with pytest.raises(SlackApiError) as refused:
                await client.auth_test()
            assert refused.value.response["error"] == error
        with pytest.raises(SlackApiError) as scope:
            await bot.users_info(user=user.id)
        assert scope.value.response["error"] == "missing_scope" and scope.value.response["needed"] == "users:read"
        assert "users:read" not in scope.value.response.headers["x-oauth-scopes"]
        slack.team.scopes.add("users:read")
        info = await bot.users_info(user=user.id, include_locale=True)
        assert info["user"]["locale"] == "ko-KR" and info["user"]["is_admin"] is True
        assert "locale" not in (await bot.users_info(user=user.id))["user"]
        opened = await app_client.apps_connections_open(app_token=slack.app_token)
        assert opened["url"].startswith(f"ws://127.0.0.1:{slack.port}/link/?ticket=")
    finally:
        for client in (app_client, no_token, wrong, bot):
            if client.session is not None:
                await client.session.close()


async def test_expired_and_reused_triggers() -> None:
    clock = ManualClock()
    async with FakeSlack(clock=clock) as slack:
        user = slack.add_user("ana")
        web = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        late = slack.state.issue_trigger(slack.team.id, user.id)
        clock.advance(3.1)
        with pytest.raises(SlackApiError) as expired:
            await web.views_open(trigger_id=late, view=FORM)
        assert expired.value.response["error"] == "expired_trigger_id"
        fresh = slack.state.issue_trigger(slack.team.id, user.id)
        opened = await web.views_open(trigger_id=fresh, view=FORM)
        with pytest.raises(SlackApiError) as reused:
            await web.views_open(trigger_id=fresh, view=FORM)
        assert reused.value.response["error"] == "exchanged_trigger_id"
        view_id = opened["view"]["id"]
        slack.driver.close_view(slack.views(user)[0])
        with pytest.raises(SlackApiError) as closed:
            await web.views_update(view_id=view_id, view=FORM)
        assert closed.value.response["error"] == "not_found"


async def test_url_private_needs_the_bot_token(slack: FakeSlack) -> None:
    user = slack.add_user("ana")
    image = slack.add_member_file(user, "a.png", PNG, "image/png")
    url = image.as_json(slack.state.base_url)["url_private_download"]
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as anonymous:
            assert anonymous.status == 200 and anonymous.content_type == "text/html"
            assert await anonymous.read() == LOGIN_PAGE
        async with session.get(url, headers={"Authorization": f"Bearer {slack.bot_token}"}) as authorised:
            assert authorised.status == 200 and await authorised.read() == PNG


async def test_block_action_click(slack: FakeSlack, bolt: BoltRig, web: AsyncWebClient) -> None:
    user = slack.add_user("ana")
    channel = slack.add_channel("general", members=(user,))
    clicked: list[dict[str, Any]] = []

    @bolt.app.action("veo_regen")
    async def regen(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        clicked.append(body)

    blocks = [{"type": "actions", "block_id": "veo:12", "elements": [
        {"type": "button", "action_id": "veo_regen", "value": "12", "text": {"type": "plain_text", "text": "Again"}}]}]
    posted = await web.chat_postMessage(channel=channel.id, text="done", blocks=blocks)
    message = slack.message(channel, posted["ts"])
    await slack.click(message, "veo_regen", user=user)
    await slack.wait_for(lambda: clicked)
    assert clicked[0]["actions"][0]["value"] == "12" and clicked[0]["container"]["message_ts"] == posted["ts"]
    with pytest.raises(ValueError):
        await slack.click(message, "veo_delete", user=user)


async def test_bad_blocks_and_metadata_are_refused(slack: FakeSlack, web: AsyncWebClient) -> None:
    channel = slack.add_channel("general")
    with pytest.raises(SlackApiError) as blocks:
        too_long = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
        await web.chat_postMessage(channel=channel.id, text="x", blocks=too_long)
    assert blocks.value.response["error"] == "invalid_blocks"
    with pytest.raises(SlackApiError) as metadata:
        await web.chat_postMessage(channel=channel.id, text="x", metadata={"event_type": "veo_job"})
    assert metadata.value.response["error"] == "invalid_metadata_format"
    with pytest.raises(SlackApiError) as empty:
        await web.chat_postMessage(channel=channel.id, text="")
    assert empty.value.response["error"] == "no_text"
    assert slack.messages(channel) == []


async def test_dropped_after_processing_is_an_ambiguous_send(slack: FakeSlack, web: AsyncWebClient) -> None:
    channel = slack.add_channel("general")
    slack.inject_drop("chat.postMessage", after_processing=True)
    with pytest.raises(aiohttp.ClientError):
        await web.chat_postMessage(channel=channel.id, text="once")
    assert [m.text for m in slack.messages(channel)] == ["once"]


async def test_socket_disconnect_and_drop_reconnect(slack: FakeSlack, bolt: BoltRig) -> None:
    user = slack.add_user("ana")
    channel = slack.add_channel("general", members=(user,))

    @bolt.app.command("/veo")
    async def veo(ack: AsyncAck) -> None:
        await ack()

    await slack.disconnect_socket("refresh_requested")
    await slack.wait_connected(2)
    assert (await slack.slash_command("/veo", "x", channel=channel, user=user)).ack is not None
    slack.drop_socket()
    await slack.wait_connected(3, timeout=5.0)
    assert (await slack.slash_command("/veo", "y", channel=channel, user=user)).ack is not None
    assert len(slack.calls("apps.connections.open")) == 3
    await asyncio.sleep(0)
