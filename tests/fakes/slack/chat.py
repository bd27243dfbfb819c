"""`chat.*` methods: post, update, delete, ephemeral posts and permalinks, with Slack's checks."""

from __future__ import annotations

from typing import Any

from tests.fakes.slack.blocks import check_blocks
from tests.fakes.slack.models import SlackError
from tests.fakes.slack.records import EphemeralMessage, FakeMessage
from tests.fakes.slack.web_api import Call, Method

TEXT_LIMIT = 40_000


def message_content(call: Call, *, required: bool = True) -> tuple[str | None, list[dict[str, Any]] | None]:
    """The `text` and checked `blocks` of a post or an update (`no_text` when both are missing)."""
    text = call.text("text")
    raw = call.structured("blocks", "invalid_blocks_format")
    blocks = check_blocks(raw) if raw is not None else None
    if required and not text and not blocks and call.structured("attachments", "invalid_attachments") is None:
        raise SlackError("no_text")
    if text is not None and len(text) > TEXT_LIMIT:
        raise SlackError("msg_too_long")
    return text, blocks


def message_metadata(call: Call) -> dict[str, Any] | None:
    """The `metadata` argument: an event_type and an event_payload object."""
    metadata = call.structured("metadata", "invalid_metadata_format")
    if metadata is None:
        return None
    if not isinstance(metadata, dict) or not isinstance(metadata.get("event_type"), str) \
            or not isinstance(metadata.get("event_payload"), dict):
        raise SlackError("invalid_metadata_format")
    return {"event_type": metadata["event_type"], "event_payload": metadata["event_payload"]}


def post_message(call: Call) -> dict[str, Any]:
    """chat.postMessage: a new message by the bot; `ts` unique in its channel."""
    call.need("chat:write")
    state, team = call.state, call.team
    channel = state.postable_channel(team, call.text("channel", required=True, error="channel_not_found"))
    text, blocks = message_content(call)
    metadata = message_metadata(call)
    thread_ts = call.text("thread_ts")
    if thread_ts is not None:
        try:
            parent = state.find_message(channel.id, thread_ts)
        except SlackError:
            raise SlackError("thread_not_found") from None
        thread_ts = parent.thread_ts or parent.ts
        parent.thread_ts = thread_ts
    message = state.add_message(FakeMessage(
        channel.id, state.next_ts(channel.id), text or "", user=team.bot_user_id, bot_id=team.bot_id,
        app_id=state.app_id, blocks=blocks, metadata=metadata, thread_ts=thread_ts,
        reply_broadcast=call.flag("reply_broadcast"),
        unfurl_links=call.flag("unfurl_links") if "unfurl_links" in call.args else None,
        unfurl_media=call.flag("unfurl_media") if "unfurl_media" in call.args else None,
        link_names=call.flag("link_names") or call.text("parse") == "full",
    ))
    return {"channel": channel.id, "ts": message.ts, "message": message.as_json(include_metadata=True)}


def _own_message(call: Call, channel_id: str | None, ts: str | None, refusal: str) -> FakeMessage:
    state = call.state
    channel = state.visible_channel(call.team, channel_id)
    if ts is None:
        raise SlackError("message_not_found")
    message = state.find_message(channel.id, ts)
    if message.bot_id != call.team.bot_id:
        raise SlackError(refusal)
    return message


def update(call: Call) -> dict[str, Any]:
    """chat.update: edit one of the bot's own messages (text, blocks, metadata)."""
    call.need("chat:write")
    message = _own_message(call, call.text("channel", required=True, error="channel_not_found"),
                           call.text("ts", required=True, error="message_not_found"), "cant_update_message")
    text, blocks = message_content(call, required=False)
    if text is None and blocks is None and "metadata" not in call.args and "file_ids" not in call.args:
        raise SlackError("no_text")
    metadata = message_metadata(call)
    if text is not None:
        message.text = text
    if blocks is not None:
        message.blocks = blocks
    if metadata is not None:
        message.metadata = metadata
    message.edited = True
    return {"channel": message.channel, "ts": message.ts, "text": message.text,
            "message": message.as_json(include_metadata=True)}


def delete(call: Call) -> dict[str, Any]:
    """chat.delete: remove one of the bot's own messages."""
    call.need("chat:write")
    message = _own_message(call, call.text("channel", required=True, error="channel_not_found"),
                           call.text("ts", required=True, error="message_not_found"), "cant_delete_message")
    message.deleted = True
    return {"channel": message.channel, "ts": message.ts}


def post_ephemeral(call: Call) -> dict[str, Any]:
    """chat.postEphemeral: a message one member of the channel sees."""
    call.need("chat:write")
    state, team = call.state, call.team
    channel = state.postable_channel(team, call.text("channel", required=True, error="channel_not_found"))
    user = state.user(team, call.text("user", required=True, error="user_not_found"))
    if user.id not in channel.members:
        raise SlackError("user_not_in_channel")
    text, blocks = message_content(call)
    ts = state.next_ts(channel.id)
    state.ephemerals.append(EphemeralMessage(channel.id, user.id, text or "", blocks, ts, "chat.postEphemeral"))
    return {"message_ts": ts}


def get_permalink(call: Call) -> dict[str, Any]:
    """chat.getPermalink: the message's link in the workspace's domain."""
    state, team = call.state, call.team
    channel = state.visible_channel(team, call.text("channel", required=True, error="channel_not_found"))
    message = state.find_message(channel.id, call.text("message_ts", required=True, error="message_not_found"))
    link = f"https://{team.domain}.slack.com/archives/{channel.id}/p{message.ts.replace('.', '')}"
    if message.thread_ts and message.thread_ts != message.ts:
        link += f"?thread_ts={message.thread_ts}&cid={channel.id}"
    return {"channel": channel.id, "permalink": link}


METHODS = {
    "chat.postMessage": Method(post_message),
    "chat.update": Method(update),
    "chat.delete": Method(delete),
    "chat.postEphemeral": Method(post_ephemeral),
    "chat.getPermalink": Method(get_permalink),
}
