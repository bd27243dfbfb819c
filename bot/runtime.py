"""``Runtime``: one running bot process (store, provider, job worker, service, admin, metrics, health, HTTP
server, video pruning), built from the settings; each chat face only adds itself to it.

A face joins with ``add_face``: its notifier (how jobs are shown on its platform) and its health probe (is
its connection up). The store is opened by the caller (``db.open_store``) and handed in, so the core never
names a store implementation.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
from pathlib import Path
from typing import Any

import aiohttp

from bot.comet import VideoClient
from bot.comet.types import RetryPolicy
from bot.config import Settings
from bot.jobs.admin import WorkspaceAdmin
from bot.jobs.config import CoreConfig
from bot.jobs.continuation import Continuations
from bot.jobs.notifiers import FaceNotifiers
from bot.jobs.ports import Fitter, JobStore, Notifier
from bot.jobs.process_leases import exclusive
from bot.jobs.provider import VideoProvider
from bot.jobs.records import Job
from bot.jobs.service import JobService
from bot.jobs.videos import DAY, VideoStore, load_name_key
from bot.jobs.worker import JobWorker
from bot.media.fitter import VideoFitter
from bot.mock.provider import MockVideoProvider
from bot.ops.health import HealthChecks, HealthProbe
from bot.ops.http_server import HttpServer
from bot.ops.instrument import BotMetrics, InstrumentedFitter, InstrumentedNotifier, InstrumentedProvider
from bot.orientations import parse_orientation_map

log = logging.getLogger(__name__)

NONCE_SALT_META = "nonce_salt"
PRUNE_LEASE_PREFIX = "chore:prune-videos:"


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


def build_fitter(settings: Settings, metrics: BotMetrics) -> Fitter | None:
    """What re-encodes videos over an upload limit to fit it, measured; None when ``VEO_FIT_VIDEOS`` is off."""
    if not settings.fit_videos:
        return None
    return InstrumentedFitter(
        VideoFitter(timeout=settings.fit_timeout, concurrency=settings.fit_concurrency), metrics
    )


async def open_video_store(settings: Settings, store: JobStore) -> VideoStore:
    """The delivered-video store the settings describe, its file names keyed by this database."""
    return VideoStore(
        settings.videos_path,
        key=await load_name_key(store),
        retention=settings.video_retention_days * DAY,
        public_base_url=settings.public_base_url,
    )


async def nonce_salt(store: JobStore) -> str:
    """The database's salt for message nonces, made once and shared by every process that uses it."""
    # Nonces must differ between databases, or job #1 of a fresh database could match an old one.
    return await store.get_or_create_meta(NONCE_SALT_META, secrets.token_hex(3))


class Runtime:
    """Everything one bot process runs besides its faces; created once and closed once."""

    def __init__(self, settings: Settings, core: CoreConfig, session: aiohttp.ClientSession, store: JobStore,
                 provider: VideoProvider, nonce_salt: str, videos: VideoStore | None = None) -> None:
        self.settings = settings
        self.session = session
        self.store = store
        self.nonce_salt = nonce_salt
        self.videos = videos or VideoStore(core.data_dir / "videos")
        self.metrics = BotMetrics()
        self.notifiers = FaceNotifiers()
        self.worker = JobWorker(store, InstrumentedProvider(provider, self.metrics),
                                InstrumentedNotifier(self.notifiers, self.metrics), core, videos=self.videos,
                                fitter=build_fitter(settings, self.metrics))
        self.service = JobService(store, self.worker)
        self.continuations = Continuations(self.service, self.videos, max_prompt_chars=settings.max_prompt_chars,
                                           max_image_bytes=settings.max_image_bytes)
        self.admin = WorkspaceAdmin(store, self.worker, prices=dict(settings.prices),
                                    video_seconds=settings.video_seconds)
        self.metrics.watch_store(store)
        self.metrics.watch_poll_loop(lambda: self.worker.last_tick)
        self.health = HealthChecks(store=store, last_tick=lambda: self.worker.last_tick)
        self.http: HttpServer | None = None
        if settings.http_port is not None:
            self.http = HttpServer(settings.http_host, settings.http_port, health=self.health,
                                   metrics=self.metrics.registry, videos=self.videos)
        self._stop = asyncio.Event()
        self._worker_task: asyncio.Task[None] | None = None
        self._pruner: asyncio.Task[None] | None = None
        self._started = False

    @classmethod
    async def open(cls, settings: Settings, store: JobStore, *, retry: RetryPolicy | None = None,
                   **core_overrides: Any) -> Runtime:
        """Build the process around an open store: HTTP session, provider, job core, operations."""
        core = dataclasses.replace(CoreConfig.from_settings(settings), **core_overrides)
        salt = await nonce_salt(store)
        videos = await open_video_store(settings, store)
        session = aiohttp.ClientSession()
        provider = build_provider(
            settings, session, retry or RetryPolicy(request_timeout=settings.request_timeout), core.data_dir
        )
        return cls(settings, core, session, store, provider, salt, videos)

    def add_face(self, platform: str, notifier: Notifier, *health_probes: HealthProbe,
                 edit_rate: float, edit_burst: float) -> None:
        """Let a face show its platform's jobs (progress edits within its own budget of ``edit_rate`` a second,
        bursts of ``edit_burst``), and report on its connections in ``/healthz`` (none for a face that only
        posts through REST)."""
        self.notifiers.add(platform, notifier)
        self.worker.status.set_budget(platform, edit_rate, edit_burst)
        for probe in health_probes:
            self.health.add_probe(probe)

    @property
    def owner(self) -> str:
        """Who this process is in the leases it holds (its job leases, its named leases): unique per process."""
        return self.worker.owner

    def video_link(self, job: Job) -> str | None:
        """The lasting public URL of a job's stored video, if there is one."""
        return self.videos.public_url(job.id)

    async def start(self) -> None:
        """Start serving ``/healthz`` and ``/metrics``, and pruning stored videos (once: later calls do nothing)."""
        if self._started:
            return
        self._started = True
        if self.http is not None:
            await self.http.start()
        if self.videos.keeps_videos and self._pruner is None:
            # The videos are on this machine's disk, or a volume several processes mount: each volume is pruned
            # by one process at a time, whichever holds the lease named after it.
            lease = f"{PRUNE_LEASE_PREFIX}{await asyncio.to_thread(self.videos.volume_id)}"
            self._pruner = asyncio.create_task(
                self.videos.run_pruner(
                    self._stop, on_pruned=self.metrics.videos_pruned.inc,
                    turn=lambda: exclusive(self.store, lease, self.owner, self.worker.config.lease_seconds),
                ),
                name="veo-video-pruner",
            )

    def start_worker(self) -> None:
        """Start the background job worker (once)."""
        if self._worker_task is None:
            self._worker_task = asyncio.create_task(self.worker.run(self._stop), name="veo-worker")

    async def stop_worker(self) -> None:
        """Let the worker finish its step and stop (fits in progress are stopped); the faces close after it."""
        self._stop.set()
        if self._worker_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker_task
        await self.worker.delivery.close()

    async def close(self) -> None:
        """Stop the worker, pruning and serving, then close the session and the store, in that order."""
        await self.stop_worker()
        if self._pruner is not None:
            self._pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pruner
            self._pruner = None
        if self.http is not None:
            await self.http.close()
        await self.session.close()
        await self.store.close()

    async def kill(self) -> None:
        """Stop abruptly, as a crash would: cancel the worker mid-step (for crash tests)."""
        for task in (self._worker_task, self._pruner):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        await self.worker.delivery.close(give_up=False)  # a dead process's encoders die with it
        with contextlib.suppress(Exception):
            if self.http is not None:
                await self.http.close()
            await self.session.close()
            await self.store.close()
