"""``VeoApp``: owns the resources (HTTP session, job store, provider, bot) and wires the layers together."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
from typing import Any

import aiohttp
import discord
import yarl
from discord.ext import commands

from bot.admin import GuildAdmin
from bot.comet_types import RetryPolicy
from bot.config import Settings
from bot.core_config import CoreConfig
from bot.jobs import JobService
from bot.ports import VideoProvider
from bot.video_store import VideoStore
from bot.worker import JobWorker
from cogs.admin import AdminCog
from cogs.buttons import DeleteButton, RegenerateButton
from cogs.errors import VeoCommandTree
from cogs.i18n import VeoTranslator
from cogs.notifier import DiscordNotifier
from cogs.ops import Operations, build_provider, open_video_store
from cogs.queue import QueueCog
from cogs.sync import sync_commands
from cogs.veo import VeoCog
from db import Store, open_store

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

    async def setup_hook(self) -> None:
        await self.tree.set_translator(VeoTranslator())
        await self.add_cog(VeoCog(self.app.service, self.app.settings))
        await self.add_cog(QueueCog(self.app.service, self.app.admin))
        await self.add_cog(AdminCog(self.app.admin))
        # Result buttons are rebuilt from their custom ids, so they work on messages from before a restart.
        self.add_dynamic_items(RegenerateButton, DeleteButton)
        if self.app.sync_on_start:
            try:
                await sync_commands(self.tree, self.app.store, self.app.settings.guild_ids)
            except discord.HTTPException as exc:
                log.error("slash command sync failed: %s %s; run `veo-bot sync` to retry", exc.status, exc.code)
        if self.app.worker_enabled:
            self.app.start_worker()


class VeoApp:
    """Everything one bot process runs, created once and closed once."""

    def __init__(self, settings: Settings, core: CoreConfig, session: aiohttp.ClientSession,
                 store: Store, provider: VideoProvider, nonce_salt: str,
                 videos: VideoStore | None = None) -> None:
        self.settings = settings
        self.session = session
        self.store = store
        self.ops = Operations(settings, store, videos or VideoStore(core.data_dir / "videos"))
        self.bot = VeoBot(self)
        self.notifier = DiscordNotifier(self.bot, nonce_salt=nonce_salt, upload_limit=settings.upload_limit_bytes,
                                        video_link=self.ops.video_link)
        self.worker = JobWorker(store, self.ops.provider(provider), self.ops.notifier(self.notifier), core,
                                videos=self.ops.videos)
        self.ops.attach(self.bot, self.worker)
        self.service = JobService(store, self.worker)
        self.admin = GuildAdmin(store, self.worker, prices=dict(settings.prices), video_seconds=settings.video_seconds)
        self.sync_on_start = True
        self.worker_enabled = True
        self._stop = asyncio.Event()
        self._worker_task: asyncio.Task[None] | None = None
        self._bot_task: asyncio.Task[None] | None = None

    @classmethod
    async def create(
        cls, settings: Settings, *, retry: RetryPolicy | None = None, **core_overrides: Any
    ) -> VeoApp:
        """Open the store and the HTTP session, and build the provider, the job core and the bot."""
        configure_discord_endpoints(settings)
        core = dataclasses.replace(CoreConfig.from_settings(settings), **core_overrides)
        store = await open_store(settings.database_url)
        salt = await store.get_meta("nonce_salt")
        if salt is None:
            # Nonces must differ between databases, or job #1 of a fresh database could match an old one.
            salt = secrets.token_hex(3)
            await store.set_meta("nonce_salt", salt)
        session = aiohttp.ClientSession()
        provider = build_provider(
            settings, session, retry or RetryPolicy(request_timeout=settings.request_timeout), core.data_dir
        )
        return cls(settings, core, session, store, provider, salt, await open_video_store(settings, store))

    def start_worker(self) -> None:
        """Start the background poller (once)."""
        if self._worker_task is None:
            self._worker_task = asyncio.create_task(self.worker.run(self._stop), name="veo-worker")

    async def start(self) -> None:
        """Log in and connect to the gateway in the background; returns once logged in."""
        await self.ops.start(self._stop)
        await self.bot.login(self.settings.discord_token.get_secret_value())
        self._bot_task = asyncio.create_task(self.bot.connect(reconnect=True), name="veo-gateway")

    async def serve(self) -> None:
        """Run until the bot's connection ends (``close`` was called, or a fatal gateway error)."""
        await self.start()
        assert self._bot_task is not None
        await self._bot_task

    async def close(self) -> None:
        """Stop the poller, then the bot, then the session and the store, in that order."""
        self._stop.set()
        if self._worker_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker_task
        if not self.bot.is_closed():
            await self.bot.close()
        if self._bot_task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._bot_task
        await self.ops.close()
        await self.session.close()
        await self.store.close()

    async def kill(self) -> None:
        """Stop abruptly, as a crash would: cancel everything mid-step (for crash tests)."""
        for task in (self._worker_task, self._bot_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        with contextlib.suppress(Exception):
            await self.ops.close()
            await self.bot.http.close()
            await self.session.close()
            await self.store.close()
