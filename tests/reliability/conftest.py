"""Fixtures of the reliability runs: the seed (printed, replayable) and a capture of every log line."""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.database import PostgresRunDatabase, RunDatabase, SqliteRunDatabase
from tests.reliability.faults import ISSUE_COMET_RATES
from tests.reliability.harness import ReliabilityRun
from tests.reliability.invariants import Report, RunData, check
from tests.reliability.plan import RunPlan
from tests.reliability.world import reliability_world


class LogCapture(logging.Handler):
    """Keeps every formatted log record of the test process (the fakes, aiohttp, the test itself)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def text(self) -> str:
        """Every line so far."""
        return "\n".join(self.lines)


@pytest.fixture
def captured_logs() -> Iterator[LogCapture]:
    """Every log line of the test process while the test runs."""
    handler = LogCapture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


@pytest.fixture
def reliability_seed(request: pytest.FixtureRequest) -> int:
    """The run's seed: ``--reliability-seed`` or ``RELIABILITY_SEED``, else random; printed to replay a run."""
    chosen = request.config.getoption("--reliability-seed")
    if chosen is None and os.environ.get("RELIABILITY_SEED"):
        chosen = int(os.environ["RELIABILITY_SEED"])
    seed = chosen if chosen is not None else random.randrange(1, 10**6)
    print(f"\nreliability seed {seed} (replay with --reliability-seed {seed})")
    return int(seed)


async def run_reliability(plan: RunPlan, workdir: Path, logs: LogCapture, database_url: str | None = None) -> Report:
    """One run against fresh fakes, on a new SQLite file or on the PostgreSQL database ``database_url``; the
    report's figures are printed."""
    database: RunDatabase = (PostgresRunDatabase(database_url) if database_url
                             else SqliteRunDatabase(workdir / "veo.sqlite3"))
    try:
        async with reliability_world(plan.seed, comet_rates=ISSUE_COMET_RATES, upload_rates=plan.upload_rates(),
                                     request_timeout=1.0, nonce_window=plan.nonce_window,
                                     shard_count=plan.shards) as world:
            run = ReliabilityRun(world, plan, workdir, database)
            record = await run.run()
            data = RunData(await database.jobs(), await database.transitions(),
                           {p.name: p.log_text() for p in run.group})
            report = check(world, record, workdir, data, logs.text())
    finally:
        await database.close()
    print(report.text())
    for problem in report.problems:
        print("  PROBLEM:", problem)
    return report
