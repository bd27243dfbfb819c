"""The bot-wide budget for progress edits, and which changes count as news."""

from __future__ import annotations

from bot.models import JobStatus
from bot.status import EditBudget, phase


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
