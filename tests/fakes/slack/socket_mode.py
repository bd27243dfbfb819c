"""Socket Mode: the `/link` WebSocket the app opens with `apps.connections.open`, envelopes and their acks."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.slack.state import SlackState

# Envelope types whose ack may carry a response payload (response_action, a slash command's reply).
ACCEPTS_PAYLOAD = frozenset({"slash_commands", "interactive"})


class NotAcked(AssertionError):
    """An envelope got no ack in time (Slack shows the member an error, or re-sends an event)."""


class NoConnection(AssertionError):
    """No Socket Mode connection is open to send an envelope on."""


@dataclass
class Ack:
    """What the app answered to an envelope: its optional payload (e.g. `response_action`) and how fast."""

    envelope_id: str
    payload: dict[str, Any] | None
    seconds: float


@dataclass
class Envelope:
    """An envelope the fake sent, and the ack it got (None while waiting or after a time-out)."""

    envelope_id: str
    type: str
    payload: dict[str, Any]
    retry_attempt: int
    sent_at: float
    connection: int
    ack: Ack | None = None


@dataclass
class Connection:
    """One open Socket Mode WebSocket."""

    number: int
    ws: web.WebSocketResponse
    request: web.Request
    frozen: bool = False
    closed: bool = False
    received: list[dict[str, Any]] = field(default_factory=list)


class SocketModeServer:
    """Serves `/link/`: sends `hello`, envelopes and `disconnect`; collects acks; can freeze or drop a socket."""

    def __init__(self, state: SlackState, *, ack_timeout: float = 3.0) -> None:
        self.state = state
        self.ack_timeout = ack_timeout
        self.base_url = ""
        self.tickets: dict[str, bool] = {}
        self.connections: list[Connection] = []
        self.envelopes: list[Envelope] = []
        self._waiting: dict[str, asyncio.Future[Ack]] = {}
        self._changed = asyncio.Event()

    def issue_url(self) -> str:
        """A fresh single-use WebSocket URL, as `apps.connections.open` returns."""
        ticket = uuid.uuid4().hex
        self.tickets[ticket] = False
        return f"{self.base_url}/link/?ticket={ticket}&app_id={self.state.app_id}"

    @property
    def live(self) -> list[Connection]:
        """Connections still open (frozen ones included: Slack cannot tell them apart)."""
        return [c for c in self.connections if not c.closed]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The `/link/` WebSocket handler."""
        ticket = request.query.get("ticket", "")
        if self.tickets.get(ticket) is not False:
            return web.json_response({"ok": False, "error": "invalid_ticket"}, status=401)
        self.tickets[ticket] = True
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        connection = Connection(len(self.connections) + 1, ws, request)
        self.connections.append(connection)
        await ws.send_str(json.dumps({
            "type": "hello", "num_connections": len(self.live),
            "debug_info": {"host": "applink-fake", "build_number": 1, "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.state.app_id},
        }))
        self._changed.set()
        try:
            async for message in ws:
                if connection.frozen:
                    continue
                if message.type == WSMsgType.PING:
                    await ws.pong(message.data)
                elif message.type == WSMsgType.TEXT:
                    self._on_text(connection, message.data)
        finally:
            connection.closed = True
            self._changed.set()
        return ws

    def _on_text(self, connection: Connection, data: str) -> None:
        try:
            frame = json.loads(data)
        except ValueError:
            return
        if not isinstance(frame, dict):
            return
        connection.received.append(frame)
        envelope_id = frame.get("envelope_id")
        future = self._waiting.get(str(envelope_id))
        if future is None or future.done():
            return
        payload = frame.get("payload")
        future.set_result(Ack(str(envelope_id), payload if isinstance(payload, dict) else None, 0.0))

    async def wait_connected(self, count: int = 1, timeout: float = 5.0) -> Connection:
        """Wait until `count` connections were ever opened and one is live; return the newest live one."""
        async with asyncio.timeout(timeout):
            while len(self.connections) < count or not self.live:
                self._changed.clear()
                await self._changed.wait()
        return self.live[-1]

    async def send(self, type_: str, payload: dict[str, Any], *, retry_attempt: int = 0, retry_reason: str = "",
                   timeout: float | None = None, accepts_response_payload: bool | None = None) -> Ack:
        """Send an envelope on the newest connection and wait for its ack (NotAcked after `timeout`)."""
        live = self.live
        if not live:
            raise NoConnection("no Socket Mode connection is open")
        connection = live[-1]
        envelope_id = str(uuid.uuid4())
        frame: dict[str, Any] = {
            "envelope_id": envelope_id, "type": type_, "payload": payload,
            "accepts_response_payload": type_ in ACCEPTS_PAYLOAD if accepts_response_payload is None
            else accepts_response_payload,
        }
        if type_ == "events_api":
            frame.update({"retry_attempt": retry_attempt, "retry_reason": retry_reason})
        loop = asyncio.get_running_loop()
        record = Envelope(envelope_id, type_, payload, retry_attempt, loop.time(), connection.number)
        self.envelopes.append(record)
        future: asyncio.Future[Ack] = loop.create_future()
        self._waiting[envelope_id] = future
        limit = self.ack_timeout if timeout is None else timeout
        try:
            if not connection.frozen:
                await connection.ws.send_str(json.dumps(frame))
            ack = await asyncio.wait_for(future, limit)
        except (TimeoutError, ConnectionError) as error:
            raise NotAcked(f"{type_} envelope {envelope_id} not acked within {limit}s") from error
        finally:
            self._waiting.pop(envelope_id, None)
        ack.seconds = loop.time() - record.sent_at
        record.ack = ack
        return ack

    async def send_event(self, payload: dict[str, Any], *, retries: int = 0, timeout: float | None = None) -> Ack:
        """An Events API envelope, re-sent with `retry_attempt`/`retry_reason` while unacked (as Slack does)."""
        for attempt in range(retries + 1):
            try:
                return await self.send("events_api", payload, retry_attempt=attempt,
                                       retry_reason="" if attempt == 0 else "timeout", timeout=timeout)
            except NotAcked:
                if attempt == retries:
                    raise
        raise AssertionError("unreachable")

    async def disconnect(self, reason: str = "refresh_requested") -> None:
        """Send `disconnect` on every live connection (the SDK then opens a new one)."""
        for connection in self.live:
            if not connection.frozen:
                await connection.ws.send_str(json.dumps({"type": "disconnect", "reason": reason,
                                                         "debug_info": {"host": "applink-fake"}}))

    def freeze(self) -> None:
        """Every live connection goes silent: nothing sent, nothing answered, no pongs (a dead path)."""
        for connection in self.live:
            connection.frozen = True

    def drop(self) -> None:
        """Cut every live connection's TCP stream without a close frame."""
        for connection in self.live:
            if connection.request.transport is not None:
                connection.request.transport.abort()

    async def close(self) -> None:
        """Close every connection (server shutdown)."""
        for connection in self.live:
            await connection.ws.close()
