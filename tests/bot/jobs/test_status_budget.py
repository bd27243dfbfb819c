"""The bot-wide budget for progress edits, and which changes count as news."""

from __future__ import annotations

import dataclasses
from typing import Any

from bot.jobs.config import CoreConfig
from bot.jobs.policy import WorkspaceSettings
from bot.jobs.ports import StatusView
from bot.jobs.records import Job, JobStatus, Limits
from bot.jobs.status_messages import EditBudget, StatusMessages, phase


def test_budget_allows_a_burst_then_its_rate() -> None:
    budget = EditBudget(rate=2.0, burst=3.0)
    assert [budget.take(100.0) for _ in range(4)] == [True, True, True, False]
    assert budget.take(100.4) is False  # 0.8 of an edit earned
    assert budget.take(100.5) is True  # one earned
    assert budget.take(100.5) is False
    # A long quiet spell refills at most the burst.
    assert [budget.take(1000.0) for _ in range(4)] == [True, True, True, False]


def test_a_clock_going_backwards_earns_nothing() -> None:
    budget = EditBudget(rate=1.0, burst=1.0)
    assert budget.take(50.0) is True
    assert budget.take(10.0) is False


def test_no_rate_means_no_budget() -> None:
    budget = EditBudget(rate=0.0)
    assert all(budget.take(1.0) for _ in range(100))


def test_accepted_and_generating_are_one_phase_other_states_are_news() -> None:
    assert phase(JobStatus.SUBMITTED) == phase(JobStatus.RUNNING)
    others = [JobStatus.QUEUED, JobStatus.SUBMITTING, JobStatus.COMPLETED, JobStatus.DELIVERED, JobStatus.FAILED,
              JobStatus.CANCELLED, JobStatus.TIMED_OUT]
    assert len({phase(s) for s in others} | {phase(JobStatus.RUNNING)}) == len(others) + 1


NOW = 1_790_000_000.0


def _running(progress: int, shown: str) -> Job:
    return Job(id=7, platform="discord", workspace_id="1", channel_id="2", user_id="3", prompt="p", model="veo3.1-fast",
               orientation="16x9",
               image_count=0, input_dir=None, locale=None, status=JobStatus.RUNNING, progress=progress,
               task_id="task_1", error=None, safety_rejection=False, video_url=None, attempts=0, polls=3,
               next_poll_at=None, created_at=NOW - 300, submitted_at=NOW - 290, completed_at=None,
               finished_at=None, status_message_id="99", status_rendered=shown, status_edited_at=NOW - 120,
               delivery_attempts=0, delivered_at=None, delivered_message_id=None)


class RowOnlyStore:
    """A store that answers for the job's row and counts every other query."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.other_queries = 0

    async def get_job(self, job_id: int) -> Job:
        return self.job

    def __getattr__(self, name: str) -> Any:
        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.other_queries += 1
            return WorkspaceSettings("discord", "1") if name == "workspace_settings" else 0

        return counted


class CountingNotifier:
    def __init__(self) -> None:
        self.shown = 0

    async def show_status(self, job: Job, view: StatusView) -> str | None:
        self.shown += 1
        return None


async def test_with_the_budget_spent_a_progress_change_costs_one_read_and_no_edit() -> None:
    store = RowOnlyStore(_running(60, "running|40|0|None|False"))
    notifier = CountingNotifier()
    status = StatusMessages(store, notifier, CoreConfig(limits=Limits(1, 1, 1), progress_edits_per_second=1.0),  # type: ignore[arg-type]
                            clock=lambda: NOW)
    while status.budget("discord").take(NOW):
        pass
    await status.refresh(7)
    assert store.other_queries == 0 and notifier.shown == 0
    assert not status.may_edit("discord", "running", JobStatus.RUNNING, NOW - 120, NOW)
    # News is not budgeted: the job finishing is shown at once.
    store.job = dataclasses.replace(store.job, status=JobStatus.DELIVERED, delivered_message_id="5")
    await status.refresh(7)
    assert notifier.shown == 1 and store.other_queries > 0


async def test_with_budget_left_a_due_progress_change_is_shown() -> None:
    store = RowOnlyStore(_running(60, "running|40|0|None|False"))
    notifier = CountingNotifier()
    status = StatusMessages(store, notifier, CoreConfig(limits=Limits(1, 1, 1)), clock=lambda: NOW)  # type: ignore[arg-type]
    await status.refresh(7)
    assert notifier.shown == 1
