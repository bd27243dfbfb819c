"""Soak: the fault and crash runs together for a given number of minutes, before a release.

    python -m pytest tests/reliability/test_soak.py --soak-minutes 30 -s

(``--soak-minutes`` implies ``--run-slow``; ``--reliability-seed`` replays a run.) Not part of CI.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.conftest import LogCapture, run_reliability
from tests.reliability.plan import RunPlan

DEFAULT_MINUTES = 2.0


@pytest.mark.slow
async def test_soak_faults_and_crashes(
    tmp_path: Path, reliability_seed: int, captured_logs: LogCapture, request: pytest.FixtureRequest
) -> None:
    minutes = request.config.getoption("--soak-minutes") or DEFAULT_MINUTES
    plan = RunPlan(seed=reliability_seed, jobs=50, kills=10, soak_seconds=minutes * 60, gateway_disconnects=2,
                   discord_chaos=True, settle_timeout=300.0)
    report = await run_reliability(plan, tmp_path, captured_logs)
    assert not report.problems, "\n".join(report.problems)
    assert report.figures["jobs"] >= 50 and sum(report.figures["kills"].values()) >= 10
