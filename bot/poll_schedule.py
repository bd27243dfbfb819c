"""``PollSchedule``: when to ask the provider about a job next, learned from how long recent jobs took.

Pure and clock-free: every method takes the times it needs, so the worker, the tests and the benchmark
drive it with whatever clock they use. How it decides (see docs/PERFORMANCE.md for the figures):

- **Cold** (fewer than ``min_samples`` known durations for the model and for all models together): the
  fixed schedule, first poll after ``cold_first_poll``, then every ``interval``, each +/-20 %.
- **Warm**: nothing before the earliest plausible completion: the first poll comes when about
  ``first_hit`` of recent jobs had finished (so only the few that finished more than an interval
  earlier wait longer than ``interval``), then polls come exactly every ``interval`` until the late
  ``1 - tail`` quantile, then with gaps that grow with the job's age (up to ``max_gap_factor``
  intervals). A job is then seen at most ``interval`` after it finished, except for about
  ``first_hit / 10 + tail`` of jobs at the two ends of the learned range.
- **Progress**: when two answers agree on when the job will finish (progress linear since submission,
  and the rate between the two answers, within ``PROGRESS_AGREEMENT``), the next poll goes to that time,
  at most ``progress_skip`` intervals ahead; a job that twice outlives its forecast is polled as above.
- **429**: every gap is stretched (x2 per rate-limited answer, up to ``max_backoff``), and the stretch
  halves every ``3 * interval`` without one.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

# Two estimates of the finish time (linear since submission, and the rate between the last two answers)
# must agree this closely before the schedule trusts the provider's progress.
PROGRESS_AGREEMENT = 0.12
# A job whose forecast passed this many times without it finishing is polled without forecasts.
MAX_MISSED_FORECASTS = 2
# Never poll again sooner than this share of the interval (a forecast that is due now, a tiny gap).
MIN_GAP_FACTOR = 0.2
# Beyond the learned range, each gap grows by this share of the time spent past the late quantile.
TAIL_GROWTH = 0.25
# Per-job notes (last answer, forecast) are kept for at most this many jobs; the oldest are dropped.
MAX_TRACKED_JOBS = 100_000
ALL_MODELS = ""


@dataclass(frozen=True, slots=True)
class DurationEstimate:
    """What recent jobs say about how long the next one takes, in seconds after submission."""

    earliest: float  # the ``first_hit`` quantile: the first poll comes about then
    median: float
    latest: float  # the ``1 - tail`` quantile: the dense window ends here
    samples: int


class _Durations:
    """The most recent durations of one model, with their sorted copy cached between changes."""

    def __init__(self, window: int) -> None:
        self.recent: deque[float] = deque(maxlen=window)
        self._sorted: list[float] | None = None

    def add(self, seconds: float) -> None:
        self.recent.append(seconds)
        self._sorted = None

    def quantile(self, q: float) -> float:
        if self._sorted is None:
            self._sorted = sorted(self.recent)
        values = self._sorted
        position = q * (len(values) - 1)
        low = math.floor(position)
        high = min(low + 1, len(values) - 1)
        return values[low] + (values[high] - values[low]) * (position - low)


class PollSchedule:
    """Decides the first and every next status request of each job; learns from finished jobs."""

    def __init__(
        self,
        *,
        interval: float,
        cold_first_poll: float,
        rng: random.Random | None = None,
        enabled: bool = True,
        use_progress: bool = True,
        window: int = 500,
        min_samples: int = 20,
        first_hit: float = 0.01,
        tail: float = 0.005,
        max_gap_factor: float = 6.0,
        progress_skip: float = 4.0,
        max_backoff: float = 8.0,
    ) -> None:
        if interval <= 0 or cold_first_poll < 0:
            raise ValueError("interval must be > 0 and cold_first_poll >= 0")
        if not (0 < tail < 0.5 and 0 < first_hit < 0.5) or window < min_samples or min_samples < 2:
            raise ValueError("need 0 < tail, first_hit < 0.5 and 2 <= min_samples <= window")
        self.interval = interval
        self.cold_first_poll = cold_first_poll
        self.rng = rng or random.Random()
        self.enabled = enabled
        self.use_progress = use_progress
        self.window = window
        self.min_samples = min_samples
        self.first_hit = first_hit
        self.tail = tail
        self.max_gap = interval * max_gap_factor
        self.progress_skip = progress_skip
        self.max_backoff = max_backoff
        self._durations: dict[str, _Durations] = {}
        self._answers: dict[int, tuple[float, int]] = {}  # job -> (seconds since submission, progress)
        self._forecasts: dict[int, float] = {}  # job -> forecast finish time
        self._missed: dict[int, int] = {}  # job -> forecasts that passed without the job finishing
        self._stretch = 1.0
        self._limited_at = -math.inf

    # -- learning ---------------------------------------------------------------------------------

    def observe(self, model: str, seconds: float) -> None:
        """Learn one job's duration (submission to completion at the provider)."""
        if not math.isfinite(seconds) or seconds < 0:
            return
        for key in (model, ALL_MODELS):
            self._durations.setdefault(key, _Durations(self.window)).add(seconds)

    def seed(self, samples: Iterable[tuple[str, float]]) -> int:
        """Learn durations of jobs finished before a restart, oldest first; return how many were taken."""
        taken = 0
        for model, seconds in samples:
            self.observe(model, seconds)
            taken += 1
        return taken

    def completed(self, job_id: int, model: str, submitted_at: float, now: float) -> float:
        """A poll at ``now`` found the job finished: learn when it most likely finished; return that."""
        seen = now - submitted_at
        answer = self._answers.get(job_id)
        forecast = self._forecasts.get(job_id)
        if answer is None:
            # It finished before its first poll (or before a restart). Recording the poll's time keeps the
            # first poll where about ``first_hit`` of jobs are already done: more, and the learned early
            # quantile falls among these records (first polls move earlier); fewer, and it rises.
            finished = seen
        elif forecast is not None and self._missed.get(job_id, 0) == 0:
            finished = min(seen, max(answer[0], forecast - submitted_at))
        else:
            finished = (answer[0] + seen) / 2
        self.forget(job_id)
        self.observe(model, finished)
        return finished

    def estimate(self, model: str) -> DurationEstimate | None:
        """The learned durations for ``model`` (or for all models while it has few), None while cold."""
        if not self.enabled:
            return None
        for key in (model, ALL_MODELS):
            durations = self._durations.get(key)
            if durations is not None and len(durations.recent) >= self.min_samples:
                return DurationEstimate(
                    earliest=durations.quantile(self.first_hit),
                    median=durations.quantile(0.5),
                    latest=durations.quantile(1 - self.tail),
                    samples=len(durations.recent),
                )
        return None

    # -- deciding ---------------------------------------------------------------------------------

    def backoff(self, now: float) -> float:
        """How much every gap is stretched now because of recent 429 answers (1.0 = not at all)."""
        if self._stretch <= 1.0:
            return 1.0
        half_lives = max(0.0, now - self._limited_at) / (3 * self.interval)
        decayed: float = self._stretch * 0.5**half_lives
        return max(1.0, decayed)

    def first_poll(self, model: str, submitted_at: float) -> float:
        """When to ask about a job submitted at ``submitted_at`` for the first time."""
        estimate = self.estimate(model)
        stretch = self.backoff(submitted_at)
        if estimate is None:
            return submitted_at + self.cold_first_poll * self.rng.uniform(0.8, 1.2) * stretch
        # The spread keeps jobs submitted together from polling together.
        return submitted_at + (estimate.earliest + self.interval * self.rng.uniform(-0.25, 0.25)) * stretch

    def next_poll(self, job_id: int, model: str, submitted_at: float, now: float, progress: int) -> float:
        """When to ask again about a job that the provider, asked at ``now``, said is still running."""
        stretch = self.backoff(now)
        forecast = self._forecast(job_id, submitted_at, now, progress)
        estimate = self.estimate(model)
        if estimate is None:
            return now + self.interval * self.rng.uniform(0.8, 1.2) * stretch
        age = now - submitted_at
        gap = self.interval
        if age >= estimate.latest:
            gap = min(self.max_gap, self.interval + TAIL_GROWTH * (age - estimate.latest))
        planned = now + gap * stretch
        if forecast is None:
            return planned
        if forecast > planned:
            return min(forecast, now + self.interval * self.progress_skip * stretch)
        return max(forecast, now + self.interval * MIN_GAP_FACTOR)

    def rate_limited(self, now: float) -> float:
        """The provider answered 429: slow every job down for a while; return when to retry this one."""
        self._stretch = min(self.max_backoff, max(2.0, self.backoff(now) * 2))
        self._limited_at = now
        return now + self.interval * self._stretch * self.rng.uniform(0.8, 1.2)

    def forget(self, job_id: int) -> None:
        """Drop what the schedule noted about a job that has left the provider."""
        self._answers.pop(job_id, None)
        self._forecasts.pop(job_id, None)
        self._missed.pop(job_id, None)

    def tracked_jobs(self) -> int:
        """How many jobs the schedule holds notes about (bounded by ``MAX_TRACKED_JOBS``)."""
        return len(self._answers)

    def _forecast(self, job_id: int, submitted_at: float, now: float, progress: int) -> float | None:
        """When the job will finish going by its progress, or None when the progress cannot be trusted."""
        age = now - submitted_at
        previous = self._answers.pop(job_id, None)
        self._answers[job_id] = (age, progress)
        if len(self._answers) > MAX_TRACKED_JOBS:
            self.forget(next(iter(self._answers)))
        earlier = self._forecasts.pop(job_id, None)
        if earlier is not None and now >= earlier:
            self._missed[job_id] = self._missed.get(job_id, 0) + 1
        if not self.use_progress or self._missed.get(job_id, 0) >= MAX_MISSED_FORECASTS:
            return None
        if previous is None or not 0 < progress < 100:
            return None
        previous_age, previous_progress = previous
        if progress <= previous_progress or age <= previous_age:
            return None
        since_submission = age * 100 / progress
        from_rate = age + (100 - progress) * (age - previous_age) / (progress - previous_progress)
        if abs(since_submission - from_rate) > PROGRESS_AGREEMENT * since_submission:
            return None
        forecast = submitted_at + min(since_submission, from_rate)
        self._forecasts[job_id] = forecast
        return forecast

