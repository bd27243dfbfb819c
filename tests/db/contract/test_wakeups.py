"""Watching for other processes' new work, through the store protocol: where several processes share the database
the watch wakes the worker once it listens and again on another process's admission, until cancelled; where one
process owns the database there is nothing to watch and it returns at once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from bot.jobs.policy import Defaults, Policy, WorkspaceSettings
from bot.jobs.ports import JobStore
from tests.db.contract.conftest import Backend
from tests.db.contract.helpers import T0, new_job

StoreFactory = Callable[[], Awaitable[JobStore]]
POLICY = Policy.effective(Defaults(max_active_per_user=2, max_active_per_guild=10, max_active_total=20,
                                   max_queued=50, daily_quota_per_user=9, daily_quota_per_guild=99,
                                   cooldown_seconds=0.0, models=()), WorkspaceSettings("discord", "10"))


async def test_a_single_process_store_has_nothing_to_watch(backend: Backend, store: JobStore) -> None:
    if backend.several_processes:
        pytest.skip("several processes share this backend's database: see the next test")
    woken: list[None] = []
    await asyncio.wait_for(store.watch_for_work(lambda: woken.append(None)), 1)
    assert woken == []


async def test_a_shared_store_wakes_the_watcher_on_another_stores_admission(store_factory: StoreFactory) -> None:
    watching, other = await store_factory(), await store_factory()
    wakes = asyncio.Queue[None]()
    task = asyncio.create_task(watching.watch_for_work(lambda: wakes.put_nowait(None)))
    try:
        await asyncio.wait_for(wakes.get(), 5)  # once listening: what was announced before is not replayed
        assert (await other.admit_job(new_job(), POLICY, T0)).job_id is not None
        await asyncio.wait_for(wakes.get(), 5)
        assert not task.done()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
