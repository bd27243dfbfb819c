"""The job core with the Slack notifier, against the fake Slack and the fake CometAPI over loopback.

``slack_world`` starts both fakes (a workspace, a channel the bot is in, a member); ``SlackCore`` is one bot
process's worth of the core (store, worker, service, notifier on a real ``AsyncWebClient``), which a test may
``kill`` (as a crash: the step under way is cancelled, nothing is closed in order) and start again on the same
database. Ticks are driven by hand on an injected clock, which the fake Slack's message timestamps follow too.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import SecretStr

from bot.comet.client import VideoClient
from bot.comet.types import RetryPolicy
from bot.jobs.config import CoreConfig
from bot.jobs.ports import JobStore
from bot.jobs.records import Job, JobStatus, Limits, NewJob
from bot.jobs.service import JobService
from bot.jobs.worker import JobWorker
from db import open_store
from slack.ids import PLATFORM
from slack.notifier import SlackNotifier
from slack.upload import UploadTimings
from slack.web_api import notifier_client
from tests.conftest import FakeClock
from tests.fakes.comet.api import FakeCometAPI
from tests.fakes.slack.models import FakeChannel, FakeUser
from tests.fakes.slack.records import FakeMessage
from tests.fakes.slack.server import FakeSlack
from tests.support.core import no_sleep

# Short real waits: polling for an upload's message, and a rate limit waited out inside a call.
FAST_UPLOADS = UploadTimings(send_timeout=10.0, share_wait=0.3, share_poll_first=0.02, share_poll_max=0.1)


async def fast_sleep(seconds: float) -> None:
    """A sleep a hundred times shorter: Retry-After waits cost milliseconds."""
    await asyncio.sleep(seconds / 100)


@dataclass
class SlackWorld:
    """The fakes, one channel the bot is in, and a member."""

    slack: FakeSlack
    api: FakeCometAPI
    channel: FakeChannel
    member: FakeUser
    clock: FakeClock
    tmp_path: Path
    database_url: str

    def request(self, prompt: str = "a red fox in snow", **changes: Any) -> NewJob:
        """The member asking for a video in the channel."""
        return NewJob(platform=PLATFORM, workspace_id=self.slack.team.id, channel_id=self.channel.id,
                      user_id=self.member.id, prompt=prompt, model="veo3.1-fast", orientation="16x9", **changes)

    def bot_messages(self) -> list[FakeMessage]:
        """The bot's live messages in the channel (thread replies included), oldest first."""
        return [m for m in self.slack.messages(self.channel) if m.user == self.slack.team.bot_user_id]

    def statuses(self) -> list[FakeMessage]:
        """The bot's status messages (their metadata says so)."""
        return [m for m in self.bot_messages() if (m.metadata or {}).get("event_payload", {}).get("kind") == "status"]

    def results(self) -> list[FakeMessage]:
        """The bot's messages that are not status messages: videos, links, failure notices."""
        return [m for m in self.bot_messages() if m not in self.statuses()]

    def videos(self) -> list[FakeMessage]:
        """Messages showing a live (not deleted) video file."""
        return self.slack.file_messages(self.channel)


@contextlib.asynccontextmanager
async def slack_world(tmp_path: Path, database_url: str | None = None, **slack_options: Any
                      ) -> AsyncIterator[SlackWorld]:
    """Start the fake Slack and the fake CometAPI, with a channel and a member."""
    clock = FakeClock()
    # The fake's message timestamps and its rate buckets follow the test's clock: a tick of the worker refills them.
    async with FakeSlack(clock=clock, wall_clock=clock, **slack_options) as slack, FakeCometAPI() as api:
        member = slack.add_user("member")
        channel = slack.add_channel("videos", members=(member,))
        yield SlackWorld(slack, api, channel, member, clock, tmp_path,
                         database_url or f"sqlite:///{tmp_path / 'veo.sqlite3'}")


@dataclass
class SlackCore:
    """One bot process: store, worker, service and the Slack notifier."""

    world: SlackWorld
    store: JobStore
    worker: JobWorker
    service: JobService
    notifier: SlackNotifier
    session: aiohttp.ClientSession
    steps: list[asyncio.Task[Any]] = field(default_factory=list)

    async def job(self, job_id: int) -> Job:
        job = await self.store.get_job(job_id)
        assert job is not None
        return job

    async def tick(self, seconds: float = 0.0) -> int:
        """Move the clock and run one poll of the worker."""
        self.world.clock.advance(seconds)
        return await self.worker.poll_once()

    def tick_in_background(self, seconds: float = 0.0) -> asyncio.Task[int]:
        """Start a tick that the test may kill half way."""
        self.world.clock.advance(seconds)
        task = asyncio.ensure_future(self.worker.poll_once())
        self.steps.append(task)
        return task

    async def until(self, job_id: int, *statuses: JobStatus, ticks: int = 40, step: float = 30.0) -> Job:
        """Tick until the job is in one of ``statuses``."""
        for _ in range(ticks):
            job = await self.job(job_id)
            if job.status in statuses and (job.status is not JobStatus.DELIVERED or job.delivered_at):
                if not (job.status in (JobStatus.FAILED, JobStatus.TIMED_OUT) and job.needs_notice):
                    return job
            await self.tick(step)
        raise AssertionError(f"job {job_id} never reached {statuses}: {await self.job(job_id)}")

    async def kill(self) -> None:
        """Die as a crash would: the steps under way are cancelled where they are; nothing is flushed."""
        for task in self.steps:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        await self.notifier.close()
        await self.worker.delivery.close()
        await self.session.close()
        await self.store.close()


@contextlib.asynccontextmanager
async def slack_core(w: SlackWorld, *, limits: Limits = Limits(per_user=5, per_guild=10, total=20),  # noqa: B008
                     notifier_options: dict[str, Any] | None = None, **config: Any) -> AsyncIterator[SlackCore]:
    """A bot process on the world's database; closed on exit unless the test killed it."""
    core = await start_core(w, limits=limits, notifier_options=notifier_options, **config)
    try:
        yield core
    finally:
        if not core.session.closed:
            await core.kill()


async def start_core(w: SlackWorld, *, limits: Limits = Limits(per_user=5, per_guild=10, total=20),  # noqa: B008
                     notifier_options: dict[str, Any] | None = None, **config: Any) -> SlackCore:
    """Open the store and build a worker whose notifier is the Slack one (a new process on the same database)."""
    store = await open_store(w.database_url)
    session = aiohttp.ClientSession()
    provider = VideoClient(session, base_url=w.api.base_url, api_key=SecretStr(w.api.api_key),
                           retry=RetryPolicy(attempts=3, request_timeout=2.0), allow_plain_http_downloads=True,
                           sleep=no_sleep)
    core_config = dataclasses.replace(
        CoreConfig(limits=limits, data_dir=w.tmp_path / "data", poll_interval=10.0, job_timeout=600.0,
                   delivery_retry_base=1.0, delivery_retry_cap=5.0, status_edit_interval=0.0), **config)
    client = notifier_client(w.slack.bot_token, base_url=w.slack.api_url, session=session, sleep=fast_sleep)
    salt = await store.get_or_create_meta("nonce_salt", "s1")
    options: dict[str, Any] = {"timings": FAST_UPLOADS, "clock": w.clock, "sleep": fast_sleep,
                               **(notifier_options or {})}
    notifier = SlackNotifier(client, store, nonce_salt=salt, bot_user_id=w.slack.team.bot_user_id, http=session,
                             **options)
    worker = JobWorker(store, provider, notifier, core_config, clock=w.clock)
    return SlackCore(w, store, worker, JobService(store, worker, clock=w.clock), notifier, session)
