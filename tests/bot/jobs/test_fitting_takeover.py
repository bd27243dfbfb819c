"""Fitting across processes, on one PostgreSQL database: a fit holds its job's lease, so a peer never fits or
posts a job whose fit is alive elsewhere; once a peer has taken the job over (the fitting process froze past its
lease), the late fit's post is refused and the result is posted once, by the peer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest

from bot.jobs.records import JobStatus
from tests.bot.jobs.test_fitting import GatedFitter
from tests.conftest import FakeClock
from tests.fakes.comet.api import FakeCometAPI, TaskScript, make_mp4_bytes
from tests.support.core import Core, RecordingNotifier, job_core
from tests.support.postgres import PostgresServer

pytestmark = pytest.mark.postgres

LEASE = 6.0
LIMIT = 3000


@asynccontextmanager
async def two_cores(tmp_path: Path, api: FakeCometAPI, clock: FakeClock, url: str
                    ) -> AsyncIterator[tuple[Core, GatedFitter, Core, GatedFitter]]:
    """Two processes, each with its own disk, notifier and fitter (held until its gate opens)."""
    async with AsyncExitStack() as stack:
        made = []
        for name in ("a", "b"):
            fitter = GatedFitter()
            core = await stack.enter_async_context(job_core(
                tmp_path / name, api, clock, database_url=url, lease_seconds=LEASE, fitter=fitter,
                delivery_retry_base=1.0, notifier=RecordingNotifier(upload_limit=LIMIT)))
            made += [core, fitter]
        yield made[0], made[1], made[2], made[3]  # type: ignore[misc]


async def _fitting_on_a(a: Core, fitter: GatedFitter, clock: FakeClock) -> int:
    """A job whose finished video (over the limit) A has started to fit."""
    a.api.script_next_task(TaskScript(polls_until_done=0, video=make_mp4_bytes(5000)))
    job = await a.service.create_job(a.request())
    await a.tick(15)
    assert a.worker.delivery.fitting.running == (job.id,) and fitter.calls == [LIMIT]
    return job.id


async def test_a_peer_leaves_alone_a_job_whose_fit_is_alive_elsewhere(
    tmp_path: Path, clock: FakeClock, postgres_server: PostgresServer
) -> None:
    async with postgres_server.database() as url, FakeCometAPI() as api, two_cores(tmp_path, api, clock, url) as (
        a, a_fitter, b, b_fitter
    ):
        job_id = await _fitting_on_a(a, a_fitter, clock)
        for _ in range(8):  # an encode eight times as long as the lease, A's heartbeat going on
            clock.advance(LEASE / 2)
            await a.worker.renew_leases()
            assert await b.worker.poll_once() == 0
        assert b_fitter.calls == [] and b.notifier.deliveries == []
        a_fitter.gate.set()
        await a.worker.delivery.fitting.wait()
        [delivery] = a.notifier.for_job(job_id)
        assert delivery.kind == "video" and delivery.video == make_mp4_bytes(5000)[:LIMIT]
        done = await a.job(job_id)
        assert done.status is JobStatus.DELIVERED and done.lease_owner is None and a.worker.leases.held() == {}
        clock.advance(60)
        await b.worker.poll_once()
        assert b.notifier.deliveries == [] and b_fitter.calls == []


async def test_a_fit_that_outlived_its_lease_posts_nothing_once_a_peer_took_the_job(
    tmp_path: Path, clock: FakeClock, postgres_server: PostgresServer
) -> None:
    async with postgres_server.database() as url, FakeCometAPI() as api, two_cores(tmp_path, api, clock, url) as (
        a, a_fitter, b, b_fitter
    ):
        job_id = await _fitting_on_a(a, a_fitter, clock)
        # A freezes: no heartbeat. Past its lease B takes the job over, fits the video itself and posts it.
        clock.advance(LEASE + 1)
        b_fitter.gate.set()
        assert await b.worker.poll_once() == 1
        await b.worker.delivery.fitting.wait()
        [delivery] = b.notifier.for_job(job_id)
        assert delivery.kind == "video" and b_fitter.calls == [LIMIT]
        posted = await b.job(job_id)
        assert posted.status is JobStatus.DELIVERED
        # A wakes up and its fit ends: the post that would follow is refused, nothing is posted or changed.
        await a.worker.renew_leases()
        a_fitter.gate.set()
        await a.worker.delivery.fitting.wait()
        await a.tick(0)
        assert a.notifier.deliveries == [] and a.worker.leases.held() == {}
        assert await b.job(job_id) == posted
        assert len(api.create_requests()) == 1


async def test_a_fit_whose_process_died_is_made_again_by_a_peer_after_the_lease(
    tmp_path: Path, clock: FakeClock, postgres_server: PostgresServer
) -> None:
    async with postgres_server.database() as url, FakeCometAPI() as api, two_cores(tmp_path, api, clock, url) as (
        a, a_fitter, b, b_fitter
    ):
        job_id = await _fitting_on_a(a, a_fitter, clock)
        await a.worker.delivery.close(give_up=False)  # killed: its encoder dies with it, its lease stays
        assert a_fitter.cancelled == 1
        clock.advance(LEASE / 2)
        assert await b.worker.poll_once() == 0  # the lease still runs
        clock.advance(LEASE)
        b_fitter.gate.set()
        assert await b.worker.poll_once() == 1
        await b.worker.delivery.fitting.wait()
        assert [d.kind for d in b.notifier.for_job(job_id)] == ["video"] and a.notifier.deliveries == []
        assert (await b.job(job_id)).status is JobStatus.DELIVERED
