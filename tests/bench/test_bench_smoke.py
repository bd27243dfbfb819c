"""The benchmark's small mode end to end: it runs, every job is delivered, every figure is printed.

No figure is asserted against a wall-clock limit here: the benchmark prints figures, CI only checks that
it still runs and still measures everything.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.mix import DurationMix
from bench.plans import query_plans
from bench.report import ROWS

ROOT = Path(__file__).resolve().parents[2]


def test_small_benchmark_runs_and_prints_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    done = subprocess.run(  # noqa: S603 - the benchmark itself, from this checkout
        [sys.executable, "-m", "bench", "--small", "--scale", "100", "--budget", "100000", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    text = done.stdout
    for title, _ in ROWS:
        assert title in text, title
    assert "## 20 jobs in flight" in text and "## Targets" in text and "## Query plans" in text
    assert "5 MB result" in text and "delivered: True" in text
    assert "## The poll loop alone, 20 jobs in flight, each job every interval" in text
    assert "## The poll loop alone, 20 jobs in flight, at the adaptive schedule's pace" in text
    assert "CPU per poll (ms)" in text
    figures = json.loads(out.read_text())
    runs = {(r["mode"], r["progress"]): r for r in figures["results"] if r["mode"] != "poll-loop"}
    loops = {r["pace"]: r for r in figures["results"] if r["mode"] == "poll-loop"}
    assert set(loops) == {"dense", "schedule"}
    # The schedule's pace: the mix's mean duration over the GETs per job of the adaptive run.
    gets_per_job = runs[("adaptive", "linear")]["gets_per_job"]
    assert loops["schedule"]["schedule_gets_per_job"] == gets_per_job
    assert loops["schedule"]["interval"] == round(DurationMix.parse(loops["schedule"]["mix"]).mean() / gets_per_job, 1)
    assert loops["dense"]["interval"] == 10
    for loop in loops.values():
        # Every job polled about once an interval in the window (20 jobs, 6 intervals), none created or posted.
        assert 60 <= loop["polls"] <= 180 and loop["cpu_per_poll_ms"] > 0 and loop["load"] > 0, loop
    assert set(runs) == {("baseline", "linear"), ("adaptive", "linear"), ("adaptive", "fixed50")}
    for run in runs.values():
        assert run["jobs"] == 20 and run["failures"] == 0, run
        assert run["gets_per_job"] >= 1 and run["lag_p99"] is not None and run["ack_samples"] == 20
        assert run["unacked"] == 0 and run["rss_peak"] > 0 and run["cpu_per_job"] > 0
    assert runs[("adaptive", "linear")]["db_rows_per_job"] > 0
    assert runs[("baseline", "linear")]["discord_per_job"] == 2  # "generating", then the video
    big = figures["big_file"]
    assert big["delivered"] and big["posted_bytes"] == big["video_bytes"] == 5_000_000
    assert figures["machine"]["cores"] and figures["command"].startswith("python -m bench")


@pytest.mark.parametrize("active", [120])
async def test_hot_statements_never_scan_the_jobs_table(active: int) -> None:
    plans = await query_plans(active, active)
    hot = [p for p in plans if not p.startup]
    assert len(hot) >= 10 and all(p.plan for p in hot if not p.sql.startswith("INSERT"))
    scans = [p for p in hot if p.full_scan]
    assert not scans, "\n".join(f"{p.path}: {p.sql} => {p.plan}" for p in scans)
    paths = {p.path for p in hot}
    assert {"worker tick: claim due jobs", "heartbeat: renew leases", "worker tick: claim queued jobs",
            "status message: queue position"} <= paths
