"""Soak: the fault and crash runs together for a given number of minutes, before a release; and the run of
several processes on PostgreSQL (``test_processes_e2e.py``) for as long, killing and freezing on through it.

    python -m pytest tests/reliability/test_soak.py --soak-minutes 30 -s

(``--soak-minutes`` implies ``--run-slow``; ``--reliability-seed`` replays a run.) Not part of CI.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.conftest import LogCapture, run_reliability
from tests.reliability.plan import RunPlan, several_processes
from tests.support.postgres import PostgresServer

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


@pytest.mark.slow
@pytest.mark.postgres
async def test_soak_several_processes(
    tmp_path: Path, reliability_seed: int, captured_logs: LogCapture, request: pytest.FixtureRequest,
    postgres_server: PostgresServer,
) -> None:
    minutes = request.config.getoption("--soak-minutes") or DEFAULT_MINUTES
    # Without Discord's nonce: the harder case for delivery, where only the bot's own fencing and history check
    # stand between a frozen or killed process and a second post.
    plan = several_processes(reliability_seed, nonce_window=0.0, soak_seconds=minutes * 60, settle_timeout=300.0)
    async with postgres_server.database() as url:
        report = await run_reliability(plan, tmp_path, captured_logs, url)
    assert not report.problems, "\n".join(report.problems)
    kills = report.figures["kills"]
    assert report.figures["jobs"] >= plan.jobs and sum(kills.values()) >= plan.kills + plan.freezes
