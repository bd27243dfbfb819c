"""The bot's own metrics, and wrappers that measure the video provider and the notifier they wrap."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from bot.jobs.ports import DeliveryFailed, Fitter, Notifier, StatusView
from bot.jobs.provider import ImageInput, TaskStatus, VideoProvider
from bot.jobs.records import Job, JobStatus
from bot.media.fitter import FitOutcome, FitResult
from bot.ops.metrics import MetricsRegistry

# An encode of a Veo clip takes seconds to a minute or two, bounded by VEO_FIT_TIMEOUT.
FIT_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 60.0, 120.0, 300.0)


class JobCounts(Protocol):
    """The one store query the metrics need."""

    async def count_by_status(self) -> Mapping[JobStatus, int]: ...


class _LastTick:
    """The worker's last poll cycle, read at every scrape; no sample until the worker has ticked."""

    name = "veo_poll_loop_last_tick_timestamp_seconds"
    help = "Unix time of the job worker's last poll cycle."

    def __init__(self) -> None:
        self.read: Callable[[], float | None] = lambda: None

    def describe(self) -> list[Metric]:
        return [GaugeMetricFamily(self.name, self.help)]

    def collect(self) -> list[Metric]:
        family = GaugeMetricFamily(self.name, self.help)
        tick = self.read()
        if tick is not None:
            family.add_metric([], tick)
        return [family]


class BotMetrics:
    """The job core's metrics on ``/metrics``, registered in one place.

    A chat front-end registers its own metrics (gateway, chat API errors) on the same ``registry``, through
    its ``counter``, ``gauge`` and ``histogram``, so that one exposition holds both.
    """

    def __init__(self, registry: MetricsRegistry | None = None) -> None:
        self.registry = registry or MetricsRegistry()
        r = self.registry
        self.jobs = r.gauge("veo_jobs", "Jobs in the store, by state.", ["state"])
        self.queue_length = r.gauge("veo_queue_length", "Jobs waiting for a free provider slot.")
        self.provider_seconds = r.histogram(
            "veo_provider_request_duration_seconds",
            "Time spent in one video-provider call (retries included), by operation.", ["operation"],
        )
        self.provider_errors = r.counter(
            "veo_provider_errors_total", "Video-provider calls that failed, by operation and error.",
            ["operation", "error"],
        )
        self.deliveries = r.counter(
            "veo_deliveries_total",
            "Result posts: kind is video or failure; outcome is posted, or the failure's kind.",
            ["kind", "outcome"],
        )
        self.direct_messages = r.counter(
            "veo_direct_messages_total",
            "Direct messages telling a requester their result is posted, by outcome (sent, or the failure's kind).",
            ["outcome"],
        )
        self.poll_loop_tick = _LastTick()
        r.register(self.poll_loop_tick)
        self.videos_pruned = r.counter("veo_videos_pruned_total", "Stored videos removed after their retention.")
        self.video_fits = r.counter(
            "veo_video_fits_total",
            "Finished videos re-encoded to fit an upload limit, by outcome: fitted, cannot_fit (too long for the "
            "limit), unreadable, failed or timed_out.",
            ["outcome"],
        )
        self.video_fit_seconds = r.histogram(
            "veo_video_fit_duration_seconds", "Time one fit took, waiting for a free encoder included.",
            buckets=FIT_BUCKETS,
        )

    def watch_store(self, store: JobCounts) -> None:
        """Refresh the job gauges from the store at every scrape (the database is the source of truth)."""

        async def collect() -> None:
            counts = await store.count_by_status()
            for status in JobStatus:
                self.jobs.labels(state=status.value).set(counts.get(status, 0))
            self.queue_length.set(counts.get(JobStatus.QUEUED, 0))

        self.registry.add_collector(collect)

    def watch_poll_loop(self, last_tick: Callable[[], float | None]) -> None:
        """Expose the worker's last tick at every scrape."""
        self.poll_loop_tick.read = last_tick


class InstrumentedProvider(VideoProvider):
    """A ``VideoProvider`` that times every call of the one it wraps and counts its errors."""

    def __init__(
        self, inner: VideoProvider, metrics: BotMetrics, *, timer: Callable[[], float] = time.perf_counter
    ) -> None:
        self.inner = inner
        self.metrics = metrics
        self.timer = timer

    @contextmanager
    def _measured(self, operation: str) -> Iterator[None]:
        """Time the call made in the block and count its error; a cancelled call (it never ended) is neither."""
        started = self.timer()
        try:
            yield
        except Exception as exc:
            self._done(operation, started, type(exc).__name__)
            raise
        self._done(operation, started, None)

    def _done(self, operation: str, started: float, error: str | None) -> None:
        self.metrics.provider_seconds.labels(operation=operation).observe(self.timer() - started)
        if error is not None:
            self.metrics.provider_errors.labels(operation=operation, error=error).inc()

    async def create(self, prompt: str, model: str, orientation: str, images: Sequence[ImageInput] = ()) -> str:
        """Create a task, measured."""
        with self._measured("create"):
            return await self.inner.create(prompt, model, orientation, images)

    async def get(self, task_id: str) -> TaskStatus:
        """Read a task's status, measured."""
        with self._measured("get"):
            return await self.inner.get(task_id)

    async def download(self, task_id: str, video_url: str | None, dest: Path) -> int:
        """Download a finished video, measured."""
        with self._measured("download"):
            return await self.inner.download(task_id, video_url, dest)


class InstrumentedNotifier(Notifier):
    """A ``Notifier`` that counts result posts and direct messages; status messages go straight through."""

    def __init__(self, inner: Notifier, metrics: BotMetrics) -> None:
        self.inner = inner
        self.metrics = metrics

    @contextmanager
    def _counted(self, kind: str) -> Iterator[None]:
        """Count the post made in the block by its outcome; a cancelled post (it never ended) is not counted."""
        try:
            yield
        except DeliveryFailed as exc:
            self._count(kind, "failed_permanent" if exc.permanent else "failed_retry")
            raise
        except Exception:
            self._count(kind, "error")
            raise
        self._count(kind, "posted")

    def _count(self, kind: str, outcome: str) -> None:
        if kind == "dm":
            self.metrics.direct_messages.labels(outcome="sent" if outcome == "posted" else outcome).inc()
        else:
            self.metrics.deliveries.labels(kind=kind, outcome=outcome).inc()

    async def show_status(self, job: Job, view: StatusView) -> str | None:
        """Create or update the job's status message (not counted)."""
        return await self.inner.show_status(job, view)

    async def deliver_video(self, job: Job, video: Path | None) -> str:
        """Post the video (or its link), counted."""
        with self._counted("video"):
            return await self.inner.deliver_video(job, video)

    async def deliver_failure(self, job: Job) -> str:
        """Post a failure notice, counted."""
        with self._counted("failure"):
            return await self.inner.deliver_failure(job)

    async def max_upload_bytes(self, job: Job) -> int:
        """The largest file the job's result may carry (not counted)."""
        return await self.inner.max_upload_bytes(job)

    async def send_ready_dm(self, job: Job) -> str:
        """Send the requester's direct message, counted."""
        with self._counted("dm"):
            return await self.inner.send_ready_dm(job)


class InstrumentedFitter(Fitter):
    """A ``Fitter`` that counts the outcomes of the one it wraps and times each fit."""

    def __init__(self, inner: Fitter, metrics: BotMetrics, *, timer: Callable[[], float] = time.perf_counter) -> None:
        self.inner = inner
        self.metrics = metrics
        self.timer = timer

    async def fit(self, source: Path, dest: Path, limit: int) -> FitResult:
        """Fit, counted by outcome and timed; an error counts as failed, a cancelled fit (it never ended) not."""
        started = self.timer()
        try:
            result = await self.inner.fit(source, dest, limit)
        except Exception:
            self._done(started, FitOutcome.FAILED)
            raise
        self._done(started, result.outcome)
        return result

    def _done(self, started: float, outcome: FitOutcome) -> None:
        self.metrics.video_fit_seconds.observe(self.timer() - started)
        self.metrics.video_fits.labels(outcome=outcome.value).inc()
