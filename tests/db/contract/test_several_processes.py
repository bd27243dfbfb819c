"""Several processes on one database: each store here has connections of its own, as a bot process would.

A backend either lets several processes share a database, and then keeps every cap, quota and note exact
under their races, or refuses the second one outright (SQLite: one file, one process).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import Counter
from collections.abc import Awaitable, Callable

import pytest

from bot.jobs.policy import Refusal
from bot.jobs.ports import JobStore, StoreInUse
from bot.jobs.records import ACTIVE_STATUSES, Job, JobStatus, Limits
from db import open_store
from db.postgres.connection import migration_scripts
from tests.db.contract.conftest import Backend
from tests.db.contract.helpers import T0, new_job, policy, settings_of
from tests.support.postgres import PostgresServer

StoreFactory = Callable[[], Awaitable[JobStore]]
PROCESSES = 4


async def stores(factory: StoreFactory, count: int = PROCESSES) -> list[JobStore]:
    return [await factory() for _ in range(count)]


async def test_a_second_process_shares_the_database_or_is_refused(backend: Backend, database_url: str) -> None:
    first = await open_store(database_url)
    try:
        job = await first.insert_job(new_job(), T0)
        if not backend.several_processes:
            with pytest.raises(StoreInUse):
                await open_store(database_url)
            return
        second = await open_store(database_url)
        try:
            seen = await second.get_job(job.id)
            assert seen is not None and seen.prompt == "a cat"
            assert await second.cancel(job.id, T0 + 1)
            assert (await first.get_job(job.id)).status is JobStatus.CANCELLED  # type: ignore[union-attr]
        finally:
            await second.close()
    finally:
        await first.close()


@pytest.mark.parametrize(
    ("changes", "members", "admitted", "refusal"),
    [
        ({"daily_quota_per_user": 3, "max_queued": 0}, 1, 3, Refusal.USER_QUOTA),
        ({"daily_quota_per_guild": 5, "daily_quota_per_user": 0, "max_queued": 0}, 8, 5, Refusal.GUILD_QUOTA),
        ({"max_queued": 4, "daily_quota_per_user": 0, "daily_quota_per_guild": 0}, 8, 4, Refusal.QUEUE_FULL),
        ({"cooldown_seconds": 60.0, "daily_quota_per_user": 0, "daily_quota_per_guild": 0, "max_queued": 0}, 1, 1,
         Refusal.COOLDOWN),
    ],
    ids=["user-quota", "workspace-quota", "queue-length", "cooldown"],
)
async def test_admissions_raced_from_several_processes_never_exceed_a_limit(
    store_factory: StoreFactory, changes: dict[str, object], members: int, admitted: int, refusal: Refusal
) -> None:
    opened = await stores(store_factory)
    p = policy(**changes)
    users = itertools.cycle(range(1, members + 1))
    calls = [opened[i % PROCESSES].admit_job(new_job(user=next(users)), p, T0) for i in range(48)]
    answers = await asyncio.gather(*calls)
    ids = [a.job_id for a in answers if a.job_id is not None]
    assert len(ids) == admitted and len(set(ids)) == admitted
    assert {a.refusal for a in answers if a.job_id is None} == {refusal}
    in_queue = await opened[0].in_flight(new_job().workspace)
    assert sorted(job.id for job in in_queue) == sorted(ids)


async def test_claims_raced_from_several_processes_keep_every_cap_and_claim_each_job_once(
    store_factory: StoreFactory,
) -> None:
    opened = await stores(store_factory)
    # Workspace 20 allows one job per member and three in all; the others take the defaults below.
    await opened[0].save_workspace_settings(settings_of(20, max_active_per_user=1, max_active_per_guild=3),
                                            actor_id="1", action="set", details="", now=T0)
    for i in range(60):
        await opened[i % PROCESSES].insert_job(new_job(user=i % 5, guild=(10, 20, 30)[i % 3]), T0 + i)
    limits = Limits(per_user=2, per_guild=4, total=9)
    claims: list[list[Job]] = []
    # Rounds of simultaneous claims, with jobs leaving the provider in between, so that slots free up and
    # every round races for them again.
    for round_no in range(4):
        batches = await asyncio.gather(*(opened[i % PROCESSES].claim_submittable(limits, T0, T0 + 120, 3)
                                         for i in range(12)))
        claims.extend(batches)
        active = [job for each in await asyncio.gather(*(opened[0].get_job(j.id) for b in batches for j in b))
                  if each is not None and (job := each).status in ACTIVE_STATUSES]
        assert len(active) <= limits.total
        by_workspace = Counter(job.workspace_id for job in active)
        by_member = Counter((job.workspace_id, job.user_id) for job in active)
        assert by_workspace["20"] <= 3 and all(n <= 4 for n in by_workspace.values())
        assert all(n <= (1 if ws == "20" else 2) for (ws, _), n in by_member.items())
        for job in active[: 2 + round_no]:
            assert await opened[(job.id + 1) % PROCESSES].mark_failed(job.id, JobStatus.FAILED, "done", T0 + 200)
    ids = [job.id for batch in claims for job in batch]
    assert len(ids) == len(set(ids)) > 9  # no job claimed twice, and the freed slots were claimed again
    everyone = await opened[0].count_by_status()
    assert sum(everyone.get(s, 0) for s in ACTIVE_STATUSES) <= limits.total


async def test_a_claim_waits_for_another_process_s_claim_and_counts_what_it_took(
    store_factory: StoreFactory,
) -> None:
    one, two = await stores(store_factory, 2)
    for _ in range(6):
        await one.insert_job(new_job(user=1), T0)
    first, second = await asyncio.gather(one.claim_submittable(Limits(3, 9, 9), T0, T0 + 1, 9),
                                         two.claim_submittable(Limits(3, 9, 9), T0, T0 + 1, 9))
    assert len(first) + len(second) == 3
    assert not {j.id for j in first} & {j.id for j in second}


async def test_the_note_every_process_creates_at_once_is_one_value(store_factory: StoreFactory) -> None:
    opened = await stores(store_factory)
    values = await asyncio.gather(*(opened[i % PROCESSES].get_or_create_meta("nonce_salt", f"salt-{i}")
                                    for i in range(24)))
    assert len(set(values)) == 1 and values[0].startswith("salt-")
    assert await opened[3].get_meta("nonce_salt") == values[0]


async def test_identify_turns_booked_at_once_from_several_processes_are_a_window_apart(
    store_factory: StoreFactory,
) -> None:
    opened = await stores(store_factory)
    waits = await asyncio.gather(*(opened[i % PROCESSES].reserve_identify_slot(0, 5.0, 1000.0) for i in range(8)))
    assert sorted(waits) == [5.0 * i for i in range(8)]  # one turn each, none shared, none skipped


@pytest.mark.postgres
async def test_migrations_raced_by_several_processes_apply_once(
    postgres_server: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="db.postgres.connection")
    async with postgres_server.database(migrated=False) as url:
        opened = await asyncio.gather(*(open_store(url) for _ in range(PROCESSES)))
        try:
            applied = [r.getMessage() for r in caplog.records if r.getMessage().startswith("applied migration")]
            assert applied == [f"applied migration {name}" for _, name, _ in migration_scripts()]
            job = await opened[0].insert_job(new_job(), T0)
            assert (await opened[3].get_job(job.id)) is not None
        finally:
            for each in opened:
                await each.close()


async def test_one_job_claims_raced_from_several_processes_never_exceed_the_total_cap(
    store_factory: StoreFactory,
) -> None:
    opened = await stores(store_factory)
    for user in range(40):  # one job per member: only the total cap can hold them back
        await opened[user % PROCESSES].insert_job(new_job(user=user, guild=user), T0)
    for _ in range(3):
        await asyncio.gather(*(opened[i % PROCESSES].claim_submittable(Limits(9, 9, total=5), T0, T0 + 1, 1)
                               for i in range(24)))
        counts = await opened[0].count_by_status()
        assert counts.get(JobStatus.SUBMITTING, 0) <= 5
    assert counts == {JobStatus.SUBMITTING: 5, JobStatus.QUEUED: 35}


@pytest.mark.postgres
async def test_limits_hold_on_a_server_whose_default_isolation_is_repeatable_read(
    postgres_server: PostgresServer,
) -> None:
    # Under REPEATABLE READ a transaction's snapshot is taken before it waits for the workspace's lock, so it
    # would not see what the previous holder admitted: the store's sessions keep READ COMMITTED themselves.
    async with postgres_server.database() as url:
        name = url.rsplit("/", 1)[1]
        await postgres_server._admin(
            f"ALTER DATABASE \"{name}\" SET default_transaction_isolation = 'repeatable read'")
        opened = [await open_store(url) for _ in range(PROCESSES)]
        try:
            p = policy(daily_quota_per_user=3, max_queued=50)
            answers = await asyncio.gather(*(opened[i % PROCESSES].admit_job(new_job(user=1), p, T0)
                                             for i in range(24)))
            assert len([a for a in answers if a.job_id is not None]) == 3
        finally:
            for store in opened:
                await store.close()
