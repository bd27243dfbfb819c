"""`conversations.*` methods: history and replies (paged, metadata on request), info, join and open."""

from __future__ import annotations

import base64
from typing import Any

from tests.fakes.slack.models import IM, PUBLIC, SlackError, ts_micros
from tests.fakes.slack.records import FakeMessage
from tests.fakes.slack.web_api import Call, Method

DEFAULT_LIMIT = 100
MAX_LIMIT = 999


def _bound(call: Call, name: str, default: float) -> float:
    value = call.text(name)
    if value is None:
        return default
    try:
        return float(value)
    except ValueError:
        raise SlackError("invalid_ts_" + name) from None


def _in_window(call: Call, messages: list[FakeMessage]) -> list[FakeMessage]:
    oldest, latest = _bound(call, "oldest", 0.0), _bound(call, "latest", float("inf"))
    inclusive = call.flag("inclusive")
    kept = []
    for message in messages:
        t = float(message.ts)
        if (oldest < t < latest) or (inclusive and t in (oldest, latest)):
            kept.append(message)
    return kept


def _cursor_ts(call: Call) -> int | None:
    cursor = call.text("cursor")
    if cursor is None:
        return None
    try:
        marker = base64.b64decode(cursor.encode(), validate=True).decode()
    except ValueError:
        raise SlackError("invalid_cursor") from None
    kind, _, ts = marker.partition(":")
    micros = ts_micros(ts)
    if kind != "next_ts" or micros is None:
        raise SlackError("invalid_cursor")
    return micros


def _page(call: Call, messages: list[FakeMessage], *, newest_first: bool,
          replies_of: dict[str, list[FakeMessage]]) -> dict[str, Any]:
    limit = min(max(call.integer("limit", DEFAULT_LIMIT), 1), MAX_LIMIT)
    after = _cursor_ts(call)
    ordered = sorted(messages, key=lambda m: ts_micros(m.ts) or 0, reverse=newest_first)
    if after is not None:
        ordered = [m for m in ordered if ((ts_micros(m.ts) or 0) < after if newest_first
                                          else (ts_micros(m.ts) or 0) > after)]
    page, more = ordered[:limit], len(ordered) > limit
    include = call.flag("include_all_metadata")
    body: dict[str, Any] = {
        "messages": [m.as_json(include_metadata=include, replies=replies_of.get(m.ts)) for m in page],
        "has_more": more,
        "response_metadata": {"next_cursor": base64.b64encode(f"next_ts:{page[-1].ts}".encode()).decode()
                              if more else ""},
    }
    return body


def _readable(call: Call) -> Any:
    channel = call.state.visible_channel(call.team, call.text("channel", required=True, error="channel_not_found"))
    call.need_for(channel, "history")
    if call.team.bot_user_id not in channel.members:
        raise SlackError("not_in_channel")
    return channel


def history(call: Call) -> dict[str, Any]:
    """conversations.history: the channel's top-level messages, newest first."""
    channel = _readable(call)
    state = call.state
    live = state.live_messages(channel.id)
    top = [m for m in live if m.thread_ts in (None, m.ts) or m.reply_broadcast]
    replies = {m.ts: state.replies(channel.id, m.ts) for m in top if m.thread_ts == m.ts}
    body = _page(call, _in_window(call, top), newest_first=True, replies_of=replies)
    body.update({"pin_count": 0, "channel_actions_ts": None, "channel_actions_count": 0})
    return body


def replies(call: Call) -> dict[str, Any]:
    """conversations.replies: a thread's parent and its replies, oldest first."""
    channel = _readable(call)
    ts = call.text("ts", required=True, error="thread_not_found")
    try:
        parent = call.state.find_message(channel.id, ts)
    except SlackError:
        raise SlackError("thread_not_found") from None
    thread_ts = parent.thread_ts or parent.ts
    thread = call.state.replies(channel.id, thread_ts)
    root = parent if parent.ts == thread_ts else call.state.find_message(channel.id, thread_ts)
    return _page(call, _in_window(call, [root, *thread]), newest_first=False, replies_of={root.ts: thread})


def info(call: Call) -> dict[str, Any]:
    """conversations.info: the conversation, with `is_member` for the bot."""
    channel = call.state.visible_channel(call.team, call.text("channel", required=True, error="channel_not_found"))
    call.need_for(channel, "read")
    return {"channel": channel.as_json(call.team.bot_user_id)}


def join(call: Call) -> dict[str, Any]:
    """conversations.join: the bot joins a public channel (private ones and IMs cannot be joined)."""
    call.need("channels:join")
    channel = call.state.channels.get(str(call.text("channel", required=True, error="channel_not_found")))
    if channel is None or channel.team_id != call.team.id:
        raise SlackError("channel_not_found")
    if channel.kind != PUBLIC:
        raise SlackError("method_not_supported_for_channel_type")
    if channel.archived:
        raise SlackError("is_archived")
    body: dict[str, Any] = {}
    if call.team.bot_user_id in channel.members:
        body = {"warning": "already_in_channel",
                "response_metadata": {"warnings": ["already_in_channel"]}}
    channel.members.add(call.team.bot_user_id)
    return {"channel": channel.as_json(call.team.bot_user_id), **body}


def open_im(call: Call) -> dict[str, Any]:
    """conversations.open: the bot's IM with one member."""
    call.need("im:write")
    users = (call.text("users") or "").split(",")
    if not users or not users[0]:
        if call.text("channel") is None:
            raise SlackError("users_list_not_supplied")
        channel = call.state.member_channel(call.team, call.text("channel"))
        return {"channel": {"id": channel.id}}
    if len(users) > 1:
        # Group DMs are outside what the fake models.
        raise SlackError("method_not_supported_for_channel_type")
    user = call.state.user(call.team, users[0].strip())
    existed = any(c.kind == IM and c.im_user == user.id and c.team_id == call.team.id
                  for c in call.state.channels.values())
    channel = call.state.im_with(call.team, user.id)
    body: dict[str, Any] = {"channel": channel.as_json(call.team.bot_user_id) if call.flag("return_im")
                            else {"id": channel.id}}
    if existed:
        body.update({"no_op": True, "already_open": True})
    return body


METHODS = {
    "conversations.history": Method(history),
    "conversations.replies": Method(replies),
    "conversations.info": Method(info),
    "conversations.join": Method(join),
    "conversations.open": Method(open_im),
}
