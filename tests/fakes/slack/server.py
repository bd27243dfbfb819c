"""FakeSlack: Slack's Web API, Socket Mode, HTTP mode, response URLs, uploads and file hosting on 127.0.0.1."""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any

from aiohttp import web

from tests.fakes.slack import chat, conversations, directory, views
from tests.fakes.slack.actions import ActionsMixin
from tests.fakes.slack.driver import Driver
from tests.fakes.slack.files import FileHost
from tests.fakes.slack.http_mode import HttpDelivery
from tests.fakes.slack.models import Clock
from tests.fakes.slack.ratelimits import RateLimiter
from tests.fakes.slack.response_urls import ResponseUrls
from tests.fakes.slack.socket_mode import SocketModeServer
from tests.fakes.slack.state import SlackState
from tests.fakes.slack.uploads import Uploads
from tests.fakes.slack.web_api import APP, Call, Method, WebApi
from tests.fakes.slack.world import WorldMixin


class FakeSlack(WorldMixin, ActionsMixin):
    """A fake Slack on loopback; `async with FakeSlack() as slack:` (a first workspace is `slack.team`)."""

    def __init__(self, *, clock: Clock | None = None, wall_clock: Clock | None = None, ack_timeout: float = 3.0,
                 trigger_life: float = 3.0, share_delay: float | None = 0.05, rate_limits: bool = True,
                 team_name: str = "Fake Team") -> None:
        self.state = SlackState(clock=clock or time.monotonic, wall_clock=wall_clock or time.time,
                                trigger_life=trigger_life)
        self.socket = SocketModeServer(self.state, ack_timeout=ack_timeout)
        self.uploads = Uploads(self.state, share_delay=share_delay)
        self.rate_limits = RateLimiter(self.state.clock, enabled=rate_limits)
        methods: dict[str, Method] = {**chat.METHODS, **conversations.METHODS, **directory.METHODS,
                                      **views.METHODS, **self.uploads.methods(),
                                      "apps.connections.open": Method(self._connections_open, token=APP)}
        self.web = WebApi(self.state, methods, limiter=self.rate_limits)
        self.http: HttpDelivery | None = None
        self.driver = Driver(self.state, self.socket)
        self.file_host = FileHost(self.state)
        self.response_urls = ResponseUrls(self.state)
        self.port = 0
        self._runner: web.AppRunner | None = None
        self.team = self.state.add_team(team_name)

    def _connections_open(self, call: Call) -> dict[str, Any]:
        return {"url": self.socket.issue_url()}

    # ----- lifecycle -----

    async def start(self) -> None:
        """Listen on 127.0.0.1 on a free port."""
        app = web.Application(client_max_size=1024 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self.web.handle)
        app.router.add_get("/link/", self.socket.handle)
        app.router.add_post("/response/{url_id}", self.response_urls.handle)
        app.router.add_get("/files-pri/{owner}/{name}", self.file_host.handle)
        app.router.add_get("/files-pri/{owner}/download/{name}", self.file_host.handle)
        app.router.add_post("/upload/v1/{ticket}", self.uploads.handle_upload)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        self.state.base_url = f"http://127.0.0.1:{self.port}"
        self.socket.base_url = f"ws://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        """Close the sockets, the HTTP client and server, and forget pending shares."""
        self.release_uploads()
        for fault in self.web.faults:
            fault.release.set()
        for share in self.uploads.pending:
            if share.task is not None:
                share.task.cancel()
        if self.http is not None:
            await self.http.close()
        await self.socket.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSlack:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    @property
    def api_url(self) -> str:
        """`base_url` for `AsyncWebClient` (ends with a slash, as slack_sdk expects)."""
        return f"{self.state.base_url}/api/"

    @property
    def bot_token(self) -> str:
        """The first workspace's bot token (`xoxb-…`)."""
        return self.team.bot_token

    @property
    def app_token(self) -> str:
        """The app-level token (`xapp-…`) for Socket Mode."""
        return self.state.app_token

