"""The video's bytes go to the upload URL streamed from disk: never the whole file in memory, no Slack token."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import aiohttp
from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient

from slack.upload import UploadTimings, VideoUploads

SIZE = 48 * 1024 * 1024


async def test_the_bytes_are_streamed_from_disk(tmp_path: Path) -> None:
    received = {"bytes": 0, "authorization": None, "type": None}

    async def upload(request: web.Request) -> web.Response:
        received["authorization"] = request.headers.get("Authorization")
        received["type"] = request.content_type
        async for chunk in request.content.iter_chunked(1 << 16):
            received["bytes"] += len(chunk)  # counted, not kept
        return web.Response(text=f"OK - {received['bytes']}")

    app = web.Application(client_max_size=SIZE * 2)
    app.router.add_post("/upload/v1/x", upload)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/upload/v1/x"
    video = tmp_path / "big.mp4"
    with video.open("wb") as f:
        f.truncate(SIZE)
    try:
        async with aiohttp.ClientSession() as session:
            uploads = VideoUploads(AsyncWebClient(token="xoxb-secret"), session, timings=UploadTimings())
            tracemalloc.start()
            try:
                await uploads.send(url, video)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
    finally:
        await runner.cleanup()
    assert received["bytes"] == SIZE and received["authorization"] is None
    assert received["type"] == "application/octet-stream"
    # Both ends of the upload run in this process; together they held a small part of the file at a time.
    assert peak < SIZE / 8, peak
