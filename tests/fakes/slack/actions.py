"""What tests make happen on the fake Slack: members' actions, socket and API faults, held uploads, waiting."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from tests.fakes.slack.driver import Driver, Interaction, Submission
from tests.fakes.slack.http_mode import HttpDelivery
from tests.fakes.slack.models import FakeChannel, FakeTeam, FakeUser, Fault
from tests.fakes.slack.records import FakeMessage, FakeView
from tests.fakes.slack.socket_mode import Ack, SocketModeServer
from tests.fakes.slack.state import SlackState
from tests.fakes.slack.uploads import UploadGate, Uploads
from tests.fakes.slack.web_api import WebApi

T = TypeVar("T")


class ActionsMixin:
    """Members' actions over Socket Mode or HTTP, fault injection and bounded waits."""

    state: SlackState
    team: FakeTeam
    web: WebApi
    socket: SocketModeServer
    driver: Driver
    uploads: Uploads
    http: HttpDelivery | None

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

    def inject_hold(self, method: str, *, after_processing: bool, times: int = 1) -> Fault:
        """The next `times` calls of `method` wait, before or after taking effect, until `fault.release.set()`
        (`fault.holding` counts the calls waiting); a held call still takes effect if its client has gone."""
        fault = Fault(method, times=times, hold="after" if after_processing else "before")
        self.web.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Forget every injected fault (held calls are let go)."""
        for fault in self.web.faults:
            fault.release.set()
        self.web.faults.clear()

    # ----- uploads and shares -----

    def hold_uploads(self) -> UploadGate:
        """Upload POSTs take their bytes, then wait unanswered until `release_uploads()`."""
        self.uploads.gate = UploadGate()
        return self.uploads.gate

    def release_uploads(self) -> None:
        """Answer the held upload POSTs, and stop holding new ones."""
        gate, self.uploads.gate = self.uploads.gate, None
        if gate is not None:
            gate.release.set()

    def drop_uploads(self, times: int = 1) -> None:
        """The next `times` upload POSTs take their bytes, then lose the connection without an answer."""
        self.uploads.drop_next = times

    def set_share_delay(self, seconds: float | None) -> None:
        """Seconds between files.completeUploadExternal and the share's message (None: it never comes)."""
        self.uploads.share_delay = seconds

    def hold_shares(self) -> None:
        """Shares of completed uploads wait until `release_shares()`."""
        self.uploads.hold_shares = True

    def release_shares(self) -> list[FakeMessage]:
        """Post every held share now; returns their messages."""
        return self.uploads.release_shares()

    # ----- HTTP mode -----

    def use_http(self, url: str, signing_secret: str) -> HttpDelivery:
        """Deliver members' actions as signed POSTs to `url` from now on (instead of Socket Mode)."""
        self.http = HttpDelivery(url, signing_secret, ack_timeout=self.socket.ack_timeout)
        self.driver.transport = self.http
        return self.http

    # ----- members' actions (Socket Mode, or HTTP after use_http) -----

    async def wait_connected(self, count: int = 1, timeout: float = 5.0) -> None:
        """Wait until `count` Socket Mode connections have opened and one is live."""
        await self.socket.wait_connected(count, timeout)

    async def slash_command(self, command: str, text: str = "", *, channel: FakeChannel, user: FakeUser,
                            timeout: float | None = None, escape: bool = False) -> Interaction:
        """Deliver `/command text`; returns the ack (NotAcked if none within the ack timeout); `escape`: the
        command is declared with `should_escape: true` (names become `<#C…|name>`, `<!subteam^S…|@handle>`, ...)."""
        return await self.driver.slash_command(command, text, channel=channel, user=user, timeout=timeout,
                                               escape=escape)

    async def submit_view(self, view: FakeView, values: dict[str, Any] | None = None, *,
                          timeout: float | None = None) -> Submission:
        """Submit an open modal with `values` by block id (str, option value, or a list of FakeFile)."""
        return await self.driver.submit_view(view, values=values, timeout=timeout)

    async def click(self, message: FakeMessage, action_id: str, *, user: FakeUser,
                    timeout: float | None = None) -> Interaction:
        """Click the button (or select) `action_id` on a message."""
        return await self.driver.click(message, action_id, user=user, timeout=timeout)

    def close_view(self, view: FakeView) -> None:
        """The member closes the modal: a later views.update gets not_found."""
        self.driver.close_view(view)

    async def message_shortcut(self, message: FakeMessage, callback_id: str, *, user: FakeUser,
                               timeout: float | None = None) -> Interaction:
        """The member runs a message shortcut on `message`."""
        return await self.driver.shortcut(callback_id, user=user, message=message, timeout=timeout)

    async def global_shortcut(self, callback_id: str, *, user: FakeUser, timeout: float | None = None) -> Interaction:
        """The member runs a global shortcut (no channel)."""
        return await self.driver.shortcut(callback_id, user=user, timeout=timeout)

    async def send_envelope(self, type_: str, payload: dict[str, Any], *, timeout: float | None = None) -> Ack:
        """Send any Socket Mode envelope and wait for its ack."""
        return await self.driver.transport.send(type_, payload, timeout=timeout)

    async def send_event(self, event: dict[str, Any], *, team: FakeTeam | None = None, retries: int = 0,
                         timeout: float | None = None) -> Ack:
        """An Events API callback (`event` is the inner event), re-sent while unacked up to `retries` times."""
        team = team or self.team
        payload = {"token": "fake-verification-token", "team_id": team.id, "api_app_id": self.state.app_id,
                   "event": event, "type": "event_callback", "event_id": self.state.ids("Ev"),
                   "event_time": int(self.state.wall_clock()),
                   "authorizations": [{"team_id": team.id, "user_id": team.bot_user_id, "is_bot": True}]}
        if self.http is not None:
            return await self.http.send("events_api", payload, retries=retries, timeout=timeout)
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
