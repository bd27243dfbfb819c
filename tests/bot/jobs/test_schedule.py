"""The adaptive poll schedule: cold and warm schedules, progress forecasts, 429 backoff, learning, restarts."""

from __future__ import annotations

import heapq
import math
import random

import pytest

from bot.jobs import schedule as poll_schedule
from bot.jobs.schedule import PollSchedule
from tests.conftest import FakeClock

INTERVAL = 10.0
MODEL = "veo3.1-fast"


def schedule(**kw: object) -> PollSchedule:
    options: dict[str, object] = {"interval": INTERVAL, "cold_first_poll": INTERVAL, "rng": random.Random(3)}
    return PollSchedule(**(options | kw))  # type: ignore[arg-type]


def veo_like(rng: random.Random) -> float:
    """One duration of the mix the benchmark uses: median 75 s, 5th percentile 40 s, 95th 180 s."""
    z = rng.gauss(0.0, 1.0)
    spread = math.log(75 / 40) / 1.6449 if z < 0 else math.log(180 / 75) / 1.6449
    return 75.0 * math.exp(z * spread)


def warm(s: PollSchedule, model: str = MODEL, n: int = 500, seed: int = 11, before: float = 1e6) -> None:
    """Teach the schedule ``n`` durations of jobs finished long before ``before``."""
    rng = random.Random(seed)
    s.seed((model, before - 1e5 + 60 * i, veo_like(rng)) for i in range(n))


def test_cold_schedule_is_the_fixed_interval_with_jitter(clock: FakeClock) -> None:
    s = schedule()
    assert s.estimate(MODEL, clock.now) is None
    firsts = [s.first_poll(i, MODEL, clock.now) - clock.now for i in range(200)]
    assert 8.0 <= min(firsts) < 9.0 and 11.0 < max(firsts) <= 12.0
    gaps = [s.next_poll(1, MODEL, clock.now - 30, clock.now, 40) - clock.now for _ in range(200)]
    assert 8.0 <= min(gaps) and max(gaps) <= 12.0


def test_disabled_schedule_never_warms_up(clock: FakeClock) -> None:
    s = schedule(enabled=False)
    warm(s, before=clock.now)
    assert s.estimate(MODEL, clock.now) is None
    assert s.first_poll(1, MODEL, clock.now) - clock.now <= 12.0


def test_warm_schedule_waits_for_the_earliest_plausible_completion(clock: FakeClock) -> None:
    s = schedule()
    warm(s, before=clock.now)
    est = s.estimate(MODEL, clock.now)
    assert est is not None and est.finished == 500 and est.running == 0
    earliest, median, late = est.quantiles
    assert earliest is not None and median is not None and late is not None
    assert 30 < earliest < 42 and 68 < median < 82 and late > 200
    firsts = [s.first_poll(i, MODEL, clock.now) - clock.now for i in range(200)]
    assert min(firsts) >= earliest - INTERVAL / 4 and max(firsts) <= earliest + INTERVAL / 4
    assert max(firsts) - min(firsts) > INTERVAL / 4  # spread, so jobs submitted together do not poll together


def test_polls_come_every_interval_once_warm(clock: FakeClock) -> None:
    s = schedule(use_progress=False)
    warm(s, before=clock.now)
    for age in (40.0, 90.0, 900.0):
        assert s.next_poll(1, MODEL, clock.now - age, clock.now, 60) == clock.now + INTERVAL


def test_dense_polls_leave_room_for_the_workers_tick_gap(clock: FakeClock) -> None:
    # The worker handles a due job up to one tick gap late: planned that much sooner, the poll still comes
    # within one interval of the last, so a job is seen within one interval of finishing.
    s = schedule(use_progress=False, tick_slack=0.25)
    warm(s, before=clock.now)
    for age in (40.0, 90.0, 900.0):
        assert s.next_poll(1, MODEL, clock.now - age, clock.now, 60) == clock.now + INTERVAL - 0.25
    # Forecasts are aimed at the finish itself; the slack is only for the every-interval polls.
    s = schedule(tick_slack=0.25)
    warm(s, before=clock.now)
    s.next_poll(2, MODEL, clock.now - 40, clock.now - 10, 30)
    assert s.next_poll(2, MODEL, clock.now - 40, clock.now, 40) - clock.now == 4 * INTERVAL  # the cap, unslacked


def test_consistent_progress_moves_the_next_poll_to_the_forecast(clock: FakeClock) -> None:
    s = schedule()
    warm(s, before=clock.now)
    submitted = clock.now
    clock.advance(60)
    assert s.next_poll(7, MODEL, submitted, clock.now, 60) == clock.now + INTERVAL  # one answer: no trend
    clock.advance(10)
    # 1 % a second since submission, and between the two answers: done 100 s after submission.
    assert s.next_poll(7, MODEL, submitted, clock.now, 70) == submitted + 100


def test_forecasts_are_capped_at_a_few_intervals(clock: FakeClock) -> None:
    s = schedule()
    warm(s, before=clock.now)
    submitted = clock.now
    clock.advance(40)
    s.next_poll(8, MODEL, submitted, clock.now, 16)
    clock.advance(10)
    nxt = s.next_poll(8, MODEL, submitted, clock.now, 20)  # forecasts 250 s after submission
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
    warm(s, before=clock.now)
    submitted = clock.now
    clock.advance(40)
    s.next_poll(9, MODEL, submitted, clock.now, first)
    clock.advance(10)
    assert s.next_poll(9, MODEL, submitted, clock.now, second) == clock.now + INTERVAL


def test_progress_is_not_used_when_turned_off(clock: FakeClock) -> None:
    s = schedule(use_progress=False)
    warm(s, before=clock.now)
    s.next_poll(3, MODEL, clock.now - 60, clock.now - 10, 50)
    assert s.next_poll(3, MODEL, clock.now - 60, clock.now, 60) == clock.now + INTERVAL


def test_a_job_that_outlives_its_forecasts_twice_is_polled_without_them(clock: FakeClock) -> None:
    s = schedule()
    warm(s, before=clock.now)
    submitted = clock.now
    s.next_poll(5, MODEL, submitted, submitted + 60, 60)
    assert s.next_poll(5, MODEL, submitted, submitted + 70, 70) == submitted + 100
    # Not done at the forecast: the next forecast (101 s) is kept, a fifth of an interval later at least.
    assert s.next_poll(5, MODEL, submitted, submitted + 100, 99) == submitted + 102
    # Not done again: no more forecasts for this job.
    assert s.next_poll(5, MODEL, submitted, submitted + 102, 99) == submitted + 102 + INTERVAL


def test_rate_limits_stretch_every_gap_then_decay(clock: FakeClock) -> None:
    s = schedule(use_progress=False)
    warm(s, before=clock.now)
    retry = s.rate_limited(clock.now)
    assert retry - clock.now >= 2 * INTERVAL * 0.8
    assert s.next_poll(1, MODEL, clock.now - 50, clock.now, 50) == clock.now + 2 * INTERVAL
    for _ in range(3):
        s.rate_limited(clock.now)
    assert s.backoff(clock.now) == 8.0  # capped
    first = s.first_poll(2, MODEL, clock.now) - clock.now
    assert first > 8 * 25  # new jobs wait too
    clock.advance(3 * INTERVAL)
    assert s.backoff(clock.now) == pytest.approx(4.0)
    clock.advance(30 * INTERVAL)
    assert s.backoff(clock.now) == 1.0
    assert s.next_poll(1, MODEL, clock.now - 50, clock.now, 50) == clock.now + INTERVAL


def test_completion_learns_when_the_job_most_likely_finished(clock: FakeClock) -> None:
    s = schedule(use_progress=False, min_samples=2)
    t = clock.now
    s.first_poll(1, "m", t)
    assert s.completed(1, "m", t, t + 42) == 42  # done at its first poll: that poll's time
    s.first_poll(2, "m", t)
    s.next_poll(2, "m", t, t + 60, 50)
    assert s.completed(2, "m", t, t + 70) == 65  # between the last two answers
    assert s.tracked_jobs() == 0
    est = s.estimate("m", t + 70)
    assert est is not None and est.finished == 2 and est.quantiles[1] == 42


def test_a_kept_forecast_is_learned_as_the_finish_time(clock: FakeClock) -> None:
    s = schedule(min_samples=2)
    warm(s, model="m", n=20, before=clock.now)
    t = clock.now
    s.next_poll(3, "m", t, t + 60, 60)
    forecast = s.next_poll(3, "m", t, t + 70, 70)
    assert forecast == t + 100
    assert s.completed(3, "m", t, forecast + 0.5) == pytest.approx(100)


def test_a_failed_job_teaches_nothing(clock: FakeClock) -> None:
    s = schedule(min_samples=2)
    t = clock.now
    for job in (1, 2):
        s.first_poll(job, "m", t)
        s.completed(job, "m", t, t + 60)
    s.first_poll(3, "m", t)
    s.next_poll(3, "m", t, t + 5, 0)
    s.forget(3)
    est = s.estimate("m", t + 1000)
    assert est is not None and est.running == 0 and est.finished == 2
    assert s.tracked_jobs() == 0


def test_a_model_with_few_samples_borrows_from_all_models(clock: FakeClock) -> None:
    s = schedule()
    warm(s, model=MODEL, n=300, before=clock.now)
    s.first_poll(1, "veo3.1-pro", clock.now)
    s.completed(1, "veo3.1-pro", clock.now, clock.now + 300)
    pooled = s.estimate("veo3.1-pro", clock.now + 300)
    assert pooled is not None and pooled.finished == 301
    warm(s, model="veo3.1-pro", n=30, seed=5, before=clock.now)
    own = s.estimate("veo3.1-pro", clock.now + 301)
    assert own is not None and own.finished == 31


def test_notes_about_jobs_are_bounded(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(poll_schedule, "MAX_TRACKED_JOBS", 50)
    s = schedule()
    warm(s, before=clock.now)
    for job in range(200):
        s.next_poll(job, MODEL, clock.now - 50, clock.now, 50)
    assert s.tracked_jobs() == 50
    s.forget(199)
    assert s.tracked_jobs() == 49


@pytest.mark.parametrize("kw", [{"interval": 0}, {"first_hit": 0.6}, {"first_hit": 0}, {"min_samples": 1},
                                {"window": 5, "min_samples": 10}, {"tick_slack": -0.1}, {"tick_slack": 5}])
def test_nonsense_settings_are_refused(kw: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"need|must"):
        schedule(**kw)


def simulate(s: PollSchedule, jobs: int, rng: random.Random, *, burst: bool,
             linear_progress: bool) -> tuple[float, float, float]:
    """Jobs arriving together (within 20 s) or steadily, polled as the schedule says, on a simulated clock.

    Returns GETs per job, the 99th percentile of how long after finishing each job was seen, and the GETs
    per job of CometAPI's documented loop (a GET right after submission, then one every interval).
    """
    arrivals = [20 * i / jobs if burst else 0.9 * i for i in range(jobs)]
    durations = [veo_like(rng) for _ in range(jobs)]
    events = [(at, job, True) for job, at in enumerate(arrivals)]
    heapq.heapify(events)
    gets, lags = 0, []
    while events:
        t, job, submit = heapq.heappop(events)
        at, duration = arrivals[job], durations[job]
        if submit:
            heapq.heappush(events, (s.first_poll(job, "m", at), job, False))
            continue
        gets += 1
        if t - at >= duration:
            lags.append(t - at - duration)
            s.completed(job, "m", at, t)
            continue
        progress = min(99, int(100 * (t - at) / duration)) if linear_progress else 50
        heapq.heappush(events, (s.next_poll(job, "m", at, t, progress), job, False))
    lags.sort()
    documented = sum(math.ceil(d / INTERVAL) + 1 for d in durations) / jobs
    return gets / jobs, lags[math.ceil(0.99 * len(lags)) - 1], documented


@pytest.mark.parametrize("burst", [False, True])
@pytest.mark.parametrize(("linear_progress", "max_ratio"), [(False, 0.7), (True, 0.42)])
def test_learned_schedule_needs_fewer_gets_at_the_same_lag(burst: bool, linear_progress: bool,
                                                           max_ratio: float) -> None:
    s = schedule()
    warm(s, model="m", seed=99, before=0.0)
    per_job, lag_p99, documented = simulate(s, 2000, random.Random(2026), burst=burst,
                                            linear_progress=linear_progress)
    assert per_job <= max_ratio * documented
    assert lag_p99 <= INTERVAL
