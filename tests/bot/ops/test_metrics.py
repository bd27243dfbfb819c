"""Metrics: the Prometheus text exposition, and the wrappers that measure the provider and the notifier."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest

from bot.jobs.ports import DeliveryFailed, StatusView
from bot.jobs.provider import ImageInput, ProviderBusy, TaskState, TaskStatus
from bot.jobs.records import Job, JobStatus, NewJob
from bot.ops.instrument import BotMetrics, InstrumentedNotifier, InstrumentedProvider
from bot.ops.metrics import MetricsRegistry
from db.sqlite.store import SqliteJobStore


def test_exposition_has_help_type_and_escaped_labels() -> None:
    registry = MetricsRegistry()
    requests = registry.counter("app_requests_total", "Requests.\nSecond line", ["route"])
    up = registry.gauge("app_up", "Up or not.")
    requests.labels(route='a"b\\c\nd').inc()
    requests.labels(route="plain").inc(2)
    up.set(1)
    text = registry.exposition()
    assert text.endswith("\n")
    lines = text.splitlines()
    assert lines[:2] == ["# HELP app_requests_total Requests.\\nSecond line", "# TYPE app_requests_total counter"]
    assert 'app_requests_total{route="a\\"b\\\\c\\nd"} 1.0' in lines
    assert 'app_requests_total{route="plain"} 2.0' in lines
    assert "# TYPE app_up gauge" in lines and "app_up 1.0" in lines
    assert not any("_created" in line for line in lines)


def test_unlabelled_counter_starts_at_zero_and_never_goes_down() -> None:
    registry = MetricsRegistry()
    ticks = registry.counter("ticks_total", "Ticks.")
    assert "ticks_total 0.0" in registry.exposition().splitlines()
    with pytest.raises(ValueError, match="non-negative"):
        ticks.inc(-1)
    with pytest.raises(ValueError, match="label"):
        ticks.labels(route="x")
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        registry.counter("ticks_total", "again")


def test_histogram_buckets_are_cumulative_with_sum_and_count() -> None:
    registry = MetricsRegistry()
    latency = registry.histogram("op_seconds", "Latency.", ["op"], buckets=[0.1, 1.0])
    for value in (0.05, 0.5, 0.5, 3.0):
        latency.labels(op="get").observe(value)
    lines = registry.exposition().splitlines()
    assert 'op_seconds_bucket{le="0.1",op="get"} 1.0' in lines
    assert 'op_seconds_bucket{le="1.0",op="get"} 3.0' in lines
    assert 'op_seconds_bucket{le="+Inf",op="get"} 4.0' in lines
    assert 'op_seconds_sum{op="get"} 4.05' in lines and 'op_seconds_count{op="get"} 4.0' in lines
    assert registry.sample("op_seconds_count", op="get") == 4
    assert not any("_created" in line for line in lines)


def test_values_are_formatted_like_prometheus() -> None:
    registry = MetricsRegistry()
    value = registry.gauge("value", "A value.", ["of"])
    for name, number in (("three", 3.0), ("quarter", 0.25), ("inf", float("inf")), ("nan", float("nan"))):
        value.labels(of=name).set(number)
    lines = registry.exposition().splitlines()
    for line in ('value{of="three"} 3.0', 'value{of="quarter"} 0.25', 'value{of="inf"} +Inf', 'value{of="nan"} NaN'):
        assert line in lines


async def test_collectors_refresh_gauges_and_a_failing_one_does_not_stop_the_scrape() -> None:
    registry = MetricsRegistry()
    depth = registry.gauge("depth", "Depth.")
    calls = itertools.count(1)

    async def broken() -> None:
        raise RuntimeError("store gone")

    async def good() -> None:
        depth.set(next(calls))

    registry.add_collector(broken)
    registry.add_collector(good)
    assert "depth 1.0" in (await registry.render()).splitlines()
    assert "depth 2.0" in (await registry.render()).splitlines()


async def test_the_poll_loop_tick_is_read_at_each_scrape_and_absent_until_the_first() -> None:
    metrics = BotMetrics()
    ticks: list[float] = []
    metrics.watch_poll_loop(lambda: ticks[-1] if ticks else None)
    lines = (await metrics.registry.render()).splitlines()
    assert "# TYPE veo_poll_loop_last_tick_timestamp_seconds gauge" in lines
    assert not [line for line in lines if line.startswith("veo_poll_loop_last_tick_timestamp_seconds")]
    ticks.append(1_700_000_000.5)
    lines = (await metrics.registry.render()).splitlines()
    assert "veo_poll_loop_last_tick_timestamp_seconds 1.7000000005e+09" in lines


class _Provider:
    def __init__(self) -> None:
        self.fail = False

    async def create(self, prompt: str, model: str, orientation: str, images: list[ImageInput] | None = None) -> str:
        if self.fail:
            raise ProviderBusy(detail="down")
        return "task-1"

    async def get(self, task_id: str) -> TaskStatus:
        return TaskStatus(task_id, TaskState.RUNNING, 10, None, None, False, "running")

    async def download(self, task_id: str, video_url: str | None, dest: Path) -> int:
        raise ProviderBusy(detail="down")


async def test_instrumented_provider_times_calls_and_counts_errors_by_kind(tmp_path: Path) -> None:
    metrics = BotMetrics()
    clock = iter([0.0, 0.3, 1.0, 3.5, 4.0, 4.1])
    inner = _Provider()
    provider = InstrumentedProvider(inner, metrics, timer=lambda: next(clock))
    assert await provider.create("p", "m", "16x9") == "task-1"
    inner.fail = True
    with pytest.raises(ProviderBusy):
        await provider.create("p", "m", "16x9")
    assert (await provider.get("task-1")).progress == 10
    sample = metrics.registry.sample
    assert sample("veo_provider_request_duration_seconds_count", operation="create") == 2
    assert sample("veo_provider_request_duration_seconds_count", operation="get") == 1
    assert sample("veo_provider_errors_total", operation="create", error="ProviderBusy") == 1
    assert sample("veo_provider_errors_total", operation="get", error="ProviderBusy") is None
    text = metrics.registry.exposition()
    assert 'veo_provider_request_duration_seconds_sum{operation="create"} 2.8' in text


async def test_a_cancelled_provider_call_is_neither_timed_nor_counted() -> None:
    metrics = BotMetrics()
    inner = _Provider()

    async def cancelled(task_id: str) -> TaskStatus:
        raise asyncio.CancelledError

    inner.get = cancelled  # type: ignore[method-assign]
    provider = InstrumentedProvider(inner, metrics)
    with pytest.raises(asyncio.CancelledError):
        await provider.get("task-1")
    assert metrics.registry.sample("veo_provider_request_duration_seconds_count", operation="get") is None
    assert "veo_provider_errors_total{" not in metrics.registry.exposition()


class _Notifier:
    def __init__(self) -> None:
        self.errors: list[BaseException] = []
        self.statuses = 0

    async def show_status(self, job: Job, view: object) -> int | None:
        self.statuses += 1
        return 5

    async def deliver_video(self, job: Job, video: Path | None) -> int:
        if self.errors:
            raise self.errors.pop()
        return 7

    async def deliver_failure(self, job: Job) -> int:
        return 8

    async def send_ready_dm(self, job: Job) -> int:
        if self.errors:
            raise self.errors.pop()
        return 9


async def test_instrumented_notifier_counts_posts_and_passes_status_calls_through() -> None:
    metrics = BotMetrics()
    inner = _Notifier()
    notifier = InstrumentedNotifier(inner, metrics)  # type: ignore[arg-type]
    job: Job = object()  # type: ignore[assignment]  # the fakes never read it
    assert await notifier.deliver_video(job, None) == 7
    inner.errors = [DeliveryFailed("Discord answered 403", permanent=True)]
    with pytest.raises(DeliveryFailed):
        await notifier.deliver_video(job, None)
    assert await notifier.deliver_failure(job) == 8
    assert await notifier.show_status(job, StatusView()) == 5 and inner.statuses == 1
    inner.errors = [RuntimeError("boom"), DeliveryFailed("Discord answered 503", permanent=False)]
    for _ in range(2):
        with pytest.raises((DeliveryFailed, RuntimeError)):
            await notifier.deliver_video(job, None)
    sample = metrics.registry.sample
    assert sample("veo_deliveries_total", kind="video", outcome="posted") == 1
    assert sample("veo_deliveries_total", kind="video", outcome="failed_permanent") == 1
    assert sample("veo_deliveries_total", kind="video", outcome="failed_retry") == 1
    assert sample("veo_deliveries_total", kind="video", outcome="error") == 1
    assert sample("veo_deliveries_total", kind="failure", outcome="posted") == 1
    assert sample("veo_deliveries_total", kind="status", outcome="posted") is None


async def test_instrumented_notifier_counts_direct_messages_apart_from_result_posts() -> None:
    metrics = BotMetrics()
    inner = _Notifier()
    notifier = InstrumentedNotifier(inner, metrics)  # type: ignore[arg-type]
    job: Job = object()  # type: ignore[assignment]  # the fakes never read it
    assert await notifier.send_ready_dm(job) == 9
    inner.errors = [RuntimeError("boom"), DeliveryFailed("Discord answered 503", permanent=False),
                    DeliveryFailed("the member does not take direct messages from the bot", permanent=True)]
    for _ in range(3):
        with pytest.raises((DeliveryFailed, RuntimeError)):
            await notifier.send_ready_dm(job)
    sample = metrics.registry.sample
    for outcome in ("sent", "failed_permanent", "failed_retry", "error"):
        assert sample("veo_direct_messages_total", outcome=outcome) == 1, outcome
    assert sample("veo_deliveries_total", kind="dm", outcome="posted") is None


def test_a_front_end_registers_its_own_metrics_next_to_the_core_ones() -> None:
    metrics = BotMetrics()
    assert "veo_discord" not in metrics.registry.exposition()  # the core knows no chat service
    assert "veo_gateway" not in metrics.registry.exposition()
    connected = metrics.registry.gauge("chat_connected", "1 while the chat service is reachable.")
    connected.set(1)
    lines = metrics.registry.exposition().splitlines()
    assert "chat_connected 1.0" in lines and "veo_videos_pruned_total 0.0" in lines
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        metrics.registry.counter("veo_deliveries_total", "A front-end cannot take a core metric's name.")


async def test_job_gauges_come_from_the_store(store: SqliteJobStore) -> None:
    for _ in range(2):
        await store.insert_job(NewJob("discord", "1", "2", "3", "p", "veo3.1-fast", "16x9"), 1.0)
    metrics = BotMetrics()
    metrics.watch_store(store)
    lines = (await metrics.registry.render()).splitlines()
    assert 'veo_jobs{state="queued"} 2.0' in lines and 'veo_jobs{state="delivered"} 0.0' in lines
    assert "veo_queue_length 2.0" in lines
    assert JobStatus.QUEUED in await store.count_by_status()
