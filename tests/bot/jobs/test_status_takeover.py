"""Status messages with two workers on one PostgreSQL database: the first message is posted once however the
two race, and a worker whose claim was taken over neither edits nor creates the message anymore; and, on both
backends, a first post the platform refused is tried again at the next refresh, not a lease later."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.jobs.ports import StatusView
from bot.jobs.records import Job, JobStatus
from tests.conftest import FakeClock
from tests.fakes.comet.api import FakeCometAPI
from tests.support.core import Core, RecordingNotifier, job_core
from tests.support.postgres import PostgresServer

LEASE = 6.0


@dataclass
class GatedNotifier(RecordingNotifier):
    """Records like ``RecordingNotifier``; a status post waits for ``gate`` (a slow request to the platform)."""

    gate: asyncio.Event = field(default_factory=asyncio.Event)
    posting: asyncio.Event = field(default_factory=asyncio.Event)
    created: list[int] = field(default_factory=list)

    async def show_status(self, job: Job, view: StatusView) -> str | None:
        self.posting.set()
        await self.gate.wait()
        shown = await super().show_status(job, view)
        if shown is not None:
            self.created.append(job.id)
        return shown


@asynccontextmanager
async def two_cores(tmp_path: Path, api: FakeCometAPI, clock: FakeClock, url: str) -> AsyncIterator[tuple[Core, Core]]:
    async with AsyncExitStack() as stack:
        cores = [await stack.enter_async_context(job_core(tmp_path / name, api, clock, database_url=url,
                                                          lease_seconds=LEASE, notifier=GatedNotifier()))
                 for name in ("a", "b")]
        yield cores[0], cores[1]


@pytest.mark.postgres
async def test_two_processes_racing_to_post_the_first_status_message_post_it_once(
    tmp_path: Path, clock: FakeClock, postgres_server: PostgresServer
) -> None:
    async with postgres_server.database() as url, FakeCometAPI() as api, two_cores(tmp_path, api, clock, url) as (
        a, b
    ):
        assert isinstance(a.notifier, GatedNotifier) and isinstance(b.notifier, GatedNotifier)
        job = await a.store.insert_job(a.request(), clock())
        first = asyncio.create_task(a.worker.refresh_status(job.id, force=True))
        await asyncio.wait_for(a.notifier.posting.wait(), 5)  # A's post is on its way
        b.notifier.gate.set()
        await b.worker.refresh_status(job.id, force=True)  # B finds the post begun by A: it leaves it to A
        assert b.notifier.statuses == []
        a.notifier.gate.set()
        await first
        posted = await a.job(job.id)
        assert posted.status_message_id is not None and a.notifier.created == [job.id]
        # From now on either process edits the one message.
        clock.advance(60)
        assert await b.store.cancel(job.id, clock())
        await b.worker.refresh_status(job.id, force=True)
        assert b.notifier.created == [] and b.notifier.statuses[-1][:2] == (job.id, JobStatus.CANCELLED)
        assert (await b.job(job.id)).status_message_id == posted.status_message_id


@pytest.mark.postgres
async def test_a_worker_whose_claim_was_taken_over_leaves_the_status_message_alone(
    tmp_path: Path, clock: FakeClock, postgres_server: PostgresServer
) -> None:
    async with postgres_server.database() as url, FakeCometAPI() as api, two_cores(tmp_path, api, clock, url) as (
        a, b
    ):
        for core in (a, b):
            assert isinstance(core.notifier, GatedNotifier)
            core.notifier.gate.set()
        job = await a.store.insert_job(a.request(), clock())
        [queued] = await a.store.claim_submittable(a.worker.config.limits, clock(), clock() + LEASE, 9, "A")
        assert await a.store.mark_submitted(job.id, "task_1", clock(), clock(), token=queued.lease_token)
        [stale] = await a.store.claim_due("A", clock(), LEASE, 9)
        clock.advance(LEASE + 1)
        [fresh] = await b.store.claim_due("B", clock(), LEASE, 9)
        # A, resumed, neither creates the message nor records anything.
        await a.worker.refresh_status(job.id, force=True, token=stale.lease_token)
        assert a.notifier.statuses == []
        row = await a.job(job.id)
        assert row.status_message_id is None and row.status_rendered is None and row.status_edited_at is None
        # B, which holds the job now, posts it; A's later edits are refused too.
        await b.worker.refresh_status(job.id, force=True, token=fresh.lease_token)
        assert len(b.notifier.statuses) == 1 and b.notifier.created == [job.id]
        assert await b.store.record_progress(job.id, JobStatus.RUNNING, 50, clock() + 30, token=fresh.lease_token)
        await a.worker.refresh_status(job.id, force=True, token=stale.lease_token)
        assert a.notifier.statuses == []
        shown = await b.job(job.id)
        assert shown.status_rendered is not None and shown.status_rendered.startswith("submitted|")


@dataclass
class FailingOnceNotifier(RecordingNotifier):
    """The platform refuses the first status post (an outage), then takes them."""

    failures: int = 1

    async def show_status(self, job: Job, view: StatusView) -> str | None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("the platform is down")
        return await super().show_status(job, view)


async def test_a_failed_first_post_is_tried_again_at_the_next_refresh(
    tmp_path: Path, clock: FakeClock, core_database_url: str
) -> None:
    notifier = FailingOnceNotifier()
    async with FakeCometAPI() as api, job_core(tmp_path, api, clock, database_url=core_database_url,
                                               notifier=notifier) as core:
        job = await core.store.insert_job(core.request(), clock())
        await core.worker.refresh_status(job.id, force=True)
        assert notifier.statuses == [] and (await core.job(job.id)).status_edited_at is None
        clock.advance(1)  # far less than the hold on a first post (a lease)
        await core.worker.refresh_status(job.id, force=True)
        assert len(notifier.statuses) == 1 and (await core.job(job.id)).status_message_id is not None
