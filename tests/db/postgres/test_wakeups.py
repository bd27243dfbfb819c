"""The PostgreSQL store's wake-up hints: which writes announce new work on ``veo_wake`` (heard by a plain
LISTEN on another connection), and which do not."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from bot.jobs.policy import Defaults, Policy, WorkspaceSettings
from bot.jobs.ports import JobStore
from bot.jobs.records import JobStatus
from db import open_store
from db.postgres.wakeups import WAKE_CHANNEL
from tests.db.contract.helpers import T0, new_job, submitted
from tests.support.postgres import PostgresServer

pytestmark = pytest.mark.postgres

DEFAULTS = Defaults(max_active_per_user=2, max_active_per_guild=10, max_active_total=20, max_queued=1,
                    daily_quota_per_user=9, daily_quota_per_guild=9, cooldown_seconds=0.0, models=())


class Heard:
    """A LISTEN on a connection of its own, as another process's listener would be."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[str] = asyncio.Queue()

    def __call__(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        self.queue.put_nowait(payload)

    async def one(self) -> None:
        await asyncio.wait_for(self.queue.get(), 5)

    async def none(self) -> None:
        # The writer's backend signals the listening one at commit, before the write returns; the listening backend
        # sends what it was signalled before it answers the round trip each caller makes first, so a notification
        # that was sent would be here (a late one can only hide a bug, never fail a good write).
        assert self.queue.empty()


@pytest.fixture
async def pair(postgres_server: PostgresServer) -> AsyncIterator[tuple[JobStore, asyncpg.Connection, Heard]]:
    async with postgres_server.database() as url:
        store = await open_store(url)
        listener = await asyncpg.connect(url)
        heard = Heard()
        await listener.add_listener(WAKE_CHANNEL, heard)
        try:
            yield store, listener, heard
        finally:
            await listener.close()
            await store.close()


async def test_an_admission_a_cancel_and_new_settings_announce_work(
    pair: tuple[JobStore, asyncpg.Connection, Heard]
) -> None:
    store, listener, heard = pair
    policy = Policy.effective(DEFAULTS, WorkspaceSettings("discord", "10"))
    admitted = await store.admit_job(new_job(), policy, T0)
    assert admitted.job_id is not None
    await heard.one()
    refused = await store.admit_job(new_job(user=2), policy, T0)  # the queue is full: nothing new to do
    assert refused.job_id is None
    await listener.fetchval("SELECT 1")
    await heard.none()
    assert await store.cancel(admitted.job_id, T0 + 1)
    await heard.one()
    assert not await store.cancel(admitted.job_id, T0 + 2)  # already over: nothing changed, nothing said
    await listener.fetchval("SELECT 1")
    await heard.none()
    await store.save_workspace_settings(WorkspaceSettings("discord", "10", paused=False), actor_id="9",
                                        action="resume", details="", now=T0 + 3)
    await heard.one()


async def test_the_busy_writes_of_the_poll_loop_announce_nothing(
    pair: tuple[JobStore, asyncpg.Connection, Heard]
) -> None:
    store, listener, heard = pair
    job = await submitted(store)  # inserted, claimed for submission, submitted
    assert await store.record_progress(job.id, JobStatus.RUNNING, 40, T0 + 20)
    assert await store.set_status_shown(job.id, "running|40|1", T0 + 20, message_id="m1")
    [claimed] = await store.claim_due("p", T0 + 20, 60, 9)
    assert await store.record_poll_error(claimed.id, T0 + 40, token=claimed.lease_token)
    await listener.fetchval("SELECT 1")
    await heard.none()
