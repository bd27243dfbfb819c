"""``PollSchedule``: when to ask the provider about a job next, learned from how long recent jobs took.

Pure and clock-free: every method takes the times it needs, so the worker, the tests and the benchmark
drive it with whatever clock they use. How it decides (docs/PERFORMANCE.md has the figures):

- **Cold** (fewer than ``min_samples`` finished jobs among the latest submissions of the model, and of all
  models): the fixed schedule, first poll after ``cold_first_poll``, then every ``interval``, each +/-20 %.
- **Warm**: nothing before the earliest plausible completion. The first poll comes when about
  ``first_hit`` of recent jobs had finished (``bot/jobs/durations.py`` learns that quantile without the bias
  of bursts), so only the few that finished more than an interval earlier wait longer than ``interval``;
  then polls come every ``interval`` (less the worker's tick gap, ``tick_slack``, by which a due poll may
  come late): a job is seen at most ``interval`` after it finished,
  except for the few (about ``first_hit / 5``) that finished well before their first poll. (Gaps that
  grow past the learned late quantile saved under 2 % of requests in simulation and cost lag, so the
  schedule stays dense until the job ends or times out.)
- **Progress**: when two answers agree on when the job will finish (progress linear since submission,
  and the rate between the two answers, within ``PROGRESS_AGREEMENT``), the next poll goes to that time,
  at most ``progress_skip`` intervals ahead; a job that twice outlives its forecast is polled as above.
- **429**: every gap is stretched (x2 per rate-limited answer, up to ``max_backoff``), and the stretch
  halves every ``3 * interval`` without one.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable

from bot.jobs.durations import DurationEstimate, DurationModel

# Two estimates of the finish time (linear since submission, and the rate between the last two answers)
# must agree this closely before the schedule trusts the provider's progress.
PROGRESS_AGREEMENT = 0.12
# A job whose forecast passed this many times without it finishing is polled without forecasts.
MAX_MISSED_FORECASTS = 2
# Never poll again sooner than this share of the interval (a forecast that is due now, a tiny gap).
MIN_GAP_FACTOR = 0.2
# Per-job notes (last answer, forecast) are kept for at most this many jobs; the oldest are dropped.
MAX_TRACKED_JOBS = 100_000


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
        first_hit: float = 0.02,
        progress_skip: float = 4.0,
        max_backoff: float = 8.0,
        tick_slack: float = 0.0,
    ) -> None:
        if interval <= 0 or cold_first_poll < 0:
            raise ValueError("interval must be > 0 and cold_first_poll >= 0")
        if not 0 <= tick_slack < interval / 2:
            raise ValueError("tick_slack must be >= 0 and under half the interval")
        if not 0 < first_hit < 0.5 or window < min_samples or min_samples < 2:
            raise ValueError("need 0 < first_hit < 0.5 and 2 <= min_samples <= window")
        self.interval = interval
        self.cold_first_poll = cold_first_poll
        self.rng = rng or random.Random()
        self.enabled = enabled
        self.use_progress = use_progress
        self.window = window
        self.first_hit = first_hit
        self.progress_skip = progress_skip
        self.max_backoff = max_backoff
        # The worker may handle a due job up to this much later (its tick gap): dense polls are planned
        # that much sooner, so that a job is still seen within one interval of finishing.
        self.tick_slack = tick_slack
        self.durations = DurationModel(window=window, min_finished=min_samples, refresh=interval / 2)
        self._answers: dict[int, tuple[float, int]] = {}  # job -> (seconds since submission, progress)
        self._forecasts: dict[int, float] = {}  # job -> forecast finish time
        self._missed: dict[int, int] = {}  # job -> forecasts that passed without the job finishing
        self._stretch = 1.0
        self._limited_at = -math.inf

    # -- learning ---------------------------------------------------------------------------------

    def seed(self, samples: Iterable[tuple[str, float, float]]) -> int:
        """Learn (model, submitted_at, seconds) of jobs finished before a restart; return how many."""
        return self.durations.seed(samples)

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
        self._forget_notes(job_id)
        self.durations.finished(job_id, model, submitted_at, finished)
        return finished

    def estimate(self, model: str, now: float) -> DurationEstimate | None:
        """The learned (earliest, median, late) durations for ``model``; None while cold or disabled."""
        if not self.enabled:
            return None
        estimate = self.durations.estimate(model, now, (self.first_hit, 0.5, 0.99))
        return estimate if estimate is not None and estimate.quantiles[0] is not None else None

    # -- deciding ---------------------------------------------------------------------------------

    def backoff(self, now: float) -> float:
        """How much every gap is stretched now because of recent 429 answers (1.0 = not at all)."""
        if self._stretch <= 1.0:
            return 1.0
        half_lives = max(0.0, now - self._limited_at) / (3 * self.interval)
        decayed: float = self._stretch * 0.5**half_lives
        return max(1.0, decayed)

    def first_poll(self, job_id: int, model: str, submitted_at: float) -> float:
        """A job reached the provider at ``submitted_at``: when to ask about it for the first time."""
        self.durations.submitted(job_id, model, submitted_at)
        estimate = self.estimate(model, submitted_at)
        stretch = self.backoff(submitted_at)
        if estimate is None or estimate.quantiles[0] is None:
            return submitted_at + self.cold_first_poll * self.rng.uniform(0.8, 1.2) * stretch
        # The spread keeps jobs submitted together from polling together.
        earliest = estimate.quantiles[0]
        return submitted_at + (earliest + self.interval * self.rng.uniform(-0.25, 0.25)) * stretch

    def next_poll(self, job_id: int, model: str, submitted_at: float, now: float, progress: int) -> float:
        """When to ask again about a job that the provider, asked at ``now``, said is still running."""
        stretch = self.backoff(now)
        forecast = self._forecast(job_id, submitted_at, now, progress)
        if self.estimate(model, now) is None:
            return now + self.interval * self.rng.uniform(0.8, 1.2) * stretch
        planned = now + self.interval * stretch - self.tick_slack
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
        """A job ended without a video (failed, timed out): drop everything noted about it."""
        self._forget_notes(job_id)
        self.durations.drop(job_id)

    def tracked_jobs(self) -> int:
        """How many jobs the schedule holds per-job notes about (bounded by ``MAX_TRACKED_JOBS``)."""
        return len(self._answers)

    def _forget_notes(self, job_id: int) -> None:
        self._answers.pop(job_id, None)
        self._forecasts.pop(job_id, None)
        self._missed.pop(job_id, None)

    def _forecast(self, job_id: int, submitted_at: float, now: float, progress: int) -> float | None:
        """When the job will finish going by its progress, or None when the progress cannot be trusted."""
        age = now - submitted_at
        previous = self._answers.pop(job_id, None)
        self._answers[job_id] = (age, progress)
        if len(self._answers) > MAX_TRACKED_JOBS:
            self._forget_notes(next(iter(self._answers)))
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
