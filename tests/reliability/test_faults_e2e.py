"""Fault injection end to end: the real bot process survives CometAPI and Discord trouble with every job
delivered exactly once or reported failed with its reason."""

from __future__ import annotations

from pathlib import Path

from tests.reliability.conftest import LogCapture, run_reliability
from tests.reliability.faults import ISSUE_COMET_RATES, ISSUE_UPLOAD_RATES
from tests.reliability.plan import RunPlan

DISCORD_FAULTS = ("post_429", "edit_429", "webhook_401_50027", "gateway_disconnect")


async def test_every_job_ends_exactly_once_under_faults(
    tmp_path: Path, reliability_seed: int, captured_logs: LogCapture
) -> None:
    plan = RunPlan(seed=reliability_seed, jobs=50, gateway_disconnects=2, discord_chaos=True)
    report = await run_reliability(plan, tmp_path, captured_logs)
    assert not report.problems, "\n".join(report.problems)
    figures = report.figures
    assert figures["jobs"] >= 50
    injected = figures["faults injected"]
    # The /content fallback only serves the few tasks scripted without a URL: its faults are a bonus.
    expected = [f"{route}_{kind}" for route, kinds in ISSUE_COMET_RATES.items() if route != "content"
                for kind in kinds]
    expected += [f"upload_{kind}" for kind in ISSUE_UPLOAD_RATES] + list(DISCORD_FAULTS)
    missing = [kind for kind in expected if not injected.get(kind)]
    assert not missing, f"fault kinds never injected: {missing}"
    assert figures["kills"] == {} and figures["gateway resumes"] >= 1
