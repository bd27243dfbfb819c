"""VideoClient.download against the fake CometAPI and its fake CDN: checks, caps, keys, streaming."""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr

from bot.comet.client import VideoClient
from bot.jobs.provider import DownloadFailed, ProviderConfigError, TaskStatus, VideoTooLarge
from tests.bot.comet.support import FAST_POLICY, RecordingSleep, leftovers, make_client
from tests.fakes.comet.api import FakeCometAPI, Fault, TaskScript, make_mp4_bytes


@pytest.fixture
async def api() -> AsyncIterator[FakeCometAPI]:
    async with FakeCometAPI(default_script=TaskScript(polls_until_done=0)) as fake:
        yield fake


async def finished(client: VideoClient, api: FakeCometAPI, script: TaskScript | None = None) -> TaskStatus:
    if script is not None:
        api.script_next_task(script)
    return await client.get(await client.create("p", "veo3.1", "16x9"))


async def test_download_from_the_cdn_without_the_key(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep, tmp_path: Path
) -> None:
    video = make_mp4_bytes(300_000)
    client = make_client(api, session, sleep)
    status = await finished(client, api, TaskScript(polls_until_done=0, video=video))
    dest = tmp_path / "out.mp4"

    assert await client.download(status.task_id, status.video_url, dest) == len(video)

    assert dest.read_bytes() == video
    assert leftovers(tmp_path) == ["out.mp4"]
    [cdn] = api.cdn_requests()
    assert cdn.header("Authorization") is None
    assert cdn.query["sig"]  # the signed URL is used as given
    api_requests = [r for r in api.requests if r.listener == "api"]
    assert api_requests and all(r.header("Authorization") == f"Bearer {api.api_key}" for r in api_requests)


async def test_content_fallback_sends_the_key_to_the_api(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep, tmp_path: Path
) -> None:
    # The API's own origin is allowed even over plain http (the fake is http), the CDN is not.
    client = make_client(api, session, sleep, allow_plain_http_downloads=False)
    status = await finished(client, api, TaskScript(polls_until_done=0, result_location="content_only"))
    assert status.video_url is None
    assert await client.download(status.task_id, None, tmp_path / "v.mp4") == len(TaskScript().video)
    [content] = api.requests_for("content")
    assert content.path == f"/v1/videos/{status.task_id}/content"
    assert content.header("Authorization") == f"Bearer {api.api_key}"
    assert (tmp_path / "v.mp4").read_bytes() == TaskScript().video
    assert api.cdn_requests() == []


async def test_content_before_completion_fails_without_retrying(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep, tmp_path: Path
) -> None:
    api.script_next_task(TaskScript(polls_until_done=5))
    client = make_client(api, session, sleep)
    task_id = await client.create("p", "veo3.1", "16x9")
    with pytest.raises(DownloadFailed) as info:
        await client.download(task_id, None, tmp_path / "v.mp4")
    assert info.value.status == 400
    assert len(api.requests_for("content")) == 1 and sleep.delays == []
    assert leftovers(tmp_path) == []


async def test_content_with_a_bad_key_is_a_configuration_error(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep, tmp_path: Path
) -> None:
    good = make_client(api, session, sleep)
    status = await finished(good, api)
    bad = make_client(api, session, sleep, api_key=SecretStr("sk-bad-0000000000"))
    with pytest.raises(ProviderConfigError):
        await bad.download(status.task_id, None, tmp_path / "v.mp4")


async def test_key_is_sent_only_to_the_exact_api_origin(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep, tmp_path: Path
) -> None:
    client = make_client(api, session, sleep)
    status = await finished(client, api)
    await client.download(status.task_id, f"{api.base_url}/videos/{status.task_id}/content", tmp_path / "a.mp4")
    # Same host, other port: a different origin.
    await client.download(status.task_id, f"{api.cdn_base_url}/files/{status.task_id}.mp4", tmp_path / "b.mp4")
    [content] = api.requests_for("content")
    [cdn] = api.cdn_requests()
    assert content.header("Authorization") == f"Bearer {api.api_key}"
    assert cdn.header("Authorization") is None


@pytest.mark.parametrize(
    "body", [b'{"error": {"message": "expired"}}', b"<html><body>Access denied</body></html>", b"", b"ftyp"]
)
async def test_non_mp4_bodies_are_refused_and_leave_no_file(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep, tmp_path: Path, body: bytes
) -> None:
    client = make_client(api, session, sleep)
    status = await finished(client, api, TaskScript(polls_until_done=0, video=body,
                                                    cdn_content_type="application/json"))
    with pytest.raises(DownloadFailed) as info:
        await client.download(status.task_id, status.video_url, tmp_path / "v.mp4")
    assert type(info.value) is DownloadFailed
    assert leftovers(tmp_path) == []
    assert len(api.cdn_requests()) == FAST_POLICY.attempts  # a CDN hiccup may pass, so it is retried


async def test_content_length_over_the_cap_is_refused_before_reading(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep, tmp_path: Path
) -> None:
    client = make_client(api, session, sleep, max_download_bytes=100_000)
    status = await finished(client, api, TaskScript(polls_until_done=0, video=make_mp4_bytes(100_001)))
    with pytest.raises(VideoTooLarge) as info:
        await client.download(status.task_id, status.video_url, tmp_path / "v.mp4")
    assert "too large" in info.value.user_message
    assert "Content-Length" in (info.value.detail or "")
    assert len(api.cdn_requests()) == 1 and sleep.delays == []
    assert leftovers(tmp_path) == []


async def test_streamed_body_over_the_cap_is_cut_off(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep, tmp_path: Path
) -> None:
    client = make_client(api, session, sleep, max_download_bytes=100_000)
    script = TaskScript(polls_until_done=0, video=make_mp4_bytes(1_000_000), cdn_content_length=False)
    status = await finished(client, api, script)
    with pytest.raises(VideoTooLarge) as info:
        await client.download(status.task_id, status.video_url, tmp_path / "v.mp4")
    assert "passed the cap" in (info.value.detail or "")
    assert len(api.cdn_requests()) == 1
    assert leftovers(tmp_path) == []


async def test_a_body_exactly_at_the_cap_is_accepted(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep, tmp_path: Path
) -> None:
    client = make_client(api, session, sleep, max_download_bytes=100_000)
    script = TaskScript(polls_until_done=0, video=make_mp4_bytes(100_000), cdn_content_length=False)
    status = await finished(client, api, script)
    assert await client.download(status.task_id, status.video_url, tmp_path / "v.mp4") == 100_000


async def test_large_download_is_streamed_not_buffered(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep, tmp_path: Path
) -> None:
    size = 20 * 1024 * 1024
    video = make_mp4_bytes(size)  # allocated before tracing starts, as it lives in the "remote" server
    client = make_client(api, session, sleep)
    status = await finished(client, api, TaskScript(polls_until_done=0, video=video, cdn_content_length=False))
    tracemalloc.start()
    try:
        written = await client.download(status.task_id, status.video_url, tmp_path / "big.mp4")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert written == size
    assert (tmp_path / "big.mp4").read_bytes() == video
    # Client and fake server share this process; together they must hold only a few chunks at once.
    assert peak < size // 4, f"peak {peak} bytes while streaming {size}"


async def test_cdn_5xx_is_retried(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep, tmp_path: Path
) -> None:
    client = make_client(api, session, sleep)
    status = await finished(client, api)
    api.inject("cdn", Fault.server_error(503), times=2)
    assert await client.download(status.task_id, status.video_url, tmp_path / "v.mp4") > 0
    assert len(api.cdn_requests()) == 3 and len(sleep.delays) == 2


async def test_cdn_always_failing_ends_as_download_failed(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep, tmp_path: Path
) -> None:
    client = make_client(api, session, sleep)
    status = await finished(client, api)
    api.inject("cdn", Fault.server_error(503), times=10)
    with pytest.raises(DownloadFailed):
        await client.download(status.task_id, status.video_url, tmp_path / "v.mp4")
    assert len(api.cdn_requests()) == FAST_POLICY.attempts


async def test_cdn_403_is_a_download_failure_not_a_config_error(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep, tmp_path: Path
) -> None:
    client = make_client(api, session, sleep)
    status = await finished(client, api)
    api.inject("cdn", Fault.http(403, message="Request has expired"))
    with pytest.raises(DownloadFailed) as info:
        await client.download(status.task_id, status.video_url, tmp_path / "v.mp4")
    assert info.value.status == 403
    assert len(api.cdn_requests()) == 1


async def test_connection_dropped_mid_body_is_retried_and_leaves_no_partial_file(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep, tmp_path: Path
) -> None:
    video = make_mp4_bytes(2_000_000)
    client = make_client(api, session, sleep)
    status = await finished(client, api, TaskScript(polls_until_done=0, video=video))
    api.inject("cdn", Fault.truncated())
    assert await client.download(status.task_id, status.video_url, tmp_path / "v.mp4") == len(video)
    assert (tmp_path / "v.mp4").read_bytes() == video
    assert leftovers(tmp_path) == ["v.mp4"]
    assert len(api.cdn_requests()) == 2


async def test_cdn_redirect_is_followed_without_the_key(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep, tmp_path: Path
) -> None:
    client = make_client(api, session, sleep)
    status = await finished(client, api)
    assert status.video_url is not None
    api.inject("cdn", Fault.redirect(location=f"/files/{status.task_id}.mp4?sig=moved", status=302))
    assert await client.download(status.task_id, status.video_url, tmp_path / "v.mp4") > 0
    first, second = api.cdn_requests()
    assert second.query == {"sig": "moved"}
    assert first.header("Authorization") is None and second.header("Authorization") is None


async def test_cdn_redirect_back_to_the_api_does_not_carry_the_key(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep, tmp_path: Path
) -> None:
    client = make_client(api, session, sleep)
    status = await finished(client, api)
    api.inject("cdn", Fault.redirect(location=f"{api.base_url}/videos/{status.task_id}/content"))
    with pytest.raises(ProviderConfigError):
        await client.download(status.task_id, status.video_url, tmp_path / "v.mp4")
    [content] = api.requests_for("content")
    assert content.header("Authorization") is None


async def test_redirect_loops_stop(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep, tmp_path: Path
) -> None:
    client = make_client(api, session, sleep)
    status = await finished(client, api)
    assert status.video_url is not None
    api.inject("cdn", Fault.redirect(location=status.video_url), times=10)
    with pytest.raises(DownloadFailed, match="redirects"):
        await client.download(status.task_id, status.video_url, tmp_path / "v.mp4")
    assert len(api.cdn_requests()) == 4


async def test_api_content_redirect_is_a_configuration_error_and_not_followed(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep, tmp_path: Path
) -> None:
    client = make_client(api, session, sleep)
    status = await finished(client, api)
    api.inject("content", Fault.redirect(location=status.video_url))
    with pytest.raises(ProviderConfigError):
        await client.download(status.task_id, None, tmp_path / "v.mp4")
    assert api.cdn_requests() == []


@pytest.mark.parametrize("location", ["ftp://127.0.0.1/v.mp4", "file:///etc/passwd"])
async def test_redirect_to_other_schemes_is_refused(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep, tmp_path: Path, location: str
) -> None:
    client = make_client(api, session, sleep)
    status = await finished(client, api)
    api.inject("cdn", Fault.redirect(location=location))
    with pytest.raises(DownloadFailed, match="refusing"):
        await client.download(status.task_id, status.video_url, tmp_path / "v.mp4")


async def test_plain_http_video_url_is_refused_unless_allowed(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep, tmp_path: Path
) -> None:
    strict = make_client(api, session, sleep, allow_plain_http_downloads=False)
    status = await finished(strict, api)
    with pytest.raises(DownloadFailed, match="refusing"):
        await strict.download(status.task_id, status.video_url, tmp_path / "v.mp4")
    assert api.cdn_requests() == []
    assert leftovers(tmp_path) == []
    lenient = make_client(api, session, sleep, allow_plain_http_downloads=True)
    assert await lenient.download(status.task_id, status.video_url, tmp_path / "v.mp4") > 0
    assert len(api.cdn_requests()) == 1


async def test_existing_destination_is_replaced_only_on_success(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep, tmp_path: Path
) -> None:
    dest = tmp_path / "v.mp4"
    dest.write_bytes(b"old")
    client = make_client(api, session, sleep, max_download_bytes=10)
    status = await finished(client, api)
    with pytest.raises(VideoTooLarge):
        await client.download(status.task_id, status.video_url, dest)
    assert dest.read_bytes() == b"old"
    assert leftovers(tmp_path) == ["v.mp4"]


async def test_missing_destination_folder_is_a_download_failure(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep, tmp_path: Path
) -> None:
    client = make_client(api, session, sleep)
    status = await finished(client, api)
    with pytest.raises(DownloadFailed, match="cannot create"):
        await client.download(status.task_id, status.video_url, tmp_path / "missing" / "v.mp4")
