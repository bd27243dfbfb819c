"""FakeDiscord: a protocol-level Discord (REST, gateway, attachment CDN) on 127.0.0.1 for the real discord.py client.

Point discord.py at it with `discord.http.Route.BASE = fake.api_base` and
`discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)`.
Injected 5xx answers are retried by discord.py with real sleeps (1 s, 3 s, ...): prefer 4xx/429/drops in fast tests.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from tests.fakes.discord import threads
from tests.fakes.discord.gateway import IDENTIFY_WINDOW, GatewayServer
from tests.fakes.discord.interactions import FakeInteraction, InteractionService
from tests.fakes.discord.invoke import InteractionFactory
from tests.fakes.discord.messages import MessageStore
from tests.fakes.discord.models import (
    BOT_DEFAULT_PERMISSIONS,
    GUILD_TEXT,
    Clock,
    CommandPut,
    FakeAttachment,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeRole,
    FakeUser,
    InjectedFault,
    MessageRecord,
    MiB,
    NonceHit,
    RequestRecord,
)
from tests.fakes.discord.rest import RestApi
from tests.fakes.discord.state import DiscordState

T = TypeVar("T")

DEFAULT_ERROR_MESSAGES = {
    400: "400: Bad Request",
    401: "401: Unauthorized",
    403: "Missing Permissions",
    404: "404: Not Found",
    413: "Request entity too large",
    429: "You are being rate limited.",
    500: "500: Internal Server Error",
    502: "502: Bad Gateway",
    503: "503: Service Unavailable",
}


class FakeDiscord:
    """A fake Discord on loopback; use `async with FakeDiscord(...) as fake:`."""

    def __init__(
        self,
        *,
        token: str = "fake-bot-token",  # noqa: S107 - a fake's default, not a secret
        token_life: float = 900.0,
        nonce_window: float = 300.0,
        ack_deadline: float = 3.0,
        heartbeat_interval: int = 41250,
        clock: Clock | None = None,
        bot_name: str = "veo-bot",
        ratelimit_limit: int = 50,
        replay_limit: int = 10_000,
        resume_window: float = 120.0,
        client_max_size: int = 256 * MiB,
        record_requests: bool = True,
        privileged_intents: int = 0,
        max_concurrency: int = 1,
        identify_window: float = IDENTIFY_WINDOW,
    ) -> None:
        self.token = token
        self.clock: Clock = clock or time.monotonic
        self.state = DiscordState(clock=self.clock, bot_name=bot_name, privileged_intents=privileged_intents)
        self.store = MessageStore(self.state, nonce_window=nonce_window)
        self.interaction_service = InteractionService(
            self.state, self.store, clock=self.clock, ack_deadline=ack_deadline, token_life=token_life
        )
        self.factory = InteractionFactory(self.state, self.store, self.interaction_service)
        self.gateway = GatewayServer(
            self.state,
            token=token,
            clock=self.clock,
            heartbeat_interval_ms=heartbeat_interval,
            replay_limit=replay_limit,
            resume_window=resume_window,
            max_concurrency=max_concurrency,
            identify_window=identify_window,
        )
        self.state.dispatch = self.gateway.dispatch
        self.rest = RestApi(
            self.state,
            self.store,
            self.interaction_service,
            self.gateway,
            token=token,
            clock=self.clock,
            ratelimit_limit=ratelimit_limit,
            record_requests=record_requests,
        )
        self.client_max_size = client_max_size
        self.port = 0
        self._runner: web.AppRunner | None = None

    # ----- lifecycle -----

    async def start(self) -> None:
        """Listen on 127.0.0.1 on a free port."""
        runner = web.AppRunner(
            self.rest.build_app(self.client_max_size), access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        self.state.cdn_base = f"http://127.0.0.1:{self.port}/cdn"
        self.gateway.url = f"ws://127.0.0.1:{self.port}/gateway"

    async def stop(self) -> None:
        """Close gateway connections and the HTTP server."""
        await self.gateway.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def api_base(self) -> str:
        """Value for `discord.http.Route.BASE`."""
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        """URL for `DiscordWebSocket.DEFAULT_GATEWAY` (wrap it in `yarl.URL`)."""
        return self.gateway.url

    @property
    def cdn_base(self) -> str:
        """Base URL of the attachment CDN."""
        return self.state.cdn_base

    # ----- world setup -----

    @property
    def bot_user(self) -> FakeUser:
        """The bot's user (its id is also the application id)."""
        return self.state.bot_user

    @property
    def application_id(self) -> int:
        """The application id."""
        return self.state.application_id

    @property
    def owner(self) -> FakeUser:
        """The application owner (and default guild owner)."""
        return self.state.owner

    def add_guild(
        self,
        name: str = "Fake Guild",
        *,
        premium_tier: int = 0,
        upload_limit: int | None = None,
        owner: FakeUser | None = None,
        shard: tuple[int, int] | None = None,
    ) -> FakeGuild:
        """Create a guild the bot is in (announced with GUILD_CREATE to the sessions of its shard, if live);
        ``shard`` (id, count) gives it an id that Discord routes to that shard."""
        return self.state.add_guild(name, premium_tier=premium_tier, upload_limit=upload_limit, owner=owner,
                                    shard=shard)

    def add_channel(
        self,
        guild_id: int,
        name: str = "general",
        *,
        bot_permissions: int = BOT_DEFAULT_PERMISSIONS,
        nsfw: bool = False,
        channel_type: int = GUILD_TEXT,
    ) -> FakeChannel:
        """Create a channel (text by default); `bot_permissions` is enforced on the channel message routes."""
        return self.state.add_channel(guild_id, name, bot_permissions=bot_permissions, nsfw=nsfw,
                                      channel_type=channel_type)

    def set_bot_permissions(self, channel: FakeChannel, permissions: int) -> None:
        """Change what the bot may do in a channel: enforced on REST, and seen by the bot's cache."""
        self.state.set_bot_permissions(channel, permissions)

    def set_thread_state(self, thread: FakeChannel, *, archived: bool, locked: bool = False) -> None:
        """Archive, lock or reopen a thread, as a moderator (or inactivity) would."""
        threads.set_archived(self.state, thread, archived=archived, locked=locked)

    def delete_thread(self, thread: FakeChannel) -> None:
        """A moderator deletes a thread: its id is unknown from then on (10003)."""
        del self.state.channels[thread.id]
        del self.state.guild(thread.guild_id).channels[thread.id]
        data = {"id": str(thread.id), "guild_id": str(thread.guild_id), "parent_id": str(thread.parent_id),
                "type": thread.type}
        self.state.dispatch("THREAD_DELETE", data, thread.guild_id, 0, False)

    def threads(self, parent_id: int) -> list[FakeChannel]:
        """The threads started in a channel, oldest first."""
        return [c for c in self.state.channels.values() if c.is_thread and c.parent_id == parent_id]

    def add_role(self, guild_id: int, name: str, *, permissions: int = 0, mentionable: bool = False) -> FakeRole:
        """Create a role."""
        return self.state.add_role(guild_id, name, permissions=permissions, mentionable=mentionable)

    def add_user(
        self, name: str = "user", *, bot: bool = False, global_name: str | None = None, accepts_dms: bool = True
    ) -> FakeUser:
        """Create a user (not yet a member of any guild); `accepts_dms=False` refuses the bot's direct messages."""
        user = self.state.add_user(name, bot=bot, global_name=global_name)
        user.accepts_dms = accepts_dms
        return user

    def add_member(
        self,
        guild_id: int,
        user: FakeUser,
        *,
        permissions: int | None = None,
        roles: tuple[int, ...] = (),
        nick: str | None = None,
    ) -> FakeMember:
        """Make a user a member; `permissions` (if given) replaces the role-derived guild permissions."""
        return self.state.add_member(guild_id, user, permissions=permissions, roles=roles, nick=nick)

    def remove_member(self, guild_id: int, user: FakeUser) -> None:
        """The user leaves the guild."""
        self.state.remove_member(guild_id, user)

    def add_attachment(
        self,
        channel_id: int,
        filename: str,
        content_type: str | None,
        data: bytes,
        size: int | None = None,
        *,
        width: int | None = None,
        height: int | None = None,
    ) -> FakeAttachment:
        """Register an uploaded slash-command attachment served by the CDN (`size` may lie)."""
        return self.state.add_attachment(
            channel_id, filename, content_type, data, size=size, width=width, height=height, ephemeral=True
        )

    def remove_attachment(self, attachment: FakeAttachment) -> None:
        """Make the CDN answer 404 for it, as Discord does once ephemeral uploads are cleaned up."""
        attachment.removed = True

    def post_user_message(
        self, channel_id: int, user: FakeUser, content: str, *, reply_to: int | None = None
    ) -> MessageRecord:
        """A message written by a user (MESSAGE_CREATE, content hidden without the message_content intent)."""
        body: dict[str, Any] = {"content": content}
        if reply_to is not None:
            body["message_reference"] = {"message_id": str(reply_to)}
        return self.store.create(self.state.channel(channel_id), user, body, [], via="user")

    # ----- inspection -----

    def messages(
        self, channel_id: int, *, include_ephemeral: bool = True, include_deleted: bool = False
    ) -> list[MessageRecord]:
        """Messages of a channel in creation order, with their versions (edit history)."""
        return [
            m
            for m in self.store.by_channel.get(channel_id, [])
            if (include_ephemeral or not m.ephemeral) and (include_deleted or not m.deleted)
        ]

    def dm_messages(self, user: FakeUser) -> list[MessageRecord]:
        """The bot's direct messages to a user, oldest first."""
        return self.store.dm_messages(user.id)

    def message(self, message_id: int) -> MessageRecord:
        """A message by id (KeyError if unknown)."""
        return self.store.by_id[message_id]

    @property
    def requests(self) -> list[RequestRecord]:
        """Every HTTP request received (API paths without `/api/vN`; CDN paths start with `/cdn/`)."""
        return self.rest.requests

    @property
    def cdn_requests(self) -> list[RequestRecord]:
        """The CDN GETs."""
        return [r for r in self.rest.requests if r.path.startswith("/cdn/")]

    @property
    def command_puts(self) -> list[CommandPut]:
        """Every bulk overwrite of application commands, in order."""
        return self.state.command_puts

    def commands(self, guild_id: int | None = None) -> list[dict[str, Any]]:
        """The registered commands (global when `guild_id` is None)."""
        return self.state.commands.get(guild_id, [])

    def sync_count(self, guild_id: int | None = None) -> int:
        """How many PUTs went to that scope (global when `guild_id` is None)."""
        return sum(1 for put in self.state.command_puts if put.guild_id == guild_id)

    @property
    def nonce_hits(self) -> list[NonceHit]:
        """Creates answered with an existing message because of `enforce_nonce`."""
        return self.store.nonce_hits

    @property
    def interactions(self) -> list[FakeInteraction]:
        """Every interaction dispatched, in order."""
        return self.interaction_service.all

    @property
    def identify_count(self) -> int:
        """Gateway IDENTIFYs accepted."""
        return self.gateway.identify_count

    @property
    def identify_violations(self) -> list[tuple[float, tuple[int, int] | None]]:
        """IDENTIFYs refused (connection closed with 4008) for coming faster than the bucket allows."""
        return self.gateway.identify_violations

    def sessions_of_shard(self, shard_id: int) -> int:
        """Live gateway sessions identified as ``shard_id`` (of any count)."""
        return sum(1 for s in self.gateway.live if s.shard is not None and s.shard[0] == shard_id)

    @property
    def resume_count(self) -> int:
        """Gateway RESUMEs accepted."""
        return self.gateway.resume_count

    @property
    def connection_count(self) -> int:
        """Open gateway websockets."""
        return len(self.gateway.connections)

    # ----- faults -----

    def inject(
        self,
        method: str,
        path_regex: str,
        *,
        status: int,
        code: int = 0,
        message: str | None = None,
        times: int = 1,
        retry_after: float | None = None,
    ) -> InjectedFault:
        """Answer the next `times` matching requests with an error (429: `Via` header, JSON `retry_after`).

        `path_regex` is searched in the path without `/api/vN`, e.g. r"/channels/\\d+/messages$"; method "*" = any.
        """
        text = message if message is not None else DEFAULT_ERROR_MESSAGES.get(status, f"{status}: Error")
        fault = InjectedFault(method.upper(), re.compile(path_regex), status, code, text, times, retry_after)
        self.rest.faults.append(fault)
        return fault

    def inject_drop(self, method: str, path_regex: str, *, after_processing: bool, times: int = 1) -> InjectedFault:
        """Cut the connection without answering, before processing (nothing stored) or after (stored, unseen).

        aiohttp retries GET/PUT/DELETE once on a dropped keep-alive connection: drops bite hardest on POST/PATCH.
        """
        fault = InjectedFault(method.upper(), re.compile(path_regex), times=times)
        fault.drop = "after" if after_processing else "before"
        self.rest.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Forget every injected fault."""
        self.rest.faults.clear()

    # ----- interactions -----

    def _dispatch_interaction(self, interaction: FakeInteraction) -> FakeInteraction:
        self.gateway.dispatch("INTERACTION_CREATE", interaction.payload, interaction.guild_id, 0, False)
        return interaction

    def _guild_of(self, channel_id: int, guild_id: int | None) -> int:
        if not self.gateway.live:
            raise RuntimeError("no gateway session: connect a discord.py client to the fake first")
        return self.state.channel(channel_id).guild_id if guild_id is None else guild_id

    async def invoke_command(
        self,
        name: str,
        *,
        channel_id: int,
        user: FakeUser,
        guild_id: int | None = None,
        options: Mapping[str, Any] | None = None,
        attachments: Mapping[str, FakeAttachment] | None = None,
        permissions: int | None = None,
        app_permissions: int | None = None,
        locale: str = "en-US",
    ) -> FakeInteraction:
        """Dispatch a slash command (INTERACTION_CREATE type 2); `name` may be "command sub"."""
        interaction = self.factory.command(
            name,
            guild_id=self._guild_of(channel_id, guild_id),
            channel_id=channel_id,
            user=user,
            options={**(options or {}), **(attachments or {})},
            permissions=permissions,
            app_permissions=app_permissions,
            locale=locale,
        )
        return self._dispatch_interaction(interaction)

    async def invoke_autocomplete(
        self,
        name: str,
        *,
        focused: str,
        channel_id: int,
        user: FakeUser,
        guild_id: int | None = None,
        options: Mapping[str, Any] | None = None,
        permissions: int | None = None,
        app_permissions: int | None = None,
        locale: str = "en-US",
    ) -> FakeInteraction:
        """Dispatch an autocomplete request (type 4) for option `focused`; await `.wait_choices()` for the answer."""
        interaction = self.factory.command(
            name,
            guild_id=self._guild_of(channel_id, guild_id),
            channel_id=channel_id,
            user=user,
            options=dict(options or {}),
            permissions=permissions,
            app_permissions=app_permissions,
            locale=locale,
            focused=focused,
        )
        return self._dispatch_interaction(interaction)

    async def invoke_component(
        self,
        message: MessageRecord,
        custom_id: str,
        *,
        user: FakeUser,
        component_type: int = 2,
        values: list[str] | None = None,
        permissions: int | None = None,
        app_permissions: int | None = None,
        locale: str = "en-US",
    ) -> FakeInteraction:
        """Dispatch a button press (component_type 2) or select (3, with `values`) on a message (type 3)."""
        self._guild_of(message.channel_id, message.guild_id)
        interaction = self.factory.component(
            message,
            custom_id,
            user=user,
            component_type=component_type,
            values=values,
            permissions=permissions,
            app_permissions=app_permissions,
            locale=locale,
        )
        return self._dispatch_interaction(interaction)

    async def invoke_modal_submit(
        self,
        opened: FakeInteraction,
        values: Mapping[str, str],
        *,
        permissions: int | None = None,
        app_permissions: int | None = None,
        locale: str = "en-US",
    ) -> FakeInteraction:
        """Submit the modal the bot opened in answer to ``opened`` (type 5), with ``values`` by text input custom
        id; raises ``ValueError`` for what a member's client cannot send (an empty required field, a value
        outside the field's lengths)."""
        self._guild_of(opened.channel_id, opened.guild_id)
        interaction = self.factory.modal_submit(
            opened, values, permissions=permissions, app_permissions=app_permissions, locale=locale
        )
        return self._dispatch_interaction(interaction)

    # ----- gateway control -----

    async def disconnect_gateway(self, code: int = 4000, *, invalidate: bool = False) -> None:
        """Close every gateway connection with `code` (resumable unless `invalidate`)."""
        await self.gateway.disconnect(code, invalidate=invalidate)

    def request_reconnect(self) -> None:
        """Send op 7 RECONNECT: discord.py closes and RESUMEs."""
        self.gateway.request_reconnect()

    # ----- waiting -----

    async def wait_until(
        self,
        predicate: Callable[[], T | Awaitable[T]],
        timeout: float = 5.0,
        *,
        interval: float = 0.01,
        message: str = "",
    ) -> T:
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
                raise AssertionError(f"wait_until timed out after {timeout}s: {what}")
            await asyncio.sleep(interval)
