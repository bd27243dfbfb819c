"""A job core (real store, real worker, the given client) that runs one job per example through a sequence of
provider answers and checks the job ends in a consistent, typed state."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from hypothesis import event

from bot.comet.client import VideoClient
from bot.jobs.config import CoreConfig
from bot.jobs.records import JobStatus, Limits, NewJob
from bot.jobs.worker import JobWorker
from db.sqlite.store import SqliteJobStore
from tests.conftest import FakeClock
from tests.support.core import RecordingNotifier

SCHEDULED = {JobStatus.SUBMITTED, JobStatus.RUNNING, JobStatus.COMPLETED}


class JobCoreHarness:
    """One store and worker for many examples; each example is a new job."""

    def __init__(self, loop: asyncio.AbstractEventLoop, client: VideoClient, tmp_path: Path) -> None:
        self.loop = loop
        self.clock = FakeClock()
        self.store = loop.run_until_complete(SqliteJobStore.open(tmp_path / "veo.sqlite3"))
        self.notifier = RecordingNotifier()
        config = CoreConfig(limits=Limits(1000, 1000, 1000), data_dir=tmp_path / "data", poll_interval=10.0,
                            job_timeout=1e12)
        self.worker = JobWorker(self.store, client, self.notifier, config, clock=self.clock)

    def close(self) -> None:
        self.loop.run_until_complete(self.store.close())

    def run_job(self, server: Any, answers: list[Any]) -> None:
        """Create a job, answer its create and then its polls with ``answers`` in turn, and check it."""
        self.loop.run_until_complete(self._run(server, answers))

    async def _run(self, server: Any, answers: list[Any]) -> None:
        new = NewJob(platform="discord", workspace_id="1", channel_id="2", user_id="3",
                     prompt="a fox", model="veo3.1-fast", orientation="16x9")
        job = await self.store.insert_job(new, self.clock())
        for answer in answers:
            server.reply = answer
            self.clock.advance(100_000)  # everything scheduled is due
            await self.worker.poll_once()
        final = await self.store.get_job(job.id)
        assert final is not None and isinstance(final.status, JobStatus)
        event(f"job ends {final.status}")
        deliveries = self.notifier.for_job(job.id)
        assert len(deliveries) <= 1
        if final.status in (JobStatus.FAILED, JobStatus.TIMED_OUT):
            assert final.error and final.error.strip()
            assert [d.kind for d in deliveries] == ["failure"] and deliveries[0].error == final.error
        elif final.status is JobStatus.DELIVERED:
            assert [d.kind for d in deliveries] in (["video"], ["link"])
        else:
            assert final.status in SCHEDULED and final.next_poll_at is not None and not deliveries
