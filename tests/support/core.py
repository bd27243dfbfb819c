"""A job core wired to the fake CometAPI over loopback, with a recording notifier, for lifecycle tests."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import SecretStr

from bot.comet.client import VideoClient
from bot.comet.types import RetryPolicy
from bot.jobs.config import CoreConfig
from bot.jobs.ports import Fitter, JobStore, StatusView
from bot.jobs.records import Job, JobStatus, Limits, NewJob
from bot.jobs.service import JobService
from bot.jobs.videos import VideoStore
from bot.jobs.worker import JobWorker
from db import open_store
from tests.conftest import FakeClock
from tests.fakes.comet.api import FakeCometAPI


async def no_sleep(_: float) -> None:
    """Backoff sleeps are skipped in tests."""


@dataclass
class Delivery:
    """One result the notifier posted."""

    job_id: int
    kind: str  # "video", "link" or "failure"
    message_id: str
    video: bytes | None = None
    error: str | None = None
    safety: bool = False


@dataclass
class RecordingNotifier:
    """Implements the core's Notifier by recording what a chat front-end would have shown."""

    statuses: list[tuple[int, JobStatus, int, int]] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    fail_next: list[BaseException] = field(default_factory=list)
    views: list[StatusView] = field(default_factory=list)
    ids: Any = field(default_factory=lambda: map(str, itertools.count(1000)))
    # The largest file a result may carry; a bigger one is posted as a link, as a chat face does.
    upload_limit: int = 10 * 1024 * 1024
    # The name of each file posted (a fitted copy's differs from the original's).
    posted_files: list[str] = field(default_factory=list)
    dms: list[tuple[int, str | None]] = field(default_factory=list)  # (job, result message) per direct message
    fail_dm: list[BaseException] = field(default_factory=list)

    async def show_status(self, job: Job, view: StatusView) -> str | None:
        self.statuses.append((job.id, job.status, job.progress, view.position))
        self.views.append(view)
        return None if job.status_message_id is not None else next(self.ids)

    def _maybe_fail(self) -> None:
        if self.fail_next:
            raise self.fail_next.pop(0)

    async def deliver_video(self, job: Job, video: Path | None) -> str:
        self._maybe_fail()
        fits = video is not None and video.stat().st_size <= self.upload_limit
        data = video.read_bytes() if video is not None and fits else None
        if video is not None and fits:
            self.posted_files.append(video.name)
        delivery = Delivery(job.id, "video" if data is not None else "link", next(self.ids), data)
        self.deliveries.append(delivery)
        return delivery.message_id

    async def deliver_failure(self, job: Job) -> str:
        self._maybe_fail()
        delivery = Delivery(job.id, "failure", next(self.ids), error=job.error, safety=job.safety_rejection)
        self.deliveries.append(delivery)
        return delivery.message_id

    async def max_upload_bytes(self, job: Job) -> int:
        return self.upload_limit

    async def send_ready_dm(self, job: Job) -> str:
        if self.fail_dm:
            raise self.fail_dm.pop(0)
        self.dms.append((job.id, job.delivered_message_id))
        return next(self.ids)

    def for_job(self, job_id: int) -> list[Delivery]:
        return [d for d in self.deliveries if d.job_id == job_id]


@dataclass
class Core:
    """The pieces of one job core instance."""

    store: JobStore
    worker: JobWorker
    service: JobService
    notifier: RecordingNotifier
    clock: FakeClock
    api: FakeCometAPI

    def request(self, user: int = 1, guild: int = 10, prompt: str = "a red fox in snow", **kw: Any) -> NewJob:
        return NewJob(platform="discord", workspace_id=str(guild), channel_id="100", user_id=str(user), prompt=prompt,
                      model=kw.pop("model", "veo3.1-fast"), orientation=kw.pop("orientation", "16x9"), **kw)

    async def job(self, job_id: int) -> Job:
        job = await self.store.get_job(job_id)
        assert job is not None
        return job

    async def tick(self, seconds: float = 0.0) -> int:
        self.clock.advance(seconds)
        return await self.worker.poll_once()


@asynccontextmanager
async def job_core(
    tmp_path: Path,
    api: FakeCometAPI,
    clock: FakeClock,
    *,
    limits: Limits = Limits(per_user=2, per_guild=10, total=20),  # noqa: B008 - frozen
    notifier: RecordingNotifier | None = None,
    max_download_bytes: int = 200 * 1024 * 1024,
    videos: VideoStore | None = None,
    fitter: Fitter | None = None,
    database_url: str | None = None,
    **config: Any,
) -> AsyncIterator[Core]:
    """A store (on ``database_url``, by default ``tmp_path/veo.sqlite3``) and a worker talking to ``api``; closed
    on exit."""
    store = await open_store(database_url or f"sqlite:///{tmp_path / 'veo.sqlite3'}")
    async with aiohttp.ClientSession() as session:
        client = VideoClient(session, base_url=api.base_url, api_key=SecretStr(api.api_key),
                             retry=RetryPolicy(attempts=3, request_timeout=2.0),
                             allow_plain_http_downloads=True, sleep=no_sleep,
                             max_download_bytes=max_download_bytes)
        core_config = dataclasses.replace(
            CoreConfig(limits=limits, data_dir=tmp_path / "data", poll_interval=10.0, job_timeout=600.0), **config
        )
        notifier = notifier or RecordingNotifier()
        worker = JobWorker(store, client, notifier, core_config, clock=clock, videos=videos, fitter=fitter)
        try:
            yield Core(store, worker, JobService(store, worker, clock=clock), notifier, clock, api)
        finally:
            await worker.delivery.close()
            await store.close()
