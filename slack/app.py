"""``SlackFace``: the Slack face (a Bolt ``AsyncApp``, its commands and form, Socket Mode or HTTP mode) joined
to the process's ``Runtime``.

Start-up makes one ``auth.test`` with the bot token (the workspace and the bot's user id; a refused token stops
the process with a clear line), and Bolt is given that result through ``authorize`` rather than calling
``auth.test`` again on the first request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

import aiohttp
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError

from bot.ops.health import HealthProbe
from bot.runtime import Runtime
from bot.serve import FaceFailed
from slack.admin_commands import AdminCommands
from slack.asking import Asker, VideoRequests
from slack.client import CountingWebClient, api_errors_counter, web_client
from slack.commands import SlackCommands
from slack.events import SeenEvents
from slack.files import FileDownloader
from slack.http_mode import HttpEndpoint
from slack.ids import PLATFORM
from slack.members import Members
from slack.notifier import SlackNotifier
from slack.prefer import PreferCommand
from slack.results import register_result_actions
from slack.roles import Roles
from slack.socket_mode import AppTokenRefused, SocketConnection
from slack.web_api import RateLimitRetry, RepeatableConnectionRetry

log = logging.getLogger(__name__)


class BotIdentity:
    """What ``auth.test`` says about the bot token: the workspace, the bot's user and bot ids."""

    def __init__(self, response: dict[str, Any]) -> None:
        self.team_id = str(response.get("team_id") or "")
        self.enterprise_id = response.get("enterprise_id") or None
        self.user_id = str(response.get("user_id") or "")
        self.bot_id = str(response.get("bot_id") or "")


async def check_token(client: CountingWebClient) -> BotIdentity:
    """``auth.test``: the bot token works, and for which workspace; ``FaceFailed`` with what to fix."""
    try:
        response = await client.auth_test()
    except SlackApiError as exc:
        raise FaceFailed(f"Slack refused SLACK_BOT_TOKEN ({exc.response.get('error')}): copy the Bot User "
                         "OAuth Token from the app's OAuth & Permissions page (reinstall the app if it "
                         "was revoked)") from None
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise FaceFailed(f"Slack could not be reached ({type(exc).__name__}): check SLACK_API_BASE_URL and "
                         "the network") from None
    return BotIdentity(response.data if isinstance(response.data, dict) else {})


class SlackFace:
    """The Slack face of one bot process."""

    @classmethod
    async def attach(cls, runtime: Runtime) -> SlackFace:
        """Check the bot token (``FaceFailed`` when Slack refuses it), then build the face on the runtime."""
        settings = runtime.settings
        errors = api_errors_counter(runtime.metrics.registry)
        # Commands' calls: slack_sdk's one retry of a dropped connection is harmless for reads and replies.
        client = web_client(settings.slack_api_base_url, runtime.session, errors,
                            token=settings.slack_bot_token.get_secret_value())
        return cls(runtime, client, errors, await check_token(client))

    def __init__(self, runtime: Runtime, client: CountingWebClient, api_errors: Any, identity: BotIdentity) -> None:
        self.runtime = runtime
        settings = self.settings = runtime.settings
        self._token = settings.slack_bot_token.get_secret_value()
        self.api_errors = api_errors
        self.client = client
        self.identity = identity
        # Posts carry no idempotency key: this client never re-sends one by itself (slack.web_api).
        self.notifier_client = web_client(
            settings.slack_api_base_url, runtime.session, api_errors, token=self._token,
            retry_handlers=[RateLimitRetry(), RepeatableConnectionRetry()])
        self.notifier = SlackNotifier(self.notifier_client, runtime.store, nonce_salt=runtime.nonce_salt,
                                      bot_user_id=identity.user_id, http=runtime.session,
                                      video_link=runtime.video_link)
        # Bolt's own client carries no token: each request's comes from ``_authorize``; Socket Mode asks for
        # its URL through it with the app-level token.
        self.app = AsyncApp(
            client=web_client(settings.slack_api_base_url, runtime.session, self.api_errors, token=None),
            # Bolt answers a request whose authorize result is None with its "not installed" message.
            authorize=cast("Callable[..., Awaitable[AuthorizeResult]]", self._authorizer()),
            signing_secret=settings.slack_signing_secret.get_secret_value() or None,
            request_verification_enabled=settings.slack_mode == "http",
            name="veo",
        )
        self.seen_events = SeenEvents()
        self.app.middleware(self.seen_events.middleware)
        self.members = Members(self.client)
        downloader = FileDownloader(runtime.session, token=self._token, api_base_url=settings.slack_api_base_url,
                                    max_bytes=settings.max_image_bytes)
        self.requests = VideoRequests(runtime.service, self.client, self.members, downloader,
                                      join_channels=settings.slack_join_channels)
        self.roles = Roles(runtime.store, self.members, settings.slack_admin_users)
        self.commands = SlackCommands(runtime.service, self.requests, self.members, self.roles, self.client,
                                      settings)
        self.commands.register(self.app)
        AdminCommands(runtime.service, runtime.admin, self.roles, self.commands).register(self.app)
        PreferCommand(runtime.service, self.commands).register(self.app)
        register_result_actions(self.app, runtime.service, member_groups=self._member_groups,
                                is_moderator=self._is_moderator, locale_of=self._locale_of)
        self.socket: SocketConnection | None = None
        self.http: HttpEndpoint | None = None
        if settings.role == "worker":
            pass  # no socket, no route: a worker only posts, through the Web API
        elif settings.slack_mode == "socket":
            reconnects = runtime.metrics.registry.counter(
                "veo_slack_socket_reconnects_total", "Socket Mode connections replaced by the watchdog")
            self.socket = SocketConnection(self.app, settings.slack_app_token.get_secret_value(), self.app.client,
                                           timeout=settings.slack_socket_timeout, on_reconnect=reconnects.inc)
        else:
            assert runtime.http is not None, "HTTP mode needs VEO_HTTP_PORT (checked with the settings)"
            self.http = HttpEndpoint(self.app, runtime.http)
        self._stopped = asyncio.Event()
        runtime.add_face(PLATFORM, self.notifier, *self.probes(), edit_rate=settings.slack_edit_rate,
                         edit_burst=settings.slack_edit_burst)

    async def _member_groups(self, team: str, user: str) -> list[str]:
        policy = await self.runtime.service.policy(Asker(team, "", user).workspace)
        return [g for g in policy.allowed_roles or () if user in await self.members.group_members(g)]

    async def _is_moderator(self, team: str, user: str) -> bool:
        return await self.roles.is_moderator(Asker(team, "", user).workspace, user)

    async def _locale_of(self, team: str, user: str) -> str | None:
        return (await self.members.get(user)).locale

    def probes(self) -> list[HealthProbe]:
        """``/healthz``'s check of the Slack connection (Socket Mode; HTTP mode has no connection to lose)."""
        if self.socket is None:
            return []
        return [HealthProbe("slack", self.socket.problem)]

    def _authorizer(self) -> Callable[[str | None], Awaitable[AuthorizeResult | None]]:
        # A plain function: Bolt passes arguments by the names it finds in the signature (a method's ``self``
        # included).
        async def authorize(team_id: str | None) -> AuthorizeResult | None:
            identity = self.identity
            if team_id is not None and team_id != identity.team_id:
                return None  # a workspace this install does not serve
            return AuthorizeResult(enterprise_id=identity.enterprise_id, team_id=identity.team_id,
                                   bot_token=self._token, bot_id=identity.bot_id, bot_user_id=identity.user_id)

        return authorize

    async def start(self) -> None:
        """Connect (Socket Mode), or wait for Slack's requests (HTTP mode)."""
        log.info("Slack: workspace %s as bot user %s (%s mode)", self.identity.team_id, self.identity.user_id,
                 self.settings.slack_mode)
        if self.socket is not None:
            try:
                await self.socket.start()
            except AppTokenRefused as exc:
                raise FaceFailed(str(exc)) from None

    async def wait_stopped(self) -> None:
        """Return when the face is closed: Socket Mode reconnects by itself, HTTP mode has no connection."""
        await self._stopped.wait()

    async def close(self) -> None:
        """Close the Socket Mode connection (the HTTP route closes with the runtime's server) and the notifier."""
        self._stopped.set()
        if self.socket is not None:
            await self.socket.close()
        await self.notifier.close()

    async def kill(self) -> None:
        """Drop the connection abruptly."""
        await self.close()
