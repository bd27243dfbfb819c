"""The store's group commit (on aiosqlite): units are atomic, writes that wait commit together, one fails alone."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from db.sqlite.connection import open_database
from db.sqlite.group_commit import GroupCommit, StoreClosed


def _set(key: str, value: str):  # type: ignore[no-untyped-def]
    def work(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, value))
    return work


def _half_then_fail(conn: sqlite3.Connection) -> None:
    conn.execute("INSERT INTO meta (key, value) VALUES ('half', 'written')")
    raise RuntimeError("boom")


@pytest.fixture
async def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    db = GroupCommit(lambda: open_database(tmp_path / "veo.sqlite3"))
    await db.start()
    yield db
    await db.close()


async def _meta(db: GroupCommit) -> dict[str, str]:
    return await db.read(lambda conn: {k: v for k, v in conn.execute("SELECT key, value FROM meta")})


async def test_writes_that_wait_together_commit_together_and_all_land(db: GroupCommit) -> None:
    await asyncio.gather(*(db.write(_set(f"k{i}", str(i))) for i in range(200)))
    assert await _meta(db) == {f"k{i}": str(i) for i in range(200)}
    assert db.units_written == 200
    # All 200 were queued before the first commit finished: far fewer commits (fsyncs) than writes.
    assert db.commits <= 50


async def test_a_failing_unit_rolls_back_alone_and_its_caller_sees_the_error(db: GroupCommit) -> None:
    results = await asyncio.gather(
        db.write(_set("before", "1")), db.write(_half_then_fail), db.write(_set("after", "2")),
        return_exceptions=True,
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], RuntimeError) and str(results[1]) == "boom"
    assert await _meta(db) == {"before": "1", "after": "2"}


async def test_a_unit_that_breaks_the_transaction_costs_the_others_nothing(db: GroupCommit) -> None:
    def rogue(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO meta (key, value) VALUES ('rogue', 'x')")
        conn.execute("ROLLBACK")  # ends the shared transaction under everybody's feet

    results = await asyncio.gather(
        db.write(_set("a", "1")), db.write(rogue), db.write(_set("b", "2")), return_exceptions=True,
    )
    assert results[0] is None and results[2] is None and isinstance(results[1], sqlite3.Error)
    assert await _meta(db) == {"a": "1", "b": "2"}
    await db.write(_set("c", "3"))  # and the connection is clean afterwards
    assert (await _meta(db))["c"] == "3"


async def test_a_cancelled_caller_does_not_stop_its_unit_nor_break_the_store(db: GroupCommit) -> None:
    started = asyncio.Event()
    loop = asyncio.get_running_loop()

    def slow(conn: sqlite3.Connection) -> None:
        loop.call_soon_threadsafe(started.set)
        conn.execute("INSERT INTO meta (key, value) VALUES ('slow', 'done')")

    task = asyncio.create_task(db.write(slow))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await db.write(_set("next", "ok"))
    assert await _meta(db) == {"slow": "done", "next": "ok"}


async def test_reads_never_see_a_write_that_is_not_committed(db: GroupCommit) -> None:
    await db.write(_set("k", "old"))
    gate = asyncio.Event()
    loop = asyncio.get_running_loop()

    def update_then_fail(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE meta SET value = 'new' WHERE key = 'k'")
        loop.call_soon_threadsafe(gate.set)
        raise RuntimeError("rolled back")

    results = await asyncio.gather(db.write(update_then_fail), db.read(lambda c: _value(c, "k")),
                                   return_exceptions=True)
    assert isinstance(results[0], RuntimeError) and results[1] == "old"
    assert gate.is_set() and await db.read(lambda c: _value(c, "k")) == "old"


def _value(conn: sqlite3.Connection, key: str) -> str:
    return str(conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0])


async def test_close_finishes_what_is_queued_then_refuses_more(tmp_path: Path) -> None:
    db = GroupCommit(lambda: open_database(tmp_path / "veo.sqlite3"))
    await db.start()
    pending = [asyncio.ensure_future(db.write(_set(f"k{i}", "v"))) for i in range(20)]
    await asyncio.sleep(0)  # the writes are queued
    await db.close()
    await asyncio.gather(*pending)
    with pytest.raises(StoreClosed):
        await db.read(lambda conn: None)
    conn = open_database(tmp_path / "veo.sqlite3")
    try:
        assert conn.execute("SELECT COUNT(*) FROM meta").fetchone()[0] == 20
    finally:
        conn.close()


async def test_a_cancelled_close_still_finishes_what_is_queued(tmp_path: Path) -> None:
    db = GroupCommit(lambda: open_database(tmp_path / "veo.sqlite3"))
    await db.start()
    started, release = asyncio.Event(), threading.Event()
    loop = asyncio.get_running_loop()

    def held(conn: sqlite3.Connection) -> None:
        loop.call_soon_threadsafe(started.set)
        release.wait(5)
        conn.execute("INSERT INTO meta (key, value) VALUES ('held', 'v')")

    first = asyncio.ensure_future(db.write(held))
    await started.wait()  # a batch is on the connection's thread; the next writes queue behind it
    pending = [asyncio.ensure_future(db.write(_set(f"k{i}", "v"))) for i in range(19)]
    closing = asyncio.ensure_future(db.close())
    await asyncio.sleep(0)
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    release.set()
    await asyncio.gather(first, *pending)
    with pytest.raises(StoreClosed):
        await db.read(lambda conn: None)
    await asyncio.wait_for(db.close(), 5)  # another close() waits for the first one's end
    conn = open_database(tmp_path / "veo.sqlite3")
    try:
        assert conn.execute("SELECT COUNT(*) FROM meta").fetchone()[0] == 20
    finally:
        conn.close()


async def test_a_database_that_cannot_be_opened_fails_start(tmp_path: Path) -> None:
    (tmp_path / "veo.sqlite3").mkdir()  # a directory where the file should be
    threads = threading.active_count()
    db = GroupCommit(lambda: open_database(tmp_path / "veo.sqlite3"))
    with pytest.raises(sqlite3.Error):
        await db.start()
    await asyncio.wait_for(db.close(), 5)  # nothing to wait for, and no hang
    with pytest.raises(StoreClosed):
        await db.read(lambda conn: None)
    # aiosqlite's thread is gone too (it is not a daemon: left running, it would keep the process alive).
    for _ in range(500):
        if threading.active_count() <= threads:
            break
        await asyncio.sleep(0.01)
    assert threading.active_count() <= threads


UNCLOSED = """
import asyncio, sys
from pathlib import Path
from db.sqlite.store import SqliteJobStore

async def main() -> None:
    store = await SqliteJobStore.open(Path(sys.argv[1]))
    await store.set_meta("left", "open")
    raise RuntimeError("start-up failed after the store was opened")

asyncio.run(main())
"""


def test_a_store_left_open_does_not_keep_the_process_alive(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", UNCLOSED, str(tmp_path / "veo.sqlite3")],  # noqa: S603
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1 and "start-up failed after the store was opened" in done.stderr
    conn = open_database(tmp_path / "veo.sqlite3")
    try:
        assert conn.execute("SELECT value FROM meta WHERE key = 'left'").fetchone()[0] == "open"
    finally:
        conn.close()
