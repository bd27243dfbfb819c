"""The running bot's operations side: /healthz and /metrics, the mock provider, lasting links to stored videos."""

from __future__ import annotations

import socket
from pathlib import Path

import aiohttp
import av
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from bot.config import load_settings
from bot.jobs.provider import TaskNotFound
from cogs.app import VeoApp
from cogs.render import MOCK_LABEL, MOCK_NOTE
from tests.fakes.comet.api import TaskScript, make_mp4_bytes
from tests.support.e2e import World, running_bot, world

MESSAGES = r"/channels/\d+/messages$"


def free_port() -> int:
    """A TCP port nobody listens on right now (the bot's settings take a fixed port)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _submit(w: World, prompt: str = "a paper boat on a stream") -> None:
    interaction = await w.veo(prompt=prompt)
    await interaction.wait_for_response(predicate=lambda m: "Job #" in m.content)


async def _get(url: str) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return resp.status, await resp.read()


async def test_healthz_follows_the_gateway_and_metrics_count_a_delivery(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    async with world(tmp_path) as w, running_bot(w, env={"VEO_HTTP_PORT": str(port)}) as app:
        await w.discord.wait_until(lambda: app.worker.last_tick, timeout=5)
        status, body = await w.discord.wait_until(
            lambda: _healthy(base), timeout=5, message="healthz never turned 200")
        assert b'"gateway": "ok"' in body and b'"poll_loop": "ok"' in body
        w.discord.inject("POST", MESSAGES, status=429, retry_after=0.01)  # one rate-limited post, retried
        w.api.script_next_task(TaskScript(polls_until_done=1, video=make_mp4_bytes(4000)))
        await _submit(w)
        await w.discord.wait_until(lambda: w.results() or None, timeout=10)
        _, metrics = await _get(base + "/metrics")
        lines = metrics.decode().splitlines()
        assert 'veo_deliveries_total{kind="video",outcome="posted"} 1.0' in lines
        assert 'veo_jobs{state="delivered"} 1.0' in lines or 'veo_jobs{state="completed"} 1.0' in lines
        assert 'veo_provider_request_duration_seconds_count{operation="create"} 1.0' in lines
        assert 'veo_provider_request_duration_seconds_count{operation="download"} 1.0' in lines
        assert 'veo_discord_errors_total{status="429"} 1.0' in lines
        assert "veo_gateway_connected 1.0" in lines and "veo_queue_length 0.0" in lines
        await w.discord.stop()  # Discord goes away: the gateway drops and reconnects fail
        status, body = await w.discord.wait_until(lambda: _unhealthy(base), timeout=10)
        assert status == 503 and b"disconnected from the Discord gateway" in body
        _, metrics = await _get(base + "/metrics")
        assert "veo_gateway_connected 0.0" in metrics.decode().splitlines()
        assert "veo_gateway_disconnects_total 1.0" in metrics.decode().splitlines()


async def test_two_apps_in_one_process_keep_their_own_counts(tmp_path: Path) -> None:
    base_env = {"DISCORD_TOKEN": "discord-token-value-123", "COMETAPI_KEY": "sk-comet-key-value-456",
                "VEO_PROVIDER": "mock"}
    apps: list[VeoApp] = []
    try:
        for name in ("one", "two"):
            env = {**base_env, "DATABASE_URL": f"sqlite:///{tmp_path / name}.sqlite3",
                   "VEO_DATA_DIR": str(tmp_path / name)}
            apps.append(await VeoApp.create(load_settings(env)))  # the second would clash on a shared registry
        one, two = apps
        for _ in range(2):
            with pytest.raises(TaskNotFound):
                await one.worker.provider.get("mock-0123456789abcdef")
        two.runtime.metrics.videos_pruned.inc()
        texts = [await app.runtime.metrics.registry.render() for app in apps]
    finally:
        for app in apps:
            await app.close()
    one_lines, two_lines = (text.splitlines() for text in texts)
    assert 'veo_provider_request_duration_seconds_count{operation="get"} 2.0' in one_lines
    assert 'veo_provider_errors_total{error="TaskNotFound",operation="get"} 2.0' in one_lines
    assert "veo_videos_pruned_total 0.0" in one_lines
    assert not [line for line in two_lines if line.startswith(("veo_provider_request", "veo_provider_errors_total"))]
    assert "veo_videos_pruned_total 1.0" in two_lines
    families = [{family.name for family in text_string_to_metric_families(text)} for text in texts]
    assert families[0] == families[1] and {"veo_jobs", "veo_discord_errors", "veo_gateway_connected"} <= families[0]
    assert not [family.name for family in REGISTRY.collect() if family.name.startswith("veo_")]  # nothing global


async def _healthy(base: str) -> tuple[int, bytes] | None:
    status, body = await _get(base + "/healthz")
    return (status, body) if status == 200 else None


async def _unhealthy(base: str) -> tuple[int, bytes] | None:
    status, body = await _get(base + "/healthz")
    return (status, body) if status == 503 and b"gateway" in body and b'"gateway": "ok"' not in body else None


async def test_mock_provider_posts_a_real_video_without_calling_cometapi(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w, env={"VEO_PROVIDER": "mock"}) as app:
        await _submit(w, "a lighthouse in a storm")
        [result] = await w.discord.wait_until(lambda: w.results() or None, timeout=15)
        [video] = result.attachment_bytes
        assert video[4:8] == b"ftyp" and MOCK_NOTE in result.content
        path = tmp_path / "video.mp4"
        path.write_bytes(video)
        with av.open(str(path)) as container:
            assert container.streams.video[0].codec_context.name == "h264"
            assert sum(1 for _ in container.decode(video=0)) > 10
        [status] = w.status_messages()
        await w.discord.wait_until(lambda: "Delivered" in str(status.embeds), timeout=5)
        assert status.embeds[0]["author"]["name"] == MOCK_LABEL
        job = await app.store.get_job(1)
        assert job is not None and job.task_id is not None and job.task_id.startswith("mock-")
        assert w.api.requests == []  # not one call to CometAPI: no credits spent


async def test_large_video_link_points_at_the_stored_copy_served_by_the_bot(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"VEO_UPLOAD_LIMIT_BYTES": "1000", "VEO_HTTP_PORT": str(port), "VEO_PUBLIC_BASE_URL": base + "/",
           "VEO_VIDEO_DIR": str(tmp_path / "kept")}
    video = make_mp4_bytes(5000)
    async with world(tmp_path) as w, running_bot(w, env=env) as app:
        w.api.script_next_task(TaskScript(polls_until_done=0, video=video))
        await _submit(w)
        [result] = await w.discord.wait_until(lambda: w.results() or None, timeout=10)
        name = app.runtime.videos.name_for(1)
        assert f"{base}/videos/{name}" in result.content and result.attachments == []
        job = await app.store.get_job(1)
        assert job is not None and job.video_url and job.video_url not in result.content
        assert (tmp_path / "kept" / name).read_bytes() == video  # kept after delivery
        assert await _get(f"{base}/videos/{name}") == (200, video)


async def test_without_retention_the_provider_link_is_used_and_nothing_is_kept(tmp_path: Path) -> None:
    port = free_port()
    env = {"VEO_UPLOAD_LIMIT_BYTES": "1000", "VEO_HTTP_PORT": str(port),
           "VEO_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "VEO_VIDEO_RETENTION_DAYS": "0"}
    async with world(tmp_path) as w, running_bot(w, env=env) as app:
        w.api.script_next_task(TaskScript(polls_until_done=0, video=make_mp4_bytes(5000)))
        await _submit(w)
        [result] = await w.discord.wait_until(lambda: w.results() or None, timeout=10)
        job = await app.store.get_job(1)
        assert job is not None and job.video_url and job.video_url in result.content
        await w.discord.wait_until(lambda: not app.runtime.videos.path_for(1).exists(), timeout=5)
