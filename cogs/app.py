"""``VeoApp``: the Discord face (discord.py client, commands, notifier) joined to the process's ``Runtime``.

The client holds one gateway session for every guild, or, with ``DISCORD_SHARD_COUNT``, the shards of
``DISCORD_SHARD_IDS`` (discord.py's ``AutoShardedBot``, which runs any subset of shards in one process, so one
code path serves one shard or all of them). With ``VEO_ROLE=worker`` it only logs in: no gateway, no commands;
the job worker posts through REST.
"""

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
from bot.jobs.process_leases import exclusive
from bot.jobs.service import JobService
from bot.jobs.worker import JobWorker
from bot.runtime import Runtime
from cogs.commands.admin import AdminCog
from cogs.commands.prefer import PreferCog
from cogs.commands.queue import QueueCog
from cogs.commands.veo import VeoCog
from cogs.errors import VeoCommandTree
from cogs.gateway_leases import GatewayLeases
from cogs.health import DiscordHealth
from cogs.identify import IdentifyGate
from cogs.ids import PLATFORM
from cogs.notifier import DiscordNotifier
from cogs.sync import sync_commands
from cogs.translator import VeoTranslator
from cogs.views.continuation import ContinueButton, form_submitted
from cogs.views.results import DeleteButton, RegenerateButton
from db import open_store

log = logging.getLogger(__name__)

SYNC_LEASE = "chore:sync-commands"


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

    def __init__(self, app: VeoApp, **options: Any) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=bot_intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            tree_cls=VeoCommandTree,
            **options,
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

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        # First the shard's lease: a shard a live process holds is not opened a second time (this one waits).
        await self.app.gateway_leases.acquire(shard_id)
        # Instead of discord.py's 5 s sleep between this process's shards: a turn booked in the store, which
        # every process of the bot shares.
        await self.app.identify_gate.wait(shard_id)

    async def setup_hook(self) -> None:
        if self.app.takes_commands:
            await self._add_commands()
        if self.app.worker_enabled:
            self.app.start_worker()

    async def _add_commands(self) -> None:
        await self.tree.set_translator(VeoTranslator())
        await self.add_cog(VeoCog(self.app.service, self.app.settings))
        await self.add_cog(PreferCog(self.app.service, self.app.settings))
        await self.add_cog(QueueCog(self.app.service, self.app.admin))
        await self.add_cog(AdminCog(self.app.admin))
        # Result buttons are rebuilt from their custom ids, so they work on messages from before a restart.
        self.add_dynamic_items(RegenerateButton, ContinueButton, DeleteButton)
        self.add_listener(form_submitted, "on_interaction")
        if self.app.sync_on_start:
            # Processes starting together sync once, the one holding the lease (they all register the same
            # commands); Discord allows 200 command creates a day per guild.
            async with exclusive(self.app.store, SYNC_LEASE, self.app.runtime.owner,
                                 self.app.settings.lease_seconds) as mine:
                if not mine:
                    return
                try:
                    await sync_commands(self.tree, self.app.store, self.app.settings.guild_ids)
                except discord.HTTPException as exc:
                    log.error("slash command sync failed: %s %s; run `veo-bot sync` to retry", exc.status, exc.code)


class ShardedVeoBot(VeoBot, commands.AutoShardedBot):
    """The client running some (or all) of the bot's gateway shards: each shard's guilds, and their commands."""


def build_bot(app: VeoApp) -> VeoBot:
    """The client the settings ask for: sharded with ``DISCORD_SHARD_COUNT``, else one session for every guild."""
    settings = app.settings
    if settings.shards is None or app.role == "worker":
        return VeoBot(app)
    return ShardedVeoBot(app, shard_count=settings.shard_count, shard_ids=list(settings.shards))


class VeoApp:
    """The Discord face of one bot process: the discord.py client and its notifier, joined to a ``Runtime``."""

    def __init__(self, runtime: Runtime, *, owns_runtime: bool = False) -> None:
        self.runtime = runtime
        # Alone (``create``), the face starts the worker and closes the runtime; beside other faces, the process
        # (``bot.serve``) does both.
        self.owns_runtime = owns_runtime
        self.settings = runtime.settings
        self.role = self.settings.role
        self.bot = build_bot(self)
        self.identify_gate = IdentifyGate(runtime.store, self.bot, window=self.settings.discord_identify_window)
        self.gateway_leases = GatewayLeases(runtime.store, self.bot, owner=runtime.owner,
                                            lease_s=self.settings.lease_seconds,
                                            shard_count=self.settings.shard_count or 1)
        shards = self.settings.shards if isinstance(self.bot, ShardedVeoBot) else None
        self.discord_health = DiscordHealth(runtime.metrics, shards=shards)
        self.discord_health.attach(self.bot)
        self.notifier = DiscordNotifier(self.bot, nonce_salt=runtime.nonce_salt,
                                        upload_limit=self.settings.upload_limit_bytes, video_link=runtime.video_link,
                                        can_continue=runtime.continuations.offered)
        # A worker has no gateway connection to report on.
        probes = self.discord_health.probes() if self.role != "worker" else []
        runtime.add_face(PLATFORM, self.notifier, *probes,
                         edit_rate=self.settings.discord_edit_rate, edit_burst=self.settings.discord_edit_burst)
        # A worker neither adds nor syncs commands (``veo-bot sync`` turns adding them back on).
        self.takes_commands = self.role != "worker"
        self.sync_on_start = self.takes_commands
        self.worker_enabled = owns_runtime
        self._bot_task: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()

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
        return cls(runtime, owns_runtime=True)

    def start_worker(self) -> None:
        """Start the background job worker (once)."""
        self.runtime.start_worker()

    async def start(self) -> None:
        """Log in and connect to the gateway in the background (a worker only logs in); returns once logged in."""
        await self.runtime.start()
        await self.bot.login(self.settings.discord_token.get_secret_value())
        if self.role == "worker":
            log.info("VEO_ROLE=worker: no gateway connection; jobs are posted through Discord's REST API")
            self._bot_task = asyncio.create_task(self._until_closed(), name="veo-rest-only")
            return
        if self.settings.shards is not None:
            log.info("gateway shards %s of %s", ",".join(map(str, self.settings.shards)), self.settings.shard_count)
        self._bot_task = asyncio.create_task(self.bot.connect(reconnect=True), name="veo-gateway")

    async def _until_closed(self) -> None:
        await self._closing.wait()

    async def serve(self) -> None:
        """Run until the bot's connection ends (``close`` was called, or a fatal gateway error)."""
        await self.start()
        assert self._bot_task is not None
        await self._bot_task

    async def wait_stopped(self) -> None:
        """Return (or raise discord.py's error) when the bot's connection ends by itself."""
        assert self._bot_task is not None, "start() first"
        await asyncio.shield(self._bot_task)

    async def close(self) -> None:
        """Stop the worker, then the bot, then the rest of the runtime, in that order (only the bot when the
        runtime is the process's)."""
        self._closing.set()
        if self.owns_runtime:
            await self.runtime.stop_worker()
        if not self.bot.is_closed():
            await self.bot.close()
        if self._bot_task is not None:
            if self.gateway_leases.waiting:
                self._bot_task.cancel()  # a shard still waiting for its lease: closing the client does not end that
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._bot_task
        # The gateway is closed: a process waiting for these shards may open them now.
        await self.gateway_leases.release_all()
        if self.owns_runtime:
            await self.runtime.close()

    async def kill(self) -> None:
        """Stop abruptly, as a crash would: cancel everything mid-step (for crash tests)."""
        if self._bot_task is not None:
            self._bot_task.cancel()
            with contextlib.suppress(BaseException):
                await self._bot_task
        with contextlib.suppress(Exception):
            await self.bot.http.close()
        await self.gateway_leases.abandon()  # a dead process renews nothing: its shards' leases run out
        if self.owns_runtime:
            await self.runtime.kill()
