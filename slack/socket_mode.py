"""Socket Mode: Bolt's aiohttp handler on the bot's event loop, and a watchdog that replaces a connection that
died quietly.

slack_sdk reconnects when Slack says ``disconnect`` or the socket closes, and pings on its own; a connection
can still go silent without closing (a dropped NAT entry, a half-open TCP socket, a reconnect that failed
midway: python-slack-sdk #1110, #1446, #1701). The watchdog looks at the last sign of life (any message or
answered ping) and at the session's own state, and opens a new connection when either says it is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

# slack_sdk pings at this interval at most, and at least twice within the watchdog's timeout, so that a live
# connection always has a recent answered ping (slack_sdk's own check gives up after four missed intervals).
MAX_PING_INTERVAL = 10.0


class AppTokenRefused(Exception):
    """Slack refused ``SLACK_APP_TOKEN`` when asked for a Socket Mode URL; ``error`` is Slack's code."""

    def __init__(self, error: str) -> None:
        super().__init__(f"Slack refused SLACK_APP_TOKEN ({error}): generate an app-level token with the "
                         "connections:write scope (Basic Information → App-Level Tokens)")
        self.error = error


class SocketConnection:
    """One Socket Mode connection for the app, kept alive by a watchdog; started and closed by the face."""

    def __init__(self, app: AsyncApp, app_token: str, client: AsyncWebClient, *, timeout: float,
                 clock: Callable[[], float] = time.time, on_reconnect: Callable[[], None] | None = None) -> None:
        self.timeout = timeout
        self.clock = clock
        self._on_reconnect = on_reconnect
        self.handler = AsyncSocketModeHandler(app, app_token, web_client=client,
                                              ping_interval=min(MAX_PING_INTERVAL, timeout / 2))
        self.client: SocketModeClient = self.handler.client
        self.client.message_listeners.append(self._heard)
        self.last_heard: float | None = None
        self.reconnects = 0
        self._watchdog: asyncio.Task[None] | None = None

    async def _heard(self, client: Any, message: dict[str, Any], raw: str | None) -> None:
        self.last_heard = self.clock()

    def _last_sign_of_life(self) -> float | None:
        pong = self.client.last_ping_pong_time
        signs = [t for t in (self.last_heard, pong) if t is not None]
        return max(signs) if signs else None

    def problem(self) -> str | None:
        """What is wrong with the connection for ``/healthz`` (None: connected and heard from lately)."""
        session = self.client.current_session
        if session is None or session.closed or self.client.stale:
            return "Slack Socket Mode is not connected"
        last = self._last_sign_of_life()
        if last is not None and self.clock() - last > self.timeout:
            return f"Slack Socket Mode silent for {self.clock() - last:.0f} s"
        return None

    async def start(self) -> None:
        """Ask for a Socket Mode URL (a refused app token is ``AppTokenRefused``), connect, start the watchdog."""
        try:
            self.client.wss_uri = await self.client.issue_new_wss_url()
        except SlackApiError as exc:
            raise AppTokenRefused(str(exc.response.get("error") or exc.response.status_code)) from None
        await self.handler.connect_async()  # type: ignore[no-untyped-call]  # Bolt leaves it unannotated
        self.last_heard = self.clock()
        self._watchdog = asyncio.create_task(self._watch(), name="veo-slack-watchdog")

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.timeout / 4)
            if self.problem() is None:
                continue
            log.warning("Slack Socket Mode connection lost or silent (%s); reconnecting", self.problem())
            try:
                await self.client.connect_to_new_endpoint(force=True)
            except Exception as exc:  # the next round tries again
                log.warning("Slack Socket Mode reconnect failed: %s", type(exc).__name__)
                continue
            self.reconnects += 1
            self.last_heard = self.clock()
            if self._on_reconnect is not None:
                self._on_reconnect()

    async def close(self) -> None:
        """Stop the watchdog and close the connection."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
        await self.handler.close_async()  # type: ignore[no-untyped-call]
