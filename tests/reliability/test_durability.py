"""SQLite durability: WAL with synchronous=FULL, and no committed step lost when the process is SIGKILLed."""

from __future__ import annotations

import asyncio
import random
import signal
import sqlite3
import sys
from pathlib import Path

from db.sqlite.connection import open_database

ROOT = Path(__file__).resolve().parents[2]
KILLS = 12


def test_the_store_runs_in_wal_mode_with_full_sync(tmp_path: Path) -> None:
    conn = open_database(tmp_path / "veo.sqlite3")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        # FULL: a commit is on disk before the bot acts on it
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2
    finally:
        conn.close()


async def _run_until_killed(db: Path, start: int, steps: int, reported: dict[str, set[int]]) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.reliability.durability_child", str(db), str(start), cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    seen = 0
    try:
        while seen < steps:
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
            assert line, (await proc.stderr.read()).decode()
            _record(line, reported)
            seen += 1
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    # Lines printed before the kill landed are commits that returned too.
    for line in (await proc.stdout.read()).splitlines(keepends=True):
        if line.endswith(b"\n"):
            _record(line, reported)


def _record(line: bytes, reported: dict[str, set[int]]) -> None:
    step, job, *_ = line.decode().split()
    reported[step].add(int(job))


async def test_no_committed_step_is_lost_when_the_process_is_killed(tmp_path: Path, reliability_seed: int) -> None:
    rng = random.Random(reliability_seed)
    db = tmp_path / "veo.sqlite3"
    reported: dict[str, set[int]] = {"inserted": set(), "claimed": set(), "submitted": set()}
    for round_ in range(KILLS):
        await _run_until_killed(db, round_ * 100_000, rng.randint(10, 300), reported)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = {r[0]: r[1:] for r in conn.execute("SELECT id, status, task_id FROM jobs")}
    assert len(reported["inserted"]) >= KILLS * 5
    lost = reported["inserted"] - rows.keys()
    assert not lost, f"committed jobs lost: {sorted(lost)[:10]}"
    regressed = [j for j in reported["claimed"] if rows[j][0] not in ("submitting", "submitted")]
    assert not regressed, f"claims rolled back: {regressed[:10]}"
    unsubmitted = [j for j in reported["submitted"] if rows[j] != ("submitted", f"task_{j}")]
    assert not unsubmitted, f"submissions rolled back: {unsubmitted[:10]}"
    print(f"\ndurability: {KILLS} kills, {len(reported['inserted'])} inserts, {len(reported['claimed'])} claims, "
          f"{len(reported['submitted'])} submissions committed and found after the kills")
