"""``DurationModel``: how long each model's jobs take, learned from the latest submissions, finished or not.

Learning from the last N *completions* is biased whenever many jobs start together: while a burst runs,
its quick jobs finish first (the estimate shrinks), and once those are done only slow ones finish (it
grows). So each window holds the latest N *submissions*: finished jobs count with their duration, running
ones as "at least this old" (right-censored), and quantiles come from the Kaplan-Meier estimate of the
survival curve, which stays unbiased under that censoring. A quantile that the finished jobs do not reach
yet is unknown (None). Pure: times are passed in.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

ALL_MODELS = ""


@dataclass(frozen=True, slots=True)
class DurationEstimate:
    """Quantiles of a model's job durations (seconds after submission); None where not known yet."""

    quantiles: tuple[float | None, ...]
    finished: int
    running: int


class _Window:
    """The latest ``size`` submissions of one model (submission time, and duration once finished), plus
    up to ``floor`` durations of older finished jobs while the window itself holds fewer than ``floor``
    (a burst of new submissions must not leave the estimate with nothing finished to go by)."""

    def __init__(self, size: int, floor: int) -> None:
        self.size = size
        self.floor = floor
        self.jobs: dict[int, tuple[float, float | None]] = {}
        self.reserve: deque[float] = deque(maxlen=floor)
        self._order: list[tuple[float, int]] = []
        self._finished = 0

    @property
    def finished(self) -> int:
        """Finished jobs the estimate goes by (the window's, topped up from the reserve)."""
        return self._finished + min(len(self.reserve), max(0, self.floor - self._finished))

    def put(self, job_id: int, submitted_at: float, duration: float | None) -> None:
        old = self.jobs.get(job_id)
        if old is not None and old[1] is not None:
            self._finished -= 1
        if old is None or old[0] != submitted_at:
            heapq.heappush(self._order, (submitted_at, job_id))
        self.jobs[job_id] = (submitted_at, duration)
        if duration is not None:
            self._finished += 1
        while len(self.jobs) > self.size:
            at, oldest = heapq.heappop(self._order)
            entry = self.jobs.get(oldest)
            if entry is not None and entry[0] == at:
                self.drop(oldest)
                if entry[1] is not None and self._finished < self.floor:
                    self.reserve.append(entry[1])
        if len(self._order) > 4 * self.size:  # stale heap entries of dropped or re-put jobs
            self._order = [(at, job) for job, (at, _) in self.jobs.items()]
            heapq.heapify(self._order)

    def drop(self, job_id: int) -> None:
        entry = self.jobs.pop(job_id, None)
        if entry is not None and entry[1] is not None:
            self._finished -= 1

    def quantiles(self, now: float, qs: Sequence[float]) -> tuple[float | None, ...]:
        """Kaplan-Meier quantiles: finished jobs are events, running ones are censored at their age."""
        topped_up = max(0, self.floor - self._finished)
        extra = list(self.reserve)[-topped_up:] if topped_up else []
        points = sorted(
            [(duration, 0) if duration is not None else (max(0.0, now - submitted_at), 1)
             for submitted_at, duration in self.jobs.values()] + [(d, 0) for d in extra]
        )  # at equal times events (0) come before censorings (1), as Kaplan-Meier wants
        found: list[float | None] = [None] * len(qs)
        at_risk = len(points)
        survival = 1.0
        for seconds, censored in points:
            if not censored:
                survival *= 1 - 1 / at_risk
                for i, q in enumerate(qs):
                    if found[i] is None and 1 - survival >= q - 1e-12:
                        found[i] = seconds
            at_risk -= 1
        return tuple(found)


class DurationModel:
    """Per-model windows (plus one over all models) of recent submissions and their outcomes."""

    def __init__(self, *, window: int = 500, min_finished: int = 20, refresh: float = 5.0) -> None:
        self.window = window
        self.min_finished = min_finished
        self.refresh = refresh
        self._windows: dict[str, _Window] = {}
        self._models: dict[int, str] = {}
        self._cache: dict[tuple[str, tuple[float, ...]], tuple[float, DurationEstimate | None]] = {}
        self._seeded = 0

    def _targets(self, model: str) -> list[_Window]:
        floor = max(self.min_finished, self.window // 5)
        return [self._windows.setdefault(key, _Window(self.window, floor)) for key in (model, ALL_MODELS)]

    def submitted(self, job_id: int, model: str, at: float) -> None:
        """A job reached the provider at ``at``."""
        self._models[job_id] = model
        for window in self._targets(model):
            window.put(job_id, at, None)
        if len(self._models) > 4 * self.window:
            live = {job for w in self._windows.values() for job in w.jobs}
            self._models = {job: m for job, m in self._models.items() if job in live}

    def finished(self, job_id: int, model: str, submitted_at: float, seconds: float) -> None:
        """A job submitted at ``submitted_at`` produced its video ``seconds`` later."""
        if not math.isfinite(seconds) or seconds < 0:
            return
        self._models.pop(job_id, None)
        for window in self._targets(model):
            window.put(job_id, submitted_at, seconds)

    def drop(self, job_id: int) -> None:
        """Forget a job that ended without a video (failed, timed out): it says nothing about durations."""
        model = self._models.pop(job_id, None)
        if model is not None:
            for window in self._targets(model):
                window.drop(job_id)

    def seed(self, samples: Iterable[tuple[str, float, float]]) -> int:
        """Learn (model, submitted_at, seconds) of jobs finished before a restart; return how many."""
        taken = 0
        for model, submitted_at, seconds in samples:
            self._seeded -= 1
            self.finished(self._seeded, model, submitted_at, seconds)  # ids below zero never clash with jobs
            taken += 1
        return taken

    def estimate(self, model: str, now: float, qs: tuple[float, ...]) -> DurationEstimate | None:
        """The ``qs`` quantiles for ``model`` (or for all models while it has too few finished jobs)."""
        for key in (model, ALL_MODELS):
            window = self._windows.get(key)
            if window is None or window.finished < self.min_finished:
                continue
            cached = self._cache.get((key, qs))
            if cached is not None and 0 <= now - cached[0] < self.refresh:
                return cached[1]
            quantiles = window.quantiles(now, qs)
            result = DurationEstimate(quantiles, window.finished, len(window.jobs) - window._finished)
            self._cache[(key, qs)] = (now, result)
            return result
        return None
