"""Meta notes: small values by key, and one value every concurrent caller agrees on."""

from __future__ import annotations

import asyncio

from bot.jobs.ports import JobStore


async def test_meta_notes(store: JobStore) -> None:
    assert await store.get_meta("commands_hash") is None
    await store.set_meta("commands_hash", "abc")
    await store.set_meta("commands_hash", "def")
    assert await store.get_meta("commands_hash") == "def"


async def test_get_or_create_meta_stores_once_then_reads_back(store: JobStore) -> None:
    assert await store.get_or_create_meta("salt", "first") == "first"
    assert await store.get_meta("salt") == "first"
    assert await store.get_or_create_meta("salt", "second") == "first"  # present: kept, not replaced
    await store.set_meta("salt", "set")
    assert await store.get_or_create_meta("salt", "third") == "set"
    assert await store.get_or_create_meta("other", "") == ""  # an empty value is a value
    assert await store.get_or_create_meta("other", "x") == ""


async def test_concurrent_get_or_create_meta_callers_all_get_the_first_stored_value(store: JobStore) -> None:
    offered = [f"value-{n}" for n in range(50)]
    results = await asyncio.gather(*(store.get_or_create_meta("video_key", value) for value in offered))
    stored = await store.get_meta("video_key")
    assert stored in offered
    assert results == [stored] * len(offered)


async def test_meta_values_are_kept_verbatim(store: JobStore) -> None:
    values = {"hash": "0" * 64, "ts": "1712345678.100000", "text": "ünïcödé 🎬 'quotes'; --", "long": "v" * 5000}
    for key, value in values.items():
        await store.set_meta(key, value)
    assert {key: await store.get_meta(key) for key in values} == values
    assert await store.get_meta("HASH") is None
