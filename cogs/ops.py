"""``Operations``: what the app runs besides the bot: the provider choice, metrics, health, stored videos."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import aiohttp
from discord.ext import commands

from bot.comet.client import VideoClient
from bot.comet.types import RetryPolicy, parse_orientation_map
from bot.config import Settings
from bot.jobs.ports import Notifier
from bot.jobs.provider import VideoProvider
from bot.jobs.records import Job
from bot.jobs.videos import DAY, VideoStore, load_name_key
from bot.jobs.worker import JobWorker
from bot.mock.provider import MockVideoProvider
from bot.ops.health import HealthChecks
from bot.ops.http_server import HttpServer
from bot.ops.instrument import BotMetrics, InstrumentedNotifier, InstrumentedProvider
from cogs.health import DiscordHealth
from db import Store

log = logging.getLogger(__name__)


def build_provider(
    settings: Settings, session: aiohttp.ClientSession, retry: RetryPolicy, data_dir: Path
) -> VideoProvider:
    """CometAPI's client, or the local mock when ``VEO_PROVIDER=mock``."""
    if settings.provider == "mock":
        log.warning("VEO_PROVIDER=mock: videos are drawn locally, CometAPI is not called")
        return MockVideoProvider(data_dir / "mock")
    return VideoClient(
        session,
        base_url=settings.cometapi_base_url,
        api_key=settings.cometapi_key,
        orientation_map=parse_orientation_map(settings.orientation_map),
        max_download_bytes=settings.max_video_bytes,
        allow_plain_http_downloads=settings.allow_http_downloads,
        retry=retry,
    )


async def open_video_store(settings: Settings, store: Store) -> VideoStore:
    """The delivered-video store the settings describe, its file names keyed by this database."""
    return VideoStore(
        settings.videos_path,
        key=await load_name_key(store),
        retention=settings.video_retention_days * DAY,
        public_base_url=settings.public_base_url,
    )


class Operations:
    """Metrics, health checks, the optional HTTP server and video pruning; one per app."""

    def __init__(self, settings: Settings, store: Store, videos: VideoStore) -> None:
        self.settings = settings
        self.store = store
        self.videos = videos
        self.metrics = BotMetrics()
        self.discord = DiscordHealth(self.metrics)
        self.http: HttpServer | None = None
        self._pruner: asyncio.Task[None] | None = None

    def video_link(self, job: Job) -> str | None:
        """The lasting public URL of a job's stored video, if there is one."""
        return self.videos.public_url(job.id)

    def provider(self, inner: VideoProvider) -> VideoProvider:
        """The provider, measured."""
        return InstrumentedProvider(inner, self.metrics)

    def notifier(self, inner: Notifier) -> Notifier:
        """The notifier, with result posts counted."""
        return InstrumentedNotifier(inner, self.metrics)

    def attach(self, bot: commands.Bot, worker: JobWorker) -> None:
        """Watch the bot's gateway and the worker's loop, and build the HTTP server when a port is set."""
        self.discord.attach(bot)
        self.metrics.watch_store(self.store)
        self.metrics.watch_poll_loop(lambda: worker.last_tick)
        if self.settings.http_port is not None:
            health = HealthChecks(
                gateway=self.discord.problem, store=self.store, last_tick=lambda: worker.last_tick,
            )
            self.http = HttpServer(self.settings.http_host, self.settings.http_port, health=health,
                                   metrics=self.metrics.registry, videos=self.videos)

    async def start(self, stop: asyncio.Event) -> None:
        """Start serving and pruning."""
        if self.http is not None:
            await self.http.start()
        if self.videos.keeps_videos and self._pruner is None:
            self._pruner = asyncio.create_task(
                self.videos.run_pruner(stop, on_pruned=self.metrics.videos_pruned.inc), name="veo-video-pruner"
            )

    async def close(self) -> None:
        """Stop pruning and serving."""
        if self._pruner is not None:
            self._pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pruner
            self._pruner = None
        if self.http is not None:
            await self.http.close()
