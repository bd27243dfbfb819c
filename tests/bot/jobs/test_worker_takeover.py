"""Two workers, two store objects, one PostgreSQL database: when one freezes past its lease, the other takes its
jobs over; every job ends once, and the frozen one, resumed, changes and posts nothing that was taken."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest

from bot.jobs.records import JobStatus
from tests.conftest import FakeClock
from tests.fakes.comet.api import FakeCometAPI
from tests.fakes.comet.script import Fault, TaskScript
from tests.support.core import Core, job_core
from tests.support.postgres import PostgresServer

pytestmark = pytest.mark.postgres

LEASE = 6.0


@asynccontextmanager
async def two_cores(tmp_path: Path, api: FakeCometAPI, clock: FakeClock, url: str) -> AsyncIterator[tuple[Core, Core]]:
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(
            job_core(tmp_path / "a", api, clock, database_url=url, lease_seconds=LEASE, delivery_retry_base=1.0))
        second = await stack.enter_async_context(
            job_core(tmp_path / "b", api, clock, database_url=url, lease_seconds=LEASE, delivery_retry_base=1.0))
        yield first, second


async def _wait_for(condition: object, what: str) -> None:
    for _ in range(500):
        if condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


async def test_a_frozen_workers_jobs_are_taken_over_and_end_once(
    tmp_path: Path, clock: FakeClock, postgres_server: PostgresServer
) -> None:
    async with postgres_server.database() as url, FakeCometAPI() as api, two_cores(tmp_path, api, clock, url) as (
        a, b
    ):
        api.default_script = TaskScript(polls_until_done=0)
        jobs = [await a.service.create_job(a.request(user=n)) for n in range(3)]
        await _wait_for(lambda: len(api.create_requests()) == 3, "three creates")
        # A polls and finds the videos ready, then freezes in the middle of downloading them.
        api.inject("cdn", Fault.slow(0.5), times=3)
        frozen = asyncio.create_task(a.tick(15))
        await _wait_for(lambda: len(api.cdn_requests()) == 3, "A's downloads")
        # A's heartbeat stops with it; past the lease, B takes the jobs over and delivers them.
        clock.advance(LEASE + 1)
        await b.worker.poll_once()
        for job in jobs:
            done = await b.job(job.id)
            assert done.status is JobStatus.DELIVERED and done.lease_owner is None
        assert {d.job_id for d in b.notifier.deliveries} == {job.id for job in jobs}
        before = [dataclasses.asdict(await b.job(job.id)) for job in jobs]
        # A resumes: it sends nothing more and changes nothing that was taken from it.
        await frozen
        await a.worker.renew_leases()
        await a.tick(1)
        assert a.notifier.deliveries == []
        assert [dataclasses.asdict(await b.job(job.id)) for job in jobs] == before
        assert len(api.create_requests()) == 3  # nothing was created twice


async def test_a_frozen_pollers_stale_answer_is_refused(
    tmp_path: Path, clock: FakeClock, postgres_server: PostgresServer
) -> None:
    async with postgres_server.database() as url, FakeCometAPI() as api, two_cores(tmp_path, api, clock, url) as (
        a, b
    ):
        api.default_script = TaskScript(polls_until_done=1)
        job = await a.service.create_job(a.request())
        await _wait_for(lambda: len(api.create_requests()) == 1, "the create")
        await a.worker.dispatch()
        # A's poll is on the wire when A freezes; B takes the job over past the lease and polls it itself.
        api.inject("get", Fault.slow(0.5))
        frozen = asyncio.create_task(a.tick(15))
        await _wait_for(lambda: len(api.requests_for("get")) == 1, "A's poll")
        clock.advance(LEASE + 1)
        await b.worker.poll_once()  # "running": B records it and frees the lease
        polled = await b.job(job.id)
        assert polled.status is JobStatus.RUNNING and polled.lease_owner is None and polled.polls == 1
        await frozen  # A's answer ("running") comes too late: its write carries a superseded token
        assert (await b.job(job.id)).polls == 1
        clock.advance(30)
        await b.worker.poll_once()
        assert (await b.job(job.id)).status is JobStatus.DELIVERED
        assert [d.job_id for d in b.notifier.deliveries] == [job.id] and a.notifier.deliveries == []


async def test_heartbeats_keep_a_long_step_from_being_taken(
    tmp_path: Path, clock: FakeClock, postgres_server: PostgresServer
) -> None:
    async with postgres_server.database() as url, FakeCometAPI() as api, two_cores(tmp_path, api, clock, url) as (
        a, b
    ):
        api.default_script = TaskScript(polls_until_done=0)
        job = await a.service.create_job(a.request())
        await _wait_for(lambda: len(api.create_requests()) == 1, "the create")
        api.inject("cdn", Fault.slow(0.5))
        slow = asyncio.create_task(a.tick(15))
        await _wait_for(lambda: len(api.cdn_requests()) == 1, "A's download")
        for _ in range(4):  # a download far longer than the lease, with A's heartbeat going on
            clock.advance(LEASE / 4)
            await a.worker.renew_leases()
            await b.worker.poll_once()
        await slow
        assert b.notifier.deliveries == [] and [d.job_id for d in a.notifier.deliveries] == [job.id]
        assert (await a.job(job.id)).status is JobStatus.DELIVERED
