"""Jobs seeded in a store over several UTC days, and the usage report an admin gets of them."""

from __future__ import annotations

from pathlib import Path

from bot.jobs.admin import UsageReport, WorkspaceAdmin
from bot.jobs.policy import day_start
from bot.jobs.records import JobStatus, Limits, NewJob, Workspace
from db.sqlite.store import SqliteJobStore
from tests.conftest import FakeClock
from tests.fakes.comet.api import FakeCometAPI
from tests.support.core import job_core

DAY = 86400.0
PRICES = {"veo3.1-fast": 0.10, "veo3.1": 0.50}
WORKSPACE = Workspace("discord", "10")
# (days before today, hour, user, model, outcome): "video" is delivered, "failed" made nothing.
PLAN = [
    (6, 9, "1", "veo3.1-fast", "video"),
    (6, 10, "1", "veo3.1-fast", "video"),
    (6, 11, "2", "veo3.1", "failed"),
    (4, 23, "2", "veo3.1", "video"),
    (2, 0, "3", "veo3.1-fast", "video"),
    (2, 1, "1", "veo3.1", "video"),
    (0, 8, "1", "veo3.1-fast", "video"),
]


async def seed(store: SqliteJobStore, plan: list[tuple[int, int, str, str, str]], today: float,
               workspace_id: str = "10") -> None:
    """Insert each job at its time and take it to its outcome, through the store's own steps."""
    for days_ago, hour, user, model, outcome in plan:
        at = today - days_ago * DAY + hour * 3600
        job = await store.insert_job(NewJob(platform="discord", workspace_id=workspace_id, channel_id="100",
                                            user_id=user, prompt="a fox", model=model, orientation="16x9"), at)
        [claimed] = await store.claim_submittable(Limits(99, 99, 99), at, at + 60, 99)
        assert claimed.id == job.id
        assert await store.mark_submitted(job.id, f"task_{job.id}", at + 1, at + 10)
        if outcome == "video":
            assert await store.mark_completed(job.id, None, at + 60)
            assert await store.mark_delivered(job.id, "m", at + 70)
        else:
            assert await store.mark_failed(job.id, JobStatus.FAILED, "x", at + 60)


async def seeded_report(tmp_path: Path, api: FakeCometAPI, period: str = "7d") -> UsageReport:
    """``PLAN`` seeded (plus a job of another server), then the report an admin asks for at 18:00 today."""
    clock = FakeClock()
    today = day_start(clock())
    clock.now = today + 18 * 3600
    async with job_core(tmp_path, api, clock) as core:
        await seed(core.store, PLAN, today)
        await seed(core.store, [(1, 12, "9", "veo3.1", "video")], today, workspace_id="11")
        admin = WorkspaceAdmin(core.store, core.worker, prices=PRICES, video_seconds=8.0, clock=clock)
        return await admin.usage(WORKSPACE, period)
