"""FakeSlack: Slack's Web API, Socket Mode, response URLs and file hosting on 127.0.0.1, in one object."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from tests.fakes.slack import chat, conversations, directory, views
from tests.fakes.slack.driver import Driver, Interaction, Submission
from tests.fakes.slack.files import FileHost, add_member_file
from tests.fakes.slack.models import (
    PRIVATE,
    PUBLIC,
    CallRecord,
    Clock,
    EphemeralMessage,
    FakeChannel,
    FakeFile,
    FakeMessage,
    FakeTeam,
    FakeUser,
    FakeUserGroup,
    FakeView,
    Fault,
)
from tests.fakes.slack.response_urls import ResponseUrls
from tests.fakes.slack.socket_mode import Ack, SocketModeServer
from tests.fakes.slack.state import SlackState
from tests.fakes.slack.web_api import APP, Call, Method, WebApi

T = TypeVar("T")


class FakeSlack:
    """A fake Slack on loopback; `async with FakeSlack() as slack:` (a first workspace is `slack.team`)."""

    def __init__(self, *, clock: Clock | None = None, wall_clock: Clock | None = None, ack_timeout: float = 3.0,
                 trigger_life: float = 3.0, team_name: str = "Fake Team") -> None:
        self.state = SlackState(clock=clock or time.monotonic, wall_clock=wall_clock or time.time,
                                trigger_life=trigger_life)
        self.socket = SocketModeServer(self.state, ack_timeout=ack_timeout)
        methods: dict[str, Method] = {**chat.METHODS, **conversations.METHODS, **directory.METHODS,
                                      **views.METHODS,
                                      "apps.connections.open": Method(self._connections_open, token=APP)}
        self.web = WebApi(self.state, methods)
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
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        self.state.base_url = f"http://127.0.0.1:{self.port}"
        self.socket.base_url = f"ws://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        """Close the sockets and the HTTP server."""
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

    # ----- world -----

    def add_team(self, name: str, *, scopes: set[str] | None = None) -> FakeTeam:
        """Another workspace with the app installed (its own bot token and bot user)."""
        return self.state.add_team(name, scopes=scopes)

    def add_user(self, name: str, *, team: FakeTeam | None = None, channels: tuple[FakeChannel, ...] = (),
                 **flags: Any) -> FakeUser:
        """A member (flags: is_admin, is_owner, is_primary_owner, locale, deleted, ...), in `channels`."""
        user = self.state.add_user(team or self.team, name, **flags)
        for channel in channels:
            channel.members.add(user.id)
        return user

    def add_channel(self, name: str, *, team: FakeTeam | None = None, private: bool = False,
                    members: tuple[FakeUser, ...] = (), bot_member: bool = True) -> FakeChannel:
        """A public (or private) channel; the bot is a member unless `bot_member` is false."""
        return self.state.add_channel(team or self.team, name, kind=PRIVATE if private else PUBLIC,
                                      members={u.id for u in members}, bot_member=bot_member)

    def im(self, user: FakeUser) -> FakeChannel:
        """The bot's IM with `user`."""
        return self.state.im_with(self.state.teams[user.team_id], user.id)

    def add_usergroup(self, handle: str, users: tuple[FakeUser, ...] = (), *,
                      team: FakeTeam | None = None) -> FakeUserGroup:
        """A user group with these members."""
        return self.state.add_usergroup(team or self.team, handle, [u.id for u in users])

    def add_member_file(self, user: FakeUser, name: str, content: bytes, mimetype: str) -> FakeFile:
        """A file `user` uploaded (pass it to `submit_view` for a file_input)."""
        return add_member_file(self.state, self.state.teams[user.team_id], user, name, content, mimetype)

    def post_user_message(self, channel: FakeChannel, user: FakeUser, text: str, *,
                          thread_ts: str | None = None) -> FakeMessage:
        """A message typed by a member."""
        return self.state.add_message(FakeMessage(channel.id, self.state.next_ts(channel.id), text, user=user.id,
                                                  thread_ts=thread_ts))

    # ----- what happened -----

    def messages(self, channel: FakeChannel, *, include_deleted: bool = False) -> list[FakeMessage]:
        """A channel's messages (thread replies included), oldest first."""
        every = self.state.messages.get(channel.id, [])
        return list(every) if include_deleted else [m for m in every if not m.deleted]

    def message(self, channel: FakeChannel, ts: str) -> FakeMessage:
        """One live message."""
        return self.state.find_message(channel.id, ts)

    def ephemerals(self, user: FakeUser | None = None) -> list[EphemeralMessage]:
        """Ephemeral messages (ack bodies, response_url and chat.postEphemeral), for one member or all."""
        return [e for e in self.state.ephemerals if user is None or e.user == user.id]

    def calls(self, method: str | None = None) -> list[CallRecord]:
        """The Web API calls received, in order (only `method` when given)."""
        return [c for c in self.web.calls if method is None or c.method == method]

    def views(self, user: FakeUser | None = None) -> list[FakeView]:
        """Modals opened, oldest first (one member's when given)."""
        return [v for v in self.state.views.values() if user is None or v.user_id == user.id]

    @property
    def downloads(self) -> list[tuple[str, bool]]:
        """(file id, authorised) for each url_private request."""
        return self.file_host.downloads

    # ----- faults -----

    def inject(self, method: str, *, error: str | None = None, status: int = 200, times: int = 1,
               retry_after: int | None = None) -> Fault:
        """The next `times` calls of `method` (`*`: any) fail: `ok:false` with `error`, or HTTP `status`
        (429 answers `ratelimited` with `Retry-After: retry_after`)."""
        fault = Fault(method, error, status, times, retry_after)
        self.web.faults.append(fault)
        return fault

    def inject_drop(self, method: str, *, after_processing: bool, times: int = 1) -> Fault:
        """Cut the connection of the next `times` calls of `method`, before or after the fake carried them out
        (after: the ambiguous send; the post exists but the client never heard)."""
        fault = Fault(method, times=times, drop="after" if after_processing else "before")
        self.web.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Forget every injected fault."""
        self.web.faults.clear()

    # ----- members' actions (Socket Mode) -----

    async def wait_connected(self, count: int = 1, timeout: float = 5.0) -> None:
        """Wait until `count` Socket Mode connections have opened and one is live."""
        await self.socket.wait_connected(count, timeout)

    async def slash_command(self, command: str, text: str = "", *, channel: FakeChannel, user: FakeUser,
                            timeout: float | None = None) -> Interaction:
        """Deliver `/command text`; returns the ack (NotAcked if none within the ack timeout)."""
        return await self.driver.slash_command(command, text, channel=channel, user=user, timeout=timeout)

    async def submit_view(self, view: FakeView, values: dict[str, Any] | None = None, *,
                          timeout: float | None = None) -> Submission:
        """Submit an open modal with `values` by block id (str, option value, or a list of FakeFile)."""
        return await self.driver.submit_view(view, values=values, timeout=timeout)

    async def click(self, message: FakeMessage, action_id: str, *, user: FakeUser,
                    timeout: float | None = None) -> Interaction:
        """Click the button (or select) `action_id` on a message."""
        return await self.driver.click(message, action_id, user=user, timeout=timeout)

    async def send_envelope(self, type_: str, payload: dict[str, Any], *, timeout: float | None = None) -> Ack:
        """Send any Socket Mode envelope and wait for its ack."""
        return await self.socket.send(type_, payload, timeout=timeout)

    async def send_event(self, event: dict[str, Any], *, team: FakeTeam | None = None, retries: int = 0,
                         timeout: float | None = None) -> Ack:
        """An Events API callback (`event` is the inner event), re-sent while unacked up to `retries` times."""
        team = team or self.team
        payload = {"token": "fake-verification-token", "team_id": team.id, "api_app_id": self.state.app_id,
                   "event": event, "type": "event_callback", "event_id": self.state.ids("Ev"),
                   "event_time": int(self.state.wall_clock()),
                   "authorizations": [{"team_id": team.id, "user_id": team.bot_user_id, "is_bot": True}]}
        return await self.socket.send_event(payload, retries=retries, timeout=timeout)

    async def disconnect_socket(self, reason: str = "refresh_requested") -> None:
        """Send Socket Mode `disconnect` (`refresh_requested`, `warning`, `link_disabled`)."""
        await self.socket.disconnect(reason)

    def freeze_socket(self) -> None:
        """Make the live sockets silent (no pongs, no envelopes): a connection that died quietly."""
        self.socket.freeze()

    def drop_socket(self) -> None:
        """Cut the live sockets' TCP streams without a close frame."""
        self.socket.drop()

    # ----- waiting -----

    async def wait_for(self, predicate: Callable[[], T | Awaitable[T]], timeout: float = 5.0, *,
                       interval: float = 0.01, message: str = "") -> T:
        """Poll `predicate` (sync or async) until it returns something truthy, and return that."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return result
            if loop.time() >= deadline:
                what = message or getattr(predicate, "__qualname__", repr(predicate))
                raise AssertionError(f"wait_for timed out after {timeout}s: {what}")
            await asyncio.sleep(interval)
