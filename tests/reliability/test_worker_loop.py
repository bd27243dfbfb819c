"""The poll loop survives a failing store and a job whose step keeps raising, without spinning."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bot.jobs.config import CoreConfig
from bot.jobs.provider import TaskStatus
from bot.jobs.records import Limits, NewJob
from bot.jobs.worker import JobWorker
from db.sqlite.store import SqliteJobStore
from tests.support.core import RecordingNotifier

IDLE = 0.1
RUN_FOR = 0.35  # a few idle periods: a spinning loop makes thousands of attempts in that time


class BrokenStore:
    """A store whose every query fails, as a locked or corrupt database would; it counts the attempts."""

    def __init__(self) -> None:
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        async def fail(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if name == "next_due_at":
                return 0.0  # something is overdue: the loop must still not retry at once
            raise OSError("disk I/O error")

        return fail


class RaisingProvider:
    """A provider with a bug: every status request raises something that is not a video-API error."""

    def __init__(self) -> None:
        self.gets = 0

    async def create(self, *args: Any, **kwargs: Any) -> str:
        return "task_bug"

    async def get(self, task_id: str) -> TaskStatus:
        self.gets += 1
        raise RuntimeError("a bug in parsing")

    async def download(self, *args: Any) -> int:
        raise AssertionError("never reached")


async def _run_briefly(worker: JobWorker) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop, idle=IDLE))
    await asyncio.sleep(RUN_FOR)
    stop.set()
    await asyncio.wait_for(task, 5)


def _config(tmp_path: Path) -> CoreConfig:
    return CoreConfig(limits=Limits(5, 5, 5), data_dir=tmp_path / "data", poll_interval=0.01, first_poll_delay=0.0)


async def test_a_failing_store_does_not_make_the_loop_spin(tmp_path: Path) -> None:
    store = BrokenStore()
    worker = JobWorker(store, RaisingProvider(), RecordingNotifier(), _config(tmp_path))  # type: ignore[arg-type]
    await _run_briefly(worker)
    assert 0 < store.calls < 40


async def test_a_job_whose_step_keeps_raising_is_retried_calmly_and_others_go_on(tmp_path: Path) -> None:
    store = await SqliteJobStore.open(tmp_path / "veo.sqlite3")
    provider = RaisingProvider()
    try:
        worker = JobWorker(store, provider, RecordingNotifier(), _config(tmp_path))
        job = await store.insert_job(NewJob(platform="discord", workspace_id="1", channel_id="2", user_id="3",
                                            prompt="p", model="m",
                                            orientation="16x9"), 0.0)
        await _run_briefly(worker)
        assert 1 <= provider.gets < 20
        fresh = await store.get_job(job.id)
        assert fresh is not None and fresh.task_id == "task_bug"  # it was submitted, then kept failing
    finally:
        await store.close()


class ReplayingProvider(RaisingProvider):
    """A provider (or a caching proxy in front of it) that answers every create with the same task id."""

    async def create(self, *args: Any, **kwargs: Any) -> str:
        return "task_same"


async def test_a_task_id_answered_for_two_jobs_fails_the_second_clearly(tmp_path: Path) -> None:
    from bot.jobs.provider import SubmissionUncertain
    from bot.jobs.records import JobStatus

    store = await SqliteJobStore.open(tmp_path / "veo.sqlite3")
    notifier = RecordingNotifier()
    try:
        worker = JobWorker(store, ReplayingProvider(), notifier, _config(tmp_path))
        for prompt in ("first", "second"):
            await store.insert_job(NewJob(platform="discord", workspace_id="1", channel_id="2", user_id="3",
                                          prompt=prompt, model="m", orientation="16x9"), 0.0)
            await worker.dispatch()
        first, second = await store.get_job(1), await store.get_job(2)
        assert first is not None and first.status is JobStatus.SUBMITTED and first.task_id == "task_same"
        assert second is not None and second.status is JobStatus.FAILED and second.task_id is None
        assert second.error == SubmissionUncertain.default_message
        assert [(d.job_id, d.kind) for d in notifier.deliveries] == [(2, "failure")]
    finally:
        await store.close()


class SoonDueStore:
    """A store where something always falls due a millisecond from now; it counts the worker's ticks."""

    def __init__(self) -> None:
        self.ticks = 0

    def __getattr__(self, name: str) -> Any:
        async def answer(*args: Any, **kwargs: Any) -> Any:
            if name == "claim_due":
                self.ticks += 1
            if name == "next_due_at":
                return asyncio.get_running_loop().time() + 0.001
            listing = ("claim_due", "claim_submittable", "recent_durations", "stale_status_messages",
                       "submitting_jobs")
            return [] if name in listing else None

        return answer


async def test_jobs_falling_due_one_by_one_share_ticks(tmp_path: Path) -> None:
    store = SoonDueStore()
    config = CoreConfig(limits=Limits(5, 5, 5), data_dir=tmp_path / "data", tick_gap=0.05)
    worker = JobWorker(store, RaisingProvider(), RecordingNotifier(), config,  # type: ignore[arg-type]
                       clock=lambda: asyncio.get_running_loop().time())
    await _run_briefly(worker)
    # One tick per 50 ms at most (about 7 in 0.35 s), not one per millisecond.
    assert 2 <= store.ticks <= 10


def test_sleep_until_due_work() -> None:
    now = 1000.0
    worker = JobWorker(None, None, None, CoreConfig(limits=Limits(1, 1, 1), tick_gap=0.25),  # type: ignore[arg-type]
                       clock=lambda: now)
    assert worker._sleep_until(now - 1, idle=5) == 0.0  # a backlog: at once
    assert worker._sleep_until(now + 0.01, idle=5) == 0.25  # soon: wait for the gap, to batch
    assert worker._sleep_until(now + 3, idle=5) == 3.0
    assert worker._sleep_until(now + 60, idle=5) == 5.0  # never longer than idle
