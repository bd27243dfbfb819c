"""HTTP mode: Slack's requests (commands, interactions, events) at ``/slack/events`` on the bot's own HTTP
server, handed to Bolt, whose middleware checks each request's signature (``X-Slack-Signature`` over the
body with ``SLACK_SIGNING_SECRET``, at most 5 minutes old) and answers a bad one with 401."""

from __future__ import annotations

import logging

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.app.async_app import AsyncApp

from bot.ops.http_server import HttpServer

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
# Slack sends small JSON or form bodies; a file never comes this way (only its id and URLs).
MAX_BODY_BYTES = 1024 * 1024


class HttpEndpoint:
    """The route on the bot's HTTP server that feeds Slack's requests to the Bolt app."""

    def __init__(self, app: AsyncApp, server: HttpServer, path: str = EVENTS_PATH) -> None:
        self.app = app
        self.path = path
        self.requests = 0
        server.add_post(path, self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        """One request from Slack: Bolt verifies it, acknowledges it and runs its listener."""
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY_BYTES, actual_size=request.content_length)
        self.requests += 1
        bolt_response = await self.app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(bolt_response)
