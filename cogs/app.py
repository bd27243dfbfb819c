"""``VeoApp``: the Discord face (discord.py client, commands, notifier) joined to the process's ``Runtime``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import discord
import yarl
from discord.ext import commands

from bot.comet.types import RetryPolicy
from bot.config import Settings
from bot.jobs.admin import WorkspaceAdmin
from bot.jobs.continuation import Continuations
from bot.jobs.ports import JobStore
from bot.jobs.service import JobService
from bot.jobs.worker import JobWorker
from bot.ops.health import HealthProbe
from bot.runtime import Runtime
from cogs.commands.admin import AdminCog
from cogs.commands.prefer import PreferCog
from cogs.commands.queue import QueueCog
from cogs.commands.veo import VeoCog
from cogs.errors import VeoCommandTree
from cogs.health import DiscordHealth
from cogs.ids import PLATFORM
from cogs.notifier import DiscordNotifier
from cogs.sync import sync_commands
from cogs.translator import VeoTranslator
from cogs.views.continuation import ContinueButton, form_submitted
from cogs.views.results import DeleteButton, RegenerateButton
from db import open_store

log = logging.getLogger(__name__)



def configure_discord_endpoints(settings: Settings) -> None:
    """Point discord.py at the configured REST base and gateway (a proxy, or a local test double)."""
    discord.http.Route.BASE = settings.discord_api_base_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


def bot_intents() -> discord.Intents:
    """Only the guilds intent: slash commands arrive without any, and guild data gives upload limits and roles.

    Not subscribing to message events keeps a bot in busy servers from receiving every message sent there.
    """
    intents = discord.Intents.none()
    intents.guilds = True
    return intents


class VeoBot(commands.Bot):
    """The discord.py client: no privileged intents, no pings unless a message allows one."""

    def __init__(self, app: VeoApp) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=bot_intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            tree_cls=VeoCommandTree,
        )
        self.app = app

    @property
    def job_service(self) -> JobService:
        """The job service the persistent views use (``cogs.context``)."""
        return self.app.service

    @property
    def continuations(self) -> Continuations:
        """Next clips from a video's last frame, for the Continue button and form (``cogs.context``)."""
        return self.app.runtime.continuations

    async def setup_hook(self) -> None:
        await self.tree.set_translator(VeoTranslator())
        await self.add_cog(VeoCog(self.app.service, self.app.settings))
        await self.add_cog(PreferCog(self.app.service, self.app.settings))
        await self.add_cog(QueueCog(self.app.service, self.app.admin))
        await self.add_cog(AdminCog(self.app.admin))
        # Result buttons are rebuilt from their custom ids, so they work on messages from before a restart.
        self.add_dynamic_items(RegenerateButton, ContinueButton, DeleteButton)
        self.add_listener(form_submitted, "on_interaction")
        if self.app.sync_on_start:
            try:
                await sync_commands(self.tree, self.app.store, self.app.settings.guild_ids)
            except discord.HTTPException as exc:
                log.error("slash command sync failed: %s %s; run `veo-bot sync` to retry", exc.status, exc.code)
        if self.app.worker_enabled:
            self.app.start_worker()


class VeoApp:
    """The Discord face of one bot process: the discord.py client and its notifier, joined to a ``Runtime``."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.bot = VeoBot(self)
        self.discord_health = DiscordHealth(runtime.metrics)
        self.discord_health.attach(self.bot)
        self.notifier = DiscordNotifier(self.bot, nonce_salt=runtime.nonce_salt,
                                        upload_limit=self.settings.upload_limit_bytes, video_link=runtime.video_link,
                                        can_continue=runtime.continuations.offered)
        runtime.add_face(PLATFORM, self.notifier, HealthProbe("gateway", self.discord_health.problem),
                         edit_rate=self.settings.discord_edit_rate, edit_burst=self.settings.discord_edit_burst)
        self.sync_on_start = True
        self.worker_enabled = True
        self._bot_task: asyncio.Task[None] | None = None

    @property
    def store(self) -> JobStore:
        """The process's job store."""
        return self.runtime.store

    @property
    def service(self) -> JobService:
        """The job service the commands use."""
        return self.runtime.service

    @property
    def admin(self) -> WorkspaceAdmin:
        """The admin service behind /veo-admin and /veo-queue's pause."""
        return self.runtime.admin

    @property
    def worker(self) -> JobWorker:
        """The process's job worker."""
        return self.runtime.worker

    @classmethod
    async def create(
        cls, settings: Settings, *, retry: RetryPolicy | None = None, **core_overrides: Any
    ) -> VeoApp:
        """Open the store, build the runtime around it, and add the Discord face."""
        configure_discord_endpoints(settings)
        store = await open_store(settings.database_url)
        try:
            runtime = await Runtime.open(settings, store, retry=retry, **core_overrides)
        except BaseException:
            await store.close()
            raise
        return cls(runtime)

    def start_worker(self) -> None:
        """Start the background job worker (once)."""
        self.runtime.start_worker()

    async def start(self) -> None:
        """Log in and connect to the gateway in the background; returns once logged in."""
        await self.runtime.start()
        await self.bot.login(self.settings.discord_token.get_secret_value())
        self._bot_task = asyncio.create_task(self.bot.connect(reconnect=True), name="veo-gateway")

    async def serve(self) -> None:
        """Run until the bot's connection ends (``close`` was called, or a fatal gateway error)."""
        await self.start()
        assert self._bot_task is not None
        await self._bot_task

    async def close(self) -> None:
        """Stop the worker, then the bot, then the rest of the runtime, in that order."""
        await self.runtime.stop_worker()
        if not self.bot.is_closed():
            await self.bot.close()
        if self._bot_task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._bot_task
        await self.runtime.close()

    async def kill(self) -> None:
        """Stop abruptly, as a crash would: cancel everything mid-step (for crash tests)."""
        if self._bot_task is not None:
            self._bot_task.cancel()
            with contextlib.suppress(BaseException):
                await self._bot_task
        with contextlib.suppress(Exception):
            await self.bot.http.close()
        await self.runtime.kill()
