"""The HTTP server: /healthz answers 200 or 503 with the reason, /metrics, stored videos, the container probe."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bot.jobs.records import JobStatus, NewJob
from bot.jobs.videos import DAY, VideoStore
from bot.ops.health import HealthChecks, HealthProbe
from bot.ops.healthcheck import probe
from bot.ops.http_server import HttpServer
from bot.ops.instrument import FIT_BUCKETS, BotMetrics
from bot.ops.metrics import DEFAULT_BUCKETS
from cogs.health import DiscordMetrics
from db.sqlite.store import SqliteJobStore
from tests.conftest import FakeClock


class _Facts:
    """What the front-end and the worker would report."""

    def __init__(self, clock: FakeClock) -> None:
        self.gateway: str | None = None
        self.last_tick: float | None = clock()


@asynccontextmanager
async def _server(
    store: SqliteJobStore, clock: FakeClock, videos: VideoStore | None = None
) -> AsyncIterator[tuple[HttpServer, _Facts, BotMetrics, str]]:
    facts = _Facts(clock)
    metrics = BotMetrics()
    health = HealthChecks(probes=(HealthProbe("gateway", lambda: facts.gateway),), store=store,
                          last_tick=lambda: facts.last_tick,
                          clock=clock, stale_after=300)
    server = HttpServer("127.0.0.1", 0, health=health, metrics=metrics.registry, videos=videos)
    await server.start()
    try:
        yield server, facts, metrics, f"http://127.0.0.1:{server.port}"
    finally:
        await server.close()


async def _get(url: str) -> tuple[int, str, bytes]:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), await resp.read()


async def test_healthz_is_200_when_every_check_passes_and_writes_the_database(
    store: SqliteJobStore, clock: FakeClock
) -> None:
    async with _server(store, clock) as (_, _facts, _, base), aiohttp.ClientSession() as session:
        async with session.get(base + "/healthz") as resp:
            assert resp.status == 200
            assert await resp.json() == {
                "status": "ok", "checks": {"gateway": "ok", "database": "ok", "poll_loop": "ok"}
            }
    assert await store.get_meta("health_checked_at") == repr(clock())


async def test_healthz_is_503_with_the_reason_for_each_failed_check(store: SqliteJobStore, clock: FakeClock) -> None:
    async with _server(store, clock) as (_, facts, _, base), aiohttp.ClientSession() as session:
        facts.gateway = "disconnected from the Discord gateway 40 s ago"
        clock.advance(301)
        async with session.get(base + "/healthz") as resp:
            body = await resp.json()
        assert resp.status == 503 and body["status"] == "unhealthy"
        assert body["checks"]["gateway"] == "disconnected from the Discord gateway 40 s ago"
        assert body["checks"]["poll_loop"] == "job worker last ran 301 s ago"
        assert body["checks"]["database"] == "ok"
        facts.last_tick = None
        async with session.get(base + "/healthz") as resp:
            assert (await resp.json())["checks"]["poll_loop"] == "job worker has not run yet"
        await store.close()  # the database goes away under the running bot
        async with session.get(base + "/healthz") as resp:
            body = await resp.json()
        assert resp.status == 503 and body["checks"]["database"].startswith("database not writable")


async def test_metrics_are_prometheus_text(store: SqliteJobStore, clock: FakeClock) -> None:
    async with _server(store, clock) as (_, _facts, metrics, base):
        metrics.watch_store(store)
        discord = DiscordMetrics(metrics.registry)  # the Discord face's own metrics, on the same registry
        discord.errors.labels(status="403").inc()
        status, content_type, body = await _get(base + "/metrics")
    text = body.decode()
    assert status == 200 and content_type.startswith("text/plain; version=0.0.4")
    assert "# TYPE veo_jobs gauge" in text and 'veo_jobs{state="queued"} 0.0' in text
    assert 'veo_discord_errors_total{status="403"} 1.0' in text
    assert "veo_gateway_connected" in text and "veo_deliveries_total" in text


async def test_metrics_parse_as_prometheus_text_with_the_expected_series(
    store: SqliteJobStore, clock: FakeClock
) -> None:
    await store.insert_job(NewJob("discord", "1", "2", "3", "p", "veo3.1-fast", "16x9"), 1.0)
    async with _server(store, clock) as (_, facts, metrics, base):
        metrics.watch_store(store)
        metrics.watch_poll_loop(lambda: facts.last_tick)
        discord = DiscordMetrics(metrics.registry)
        discord.errors.labels(status="429").inc()
        discord.gateway_connected.set(1)
        metrics.provider_seconds.labels(operation="create").observe(0.3)
        metrics.provider_errors.labels(operation="get", error="ProviderBusy").inc()
        metrics.deliveries.labels(kind="video", outcome="posted").inc()
        metrics.direct_messages.labels(outcome="failed_permanent").inc()
        status, _, body = await _get(base + "/metrics")
    assert status == 200
    families = {family.name: family for family in text_string_to_metric_families(body.decode())}
    assert {name: (family.type, family.documentation != "") for name, family in families.items()} == {
        "veo_jobs": ("gauge", True),
        "veo_queue_length": ("gauge", True),
        "veo_provider_request_duration_seconds": ("histogram", True),
        "veo_provider_errors": ("counter", True),
        "veo_deliveries": ("counter", True),
        "veo_direct_messages": ("counter", True),
        "veo_poll_loop_last_tick_timestamp_seconds": ("gauge", True),
        "veo_videos_pruned": ("counter", True),
        "veo_video_fits": ("counter", True),
        "veo_video_fit_duration_seconds": ("histogram", True),
        "veo_discord_errors": ("counter", True),
        "veo_gateway_connected": ("gauge", True),
        "veo_gateway_disconnects": ("counter", True),
    }
    series = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in families.values() for sample in family.samples
    }
    buckets = {float(labels[0][1]): value for (name, labels), value in series.items()
               if name == "veo_provider_request_duration_seconds_bucket"}
    assert buckets == {bound: (0.0 if bound < 0.3 else 1.0) for bound in (*DEFAULT_BUCKETS, math.inf)}
    fit_buckets = [v for (name, _), v in series.items() if name == "veo_video_fit_duration_seconds_bucket"]
    assert len(fit_buckets) == len(FIT_BUCKETS) + 1 and set(fit_buckets) == {0.0}
    assert {key: value for key, value in series.items() if not key[0].endswith("_bucket")} == {
        **{("veo_jobs", (("state", state.value),)): float(state is JobStatus.QUEUED) for state in JobStatus},
        ("veo_queue_length", ()): 1.0,
        ("veo_provider_request_duration_seconds_sum", (("operation", "create"),)): 0.3,
        ("veo_provider_request_duration_seconds_count", (("operation", "create"),)): 1.0,
        ("veo_provider_errors_total", (("error", "ProviderBusy"), ("operation", "get"))): 1.0,
        ("veo_deliveries_total", (("kind", "video"), ("outcome", "posted"))): 1.0,
        ("veo_direct_messages_total", (("outcome", "failed_permanent"),)): 1.0,
        ("veo_poll_loop_last_tick_timestamp_seconds", ()): clock(),
        ("veo_videos_pruned_total", ()): 0.0,
        ("veo_video_fit_duration_seconds_sum", ()): 0.0,
        ("veo_video_fit_duration_seconds_count", ()): 0.0,
        ("veo_discord_errors_total", (("status", "429"),)): 1.0,
        ("veo_gateway_connected", ()): 1.0,
        ("veo_gateway_disconnects_total", ()): 0.0,
    }


async def test_stored_videos_are_served_only_with_a_public_base_url(
    tmp_path: Path, store: SqliteJobStore, clock: FakeClock
) -> None:
    public = VideoStore(tmp_path / "videos", key=b"k", retention=DAY, public_base_url="https://v.example.org")
    public.root.mkdir()
    data = b"\0\0\0\x18ftypmp42" + bytes(range(256)) * 40
    public.path_for(9).write_bytes(data)
    async with _server(store, clock, public) as (_, _facts, _, base):
        status, content_type, body = await _get(f"{base}/videos/{public.name_for(9)}")
        assert (status, content_type, body) == (200, "video/mp4", data)
        assert (await _get(f"{base}/videos/{public.name_for(10)}"))[0] == 404
        assert (await _get(f"{base}/videos/..%2Fveo.sqlite3"))[0] == 404
        assert (await _get(f"{base}/videos/9.mp4"))[0] == 404
    private = VideoStore(tmp_path / "videos", key=b"k", retention=DAY)
    async with _server(store, clock, private) as (_, _facts, _, base):
        assert (await _get(f"{base}/videos/{private.name_for(9)}"))[0] == 404


async def test_container_probe_exits_0_when_healthy_and_1_otherwise(store: SqliteJobStore, clock: FakeClock) -> None:
    async with _server(store, clock) as (server, facts, _, _base):
        env = {"VEO_HTTP_PORT": str(server.port)}
        code, line = await asyncio.to_thread(probe, env)
        assert code == 0 and '"status": "ok"' in line
        facts.gateway = "not connected to the Discord gateway yet"
        code, line = await asyncio.to_thread(probe, env)
        assert code == 1 and line.startswith("HTTP 503") and "not connected" in line
    code, line = await asyncio.to_thread(probe, env)  # nothing listens any more
    assert code == 1 and line.startswith("no answer from")
