"""The gateway: HELLO/heartbeat/IDENTIFY/RESUME over an aiohttp websocket, with sequenced, replayable dispatches."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import WSMsgType, web

from tests.fakes.discord.models import INTENT_MESSAGE_CONTENT, PRIVILEGED_INTENTS, Clock
from tests.fakes.discord.state import DiscordState

log = logging.getLogger(__name__)

# A client closing with these codes ends its session (Discord then refuses a RESUME).
SESSION_ENDING_CLOSE_CODES = frozenset({1000, 1001})
# Discord lets each identify bucket (shard_id % max_concurrency) start one session per 5 seconds.
IDENTIFY_WINDOW = 5.0
CLOSE_RATE_LIMITED = 4008
CLOSE_INVALID_SHARD = 4010


@dataclass(slots=True)
class GatewayConnection:
    """One websocket; frames go through a queue so concurrent dispatches keep their order."""

    ws: web.WebSocketResponse
    query: dict[str, str]
    opened_at: float
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    session: GatewaySession | None = None
    resumed: bool = False
    closed_by_server: bool = False
    close_code: int | None = None

    def send(self, payload: dict[str, Any]) -> None:
        """Queue a frame (plain text JSON whatever compression was asked for: discord.py accepts it)."""
        self.queue.put_nowait(json.dumps(payload, separators=(",", ":")))


@dataclass(slots=True)
class GatewaySession:
    """A resumable session: its sequence, intents, shard and the dispatches kept for replay."""

    session_id: str
    intents: int
    shard: tuple[int, int] | None
    replay_limit: int
    seq: int = 0
    buffer: deque[tuple[int, str]] = field(default_factory=deque)
    connection: GatewayConnection | None = None
    disconnected_at: float | None = None
    ended: bool = False

    def wants_guild(self, guild_id: int | None) -> bool:
        """Whether this shard owns the guild: (guild_id >> 22) % shard_count == shard_id."""
        if self.shard is None:
            return True
        if guild_id is None:
            return self.shard[0] == 0
        return (guild_id >> 22) % self.shard[1] == self.shard[0]

    def push(self, event: str, data: dict[str, Any]) -> None:
        """Sequence a dispatch, keep it for replay and send it if connected."""
        self.seq += 1
        frame = json.dumps({"op": 0, "t": event, "s": self.seq, "d": data}, separators=(",", ":"))
        self.buffer.append((self.seq, frame))
        if len(self.buffer) > self.replay_limit:
            self.buffer.popleft()
        if self.connection is not None:
            self.connection.queue.put_nowait(frame)


def _shard(value: Any) -> tuple[int, int] | Literal[False] | None:
    """IDENTIFY's ``shard: [id, count]`` (None when absent), or False when it is not a valid pair."""
    if value is None:
        return None
    try:
        shard_id, count = (int(part) for part in value)
    except (TypeError, ValueError):
        return False
    return (shard_id, count) if 0 <= shard_id < count else False


def _op(op: int, data: Any = None) -> dict[str, Any]:
    return {"op": op, "t": None, "s": None, "d": data}


class GatewayServer:
    """Speaks Discord's gateway protocol v10 to any number of clients and sessions."""

    def __init__(
        self,
        state: DiscordState,
        *,
        token: str,
        clock: Clock,
        heartbeat_interval_ms: int,
        replay_limit: int,
        resume_window: float,
        max_concurrency: int = 1,
        identify_window: float = IDENTIFY_WINDOW,
    ) -> None:
        self.state = state
        self.token = token
        self.clock = clock
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.replay_limit = replay_limit
        self.resume_window = resume_window
        self.url = ""
        self.sessions: dict[str, GatewaySession] = {}
        self.connections: list[GatewayConnection] = []
        self.max_concurrency = max_concurrency
        self.identify_window = identify_window
        self.identify_count = 0
        self.resume_count = 0
        self.heartbeats = 0
        # Accepted IDENTIFYs as (time, shard or None), and those refused for coming too fast.
        self.identifies: list[tuple[float, tuple[int, int] | None]] = []
        self.identify_violations: list[tuple[float, tuple[int, int] | None]] = []
        self._bucket_last: dict[int, float] = {}

    @property
    def live(self) -> list[GatewaySession]:
        """Sessions that have not ended (connected now or waiting for a RESUME)."""
        self._expire_sessions()
        return [s for s in self.sessions.values() if not s.ended]

    def _expire_sessions(self) -> None:
        """End sessions left without a connection for longer than `resume_window`, as Discord does."""
        now = self.clock()
        for session in self.sessions.values():
            if session.connection is None and session.disconnected_at is not None:
                session.ended = session.ended or now - session.disconnected_at > self.resume_window
            if session.ended:
                session.buffer.clear()

    def dispatch(self, event: str, data: dict[str, Any], guild_id: int | None, intent: int, private: bool) -> None:
        """Send a dispatch to every live session that has the intent and owns the guild."""
        hidden: dict[str, Any] | None = None
        self._expire_sessions()
        for session in self.sessions.values():
            if session.ended or (intent and not session.intents & intent) or not session.wants_guild(guild_id):
                continue
            payload = data
            if private and not session.intents & INTENT_MESSAGE_CONTENT:
                if hidden is None:
                    hidden = {**data, "content": "", "embeds": [], "attachments": [], "components": []}
                payload = hidden
            session.push(event, payload)

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """The websocket endpoint (`?v=10&encoding=json&compress=...` accepted, frames always plain text)."""
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await ws.prepare(request)
        connection = GatewayConnection(ws, dict(request.query), self.clock())
        self.connections.append(connection)
        writer = asyncio.create_task(self._write(connection))
        connection.send(_op(10, {"heartbeat_interval": self.heartbeat_interval_ms, "_trace": ["fake-gateway"]}))
        try:
            async for message in ws:
                if message.type is not WSMsgType.TEXT:
                    continue
                try:
                    frame = json.loads(message.data)
                except ValueError:
                    await self._close(connection, 4002, "Error while decoding payload.")
                    break
                await self._receive(connection, frame)
        finally:
            connection.close_code = ws.close_code
            session = connection.session
            if session is not None and session.connection is connection:
                session.connection = None
                session.disconnected_at = self.clock()
                if not connection.closed_by_server and ws.close_code in SESSION_ENDING_CLOSE_CODES:
                    session.ended = True
            connection.queue.put_nowait(None)
            await writer
            self.connections.remove(connection)
        return ws

    async def _write(self, connection: GatewayConnection) -> None:
        while (frame := await connection.queue.get()) is not None:
            if connection.ws.closed:
                continue
            try:
                await connection.ws.send_str(frame)
            except (ConnectionError, RuntimeError):
                log.debug("gateway frame dropped: connection closed")

    async def _receive(self, connection: GatewayConnection, frame: dict[str, Any]) -> None:
        op, data = frame.get("op"), frame.get("d")
        if op == 1:
            self.heartbeats += 1
            connection.send(_op(11))
        elif op == 2:
            await self._identify(connection, data or {})
        elif op == 6:
            await self._resume(connection, data or {})
        elif op == 8:
            self._members_chunk(connection, data or {})
        elif op in (3, 4):
            return
        else:
            await self._close(connection, 4001, "Unknown opcode.")

    async def _identify(self, connection: GatewayConnection, data: dict[str, Any]) -> None:
        if data.get("token") != self.token:
            await self._close(connection, 4004, "Authentication failed.")
            return
        if connection.session is not None:
            await self._close(connection, 4005, "Already authenticated.")
            return
        intents = int(data.get("intents", 0))
        if intents & PRIVILEGED_INTENTS & ~self.state.privileged_intents:
            await self._close(connection, 4014, "Disallowed intent(s).")
            return
        shard_pair = _shard(data.get("shard"))
        if shard_pair is False:
            await self._close(connection, CLOSE_INVALID_SHARD, "Invalid shard.")
            return
        if not self._take_identify_slot(shard_pair):
            await self._close(connection, CLOSE_RATE_LIMITED, "You are being rate limited.")
            return
        session = GatewaySession(secrets.token_hex(16), intents, shard_pair, self.replay_limit)
        self.sessions[session.session_id] = session
        session.connection = connection
        connection.session = session
        self.identify_count += 1
        guilds = [g for g in self.state.guilds.values() if session.wants_guild(g.id)]
        ready: dict[str, Any] = {
            "v": 10,
            "user": self.state.me_payload(),
            "user_settings": {},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["fake"],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.url,
            "application": {"id": str(self.state.application_id), "flags": self.state.application_flags},
            "auth": {},
            "_trace": ["fake-gateway"],
        }
        if shard_pair is not None:
            ready["shard"] = list(shard_pair)
        session.push("READY", ready)
        for guild in guilds:
            session.push("GUILD_CREATE", self.state.guild_create_payload(guild, session.intents))

    def _take_identify_slot(self, shard: tuple[int, int] | None) -> bool:
        """Whether the shard's identify bucket may start a session now (and note it); else a violation."""
        now = self.clock()
        bucket = (shard[0] if shard is not None else 0) % self.max_concurrency
        last = self._bucket_last.get(bucket)
        if last is not None and now - last < self.identify_window:
            self.identify_violations.append((now, shard))
            return False
        self._bucket_last[bucket] = now
        self.identifies.append((now, shard))
        return True

    async def _resume(self, connection: GatewayConnection, data: dict[str, Any]) -> None:
        if data.get("token") != self.token:
            await self._close(connection, 4004, "Authentication failed.")
            return
        session = self.sessions.get(str(data.get("session_id")))
        seq = data.get("seq")
        oldest = session.buffer[0][0] if session is not None and session.buffer else 1
        if session is None or session.ended or not isinstance(seq, int) or seq < oldest - 1 or seq > session.seq:
            connection.send(_op(9, False))
            return
        previous = session.connection
        if previous is not None and previous is not connection:
            await self._close(previous, 4000, "Session taken over.")
        session.connection = connection
        session.disconnected_at = None
        connection.session = session
        connection.resumed = True
        self.resume_count += 1
        for frame_seq, frame in session.buffer:
            if frame_seq > seq:
                connection.queue.put_nowait(frame)
        session.push("RESUMED", {"_trace": ["fake-gateway"]})

    def _members_chunk(self, connection: GatewayConnection, data: dict[str, Any]) -> None:
        session = connection.session
        guild = self.state.guilds.get(int(data.get("guild_id", 0) or 0))
        if session is None or guild is None:
            return
        wanted = {int(u) for u in data.get("user_ids") or []}
        query = str(data.get("query") or "").lower()
        limit = int(data.get("limit") or 0) or len(guild.members)
        members = [
            m
            for m in guild.members.values()
            if (not wanted or m.user.id in wanted) and m.user.name.lower().startswith(query)
        ][:limit]
        chunk: dict[str, Any] = {
            "guild_id": str(guild.id),
            "members": [m.payload() for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [str(u) for u in wanted - {m.user.id for m in members}],
        }
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        session.push("GUILD_MEMBERS_CHUNK", chunk)

    async def _close(self, connection: GatewayConnection, code: int, reason: str) -> None:
        connection.closed_by_server = True
        connection.queue.put_nowait(None)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await connection.ws.close(code=code, message=reason.encode())

    async def disconnect(self, code: int, *, invalidate: bool) -> None:
        """Close every live connection with `code`; sessions stay resumable unless `invalidate`."""
        for connection in list(self.connections):
            if invalidate and connection.session is not None:
                connection.session.ended = True
            await self._close(connection, code, "Disconnected by the test.")

    def request_reconnect(self) -> None:
        """Send op 7 RECONNECT to every connection: clients close and RESUME."""
        for connection in self.connections:
            connection.send(_op(7))

    async def close(self) -> None:
        """Close all connections (1001 going away) at shutdown."""
        await self.disconnect(1001, invalidate=True)
