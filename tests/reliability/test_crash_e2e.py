"""Crash testing: the real bot process SIGKILLed at random moments, mid-submit and mid-upload included, and
restarted on the same database; every job still ends exactly once and no submission is ever repeated."""

from __future__ import annotations

from pathlib import Path

from tests.reliability.conftest import LogCapture, run_reliability
from tests.reliability.plan import RunPlan


async def test_every_job_ends_exactly_once_across_kills(
    tmp_path: Path, reliability_seed: int, captured_logs: LogCapture
) -> None:
    # Without Discord's nonce: after a crash mid-upload, only the bot's own history check prevents a second post.
    plan = RunPlan(seed=reliability_seed, jobs=50, kills=10, nonce_window=0.0)
    report = await run_reliability(plan, tmp_path, captured_logs)
    assert not report.problems, "\n".join(report.problems)
    figures = report.figures
    assert figures["jobs"] >= 50
    kills = figures["kills"]
    assert sum(kills.values()) >= 10 and figures["restarts"] >= 10
    # Both sides of each targeted kill happened: the task created or not, the upload stored or not.
    for kind in ("mid-submit (task created)", "mid-submit (task not created)",
                 "mid-upload (message stored)", "mid-upload (message not stored)"):
        assert kills.get(kind), f"no kill {kind}: {kills}"
    assert figures["outcomes"].get("failed: interrupted submission", 0) >= kills["mid-submit (task created)"]
