"""VideoClient.get's retry decisions, backoff and Retry-After, against the fake CometAPI."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import aiohttp
import pytest

from bot.comet.client import VideoClient
from bot.comet.types import RetryPolicy
from bot.jobs.provider import (
    InvalidProviderResponse,
    ProviderBusy,
    ProviderConfigError,
    ProviderRejected,
    TaskNotFound,
    TaskState,
)
from tests.bot.comet.support import FAST_POLICY, RecordingSleep, make_client
from tests.fakes.comet.api import FakeCometAPI, Fault, TaskScript


@pytest.fixture
async def api() -> AsyncIterator[FakeCometAPI]:
    async with FakeCometAPI(default_script=TaskScript(polls_until_done=0)) as fake:
        yield fake


@pytest.fixture
async def task(api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep) -> tuple[VideoClient, str]:
    client = make_client(api, session, sleep)
    return client, await client.create("p", "veo3.1", "16x9")


async def test_503_twice_then_ok_makes_three_requests_with_growing_jittered_backoff(
    api: FakeCometAPI, sleep: RecordingSleep, task: tuple[VideoClient, str]
) -> None:
    client, task_id = task
    api.inject("get", Fault.server_error(503), times=2)
    status = await client.get(task_id)
    assert status.state is TaskState.SUCCEEDED
    assert api.get_count(task_id) == 3
    assert len(sleep.delays) == 2
    assert 0 <= sleep.delays[0] <= FAST_POLICY.base_delay
    assert 0 <= sleep.delays[1] <= FAST_POLICY.base_delay * 2


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, 524])
async def test_transient_statuses_beyond_the_budget_are_busy(
    api: FakeCometAPI, sleep: RecordingSleep, task: tuple[VideoClient, str], status: int
) -> None:
    client, task_id = task
    api.inject("get", Fault.http(status, message="try later"), times=10)
    with pytest.raises(ProviderBusy) as info:
        await client.get(task_id)
    assert info.value.status == status
    assert api.get_count(task_id) == FAST_POLICY.attempts
    assert len(sleep.delays) == FAST_POLICY.attempts - 1


async def test_backoff_is_capped_by_max_delay(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep
) -> None:
    policy = RetryPolicy(attempts=8, base_delay=1.0, max_delay=2.0)
    client = make_client(api, session, sleep, retry=policy)
    task_id = await client.create("p", "veo3.1", "16x9")
    api.inject("get", Fault.server_error(503), times=7)
    await client.get(task_id)
    assert len(sleep.delays) == 7
    assert all(0 <= d <= 2.0 for d in sleep.delays)
    assert max(sleep.delays[2:]) > 1.0  # later waits use the whole capped range, not the first step's


async def test_retry_after_seconds_is_honoured(
    api: FakeCometAPI, sleep: RecordingSleep, task: tuple[VideoClient, str]
) -> None:
    client, task_id = task
    api.inject("get", Fault.rate_limited(retry_after="7"))
    await client.get(task_id)
    assert sleep.delays == [7.0]
    assert api.get_count(task_id) == 2


async def test_retry_after_is_capped(api: FakeCometAPI, sleep: RecordingSleep, task: tuple[VideoClient, str]) -> None:
    client, task_id = task
    api.inject("get", Fault.rate_limited(retry_after="3600"))
    await client.get(task_id)
    assert sleep.delays == [FAST_POLICY.retry_after_cap]


async def test_retry_after_http_date_is_honoured(
    api: FakeCometAPI, sleep: RecordingSleep, task: tuple[VideoClient, str]
) -> None:
    client, task_id = task
    when = datetime.now(UTC) + timedelta(seconds=30)
    api.inject("get", Fault.http(503, retry_after=format_datetime(when, usegmt=True)))
    await client.get(task_id)
    [delay] = sleep.delays
    assert 27.0 <= delay <= 30.0


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault.http(400, message="bad id"), ProviderRejected),
        (Fault.http(401, message="Invalid token"), ProviderConfigError),
        (Fault.http(403, message="no access"), ProviderConfigError),
        (Fault.http(500, code="invalid_request", message="bad"), ProviderRejected),
        (Fault.html(), ProviderConfigError),
        (Fault.html(404), ProviderConfigError),
        (Fault.redirect(), ProviderConfigError),
    ],
)
async def test_permanent_failures_are_not_retried(
    api: FakeCometAPI, sleep: RecordingSleep, task: tuple[VideoClient, str], fault: Fault, error: type[Exception]
) -> None:
    client, task_id = task
    api.inject("get", fault, times=5)
    with pytest.raises(error):
        await client.get(task_id)
    assert api.get_count(task_id) == 1
    assert sleep.delays == []
    assert api.cdn_requests() == []  # a redirect is never followed


async def test_unknown_task_is_not_found_once(api: FakeCometAPI, sleep: RecordingSleep,
                                              task: tuple[VideoClient, str]) -> None:
    client, _ = task
    with pytest.raises(TaskNotFound):
        await client.get("task_doesnotexist")
    assert len(api.requests_for("get")) == 1 and sleep.delays == []


async def test_truncated_json_is_retried(api: FakeCometAPI, sleep: RecordingSleep,
                                         task: tuple[VideoClient, str]) -> None:
    client, task_id = task
    api.inject("get", Fault.truncated())
    assert (await client.get(task_id)).state is TaskState.SUCCEEDED
    assert api.get_count(task_id) == 2 and len(sleep.delays) == 1


async def test_always_truncated_json_ends_as_invalid_response(
    api: FakeCometAPI, sleep: RecordingSleep, task: tuple[VideoClient, str]
) -> None:
    client, task_id = task
    api.inject("get", Fault.truncated(), times=10)
    with pytest.raises(InvalidProviderResponse):
        await client.get(task_id)
    assert api.get_count(task_id) == FAST_POLICY.attempts


async def test_timeout_is_retried(api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep) -> None:
    client = make_client(api, session, sleep, retry=RetryPolicy(request_timeout=0.1))
    task_id = await client.create("p", "veo3.1", "16x9")
    api.inject("get", Fault.slow(0.4))
    assert (await client.get(task_id)).state is TaskState.SUCCEEDED
    assert api.get_count(task_id) == 2 and len(sleep.delays) == 1


async def test_dropped_connections_are_retried(api: FakeCometAPI, sleep: RecordingSleep,
                                               task: tuple[VideoClient, str]) -> None:
    client, task_id = task
    # aiohttp itself resends an idempotent GET once on a dropped connection, so drop enough to
    # need the client's own retry too.
    api.inject("get", Fault.drop(), times=3)
    assert (await client.get(task_id)).state is TaskState.SUCCEEDED
    assert api.get_count(task_id) == 4
    assert 1 <= len(sleep.delays) <= 3


async def test_random_faults_eventually_get_through(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep
) -> None:
    client = make_client(api, session, sleep, retry=RetryPolicy(attempts=10))
    task_id = await client.create("p", "veo3.1", "16x9")
    api.set_fault_rates(seed=5, get_503=0.3, get_429=0.1, get_truncated=0.1)
    for _ in range(30):
        assert (await client.get(task_id)).state is TaskState.SUCCEEDED
    faults = api.get_count(task_id) - 30
    assert faults == len(sleep.delays) > 0


async def test_logs_carry_task_and_attempt_but_never_the_key(
    api: FakeCometAPI, sleep: RecordingSleep, task: tuple[VideoClient, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot")
    client, task_id = task
    api.inject("get", Fault.http(503, message=f"echo {api.api_key}"), times=10)
    with pytest.raises(ProviderBusy):
        await client.get(task_id)
    assert f"task={task_id}" in caplog.text and "attempt 1/4" in caplog.text
    assert api.api_key not in caplog.text
