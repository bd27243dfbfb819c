"""A job is stored as it was asked for and read back the same, also after the store is closed and reopened."""

from __future__ import annotations

import dataclasses

from bot.jobs.ports import JobStore
from bot.jobs.records import JobStatus
from db import open_store
from tests.db.contract.helpers import T0, new_job, policy


async def test_insert_and_read_back(store: JobStore) -> None:
    job = await store.insert_job(new_job(prompt="ünïcödé 🎬 'quotes'; DROP TABLE jobs;--"), T0)
    assert job.status is JobStatus.QUEUED and job.created_at == T0 and job.progress == 0
    assert job.prompt == "ünïcödé 🎬 'quotes'; DROP TABLE jobs;--"
    again = await store.get_job(job.id)
    assert again == job
    assert await store.get_job(job.id + 1) is None


async def test_a_job_survives_closing_and_reopening_the_store(database_url: str) -> None:
    s1 = await open_store(database_url)
    job = await s1.insert_job(new_job(), T0)
    await s1.close()
    s2 = await open_store(database_url)
    assert await s2.get_job(job.id) == job
    await s2.close()


async def test_a_job_keeps_its_thread_and_direct_message_choices(store: JobStore) -> None:
    plain = await store.insert_job(new_job(), T0)
    assert (plain.in_thread, plain.dm_when_ready, plain.dm_sent_at) == (False, False, None)
    chosen = await store.insert_job(dataclasses.replace(new_job(), in_thread=True, dm_when_ready=True), T0)
    assert (chosen.in_thread, chosen.dm_when_ready, chosen.dm_sent_at) == (True, True, None)
    assert await store.get_job(chosen.id) == chosen
    admitted = await store.admit_job(dataclasses.replace(new_job(user=2), dm_when_ready=True), policy(), T0)
    assert admitted.job_id is not None
    kept = await store.get_job(admitted.job_id)
    assert kept is not None and kept.dm_when_ready and not kept.in_thread
