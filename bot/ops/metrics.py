"""Metrics in plain Python (counters, gauges, histograms) and their Prometheus text exposition."""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Iterable, Sequence

log = logging.getLogger(__name__)

LabelValues = tuple[str, ...]

# Seconds: a status poll takes well under a second, a create with images or a download several.
DEFAULT_BUCKETS: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: float) -> str:
    """A sample value as Prometheus writes it: ``+Inf``, ``NaN``, integers without a fraction."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def _labels(names: Sequence[str], values: Sequence[str], extra: Iterable[tuple[str, str]] = ()) -> str:
    pairs = [*zip(names, values, strict=True), *extra]
    if not pairs:
        return ""
    return "{" + ",".join(f'{name}="{_escape_label(value)}"' for name, value in pairs) + "}"


class _Metric:
    """What every metric shares: a name, a help line, label names and the type keyword."""

    kind = "untyped"

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        self.name = name
        self.help = help_text
        self.label_names = tuple(labels)

    def _key(self, labels: dict[str, str]) -> LabelValues:
        if set(labels) != set(self.label_names):
            raise ValueError(f"{self.name} takes the labels {self.label_names}, got {tuple(labels)}")
        return tuple(str(labels[name]) for name in self.label_names)

    def header(self) -> list[str]:
        """The ``# HELP`` and ``# TYPE`` lines."""
        return [f"# HELP {self.name} {_escape_help(self.help)}", f"# TYPE {self.name} {self.kind}"]

    def samples(self) -> list[str]:
        """The sample lines."""
        raise NotImplementedError


class Counter(_Metric):
    """A value that only goes up (requests, errors, deliveries)."""

    kind = "counter"

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labels)
        self._values: dict[LabelValues, float] = {} if labels else {(): 0.0}

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        """Add ``amount`` (never negative) to the series named by ``labels``."""
        if amount < 0:
            raise ValueError("a counter never goes down")
        key = self._key(labels)
        self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        """The current value of one series (0 when never incremented)."""
        return self._values.get(self._key(labels), 0.0)

    def samples(self) -> list[str]:
        return [f"{self.name}{_labels(self.label_names, k)} {format_value(v)}" for k, v in sorted(self._values.items())]


class Gauge(_Metric):
    """A value that goes up and down (jobs by state, queue length, connected or not)."""

    kind = "gauge"

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labels)
        self._values: dict[LabelValues, float] = {}

    def set(self, value: float, **labels: str) -> None:
        """Set one series."""
        self._values[self._key(labels)] = float(value)

    def value(self, **labels: str) -> float | None:
        """The current value of one series (None when never set)."""
        return self._values.get(self._key(labels))

    def samples(self) -> list[str]:
        return [f"{self.name}{_labels(self.label_names, k)} {format_value(v)}" for k, v in sorted(self._values.items())]


class Histogram(_Metric):
    """Observations counted into cumulative buckets, with their sum and count (latencies)."""

    kind = "histogram"

    def __init__(
        self, name: str, help_text: str, labels: Sequence[str] = (), buckets: Sequence[float] = DEFAULT_BUCKETS
    ) -> None:
        super().__init__(name, help_text, labels)
        if "le" in self.label_names:
            raise ValueError("'le' is reserved for histogram buckets")
        self.buckets = tuple(sorted(buckets))
        self._series: dict[LabelValues, tuple[list[int], list[float]]] = {}

    def observe(self, value: float, **labels: str) -> None:
        """Count one observation."""
        counts, total = self._series.setdefault(self._key(labels), ([0] * (len(self.buckets) + 1), [0.0]))
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                counts[i] += 1
        counts[-1] += 1
        total[0] += value

    def count(self, **labels: str) -> int:
        """How many observations one series holds."""
        series = self._series.get(self._key(labels))
        return series[0][-1] if series else 0

    def samples(self) -> list[str]:
        lines = []
        for key, (counts, total) in sorted(self._series.items()):
            for bound, count in zip((*self.buckets, math.inf), counts, strict=True):
                labels = _labels(self.label_names, key, [("le", format_value(bound))])
                lines.append(f"{self.name}_bucket{labels} {count}")
            lines.append(f"{self.name}_sum{_labels(self.label_names, key)} {format_value(total[0])}")
            lines.append(f"{self.name}_count{_labels(self.label_names, key)} {counts[-1]}")
        return lines


Collector = Callable[[], Awaitable[None]]


class MetricsRegistry:
    """Holds metrics in registration order; collectors refresh gauges just before each exposition."""

    def __init__(self) -> None:
        self._metrics: dict[str, _Metric] = {}
        self._collectors: list[Collector] = []

    def _add(self, metric: _Metric) -> None:
        if metric.name in self._metrics:
            raise ValueError(f"metric {metric.name} is already registered")
        self._metrics[metric.name] = metric

    def counter(self, name: str, help_text: str, labels: Sequence[str] = ()) -> Counter:
        """Register and return a counter."""
        metric = Counter(name, help_text, labels)
        self._add(metric)
        return metric

    def gauge(self, name: str, help_text: str, labels: Sequence[str] = ()) -> Gauge:
        """Register and return a gauge."""
        metric = Gauge(name, help_text, labels)
        self._add(metric)
        return metric

    def histogram(
        self, name: str, help_text: str, labels: Sequence[str] = (), buckets: Sequence[float] = DEFAULT_BUCKETS
    ) -> Histogram:
        """Register and return a histogram."""
        metric = Histogram(name, help_text, labels, buckets)
        self._add(metric)
        return metric

    def add_collector(self, collector: Collector) -> None:
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
        lines: list[str] = []
        for metric in self._metrics.values():
            lines += metric.header()
            lines += metric.samples()
        return "\n".join(lines) + "\n"

    async def render(self) -> str:
        """Collect, then expose."""
        await self.collect()
        return self.exposition()
