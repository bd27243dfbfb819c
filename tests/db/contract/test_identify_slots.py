"""Gateway identify slots: each bucket books one identify per window, whoever asks, however many at once."""

from __future__ import annotations

import asyncio

import pytest

from bot.jobs.ports import JobStore
from db import open_store

T0 = 1_700_000_000.0


async def test_the_first_identify_of_a_bucket_goes_at_once(store: JobStore) -> None:
    assert await store.reserve_identify_slot(0, 5.0, T0) == 0.0


async def test_the_next_waits_for_the_rest_of_the_window(store: JobStore) -> None:
    await store.reserve_identify_slot(0, 5.0, T0)
    assert await store.reserve_identify_slot(0, 5.0, T0 + 1.5) == pytest.approx(3.5)
    # Booked behind the one before, not behind "now": a third in the same second waits two windows less 1.5 s.
    assert await store.reserve_identify_slot(0, 5.0, T0 + 1.5) == pytest.approx(8.5)


async def test_once_the_window_has_passed_there_is_no_wait(store: JobStore) -> None:
    await store.reserve_identify_slot(3, 5.0, T0)
    assert await store.reserve_identify_slot(3, 5.0, T0 + 5.0) == 0.0
    assert await store.reserve_identify_slot(3, 5.0, T0 + 60.0) == 0.0
    assert await store.reserve_identify_slot(3, 5.0, T0 + 61.0) == pytest.approx(4.0)


async def test_buckets_do_not_wait_for_each_other(store: JobStore) -> None:
    waits = [await store.reserve_identify_slot(bucket, 5.0, T0) for bucket in range(4)]
    assert waits == [0.0] * 4
    assert await store.reserve_identify_slot(2, 5.0, T0) == pytest.approx(5.0)


async def test_concurrent_callers_each_get_a_slot_of_their_own(store: JobStore) -> None:
    waits = await asyncio.gather(*(store.reserve_identify_slot(1, 0.5, T0) for _ in range(20)))
    assert sorted(waits) == pytest.approx([n * 0.5 for n in range(20)])


async def test_slots_are_kept_in_the_database(database_url: str) -> None:
    # What one process booked, the next (or a restarted one) sees: it opens the same database afresh.
    first = await open_store(database_url)
    try:
        await first.reserve_identify_slot(0, 5.0, T0)
    finally:
        await first.close()
    second = await open_store(database_url)
    try:
        assert await second.reserve_identify_slot(0, 5.0, T0 + 1.0) == pytest.approx(4.0)
    finally:
        await second.close()
