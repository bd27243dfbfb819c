"""Learning job durations: Kaplan-Meier over the latest submissions, bursts, the window and its reserve."""

from __future__ import annotations

import random

import pytest

from bot.jobs.durations import DurationModel


def test_without_running_jobs_the_quantiles_are_the_plain_ones() -> None:
    model = DurationModel(window=100, min_finished=5)
    for job, seconds in enumerate(range(1, 101)):
        model.finished(job, "m", float(job), float(seconds))
    est = model.estimate("m", 1000.0, (0.01, 0.5, 0.99))
    assert est is not None and est.quantiles == (1.0, 50.0, 99.0)
    assert est.finished == 100 and est.running == 0


def test_a_burst_in_progress_is_not_mistaken_for_quick_jobs() -> None:
    rng = random.Random(4)
    durations = sorted(rng.uniform(30, 300) for _ in range(1000))
    model = DurationModel(window=1000, min_finished=5)
    now = 120.0  # 1000 jobs submitted at 0; those shorter than 120 s are done, the rest still run
    finished = [d for d in durations if d <= now]
    for job, seconds in enumerate(durations):
        model.submitted(job, "m", 0.0)
        if seconds <= now:
            model.finished(job, "m", 0.0, seconds)
    est = model.estimate("m", now, (0.1, 0.25, 0.5))
    assert est is not None and est.running == 1000 - len(finished)
    truth = (durations[99], durations[249])
    assert est.quantiles[0] == pytest.approx(truth[0]) and est.quantiles[1] == pytest.approx(truth[1])
    assert est.quantiles[2] is None  # half of them have not finished: the median is not known yet
    # What the last completions alone would say: a median of about 75 s, where the truth is about 165 s.
    naive_median = finished[len(finished) // 2]
    assert naive_median < 80 < 150 < durations[499]


def test_the_window_keeps_the_latest_submissions_and_a_reserve_of_finished_ones() -> None:
    model = DurationModel(window=50, min_finished=5)
    for job in range(50):
        model.finished(job, "m", float(job), 60.0)
    # A burst of 200 submissions pushes every finished job out of the window...
    for job in range(100, 300):
        model.submitted(job, "m", 1000.0 + job)
    est = model.estimate("m", 1300.0, (0.5,))
    # ...but the reserve keeps enough of them (a fifth of the window, at least min_finished) to go by.
    assert est is not None and est.finished == 10 and est.running == 50
    assert est.quantiles == (60.0,)


def test_dropped_and_unknown_jobs() -> None:
    model = DurationModel(window=10, min_finished=2)
    model.submitted(1, "m", 0.0)
    model.drop(1)
    model.drop(99)  # never seen: nothing happens
    assert model.estimate("m", 10.0, (0.5,)) is None
    model.finished(2, "m", 0.0, 30.0)  # finished without having been seen submitted (after a restart)
    model.finished(3, "m", 0.0, float("nan"))  # nonsense is ignored
    model.finished(4, "m", 0.0, -1.0)
    model.finished(5, "m", 0.0, 50.0)
    est = model.estimate("m", 100.0, (0.5,))
    assert est is not None and est.finished == 2 and est.quantiles == (30.0,)


def test_seeds_never_clash_with_job_numbers() -> None:
    model = DurationModel(window=10, min_finished=2)
    assert model.seed([("m", 0.0, 40.0), ("m", 1.0, 60.0)]) == 2
    model.submitted(1, "m", 5.0)
    est = model.estimate("m", 6.0, (0.5,))
    assert est is not None and est.finished == 2 and est.running == 1


def test_estimates_are_reused_until_refresh() -> None:
    model = DurationModel(window=10, min_finished=2, refresh=5.0)
    model.seed([("m", 0.0, 40.0), ("m", 1.0, 60.0)])
    first = model.estimate("m", 100.0, (0.5,))
    model.finished(7, "m", 50.0, 10.0)
    assert model.estimate("m", 104.0, (0.5,)) is first
    fresh = model.estimate("m", 105.0, (0.5,))
    assert fresh is not None and fresh.finished == 3 and fresh.quantiles == (40.0,)
