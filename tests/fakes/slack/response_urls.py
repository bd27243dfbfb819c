"""response_url posts: ephemeral or in-channel replies, replace/delete of the original; 5 uses in 30 minutes."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from tests.fakes.slack.blocks import check_blocks
from tests.fakes.slack.models import SlackError
from tests.fakes.slack.records import EphemeralMessage, FakeMessage
from tests.fakes.slack.state import SlackState

MAX_USES = 5
LIFETIME = 30 * 60.0


def _error(status: int, error: str) -> web.Response:
    return web.json_response({"ok": False, "error": error}, status=status)


async def _body(request: web.Request) -> dict[str, Any] | None:
    try:
        if request.content_type == "application/json":
            body = await request.json()
        else:
            body = json.loads(str((await request.post()).get("payload", "")))
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


class ResponseUrls:
    """Answers POSTs to the response URLs the driver handed out."""

    def __init__(self, state: SlackState) -> None:
        self.state = state

    async def handle(self, request: web.Request) -> web.Response:
        """POST /response/{id}."""
        state = self.state
        record = state.response_urls.get(request.match_info["url_id"])
        if record is None:
            return _error(404, "no_such_url")
        body = await _body(request)
        if body is None:
            return _error(400, "invalid_payload")
        record.posts.append(body)
        if record.uses >= MAX_USES:
            return _error(404, "used_url")
        if state.clock() - record.issued > LIFETIME:
            return _error(404, "expired_url")
        record.uses += 1
        try:
            blocks = check_blocks(body["blocks"]) if body.get("blocks") is not None else None
        except SlackError as error:
            return _error(400, error.error)
        text = body.get("text")
        if not isinstance(text, str | None):
            return _error(400, "invalid_payload")
        try:
            if body.get("delete_original"):
                self._original(record.channel, record.message_ts).deleted = True
                return web.json_response({"ok": True})
            if not text and not blocks:
                return _error(400, "no_text")
            if body.get("replace_original") and record.message_ts is not None:
                original = self._original(record.channel, record.message_ts)
                original.text, original.blocks, original.edited = text or "", blocks, True
                return web.json_response({"ok": True})
        except SlackError as error:
            return _error(404, error.error)
        # A command's response_url has no original to replace: the reply is posted as a new one instead.
        if body.get("response_type") == "in_channel":
            team = state.teams[record.team_id]
            state.add_message(FakeMessage(record.channel, state.next_ts(record.channel), text or "",
                                          user=team.bot_user_id, bot_id=team.bot_id, app_id=state.app_id,
                                          blocks=blocks, thread_ts=body.get("thread_ts")))
        else:
            state.ephemerals.append(EphemeralMessage(record.channel, record.user, text or "", blocks,
                                                     state.next_ts(record.channel), "response_url"))
        return web.json_response({"ok": True})

    def _original(self, channel: str, message_ts: str | None) -> FakeMessage:
        if message_ts is None:
            raise SlackError("message_not_found")
        return self.state.find_message(channel, message_ts)
