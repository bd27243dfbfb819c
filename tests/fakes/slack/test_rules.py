"""More of Slack's rules in the fake: a silent socket, response_url uses, mentions, threads, workspaces, groups."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from slack_bolt.async_app import AsyncAck, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack.conftest import BoltRig
from tests.fakes.slack.mentions import Pings, resolve
from tests.fakes.slack.server import FakeSlack
from tests.fakes.slack.socket_mode import NotAcked


async def test_a_frozen_socket_gets_no_envelopes_and_the_client_notices(slack: FakeSlack, bolt: BoltRig) -> None:
    user = slack.add_user("ana")
    channel = slack.add_channel("general", members=(user,))

    @bolt.app.command("/veo")
    async def veo(ack: AsyncAck) -> None:
        await ack()

    slack.freeze_socket()
    with pytest.raises(NotAcked):
        await slack.slash_command("/veo", "lost", channel=channel, user=user, timeout=0.2)
    # The frozen link answers no pings: the client's heartbeat (0.2 s in the fixture) gives up and reconnects.
    await slack.wait_connected(2, timeout=5.0)
    assert (await slack.slash_command("/veo", "found", channel=channel, user=user)).ack is not None


async def test_response_url_takes_five_uses(slack: FakeSlack, bolt: BoltRig) -> None:
    user = slack.add_user("ana")
    channel = slack.add_channel("general", members=(user,))
    statuses: list[int] = []

    @bolt.app.command("/veo")
    async def veo(ack: AsyncAck, respond: AsyncRespond) -> None:
        await ack()
        for i in range(6):
            statuses.append((await respond(text=f"reply {i}")).status_code)
        statuses.append((await respond(text="loud", response_type="in_channel")).status_code)

    await slack.slash_command("/veo", "", channel=channel, user=user)
    await slack.wait_for(lambda: len(statuses) == 7)
    assert statuses == [200] * 5 + [404, 404]
    assert len(slack.ephemerals(user)) == 5 and slack.messages(channel) == []


async def test_bad_response_url_bodies_are_refused(slack: FakeSlack) -> None:
    user = slack.add_user("ana")
    channel = slack.add_channel("general", members=(user,))
    url = slack.state.issue_response_url(slack.team.id, channel.id, user.id)
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data=b"not json", headers={"Content-Type": "application/json"}) as bad:
            assert bad.status == 400
        async with session.post(url, json={"blocks": [{"type": "nonsense"}]}) as blocks:
            assert blocks.status == 400
        async with session.post(url, json={"text": "in the open", "response_type": "in_channel"}) as good:
            assert good.status == 200
    [message] = slack.messages(channel)
    assert message.text == "in the open" and message.bot_id == slack.team.bot_id


def test_mentions_count_only_where_slack_parses_them() -> None:
    escaped = "a fox &lt;!channel&gt; &lt;@U0ABC&gt; @here\u2060"
    assert not resolve(escaped, [{"type": "section", "text": {"type": "mrkdwn", "text": escaped, "verbatim": True}}
                                 ]).anyone
    plain = [{"type": "section", "text": {"type": "plain_text", "text": "<!channel> <@U0ABC> <!subteam^S0X>"}}]
    assert not resolve(None, plain).anyone
    loud = resolve("<@U0REQ> done <!here|here>",
                   [{"type": "context", "elements": [{"type": "mrkdwn", "text": "<!subteam^S0MODS|@mods> @everyone"}]}])
    assert loud == Pings(frozenset({"U0REQ"}), frozenset({"S0MODS"}), frozenset({"here", "everyone"}))
    assert resolve("@channel", None) == Pings()
    assert resolve("@channel", None, link_names=True).broadcasts == {"channel"}


async def test_posted_messages_record_their_pings(slack: FakeSlack, web: AsyncWebClient) -> None:
    user = slack.add_user("ana")
    channel = slack.add_channel("general", members=(user,))
    await web.chat_postMessage(channel=channel.id, text=f"<@{user.id}> your video")
    await web.chat_postMessage(channel=channel.id, text="hey @here", link_names=True)
    [(_, first), (_, second)] = slack.pings(channel)
    assert first.users == {user.id} and not first.broadcasts
    assert second.broadcasts == {"here"}
    assert slack.pinged(channel) == Pings(frozenset({user.id}), frozenset(), frozenset({"here"}))


async def test_threads_permalinks_and_ephemerals(slack: FakeSlack, web: AsyncWebClient) -> None:
    user, stranger = slack.add_user("ana"), slack.add_user("bo")
    channel = slack.add_channel("general", members=(user,))
    parent = await web.chat_postMessage(channel=channel.id, text="status")
    reply = await web.chat_postMessage(channel=channel.id, text="video", thread_ts=parent["ts"])
    history = await web.conversations_history(channel=channel.id)
    assert [m["ts"] for m in history["messages"]] == [parent["ts"]]
    assert history["messages"][0]["reply_count"] == 1
    thread = await web.conversations_replies(channel=channel.id, ts=parent["ts"])
    assert [m["ts"] for m in thread["messages"]] == [parent["ts"], reply["ts"]]
    with pytest.raises(SlackApiError) as missing:
        await web.chat_postMessage(channel=channel.id, text="x", thread_ts="1.000000")
    assert missing.value.response["error"] == "thread_not_found"
    link = await web.chat_getPermalink(channel=channel.id, message_ts=parent["ts"])
    assert link["permalink"].endswith(f"/archives/{channel.id}/p{parent['ts'].replace('.', '')}")
    await web.chat_postEphemeral(channel=channel.id, user=user.id, text="only you")
    with pytest.raises(SlackApiError) as outsider:
        await web.chat_postEphemeral(channel=channel.id, user=stranger.id, text="x")
    assert outsider.value.response["error"] == "user_not_in_channel"
    assert [e.text for e in slack.ephemerals(user)] == ["only you"]


async def test_workspaces_are_apart_and_groups_need_a_plan(slack: FakeSlack, web: AsyncWebClient) -> None:
    other = slack.add_team("Other")
    theirs = slack.add_channel("theirs", team=other)
    with pytest.raises(SlackApiError) as apart:
        await web.chat_postMessage(channel=theirs.id, text="x")
    assert apart.value.response["error"] == "channel_not_found"
    mod = slack.add_user("mod")
    group = slack.add_usergroup("mods", (mod,))
    assert (await web.usergroups_users_list(usergroup=group.id))["users"] == [mod.id]
    listed = await web.usergroups_list(include_users=True)
    assert listed["usergroups"][0]["users"] == [mod.id]
    slack.team.usergroups_enabled = False
    with pytest.raises(SlackApiError) as plan:
        await web.usergroups_users_list(usergroup=group.id)
    assert plan.value.response["error"] == "plan_upgrade_required"
    dm = await web.conversations_open(users=mod.id)
    posted = await web.chat_postMessage(channel=dm["channel"]["id"], text="ready")
    assert slack.messages(slack.im(mod))[0].ts == posted["ts"]


async def test_view_push_stack_and_hash_conflict(slack: FakeSlack, web: AsyncWebClient) -> None:
    user = slack.add_user("ana")
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Step"},
             "blocks": [{"type": "section", "text": {"type": "plain_text", "text": "hi"}}]}
    opened = await web.views_open(trigger_id=slack.state.issue_trigger(slack.team.id, user.id), view=modal)
    for _ in range(2):
        await web.views_push(trigger_id=slack.state.issue_trigger(slack.team.id, user.id), view=modal)
    with pytest.raises(SlackApiError) as deep:
        await web.views_push(trigger_id=slack.state.issue_trigger(slack.team.id, user.id), view=modal)
    assert deep.value.response["error"] == "push_limit_reached"
    with pytest.raises(SlackApiError) as stale:
        await web.views_update(view_id=opened["view"]["id"], hash="old", view=modal)
    assert stale.value.response["error"] == "hash_conflict"
    with pytest.raises(SlackApiError) as bad:
        await web.views_open(trigger_id=slack.state.issue_trigger(slack.team.id, user.id),
                             view={**modal, "title": {"type": "plain_text", "text": "x" * 25}})
    assert bad.value.response["error"] == "invalid_arguments"


async def test_shortcut_and_a_click_that_replaces_its_message(slack: FakeSlack, bolt: BoltRig,
                                                               web: AsyncWebClient) -> None:
    user = slack.add_user("ana")
    channel = slack.add_channel("general", members=(user,))
    shortcuts: list[dict[str, object]] = []

    @bolt.app.shortcut("veo_from_message")
    async def from_message(ack: AsyncAck, body: dict[str, object]) -> None:
        await ack()
        shortcuts.append(body)

    @bolt.app.action("veo_delete")
    async def delete(ack: AsyncAck, respond: AsyncRespond) -> None:
        await ack()
        await respond(text="Deleted", replace_original=True)

    source = slack.post_user_message(channel, user, "a fox in snow")
    await slack.message_shortcut(source, "veo_from_message", user=user)
    await slack.wait_for(lambda: shortcuts)
    assert shortcuts[0]["type"] == "message_action" and shortcuts[0]["message_ts"] == source.ts
    blocks = [{"type": "actions", "elements": [{"type": "button", "action_id": "veo_delete", "value": "12",
                                                "text": {"type": "plain_text", "text": "Delete"}}]}]
    posted = await web.chat_postMessage(channel=channel.id, text="video", blocks=blocks)
    await slack.click(slack.message(channel, posted["ts"]), "veo_delete", user=user)
    await slack.wait_for(lambda: slack.message(channel, posted["ts"]).text == "Deleted")
    assert slack.message(channel, posted["ts"]).blocks is None


async def test_malformed_requests_get_slacks_errors(slack: FakeSlack) -> None:
    api = slack.api_url
    auth = {"Authorization": f"Bearer {slack.bot_token}"}
    channel = slack.add_channel("general")
    async with aiohttp.ClientSession() as session:
        async def call(method: str, **kwargs: object) -> dict[str, object]:
            kwargs.setdefault("headers", auth)
            async with session.post(api + method, **kwargs) as response:  # type: ignore[arg-type]
                body = await response.json()
                assert isinstance(body, dict)
                return body

        assert (await call("chat.nonsense"))["error"] == "unknown_method"
        bad_json = await call("chat.postMessage", data=b"{nope", headers={**auth, "Content-Type": "application/json"})
        assert bad_json["error"] == "invalid_json"
        assert (await call("chat.postMessage", data={"channel": channel.id, "blocks": "[{"}))["error"] \
            == "invalid_blocks_format"
        assert (await call("chat.postMessage", json={"channel": channel.id, "blocks": {"type": "section"}}))["error"] \
            == "invalid_blocks_format"
        assert (await call("chat.postMessage", json={"channel": channel.id, "text": "x",
                                                     "metadata": ["veo_job"]}))["error"] == "invalid_metadata_format"
        assert (await call("conversations.history", data={"channel": channel.id, "limit": "many"}))["error"] \
            == "invalid_arguments"
        assert (await call("files.completeUploadExternal", data={"files": '[{"title": "no id"}]'}))["error"] \
            == "invalid_arguments"
        form = await call("chat.postMessage", data={"channel": channel.id, "text": "form body", "token": "ignored"})
        assert form["ok"] is True
    assert [m.text for m in slack.messages(channel)] == ["form body"]
    assert "token" not in slack.calls("chat.postMessage")[-1].args


async def test_events_over_socket_mode_and_their_retries(slack: FakeSlack, bolt: BoltRig) -> None:
    seen: list[dict[str, object]] = []

    @bolt.app.event("app_mention")
    async def mention(event: dict[str, object]) -> None:
        seen.append(event)

    ack = await slack.send_event({"type": "app_mention", "user": "U1", "text": "<@bot> hi", "ts": "1.000001",
                                  "channel": "C1"})
    assert ack.payload is None
    await slack.wait_for(lambda: seen)


async def test_unacked_events_come_back_with_retry_attempt(slack: FakeSlack) -> None:
    url = slack.socket.issue_url()
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        hello = await ws.receive_json()
        assert hello["type"] == "hello" and hello["connection_info"]["app_id"] == slack.state.app_id
        with pytest.raises(NotAcked):
            await slack.send_event({"type": "app_mention", "user": "U1", "text": "hi", "ts": "1.000002",
                                    "channel": "C1"}, retries=1, timeout=0.1)
        frames = [await ws.receive_json() for _ in range(2)]
    assert [(f["type"], f["retry_attempt"], f["retry_reason"]) for f in frames] \
        == [("events_api", 0, ""), ("events_api", 1, "timeout")]
    assert frames[0]["payload"]["event_id"] == frames[1]["payload"]["event_id"]
    assert frames[0]["envelope_id"] != frames[1]["envelope_id"]
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await session.ws_connect(url)  # a link URL opens one connection only


@pytest.mark.parametrize("after_processing", [True, False])
async def test_a_held_post_lands_even_when_its_client_is_gone(slack: FakeSlack, web: AsyncWebClient,
                                                              after_processing: bool) -> None:
    channel = slack.add_channel("general")
    fault = slack.inject_hold("chat.postMessage", after_processing=after_processing)
    in_flight = asyncio.create_task(web.chat_postMessage(channel=channel.id, text="status"))
    await slack.wait_for(lambda: fault.holding == 1)
    assert len(slack.messages(channel)) == (1 if after_processing else 0)
    in_flight.cancel()  # the bot process dies with the post in flight
    with pytest.raises(asyncio.CancelledError):
        await in_flight
    fault.release.set()
    await slack.wait_for(lambda: fault.holding == 0 and slack.messages(channel))
    assert [m.text for m in slack.messages(channel)] == ["status"]


async def test_escaped_command_text_names_channels_groups_and_members(slack: FakeSlack, bolt: BoltRig) -> None:
    admin = slack.add_user("boss", is_admin=True)
    channel = slack.add_channel("videos", members=(admin,))
    mods = slack.add_usergroup("mods", (admin,))
    texts: list[str] = []

    @bolt.app.command("/veo-admin")
    async def veo_admin(ack: AsyncAck, command: dict[str, str]) -> None:
        await ack()
        texts.append(command["text"])

    await slack.slash_command("/veo-admin", "channel add #videos moderators add @mods @boss @nobody #nowhere",
                              channel=channel, user=admin, escape=True)
    await slack.wait_for(lambda: texts)
    assert texts == [f"channel add <#{channel.id}|videos> moderators add <!subteam^{mods.id}|@mods> "
                     f"<@{admin.id}|boss> @nobody #nowhere"]
