"""New work wakes the other processes at once: a worker that would tick again only in 30 s takes a job another
process admitted within a moment, and after its listening connection is killed it listens again and ticks (what
was announced meanwhile is not sent again)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest

from bot.jobs.policy import Defaults, Policy, WorkspaceSettings
from bot.jobs.records import JobStatus
from db.postgres.wakeups import LISTENER_NAME
from tests.conftest import FakeClock
from tests.fakes.comet.api import FakeCometAPI
from tests.support.core import Core, job_core
from tests.support.postgres import PostgresServer

pytestmark = pytest.mark.postgres

TICK = 30.0  # the worker's timed tick and poll interval: far longer than any wait below
SOON = 3.0  # well under TICK: only a wake-up explains a job taken within it
POLICY = Policy.effective(Defaults(max_active_per_user=2, max_active_per_guild=10, max_active_total=20,
                                   max_queued=50, daily_quota_per_user=9, daily_quota_per_guild=99,
                                   cooldown_seconds=0.0, models=()), WorkspaceSettings("discord", "10"))


async def _until(condition: Callable[[], object], what: str, timeout: float = SOON) -> float:
    """Wait (checking every 10 ms) until ``condition`` holds; return the seconds it took."""
    began = time.monotonic()
    while not await condition():  # type: ignore[misc]
        if time.monotonic() - began > timeout:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.01)
    return time.monotonic() - began


async def _listener_pid(admin: asyncpg.Connection) -> int | None:
    """The backend of the worker's listening connection, once it has run its LISTEN."""
    pid = await admin.fetchval("SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%'",
                               LISTENER_NAME)
    return int(pid) if pid is not None else None


@asynccontextmanager
async def running_worker(core: Core) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(core.worker.run(stop, idle=TICK))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def test_a_job_admitted_by_another_process_is_taken_at_once(
    tmp_path: Path, clock: FakeClock, postgres_server: PostgresServer
) -> None:
    async with postgres_server.database() as url, FakeCometAPI() as api, job_core(
        tmp_path / "a", api, clock, database_url=url, poll_interval=TICK
    ) as a, job_core(tmp_path / "b", api, clock, database_url=url, poll_interval=TICK) as b:
        admin = await asyncpg.connect(url)
        try:
            async with running_worker(b):
                await _until(lambda: _listener_pid(admin), "B listens")
                first = await a.store.admit_job(a.request(), POLICY, clock())  # A only admits jobs
                assert first.job_id is not None
                await _until(lambda: _sent(api, 1), "B submits the first job")
                # B's next tick is due when the first job's first poll is, in 30 s (±20 %): only the announcement
                # of the second job can bring it sooner.
                second = await a.store.admit_job(a.request(user=2), POLICY, clock())
                assert second.job_id is not None
                took = await _until(lambda: _sent(api, 2), "B sends the second job")
                await _until(lambda: _submitted(b, second.job_id), "B records the second job submitted")
                print(f"admitted by A, submitted by B after {took * 1000:.0f} ms (timed tick: {TICK:.0f} s)")
        finally:
            await admin.close()


async def test_after_its_connection_is_killed_the_listener_comes_back_and_the_worker_ticks(
    tmp_path: Path, clock: FakeClock, postgres_server: PostgresServer
) -> None:
    async with postgres_server.database() as url, FakeCometAPI() as api, job_core(
        tmp_path / "a", api, clock, database_url=url, poll_interval=TICK
    ) as a, job_core(tmp_path / "b", api, clock, database_url=url, poll_interval=TICK) as b:
        admin = await asyncpg.connect(url)
        try:
            async with running_worker(b):
                first = await _wait_pid(admin)
                announced = await a.store.admit_job(a.request(), POLICY, clock())
                assert announced.job_id is not None
                await _until(lambda: _sent(api, 1), "B submits the announced job")
                # B's next timed tick is 24 s or more away. Its listener is killed, and a job is written without an
                # announcement meanwhile (as if it had been lost with the connection): only the tick that follows
                # listening again can take it soon.
                assert await admin.fetchval("SELECT pg_terminate_backend($1)", first)
                job = await a.store.insert_job(a.request(user=2), clock())
                assert (await b.job(job.id)).status is JobStatus.QUEUED
                took = await _until(lambda: _sent(api, 2), "B ticks once it listens again")
                second = await _wait_pid(admin)
                assert second != first
                await _until(lambda: _submitted(b, job.id), "B records the job submitted")
                print(f"listener killed; listening again and the unannounced job submitted after {took * 1000:.0f} ms")
                # The new connection hears announcements as the first did.
                again = await a.store.admit_job(a.request(user=3), POLICY, clock())
                assert again.job_id is not None
                await _until(lambda: _sent(api, 3), "B submits the third job")
        finally:
            await admin.close()


async def _wait_pid(admin: asyncpg.Connection) -> int:
    await _until(lambda: _listener_pid(admin), "the worker listens")
    pid = await _listener_pid(admin)
    assert pid is not None
    return pid


async def _sent(api: FakeCometAPI, count: int) -> bool:
    return len(api.create_requests()) >= count


async def _submitted(core: Core, job_id: int) -> bool:
    return (await core.job(job_id)).status is JobStatus.SUBMITTED
