"""``python -m bench.pg --small`` end to end: it starts its own PostgreSQL, measures both stores, prints every figure.

As with the other benchmark smoke test, no figure is held to a wall-clock limit; what is checked is that every
measurement ran and measured something, and what must hold whatever the machine's speed: processes claiming
at once got disjoint jobs, and the peer took the jobs over only once the killed process's leases had run out.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.pg_report import ROWS
from tests.support import postgres

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.postgres


def test_small_postgres_benchmark_runs_and_prints_every_figure(tmp_path: Path) -> None:
    try:
        postgres.binaries()
    except postgres.NoServer as exc:
        postgres.unavailable(str(exc))
    out = tmp_path / "figures.json"
    done = subprocess.run(  # noqa: S603 - the benchmark itself, from this checkout
        [sys.executable, "-m", "bench.pg", "--small", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    text = done.stdout
    for title, *_ in ROWS:
        assert title in text, title
    assert "SIGKILL to peer holding the jobs (s)" in text and "## Targets" in text
    assert "PostgreSQL, 4 processes" in text and "(PostgreSQL) " in text
    figures = json.loads(out.read_text())
    loops = {r["store"]: r for r in figures["poll_loop"]}
    assert set(loops) == {"sqlite", "postgres"}
    for store, loop in loops.items():
        # 20 jobs, each polled about once an interval over 6 intervals; then 10 probes, every one acknowledged.
        assert 60 <= loop["polls"] <= 180 and loop["cpu_per_poll_ms"] > 0, (store, loop)
        assert loop["ack_samples"] == 10 and loop["unacked"] == 0 and loop["ack_p99_ms"] > 0, (store, loop)
    assert loops["postgres"]["server_cpu_per_poll_ms"] > 0 and loops["sqlite"]["server_cpu_per_poll_ms"] is None
    claims = {(r["store"], r["processes"]): r for r in figures["claims"]}
    assert set(claims) == {("sqlite", 1), ("postgres", 1), ("postgres", 2), ("postgres", 4)}
    for key, run in claims.items():
        assert run["claimed"] > 0 and len(run["per_process"]) == key[1], (key, run)
        assert run["refused_writes"] == 0, (key, run)  # no job was claimed by two processes at once
    assert claims[("postgres", 4)]["server_cpu_per_claim_ms"] > 0
    (takeover,) = figures["takeovers"]
    # The peer held every job after the kill, and not before the killed process's last lease had run out.
    assert takeover["takeover_seconds"] > 0 and takeover["after_lease_ran_out"] >= 0, takeover
