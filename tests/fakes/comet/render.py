"""JSON bodies the fake CometAPI answers with, spelled as the documented adapter variants."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.comet.script import FakeTask

CHUNK = 64 * 1024
HTML_PAGE = "<!DOCTYPE html><html><head><title>Welcome</title></head><body><h1>It works!</h1></body></html>"

ALLOWED_SIZES = frozenset({"16x9", "9x16", "1280x720", "720x1280", "1920x1080", "3840x2160"})
ALLOWED_SECONDS = frozenset({"4", "6", "8"})
# The create answer may carry the resolved provider model, not the alias that was sent.
RESOLVED_MODELS = {"veo3.1-fast": "veo_3_1-fast", "veo3.1": "veo_3_1", "veo3.1-pro": "veo_3_1-4K"}


def envelope(
    message: str, error_type: str = "comet_api_error", code: str = "", param: str = ""
) -> dict[str, Any]:
    """The documented error envelope."""
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def _base(task: FakeTask) -> dict[str, Any]:
    return {
        "id": task.id,
        "object": "video",
        "model": RESOLVED_MODELS.get(task.model, task.model),
        "status": "queued",
        "progress": 0,
        "created_at": task.created_unix,
        "seconds": task.seconds,
        "size": task.size,
    }


def create_body(task: FakeTask) -> dict[str, Any]:
    """The answer to a successful POST /videos, with ``id``, ``task_id`` or both."""
    body = _base(task)
    if task.script.create_id_fields == "task_id":
        body["task_id"] = body.pop("id")
    elif task.script.create_id_fields == "both":
        body["task_id"] = task.id
    return body


def _progress(style: str, percent: int, body: dict[str, Any]) -> None:
    if style == "missing":
        body.pop("progress", None)
    elif style == "null":
        body["progress"] = None
    elif style == "fixed50":
        body["progress"] = 100 if percent >= 100 else 50
    elif style == "percent_string":
        body["progress"] = f"{percent}%"
    elif style == "float":
        body["progress"] = percent + 0.5 if percent < 100 else 100.0
    else:
        body["progress"] = percent


def _place_url(location: str, url: str, body: dict[str, Any]) -> None:
    if location == "video_url":
        body["video_url"] = url
    elif location == "metadata.url":
        body["metadata"] = {"url": url, "duration": 8}
    elif location == "url":
        body["url"] = url
    elif location == "output.url":
        body["output"] = {"url": url, "format": "mp4"}
    elif location == "data.video_url":
        body["data"] = {"video_url": url}


def task_body(task: FakeTask, now: float, video_url: str) -> dict[str, Any]:
    """The answer to GET /videos/{id} at time ``now`` (after ``task.gets`` has counted this poll)."""
    s = task.script
    body = _base(task)
    body["error"] = None
    if not task.done(now):
        fraction = task.fraction(now)
        if s.seconds_until_done is not None:
            index = int(fraction * len(s.running_statuses))
        else:
            index = task.gets - 1
        body["status"] = s.running_statuses[max(0, min(index, len(s.running_statuses) - 1))]
        _progress(s.progress_style, min(99, int(fraction * 100)), body)
    elif s.outcome == "success":
        body["status"] = s.final_status or "completed"
        body["completed_at"] = task.created_unix + 90
        _progress(s.progress_style, 100, body)
        _place_url(s.result_location, video_url, body)
    else:
        body["status"] = s.final_status or "failed"
        _progress(s.progress_style, 40, body)
        if s.failure_style == "error_object":
            body["error"] = {"message": s.failure_message, "code": s.failure_code}
        elif s.failure_style == "error_string":
            body["error"] = s.failure_message
        else:
            del body["error"]
            body["fail_reason"] = s.failure_message
    if s.wrap_in_data:
        return {"code": "success", "message": "", "data": body}
    return body


@dataclass
class Reply:
    """What a fake route answers: JSON (or text) in ``json_body``, or MP4 bytes in ``video``."""

    status: int
    json_body: object = None
    video: bytes | None = None
    content_length: bool = True
    content_type: str = "video/mp4"
    headers: dict[str, str] = field(default_factory=dict)


def abort(request: web.Request) -> web.StreamResponse:
    """Drop the TCP connection under a request, as a crashing proxy would."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=499)


async def send_reply(request: web.Request, reply: Reply, *, truncated: bool) -> web.StreamResponse:
    """Send a reply; ``truncated`` cuts a JSON body in half, or drops the connection mid-video."""
    if reply.video is None:
        if isinstance(reply.json_body, str):
            raw = reply.json_body.encode()
            content_type = reply.content_type
        else:
            raw = json.dumps(reply.json_body).encode()
            content_type = "application/json"
        if truncated:
            raw = raw[: len(raw) // 2]
        return web.Response(
            status=reply.status, body=raw, content_type=content_type, headers=reply.headers
        )
    resp = web.StreamResponse(status=reply.status, headers={"Content-Type": reply.content_type})
    video = reply.video
    if reply.content_length:
        resp.content_length = len(video)
    else:
        resp.enable_chunked_encoding()
    await resp.prepare(request)
    end = len(video) // 2 if truncated else len(video)
    # Written in chunks with drain, so a big body never sits whole in a transport buffer.
    for start in range(0, end, CHUNK):
        await resp.write(video[start : min(end, start + CHUNK)])
    if truncated:
        return abort(request)
    await resp.write_eof()
    return resp
