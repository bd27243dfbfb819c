"""The adaptive poll schedule: cold and warm schedules, progress forecasts, 429 backoff, learning, restarts."""

from __future__ import annotations

import math
import random

import pytest

from bot import poll_schedule
from bot.poll_schedule import PollSchedule
from tests.conftest import FakeClock

INTERVAL = 10.0


def schedule(**kw: object) -> PollSchedule:
    options: dict[str, object] = {"interval": INTERVAL, "cold_first_poll": INTERVAL, "rng": random.Random(3)}
    return PollSchedule(**(options | kw))  # type: ignore[arg-type]


def veo_like(rng: random.Random) -> float:
    """One duration of the mix the benchmark uses: median 75 s, 5th percentile 40 s, 95th 180 s."""
    z = rng.gauss(0.0, 1.0)
    spread = math.log(75 / 40) / 1.6449 if z < 0 else math.log(180 / 75) / 1.6449
    return 75.0 * math.exp(z * spread)


def warm(s: PollSchedule, model: str = "veo3.1-fast", n: int = 500, seed: int = 11) -> None:
    rng = random.Random(seed)
    s.seed((model, veo_like(rng)) for _ in range(n))


def test_cold_schedule_is_the_fixed_interval_with_jitter(clock: FakeClock) -> None:
    s = schedule()
    assert s.estimate("veo3.1-fast") is None
    firsts = [s.first_poll("veo3.1-fast", clock.now) - clock.now for _ in range(200)]
    assert 8.0 <= min(firsts) < 9.0 and 11.0 < max(firsts) <= 12.0
    gaps = [s.next_poll(1, "veo3.1-fast", clock.now - 30, clock.now, 40) - clock.now for _ in range(200)]
    assert 8.0 <= min(gaps) and max(gaps) <= 12.0


def test_disabled_schedule_never_warms_up(clock: FakeClock) -> None:
    s = schedule(enabled=False)
    warm(s)
    assert s.estimate("veo3.1-fast") is None
    assert s.first_poll("veo3.1-fast", clock.now) - clock.now <= 12.0


def test_warm_schedule_waits_for_the_earliest_plausible_completion(clock: FakeClock) -> None:
    s = schedule()
    warm(s)
    est = s.estimate("veo3.1-fast")
    assert est is not None and est.samples == 500
    assert 30 < est.earliest < 42 and 68 < est.median < 82 and est.latest > 200
    firsts = [s.first_poll("veo3.1-fast", clock.now) - clock.now for _ in range(200)]
    assert min(firsts) >= est.earliest - INTERVAL / 4 and max(firsts) <= est.earliest + INTERVAL / 4
    assert max(firsts) - min(firsts) > INTERVAL / 4  # spread, so jobs submitted together do not poll together


def test_dense_polls_every_interval_inside_the_learned_range(clock: FakeClock) -> None:
    s = schedule(use_progress=False)
    warm(s)
    submitted = clock.now
    clock.advance(50)
    assert s.next_poll(1, "veo3.1-fast", submitted, clock.now, 60) == clock.now + INTERVAL


def test_gaps_grow_past_the_learned_range_up_to_the_cap(clock: FakeClock) -> None:
    s = schedule(use_progress=False)
    warm(s)
    est = s.estimate("veo3.1-fast")
    assert est is not None
    gaps = []
    for age in (est.latest + 1, est.latest + 40, est.latest + 1000):
        gaps.append(s.next_poll(1, "veo3.1-fast", clock.now - age, clock.now, 50) - clock.now)
    assert INTERVAL < gaps[0] < gaps[1] < gaps[2] == s.max_gap == 6 * INTERVAL


def test_consistent_progress_moves_the_next_poll_to_the_forecast(clock: FakeClock) -> None:
    s = schedule()
    warm(s)
    submitted = clock.now
    clock.advance(60)
    assert s.next_poll(7, "veo3.1-fast", submitted, clock.now, 60) == clock.now + INTERVAL  # one answer: no trend
    clock.advance(10)
    # 1 % a second since submission, and between the two answers: done 100 s after submission.
    assert s.next_poll(7, "veo3.1-fast", submitted, clock.now, 70) == submitted + 100


def test_forecasts_are_capped_at_a_few_intervals(clock: FakeClock) -> None:
    s = schedule()
    warm(s)
    submitted = clock.now
    clock.advance(40)
    s.next_poll(8, "veo3.1-fast", submitted, clock.now, 16)
    clock.advance(10)
    nxt = s.next_poll(8, "veo3.1-fast", submitted, clock.now, 20)  # forecasts 250 s after submission
    assert nxt == clock.now + 4 * INTERVAL


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (50, 50),  # a fixed 50, as some adapters send
        (10, 40),  # progress that started late (a queue wait): since-submission and rate disagree
        (0, 0),  # no progress at all
        (60, 30),  # progress going backwards
    ],
)
def test_progress_that_does_not_add_up_is_ignored(clock: FakeClock, first: int, second: int) -> None:
    s = schedule()
    warm(s)
    submitted = clock.now
    clock.advance(40)
    s.next_poll(9, "veo3.1-fast", submitted, clock.now, first)
    clock.advance(10)
    assert s.next_poll(9, "veo3.1-fast", submitted, clock.now, second) == clock.now + INTERVAL


def test_a_job_that_outlives_its_forecasts_twice_is_polled_without_them(clock: FakeClock) -> None:
    s = schedule()
    warm(s)
    submitted = clock.now
    s.next_poll(5, "veo3.1-fast", submitted, submitted + 60, 60)
    assert s.next_poll(5, "veo3.1-fast", submitted, submitted + 70, 70) == submitted + 100
    # Not done at the forecast: the next forecast (101 s) is kept, a fifth of an interval later at least.
    assert s.next_poll(5, "veo3.1-fast", submitted, submitted + 100, 99) == submitted + 102
    # Not done again: no more forecasts for this job.
    assert s.next_poll(5, "veo3.1-fast", submitted, submitted + 102, 99) == submitted + 102 + INTERVAL


def test_a_forecast_that_is_due_now_waits_a_fifth_of_the_interval(clock: FakeClock) -> None:
    s = schedule()
    warm(s)
    submitted = clock.now
    clock.advance(90)
    s.next_poll(4, "veo3.1-fast", submitted, clock.now, 90)
    clock.advance(9)
    assert s.next_poll(4, "veo3.1-fast", submitted, clock.now, 99) == clock.now + INTERVAL / 5


def test_rate_limits_stretch_every_gap_then_decay(clock: FakeClock) -> None:
    s = schedule(use_progress=False)
    warm(s)
    submitted = clock.now - 50
    retry = s.rate_limited(clock.now)
    assert retry - clock.now >= 2 * INTERVAL * 0.8
    assert s.next_poll(1, "veo3.1-fast", submitted, clock.now, 50) == clock.now + 2 * INTERVAL
    s.rate_limited(clock.now)
    s.rate_limited(clock.now)
    s.rate_limited(clock.now)
    assert s.backoff(clock.now) == 8.0  # capped
    clock.advance(3 * INTERVAL)
    assert s.backoff(clock.now) == pytest.approx(4.0)
    clock.advance(30 * INTERVAL)
    assert s.backoff(clock.now) == 1.0
    assert s.next_poll(1, "veo3.1-fast", clock.now - 50, clock.now, 50) == clock.now + INTERVAL


def test_completion_learns_when_the_job_most_likely_finished(clock: FakeClock) -> None:
    s = schedule(use_progress=False, min_samples=2)
    submitted = clock.now
    assert s.completed(1, "m", submitted, submitted + 42) == 42  # done at its first poll: that poll's time
    s.next_poll(2, "m", submitted, submitted + 60, 50)
    assert s.completed(2, "m", submitted, submitted + 70) == 65  # between the last two answers
    assert s.tracked_jobs() == 0
    est = s.estimate("m")
    assert est is not None and est.samples == 2 and est.median == pytest.approx(53.5)


def test_a_kept_forecast_is_learned_as_the_finish_time(clock: FakeClock) -> None:
    s = schedule(min_samples=2)
    warm(s, model="m", n=20)
    submitted = clock.now
    s.next_poll(3, "m", submitted, submitted + 60, 60)
    forecast = s.next_poll(3, "m", submitted, submitted + 70, 70)
    assert forecast == submitted + 100
    assert s.completed(3, "m", submitted, forecast + 0.5) == pytest.approx(100)


def test_a_model_with_few_samples_borrows_from_all_models(clock: FakeClock) -> None:
    s = schedule()
    warm(s, model="veo3.1-fast", n=300)
    s.observe("veo3.1-pro", 300.0)
    pooled = s.estimate("veo3.1-pro")
    assert pooled is not None and pooled.samples == 301
    warm(s, model="veo3.1-pro", n=30, seed=5)
    own = s.estimate("veo3.1-pro")
    assert own is not None and own.samples == 31


def test_bad_durations_are_not_learned() -> None:
    s = schedule(min_samples=2)
    for bad in (-1.0, math.nan, math.inf):
        s.observe("m", bad)
    assert s.estimate("m") is None


def test_notes_about_jobs_are_bounded(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(poll_schedule, "MAX_TRACKED_JOBS", 50)
    s = schedule()
    warm(s)
    for job in range(200):
        s.next_poll(job, "veo3.1-fast", clock.now - 50, clock.now, 50)
    assert s.tracked_jobs() == 50
    s.forget(199)
    assert s.tracked_jobs() == 49


@pytest.mark.parametrize("kw", [{"interval": 0}, {"tail": 0.6}, {"first_hit": 0}, {"min_samples": 1},
                                {"window": 5, "min_samples": 10}])
def test_nonsense_settings_are_refused(kw: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="need|must"):
        schedule(**kw)


def simulate(s: PollSchedule, jobs: int, rng: random.Random, *, linear_progress: bool) -> tuple[float, float]:
    """GETs per job and the 99th percentile of how long after finishing each job was seen."""
    gets, lags = 0, []
    for job in range(jobs):
        duration = veo_like(rng)
        t = s.first_poll("m", 0.0)
        while True:
            gets += 1
            if t >= duration:
                lags.append(t - duration)
                s.completed(job, "m", 0.0, t)
                break
            progress = min(99, int(100 * t / duration)) if linear_progress else 50
            t = s.next_poll(job, "m", 0.0, t, progress)
    lags.sort()
    return gets / jobs, lags[math.ceil(0.99 * len(lags)) - 1]


@pytest.mark.parametrize(("linear_progress", "max_ratio"), [(False, 0.72), (True, 0.45)])
def test_learned_schedule_needs_fewer_gets_at_the_same_lag(linear_progress: bool, max_ratio: float) -> None:
    rng = random.Random(2026)
    s = schedule(use_progress=True)
    warm(s, model="m", seed=99)
    per_job, lag_p99 = simulate(s, 3000, rng, linear_progress=linear_progress)
    check = random.Random(2026)
    # The documented loop: a GET right after submission, then one every interval until done.
    fixed = sum(math.ceil(veo_like(check) / INTERVAL) + 1 for _ in range(3000)) / 3000
    assert per_job <= max_ratio * fixed
    assert lag_p99 <= INTERVAL
