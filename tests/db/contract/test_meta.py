"""Meta notes: small values by key, and one value every concurrent caller agrees on."""

from __future__ import annotations

from bot.jobs.ports import JobStore


async def test_meta_notes(store: JobStore) -> None:
    assert await store.get_meta("commands_hash") is None
    await store.set_meta("commands_hash", "abc")
    await store.set_meta("commands_hash", "def")
    assert await store.get_meta("commands_hash") == "def"
