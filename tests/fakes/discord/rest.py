"""The REST API and attachment CDN as aiohttp routes, with request recording, auth, faults and rate-limit headers."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from aiohttp import BodyPartReader, hdrs, web

from tests.fakes.discord import threads
from tests.fakes.discord.gateway import GatewayServer
from tests.fakes.discord.interactions import InteractionService
from tests.fakes.discord.messages import MessageStore, UploadedFile
from tests.fakes.discord.models import (
    Clock,
    FakeHTTPError,
    FilePart,
    InjectedFault,
    RequestRecord,
)
from tests.fakes.discord.state import DiscordState

API = r"/api/v{version:\d+}"
API_PREFIX = re.compile(r"^/api/v\d+")
FILE_FIELD = re.compile(r"^files\[(\d+)\]$")
GUILDS_PER_RECOMMENDED_SHARD = 1000
NO_AUTH_PREFIXES = ("/interactions/", "/webhooks/")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(slots=True)
class ParsedBody:
    """The JSON body, or `payload_json` plus `files[n]` of a multipart body."""

    json: Any
    files: list[UploadedFile]


BODY_KEY = web.RequestKey("body", ParsedBody)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON answer whose Content-Type is exactly `application/json` (discord.py compares it verbatim)."""
    body = json.dumps(data, separators=(",", ":")).encode()
    return web.Response(status=status, body=body, headers={"Content-Type": "application/json", **(headers or {})})


def snowflake(request: web.Request, key: str) -> int:
    """A snowflake from the URL, or Discord's 404."""
    value = request.match_info[key]
    if not value.isdigit():
        raise FakeHTTPError(404, 0, "404: Not Found")
    return int(value)


def truthy(value: str | None) -> bool:
    """Discord's boolean query parameters (`true`, `1`)."""
    return value is not None and value.lower() in ("1", "true")


async def parse_body(request: web.Request) -> ParsedBody:
    """Read a JSON or multipart/form-data body as Discord accepts them."""
    if not request.can_read_body:
        return ParsedBody(None, [])
    try:
        if request.content_type == "multipart/form-data":
            payload: Any = None
            files: list[UploadedFile] = []
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    continue
                name = part.name or ""
                if name == "payload_json":
                    payload = json.loads(await part.text())
                    continue
                match = FILE_FIELD.match(name)
                index = int(match.group(1)) if match else len(files)
                data = bytes(await part.read())
                files.append(
                    UploadedFile(name, index, part.filename or name, part.headers.get(hdrs.CONTENT_TYPE), data)
                )
            return ParsedBody(payload, files)
        raw = await request.read()
        if raw and request.content_type == "application/json":
            return ParsedBody(json.loads(raw), [])
    except ValueError:
        raise FakeHTTPError(400, 50109, "The request body contains invalid JSON.") from None
    return ParsedBody(None, [])


class RestApi:
    """Routes for the fake; every request is recorded in `requests` before faults, auth and handling."""

    def __init__(
        self,
        state: DiscordState,
        messages: MessageStore,
        interactions: InteractionService,
        gateway: GatewayServer,
        *,
        token: str,
        clock: Clock,
        ratelimit_limit: int,
        record_requests: bool = True,
    ) -> None:
        self.state = state
        self.messages = messages
        self.interactions = interactions
        self.gateway = gateway
        self.token = token
        self.clock = clock
        self.ratelimit_limit = ratelimit_limit
        self.record_requests = record_requests
        self.requests: list[RequestRecord] = []
        self.faults: list[InjectedFault] = []
        self._buckets: dict[str, str] = {}

    def build_app(self, client_max_size: int) -> web.Application:
        """The aiohttp application (uploads up to `client_max_size` bytes reach the handlers)."""
        app = web.Application(client_max_size=client_max_size, middlewares=[self._middleware])
        add = app.router.add_route
        add("GET", API + "/users/@me", self._me)
        add("POST", API + "/users/@me/channels", self._open_dm)
        add("GET", API + "/oauth2/applications/@me", self._application)
        add("GET", API + "/applications/@me", self._application)
        add("GET", API + "/gateway", self._gateway)
        add("GET", API + "/gateway/bot", self._gateway_bot)
        for path in ("/applications/{app_id}/commands", "/applications/{app_id}/guilds/{guild_id}/commands"):
            add("GET", API + path, self._get_commands)
            add("PUT", API + path, self._put_commands)
        add("POST", API + "/interactions/{interaction_id}/{token}/callback", self._callback)
        add("POST", API + "/webhooks/{app_id}/{token}", self._execute_webhook)
        for method in ("GET", "PATCH", "DELETE"):
            add(method, API + "/webhooks/{app_id}/{token}/messages/{message_id}", self._webhook_message)
        add("GET", API + "/guilds/{guild_id}", self._guild)
        add("GET", API + "/guilds/{guild_id}/members/{user_id}", self._member)
        add("GET", API + "/users/{user_id}", self._user)
        add("GET", API + "/channels/{channel_id}", self._channel)
        add("POST", API + "/channels/{channel_id}/typing", self._typing)
        add("GET", API + "/channels/{channel_id}/messages", self._history)
        add("POST", API + "/channels/{channel_id}/messages", self._post_message)
        for method in ("GET", "PATCH", "DELETE"):
            add(method, API + "/channels/{channel_id}/messages/{message_id}", self._channel_message)
        add("POST", API + "/channels/{channel_id}/messages/{message_id}/threads", self._start_thread)
        add("GET", "/cdn/attachments/{channel_id}/{attachment_id}/{filename}", self._cdn)
        add("GET", "/gateway", self.gateway.handle)
        return app

    # ----- middleware: record, inject, authenticate, map errors -----

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == "/gateway":
            return await handler(request)
        path = API_PREFIX.sub("", request.path)
        record = RequestRecord(request.method, path, dict(request.query), None, (), self.clock())
        if self.record_requests:
            self.requests.append(record)
        fault: InjectedFault | None = None
        try:
            body = await parse_body(request)
            record.json = body.json
            record.files = tuple(
                FilePart(f.field, f.filename, f.content_type, len(f.data), hashlib.sha256(f.data).hexdigest())
                for f in body.files
            )
            request[BODY_KEY] = body
            fault = self._take_fault(request.method, path)
            if fault is not None and fault.drop == "before":
                self._drop(request, record)
            if fault is not None and fault.drop is None:
                response: web.StreamResponse = self._fault_response(request, fault)
            else:
                self._authenticate(request, path)
                response = await self._handle(request, handler)
        except FakeHTTPError as error:
            response = json_response(error.body(), error.status, {**self._ratelimit_headers(request), **error.headers})
        if fault is not None and fault.drop == "after":
            self._drop(request, record)
        record.status = response.status
        return response

    async def _handle(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as error:
            # aiohttp's own 404/405 for unknown routes, in Discord's envelope.
            text = "404: Not Found" if error.status == 404 else f"{error.status}: {error.reason}"
            response = json_response({"message": text, "code": 0}, error.status)
        if request.path.startswith("/api/"):
            response.headers.update(self._ratelimit_headers(request))
        return response

    def _authenticate(self, request: web.Request, path: str) -> None:
        if not request.path.startswith("/api/") or path.startswith(NO_AUTH_PREFIXES):
            return
        if request.headers.get(hdrs.AUTHORIZATION) != f"Bot {self.token}":
            raise FakeHTTPError(401, 0, "401: Unauthorized")

    def _take_fault(self, method: str, path: str) -> InjectedFault | None:
        for fault in self.faults:
            if fault.matches(method, path):
                fault.times -= 1
                fault.hits += 1
                return fault
        return None

    def _fault_response(self, request: web.Request, fault: InjectedFault) -> web.Response:
        if fault.status != 429:
            error = FakeHTTPError(fault.status, fault.code, fault.message)
            return json_response(error.body(), fault.status, self._ratelimit_headers(request))
        retry_after = 0.05 if fault.retry_after is None else fault.retry_after
        body: dict[str, Any] = {"message": fault.message, "retry_after": retry_after, "global": False}
        if fault.code:
            body["code"] = fault.code
        headers = {
            **self._ratelimit_headers(request),
            "Via": "1.1 google",
            "Retry-After": str(math.ceil(retry_after)),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}",
            "X-RateLimit-Scope": "user",
        }
        return json_response(body, 429, headers)

    def _drop(self, request: web.Request, record: RequestRecord) -> NoReturn:
        """Cut the TCP connection without an answer: the client sees ServerDisconnectedError."""
        record.status = 0
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError

    def _ratelimit_headers(self, request: web.Request) -> dict[str, str]:
        """Generous per-route headers (never exhausted) so discord.py can run requests concurrently."""
        resource = request.match_info.route.resource
        template = f"{request.method} {resource.canonical if resource is not None else request.path}"
        bucket = self._buckets.get(template)
        if bucket is None:
            bucket = self._buckets[template] = hashlib.sha256(template.encode()).hexdigest()[:32]
        return {
            "X-RateLimit-Bucket": bucket,
            "X-RateLimit-Limit": str(self.ratelimit_limit),
            "X-RateLimit-Remaining": str(self.ratelimit_limit - 1),
            "X-RateLimit-Reset": f"{time.time() + 1.0:.3f}",
            "X-RateLimit-Reset-After": "1.000",
        }

    # ----- handlers -----

    @staticmethod
    def _body(request: web.Request) -> ParsedBody:
        return request[BODY_KEY]

    async def _me(self, request: web.Request) -> web.Response:
        return json_response(self.state.me_payload())

    async def _open_dm(self, request: web.Request) -> web.Response:
        body = self._body(request).json
        recipient = body.get("recipient_id") if isinstance(body, dict) else None
        return json_response(self.state.open_dm(recipient).payload())

    async def _application(self, request: web.Request) -> web.Response:
        return json_response(self.state.application_payload())

    async def _gateway(self, request: web.Request) -> web.Response:
        return json_response({"url": self.gateway.url})

    async def _gateway_bot(self, request: web.Request) -> web.Response:
        limit = {"total": 1000, "remaining": 1000 - self.gateway.identify_count, "reset_after": 86_400_000,
                 "max_concurrency": self.gateway.max_concurrency}
        # Discord recommends a shard per 1,000 guilds (its hard limit is 2,500 per shard).
        shards = max(1, math.ceil(len(self.state.guilds) / GUILDS_PER_RECOMMENDED_SHARD))
        return json_response({"url": self.gateway.url, "shards": shards, "session_start_limit": limit})

    def _command_scope(self, request: web.Request) -> int | None:
        if snowflake(request, "app_id") != self.state.application_id:
            raise FakeHTTPError(403, 50001, "Missing Access")
        return snowflake(request, "guild_id") if "guild_id" in request.match_info else None

    async def _get_commands(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        if scope is not None:
            self.state.guild(scope)
        return json_response(self.state.commands.get(scope, []))

    async def _put_commands(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        return json_response(self.state.put_commands(scope, self._body(request).json))

    async def _callback(self, request: web.Request) -> web.Response:
        body = self._body(request)
        result = self.interactions.callback(
            snowflake(request, "interaction_id"), request.match_info["token"], body.json, body.files
        )
        if not truthy(request.query.get("with_response")):
            return web.Response(status=204)
        return json_response(result)

    async def _execute_webhook(self, request: web.Request) -> web.Response:
        body = self._body(request)
        message = self.interactions.execute(
            snowflake(request, "app_id"), request.match_info["token"], body.json, body.files
        )
        if not truthy(request.query.get("wait")):
            return web.Response(status=204)
        return json_response(self.messages.payload(message))

    async def _webhook_message(self, request: web.Request) -> web.Response:
        app_id, token = snowflake(request, "app_id"), request.match_info["token"]
        ref = request.match_info["message_id"]
        if request.method == "DELETE":
            self.interactions.delete(app_id, token, ref)
            return web.Response(status=204)
        if request.method == "PATCH":
            body = self._body(request)
            message = self.interactions.edit(app_id, token, ref, body.json, body.files)
        else:
            message = self.interactions.find(app_id, token, ref)[1]
        return json_response(self.messages.payload(message))

    async def _guild(self, request: web.Request) -> web.Response:
        return json_response(self.state.guild_payload(self.state.guild(snowflake(request, "guild_id"))))

    async def _member(self, request: web.Request) -> web.Response:
        # Needs no members intent: only the bot's membership of the guild (it is in every fake guild).
        member = self.state.member(snowflake(request, "guild_id"), snowflake(request, "user_id"))
        return json_response(member.payload())

    async def _user(self, request: web.Request) -> web.Response:
        return json_response(self.state.user(snowflake(request, "user_id")).payload())

    async def _channel(self, request: web.Request) -> web.Response:
        return json_response(self.state.channel(snowflake(request, "channel_id")).payload())

    async def _typing(self, request: web.Request) -> web.Response:
        self.state.channel(snowflake(request, "channel_id"))
        return web.Response(status=204)

    async def _history(self, request: web.Request) -> web.Response:
        query = request.query

        def anchor(key: str) -> int | None:
            value = query.get(key)
            return int(value) if value is not None and value.isdigit() else None

        limit = int(query["limit"]) if query.get("limit", "").isdigit() else 50
        found = self.messages.history(
            snowflake(request, "channel_id"),
            limit=limit,
            before=anchor("before"),
            after=anchor("after"),
            around=anchor("around"),
        )
        return json_response([self.messages.payload(m) for m in found])

    async def _post_message(self, request: web.Request) -> web.Response:
        body = self._body(request)
        payload = body.json if isinstance(body.json, dict) else {}
        message, _created = self.messages.post(snowflake(request, "channel_id"), payload, body.files)
        return json_response(self.messages.payload(message, include_nonce=True))

    async def _channel_message(self, request: web.Request) -> web.Response:
        channel_id, message_id = snowflake(request, "channel_id"), snowflake(request, "message_id")
        if request.method == "DELETE":
            self.messages.delete_in_channel(channel_id, message_id)
            return web.Response(status=204)
        if request.method == "PATCH":
            body = self._body(request)
            payload = body.json if isinstance(body.json, dict) else {}
            message = self.messages.edit_own(channel_id, message_id, payload, body.files)
        else:
            message = self.messages.visible(channel_id, message_id)
        return json_response(self.messages.payload(message))

    async def _start_thread(self, request: web.Request) -> web.Response:
        thread = threads.start_from_message(self.state, self.messages, snowflake(request, "channel_id"),
                                            snowflake(request, "message_id"), self._body(request).json)
        return json_response(thread.payload(), 201)

    async def _cdn(self, request: web.Request) -> web.Response:
        attachment = self.state.cdn.get(snowflake(request, "attachment_id"))
        if (
            attachment is None
            or attachment.removed
            or str(attachment.channel_id) != request.match_info["channel_id"]
            or attachment.filename != request.match_info["filename"]
        ):
            return web.Response(status=404, text="Not Found")
        content_type = attachment.content_type or "application/octet-stream"
        return web.Response(body=attachment.data, headers={"Content-Type": content_type})
