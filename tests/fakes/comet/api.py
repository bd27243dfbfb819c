"""A protocol-level fake of CometAPI's Veo video endpoints, plus a fake CDN, on 127.0.0.1."""

from __future__ import annotations

import asyncio
import random
import socket
import string
import time
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Any, Literal

from aiohttp import BodyPartReader, web

from tests.fakes.comet.render import (
    ALLOWED_SECONDS,
    ALLOWED_SIZES,
    HTML_PAGE,
    Reply,
    abort,
    create_body,
    envelope,
    send_reply,
    task_body,
)
from tests.fakes.comet.script import (
    FakeTask,
    Fault,
    FaultPlan,
    RecordedFile,
    RecordedRequest,
    Route,
    TaskScript,
    make_mp4_bytes,
)

__all__ = ["FakeCometAPI", "Fault", "RecordedFile", "RecordedRequest", "TaskScript", "make_mp4_bytes"]

class FakeCometAPI:
    """``async with FakeCometAPI() as api``: the API at ``api.base_url``, the CDN at ``api.cdn_base_url``."""

    def __init__(
        self,
        *,
        api_key: str = "sk-fake-comet-0123456789abcdef",
        clock: Callable[[], float] = time.monotonic,
        default_script: TaskScript | None = None,
        seed: int = 0,
        max_upload_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.api_key = api_key
        self.clock = clock
        self.default_script = default_script or TaskScript()
        self.tasks: dict[str, FakeTask] = {}
        self.requests: list[RecordedRequest] = []
        self.base_url = ""
        self.cdn_base_url = ""
        self._max_upload = max_upload_bytes
        self._rng = random.Random(seed)
        self.faults = FaultPlan(seed)
        self._next_scripts: deque[TaskScript] = deque()
        self._runners: list[web.AppRunner] = []

    # -- scripting and inspection ------------------------------------------------------------------

    def script_next_task(self, script: TaskScript) -> None:
        """Use ``script`` for the next task created (queued scripts are used in order)."""
        self._next_scripts.append(script)

    def inject(self, route: Route, fault: Fault, times: int = 1) -> None:
        """Make the next ``times`` requests to ``route`` misbehave as ``fault`` says."""
        self.faults.inject(route, fault, times)

    def set_fault_rates(self, *, seed: int | None = None, **rates: float) -> None:
        """Random faults for soak tests, e.g. ``get_503=0.3, get_429=0.1, cdn_drop=0.05``."""
        self.faults.set_rates(seed, **rates)

    def clear_faults(self) -> None:
        """Forget injected faults and fault rates."""
        self.faults.clear()

    def requests_for(self, route: str) -> list[RecordedRequest]:
        """Recorded requests to one route ("create", "get", "content", "cdn", "other", "cdn-other")."""
        return [r for r in self.requests if r.route == route]

    def create_requests(self) -> list[RecordedRequest]:
        """Every POST to /videos, in order."""
        return self.requests_for("create")

    def cdn_requests(self) -> list[RecordedRequest]:
        """Every request that reached the CDN listener."""
        return [r for r in self.requests if r.listener == "cdn"]

    def get_count(self, task_id: str | None = None) -> int:
        """How many status GETs arrived (for one task, or in all)."""
        return sum(1 for r in self.requests_for("get") if task_id is None or r.task_id == task_id)

    # -- lifecycle -----------------------------------------------------------------------------------

    async def __aenter__(self) -> FakeCometAPI:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Start both listeners on random loopback ports."""
        api = web.Application(client_max_size=self._max_upload)
        api.router.add_post("/v1/videos", self._create)
        api.router.add_get("/v1/videos/{task_id}", self._get)
        api.router.add_get("/v1/videos/{task_id}/content", self._content)
        api.router.add_route("*", "/{tail:.*}", self._api_other)
        cdn = web.Application()
        cdn.router.add_get("/files/{name}", self._cdn)
        cdn.router.add_route("*", "/{tail:.*}", self._cdn_other)
        self.base_url = f"http://127.0.0.1:{await self._serve(api)}/v1"
        self.cdn_base_url = f"http://127.0.0.1:{await self._serve(cdn)}"

    async def _serve(self, app: web.Application) -> int:
        # handler_cancellation: a slow handler stops when its client gives up, so shutdown is quick.
        runner = web.AppRunner(app, shutdown_timeout=0.2, handler_cancellation=True, access_log=None)
        await runner.setup()
        self._runners.append(runner)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(runner, sock).start()
        port: int = sock.getsockname()[1]
        return port

    async def close(self) -> None:
        """Stop both listeners."""
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()

    # -- plumbing ----------------------------------------------------------------------------------

    def _request_id(self) -> str:
        return "2026" + "".join(self._rng.choices(string.digits, k=16))

    def _error(self, status: int, message: str, *, error_type: str = "comet_api_error", code: str = "",
               param: str = "", headers: dict[str, str] | None = None) -> Reply:
        body = envelope(f"{message} (request id: {self._request_id()})", error_type, code, param)
        return Reply(status, body, headers=headers or {})

    def _record(self, request: web.Request, route: str, listener: Literal["api", "cdn"]) -> RecordedRequest:
        rec = RecordedRequest(
            method=request.method,
            path=request.rel_url.raw_path,
            headers=dict(request.headers),
            route=route,
            listener=listener,
            query=dict(request.query),
            content_type=request.content_type,
            task_id=request.match_info.get("task_id"),
        )
        self.requests.append(rec)
        return rec

    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.api_key}"

    async def _run(self, request: web.Request, route: Route, work: Callable[..., Any], *,
                   auth: bool = True) -> web.StreamResponse:
        """Record, apply the route's fault (if any) around the real work, and send the reply."""
        rec = self._record(request, route, "cdn" if route == "cdn" else "api")
        fault = self.faults.take(route)
        if fault is not None and fault.kind == "drop" and not fault.after_processing:
            return abort(request)
        bad: Reply | None = None
        if route == "create":
            bad = await self._read_multipart(request, rec)
        if fault is not None and not fault.after_processing:
            if fault.kind == "slow":
                await asyncio.sleep(fault.delay)
            elif fault.kind in ("status", "html", "redirect"):
                return await send_reply(request, self._fault_reply(fault), truncated=False)
        if auth and not self._authorised(request):
            reply = self._error(401, "Invalid token")
        elif route == "create" and bad is not None:
            reply = bad
        else:
            reply = await work(request, rec)
        if fault is not None and fault.after_processing:
            if fault.kind == "drop":
                return abort(request)
            if fault.kind == "slow":
                await asyncio.sleep(fault.delay)
        return await send_reply(request, reply, truncated=fault is not None and fault.kind == "truncated")

    def _fault_reply(self, fault: Fault) -> Reply:
        if fault.kind == "html":
            return Reply(fault.status, HTML_PAGE, content_type="text/html")
        if fault.kind == "redirect":
            location = fault.location or f"{self.cdn_base_url}/moved"
            return Reply(fault.status, HTML_PAGE, content_type="text/html", headers={"Location": location})
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
        message = fault.message or f"HTTP {fault.status}"
        return self._error(
            fault.status, message, error_type=fault.error_type, code=fault.code, headers=headers
        )

    async def _read_multipart(self, request: web.Request, rec: RecordedRequest) -> Reply | None:
        """Record the create form; return a 400 reply when it is not what the API accepts."""
        if request.content_type != "multipart/form-data":
            return self._error(400, "Content-Type must be multipart/form-data",
                               error_type="invalid_request_error", code="invalid_request")
        try:
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader) or part.name is None:
                    continue
                if part.filename is not None:
                    data = bytes(await part.read())
                    content_type = part.headers.get("Content-Type")
                    rec.files.append(RecordedFile(part.name, part.filename, content_type, data))
                else:
                    rec.fields[part.name] = await part.text()
        except (ValueError, AssertionError) as exc:
            return self._error(400, f"malformed multipart body: {exc}", error_type="invalid_request_error",
                               code="invalid_request")
        return None

    # -- routes --------------------------------------------------------------------------------------

    async def _create(self, request: web.Request) -> web.StreamResponse:
        return await self._run(request, "create", self._do_create)

    async def _do_create(self, request: web.Request, rec: RecordedRequest) -> Reply:
        prompt = rec.fields.get("prompt", "").strip()
        size, seconds = rec.fields.get("size", "16x9"), rec.fields.get("seconds", "")
        references = [f for f in rec.files if f.name == "input_reference"]
        problem = (
            "prompt is required" if not prompt
            else f"invalid size {size!r}" if size not in ALLOWED_SIZES
            else f"invalid seconds {seconds!r}" if seconds and seconds not in ALLOWED_SECONDS
            else "at most 2 input_reference images are supported" if len(references) > 2
            else "input_reference must be a non-empty file" if any(not f.data for f in references)
            else None
        )
        if problem is not None:
            param = problem.split()[1] if problem.startswith("invalid") else "prompt"
            return self._error(400, problem, error_type="invalid_request_error", code="invalid_request",
                               param=param)
        script = self._next_scripts.popleft() if self._next_scripts else self.default_script
        task_id = "task_" + "".join(self._rng.choices(string.ascii_letters + string.digits, k=24))
        task = FakeTask(task_id, script, self.clock(), int(time.time()), prompt,
                        rec.fields.get("model") or "veo3.1-fast", size, seconds, references)
        self.tasks[task_id] = task
        return Reply(200, create_body(task))

    async def _get(self, request: web.Request) -> web.StreamResponse:
        return await self._run(request, "get", self._do_get)

    async def _do_get(self, request: web.Request, rec: RecordedRequest) -> Reply:
        task = self.tasks.get(request.match_info["task_id"])
        if task is None:
            return self._error(404, "task not found", error_type="invalid_request_error", code="not_found")
        task.gets += 1
        url = task.script.video_url or f"{self.cdn_base_url}/files/{task.id}.mp4?sig={self._request_id()}"
        return Reply(200, task_body(task, self.clock(), url))

    async def _content(self, request: web.Request) -> web.StreamResponse:
        return await self._run(request, "content", self._do_content)

    async def _do_content(self, request: web.Request, rec: RecordedRequest) -> Reply:
        task = self.tasks.get(request.match_info["task_id"])
        if task is None:
            return self._error(404, "task not found", error_type="invalid_request_error", code="not_found")
        if not task.done(self.clock()) or task.script.outcome != "success":
            return self._error(400, "Video is not ready yet; check the task status first",
                               error_type="invalid_request_error", code="invalid_request")
        return Reply(200, video=task.script.video)

    async def _cdn(self, request: web.Request) -> web.StreamResponse:
        return await self._run(request, "cdn", self._do_cdn, auth=False)

    async def _do_cdn(self, request: web.Request, rec: RecordedRequest) -> Reply:
        task = self.tasks.get(request.match_info["name"].removesuffix(".mp4"))
        if task is None or not task.done(self.clock()) or task.script.outcome != "success":
            return Reply(404, "NoSuchKey", content_type="text/plain")
        s = task.script
        return Reply(
            200, video=s.video, content_length=s.cdn_content_length, content_type=s.cdn_content_type
        )

    async def _api_other(self, request: web.Request) -> web.StreamResponse:
        self._record(request, "other", "api")
        return web.Response(status=404, text="404 page not found")

    async def _cdn_other(self, request: web.Request) -> web.StreamResponse:
        self._record(request, "cdn-other", "cdn")
        return web.Response(status=404, text="NoSuchKey")
