"""The Web API route `GET|POST /api/<method>`: arguments, tokens, scopes, faults, the call log and dispatch."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

from aiohttp import hdrs, web

from tests.fakes.slack.models import (
    APP_TOKEN_SCOPES,
    SCOPE_PREFIX,
    CallRecord,
    FakeChannel,
    FakeTeam,
    Fault,
    SlackError,
    missing_field,
)
from tests.fakes.slack.state import SlackState

BOT = "bot"
APP = "app"


@dataclass
class Call:
    """One Web API call being answered: its arguments, the caller's workspace and the scopes it needed."""

    method: str
    args: dict[str, Any]
    token_kind: str
    team_or_none: FakeTeam | None
    state: SlackState
    needed: list[str] = field(default_factory=list)

    @property
    def team(self) -> FakeTeam:
        """The caller's workspace (bot-token methods only)."""
        assert self.team_or_none is not None
        return self.team_or_none

    def need(self, scope: str) -> None:
        """Refuse with `missing_scope` unless the token was granted `scope`."""
        self.needed.append(scope)
        if scope not in self.team.scopes:
            raise SlackError("missing_scope", needed=scope, provided=",".join(sorted(self.team.scopes)))

    def need_for(self, channel: FakeChannel, suffix: str) -> None:
        """The per-conversation-type scope (`channels:history`, `groups:read`, ...)."""
        self.need(f"{SCOPE_PREFIX[channel.kind]}:{suffix}")

    def text(self, name: str, *, required: bool = False, error: str | None = None) -> str | None:
        """A text argument (None when absent; `error` or invalid_arguments when required and absent)."""
        value = self.args.get(name)
        if value is None or value == "":
            if required:
                raise SlackError(error) if error else missing_field(name)
            return None
        return value if isinstance(value, str) else json.dumps(value) if isinstance(value, dict | list) \
            else str(value)

    def flag(self, name: str) -> bool:
        """A boolean argument as Slack reads one (true, 1)."""
        value = self.args.get(name)
        return value is True or (isinstance(value, str) and value.lower() in ("true", "1")) or value == 1

    def integer(self, name: str, default: int) -> int:
        """An integer argument (invalid_arguments when it is not one)."""
        value = self.args.get(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise SlackError("invalid_arguments",
                             response_metadata={"messages": [f"[ERROR] {name} must be an integer"]}) from None

    def structured(self, name: str, error: str) -> Any | None:
        """A JSON argument: a list/dict in a JSON body, or JSON text in a form or query (`error` if malformed)."""
        value = self.args.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise SlackError(error) from None
        return value


Handler = Callable[[Call], dict[str, Any] | Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Method:
    """A Web API method the fake answers, and the kind of token it takes."""

    handler: Handler
    token: str = BOT


class WebApi:
    """Answers `/api/<method>` from a table of methods; records every call; applies injected faults."""

    def __init__(self, state: SlackState, methods: dict[str, Method], *,
                 limiter: Callable[[Call], None] | None = None) -> None:
        self.state = state
        self.methods = methods
        self.limiter = limiter
        self.calls: list[CallRecord] = []
        self.faults: list[Fault] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The aiohttp handler of `/api/{method}`."""
        method = request.match_info["method"]
        try:
            args = await read_args(request)
        except SlackError as error:
            return web.json_response(error.body(), status=error.status)
        token = bearer(request) or args.pop("token", None)
        args.pop("token", None)
        record = CallRecord(method, request.method, dict(args), None, None, self.state.clock())
        self.calls.append(record)
        call: Call | None = None
        try:
            call = self._authenticate(method, token, args)
            record.token_kind = call.token_kind
            record.team_id = call.team_or_none.id if call.team_or_none is not None else None
            fault = self._take_fault(method)
            if fault is not None and fault.drop == "before":
                self._drop(request, record)
            if fault is not None and fault.hold == "before":
                await self._wait(fault)
            elif fault is not None and fault.drop is None and fault.hold is None:
                raise self._fault_error(fault)
            if self.limiter is not None:
                self.limiter(call)
            try:
                result = self.methods[method].handler(call)
                body = await result if asyncio.iscoroutine(result) else result
            except (TypeError, ValueError, KeyError, AttributeError) as error:
                # An argument of a shape the method cannot use (a list where an object belongs, ...).
                raise SlackError("invalid_arguments", response_metadata={"messages": [f"[ERROR] {error!r}"]}) \
                    from error
            assert isinstance(body, dict)
            response = web.json_response({"ok": True, **body}, headers=self._scope_headers(call))
            record.ok = True
            if fault is not None and fault.hold == "after":
                await self._wait(fault)
            if fault is not None and fault.drop == "after":
                self._drop(request, record)
            return response
        except SlackError as error:
            record.ok, record.error, record.status = False, error.error, error.status
            headers = {**self._scope_headers(call), **error.headers}
            return web.json_response(error.body(), status=error.status, headers=headers)

    def _authenticate(self, method: str, token: str | None, args: dict[str, Any]) -> Call:
        if method not in self.methods:
            raise SlackError("unknown_method")
        if not token:
            raise SlackError("not_authed")
        spec = self.methods[method]
        if token == self.state.app_token:
            kind, team = APP, None
        else:
            team = self.state.team_by_token(token)
            kind = BOT
            if team is None:
                raise SlackError("invalid_auth")
        if kind != spec.token:
            raise SlackError("not_allowed_token_type")
        return Call(method, args, kind, team, self.state)

    def _scope_headers(self, call: Call | None) -> dict[str, str]:
        if call is None:
            return {}
        scopes = APP_TOKEN_SCOPES if call.team_or_none is None else call.team.scopes
        return {"x-oauth-scopes": ",".join(sorted(scopes)), "x-accepted-oauth-scopes": ",".join(call.needed)}

    def _take_fault(self, method: str) -> Fault | None:
        for fault in self.faults:
            if fault.matches(method):
                fault.times -= 1
                fault.hits += 1
                return fault
        return None

    @staticmethod
    async def _wait(fault: Fault) -> None:
        # The server goes on even when the client has gone: aiohttp does not cancel a handler on disconnect.
        fault.holding += 1
        try:
            await fault.release.wait()
        finally:
            fault.holding -= 1

    @staticmethod
    def _fault_error(fault: Fault) -> SlackError:
        if fault.status == 429:
            retry_after = 1 if fault.retry_after is None else fault.retry_after
            return SlackError("ratelimited", status=429, headers={"Retry-After": str(retry_after)})
        return SlackError(fault.error or "internal_error", status=fault.status)

    @staticmethod
    def _drop(request: web.Request, record: CallRecord) -> NoReturn:
        """Cut the TCP connection without an answer: the client sees ServerDisconnectedError."""
        record.status = 0
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError


def bearer(request: web.Request) -> str | None:
    """The token of an `Authorization: Bearer …` header."""
    value = request.headers.get(hdrs.AUTHORIZATION, "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def read_args(request: web.Request) -> dict[str, Any]:
    """Arguments as Slack reads them: the query string, then a form or JSON body on top."""
    args: dict[str, Any] = dict(request.query)
    if request.method != "POST" or not request.can_read_body:
        return args
    content_type = request.content_type
    if content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise SlackError("invalid_json") from None
        if not isinstance(body, dict):
            raise SlackError("invalid_json")
        args.update(body)
    elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        args.update({k: v for k, v in form.items() if isinstance(v, str)})
    return args
