"""Any answer from the video service (any status, content type, JSON shape, status spelling, truncation or
garbage, any Retry-After) reaches the bot as a typed result or a typed error with a safe message, through the
real HTTP client; and the job core turns any result or error into a typed job state with the user told why."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from bot.comet.client import VideoClient
from bot.comet.types import RetryPolicy
from bot.jobs.provider import SubmissionUncertain, TaskState, TaskStatus, VideoApiError
from tests.property.strategies import bodies, content_types, http_statuses, retry_afters

KEY = "sk-property-0123456789abcdefghijklmnop"
SETTINGS = settings(max_examples=250, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@dataclass
class Reply:
    """What the loopback server answers next."""

    status: int = 200
    body: bytes = b"{}"
    content_type: str = "application/json"
    retry_after: str | None = None


class LoopbackAPI:
    """An HTTP server on 127.0.0.1 that answers every request with ``reply``; counts requests per method."""

    def __init__(self) -> None:
        self.reply = Reply()
        self.requests: list[str] = []
        self.loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append(request.method)
        await request.read()
        headers = {"Content-Type": self.reply.content_type}
        if self.reply.retry_after is not None:
            headers["Retry-After"] = self.reply.retry_after
        if 300 <= self.reply.status < 400:
            headers["Location"] = "http://127.0.0.1:1/elsewhere"
        body = None if self.reply.status in (204, 304) else self.reply.body
        return web.Response(status=self.reply.status, body=body, headers=headers)

    def start(self) -> None:
        async def go() -> None:
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._handle)
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/v1"

        self.loop.run_until_complete(go())

    def close(self) -> None:
        if self._runner is not None:
            self.loop.run_until_complete(self._runner.cleanup())
        self.loop.close()


async def _no_sleep(_: float) -> None:
    pass


@pytest.fixture
def api() -> Iterator[tuple[LoopbackAPI, VideoClient]]:
    server = LoopbackAPI()
    server.start()
    session = server.loop.run_until_complete(_session())
    client = VideoClient(session, base_url=server.base_url, api_key=SecretStr(KEY), sleep=_no_sleep,
                         retry=RetryPolicy(attempts=2, request_timeout=5.0), allow_plain_http_downloads=True)
    try:
        yield server, client
    finally:
        server.loop.run_until_complete(session.close())
        server.close()


async def _session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession()


replies = st.builds(Reply, http_statuses, bodies, content_types, retry_afters)


def _safe(exc: VideoApiError) -> None:
    assert isinstance(exc.user_message, str) and exc.user_message.strip()
    assert KEY not in exc.user_message and KEY not in str(exc.detail) and KEY not in str(exc)


def test_any_answer_to_a_status_poll_is_a_status_or_a_typed_error(api: tuple[LoopbackAPI, VideoClient]) -> None:
    server, client = api

    @SETTINGS
    @given(replies)
    def check(reply: Reply) -> None:
        server.reply = reply
        try:
            status = server.loop.run_until_complete(client.get("task_abc"))
        except VideoApiError as exc:
            _safe(exc)
            return
        assert 200 <= reply.status < 300
        assert isinstance(status, TaskStatus) and isinstance(status.state, TaskState)
        assert 0 <= status.progress <= 100
        if status.state is TaskState.FAILED:
            assert status.error and KEY not in status.error

    check()


def test_any_answer_to_a_create_is_a_task_id_or_a_typed_error(api: tuple[LoopbackAPI, VideoClient]) -> None:
    server, client = api

    @SETTINGS
    @given(replies)
    def check(reply: Reply) -> None:
        server.reply = reply
        server.requests.clear()
        try:
            task_id = server.loop.run_until_complete(client.create("a fox", "veo3.1-fast", "16x9"))
        except VideoApiError as exc:
            _safe(exc)
            # Only a 429 may be retried: anything else might have created (and billed) a task.
            assert len(server.requests) == 1 or reply.status == 429
            assert not isinstance(exc, SubmissionUncertain) or reply.status != 429
            return
        assert 200 <= reply.status < 300 and isinstance(task_id, str) and task_id == task_id.strip() and task_id
        assert len(server.requests) == 1

    check()


@pytest.fixture
def quiet_worker_log() -> Iterator[list[logging.LogRecord]]:
    """Records of the job core's unhandled-step errors (there must be none)."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "step failed" in record.getMessage() or "poll cycle failed" in record.getMessage():
                records.append(record)

    handler = Keep()
    logging.getLogger("bot.jobs.worker").addHandler(handler)
    try:
        yield records
    finally:
        logging.getLogger("bot.jobs.worker").removeHandler(handler)


def test_the_job_core_turns_any_answer_into_a_typed_state(
    api: tuple[LoopbackAPI, VideoClient], tmp_path: Path, quiet_worker_log: list[logging.LogRecord]
) -> None:
    from tests.property.job_core import JobCoreHarness

    server, client = api
    core = JobCoreHarness(server.loop, client, tmp_path)
    try:

        @settings(max_examples=120, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
        @given(st.lists(replies, min_size=1, max_size=4))
        def check(answers: list[Reply]) -> None:
            core.run_job(server, answers)
            assert not quiet_worker_log, quiet_worker_log[0].getMessage()

        check()
    finally:
        core.close()
