"""The metrics registry: prometheus_client's metrics on a registry of their own, refreshed before each exposition."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

# What ``generate_latest`` writes: the text format 0.0.4. Since prometheus_client 0.23, CONTENT_TYPE_LATEST
# names version 1.0.0, which the library itself sends only with an ``escaping=`` it has negotiated.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

# Seconds: a status poll takes well under a second, a create with images or a download several.
DEFAULT_BUCKETS: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

AsyncCollector = Callable[[], Awaitable[None]]

# The metric types prometheus_client gives a ``<name>_created`` sample.
_CREATED_TYPES = frozenset({"counter", "histogram", "summary"})


class _WithoutCreated:
    """A registry's metrics without their ``_created`` samples.

    prometheus_client adds a creation timestamp to every counter and histogram series; its switch
    (``disable_created_metrics``) is process-wide, so the samples are left out here, per registry.
    """

    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def collect(self) -> Iterable[Metric]:
        for family in self.source.collect():
            if family.type in _CREATED_TYPES:
                created = family.name + "_created"
                kept = Metric(family.name, family.documentation, family.type, family.unit)
                kept.samples = [sample for sample in family.samples if sample.name != created]
                family = kept
            yield family


class MetricsRegistry:
    """One app's metrics: its own ``CollectorRegistry`` (never the process-wide default, so two apps or two
    tests never share counts) and the async collectors that refresh gauges just before each exposition."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._exposed = CollectorRegistry()
        self._exposed.register(_WithoutCreated(self.registry))
        self._collectors: list[AsyncCollector] = []

    def counter(self, name: str, help_text: str, labels: Sequence[str] = ()) -> Counter:
        """Register and return a counter (its name ends in ``_total``)."""
        return Counter(name, help_text, labels, registry=self.registry)

    def gauge(self, name: str, help_text: str, labels: Sequence[str] = ()) -> Gauge:
        """Register and return a gauge."""
        return Gauge(name, help_text, labels, registry=self.registry)

    def histogram(
        self, name: str, help_text: str, labels: Sequence[str] = (), buckets: Sequence[float] = DEFAULT_BUCKETS
    ) -> Histogram:
        """Register and return a histogram."""
        return Histogram(name, help_text, labels, registry=self.registry, buckets=buckets)

    def register(self, collector: Collector) -> None:
        """Register a custom collector (figures read when the metrics are exposed)."""
        self.registry.register(collector)

    def add_collector(self, collector: AsyncCollector) -> None:
        """Run ``collector`` before every exposition (to read figures that live elsewhere, e.g. the store)."""
        self._collectors.append(collector)

    async def collect(self) -> None:
        """Run every collector; one failing collector leaves its gauges as they were."""
        for collector in self._collectors:
            try:
                await collector()
            except Exception:
                # A scrape still answers with the other figures; /healthz reports what is broken.
                log.warning("metrics collector failed", exc_info=True)

    def exposition(self) -> str:
        """Every metric in the Prometheus text format (version 0.0.4)."""
        return generate_latest(self._exposed).decode()

    async def render(self) -> str:
        """Collect, then expose."""
        await self.collect()
        return self.exposition()

    def sample(self, name: str, **labels: str) -> float | None:
        """The current value of one sample (``veo_deliveries_total``, ``..._count``), None when it does not exist."""
        return self.registry.get_sample_value(name, labels)
