"""The store's write lock: a transaction abandoned by a cancelled task never swallows later writes."""

from __future__ import annotations

from bot.models import JobStatus, Limits, NewJob
from db.store import SqliteJobStore

T0 = 1_790_000_000.0


def new_job(user: int = 1) -> NewJob:
    return NewJob(guild_id=10, channel_id=100, user_id=user, prompt="p", model="m", orientation="16x9")


async def test_abandoned_transaction_is_rolled_back_not_joined(store: SqliteJobStore) -> None:
    job = await store.insert_job(new_job(), T0)
    # As if a task was cancelled right after its BEGIN ran: the connection is left inside a transaction.
    await store._conn.execute("BEGIN IMMEDIATE")
    await store._conn.execute("UPDATE jobs SET prompt = 'half-written' WHERE id = ?", (job.id,))
    assert store._conn.in_transaction
    # The next writer must neither fail ("cannot start a transaction within a transaction")
    # nor have its own write rolled back later with the abandoned one.
    claimed = await store.claim_submittable(Limits(9, 9, 9), T0, T0 + 1, 9)
    assert [j.id for j in claimed] == [job.id]
    assert not store._conn.in_transaction
    assert await store.cancel(job.id, T0 + 2)
    fresh = await store.get_job(job.id)
    assert fresh is not None and fresh.status is JobStatus.CANCELLED and fresh.prompt == "p"


async def test_a_failed_transaction_leaves_the_connection_clean(store: SqliteJobStore) -> None:
    try:
        async with store._transaction():
            await store._conn.execute("INSERT INTO meta (key, value) VALUES ('k', 'v')")
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert not store._conn.in_transaction and await store.get_meta("k") is None
    await store.set_meta("k", "w")
    assert await store.get_meta("k") == "w"
