"""VideoClient.create against the fake CometAPI over real HTTP on loopback."""

from __future__ import annotations

import logging
import socket

import aiohttp
import pytest
from pydantic import SecretStr

from bot.comet.types import RetryPolicy
from bot.jobs.errors import InvalidInput
from bot.jobs.provider import (
    ImageInput,
    ProviderBusy,
    ProviderConfigError,
    ProviderRejected,
    SafetyRejected,
    SubmissionUncertain,
)
from bot.orientations import OrientationParams
from tests.bot.comet.support import FAST_POLICY, RecordingSleep, make_client
from tests.fakes.comet.api import FakeCometAPI, Fault, TaskScript


def png(n: int, size: int = 64) -> ImageInput:
    return ImageInput(bytes([n]) * size + b"\x89PNG-tail", f"frame{n}.png", "image/png")


# -- create: the request -------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [0, 1, 2])
async def test_create_sends_multipart_fields_and_file_parts_in_order(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep, count: int
) -> None:
    images = [png(1, 3_000_000), png(2)][:count]
    client = make_client(api, session, sleep)
    task_id = await client.create("a red fox in snow", "veo3.1-fast", "9x16", images)

    assert task_id in api.tasks
    [req] = api.create_requests()
    assert req.method == "POST" and req.path == "/v1/videos"
    assert req.content_type == "multipart/form-data"
    assert req.header("Authorization") == f"Bearer {api.api_key}"
    assert req.fields == {"prompt": "a red fox in snow", "model": "veo3.1-fast", "size": "9x16"}
    assert [(f.name, f.filename, f.content_type, f.data) for f in req.files] == [
        ("input_reference", i.filename, i.content_type, i.data) for i in images
    ]
    assert sleep.delays == []


async def test_orientation_map_decides_size_and_seconds(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep
) -> None:
    mapping = {"16x9": OrientationParams("1280x720", "8"), "9x16": OrientationParams("720x1280", "4")}
    client = make_client(api, session, sleep, orientation_map=mapping)
    await client.create("p", "veo3.1", "16x9")
    await client.create("p", "veo3.1", "9x16")
    assert [(r.fields["size"], r.fields["seconds"]) for r in api.create_requests()] == [
        ("1280x720", "8"), ("720x1280", "4")
    ]


async def test_unknown_orientation_is_refused_before_any_request(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep
) -> None:
    with pytest.raises(InvalidInput):
        await make_client(api, session, sleep).create("p", "veo3.1", "1x1")
    assert api.requests == []


@pytest.mark.parametrize("fields", ["id", "task_id", "both"])
async def test_create_reads_id_or_task_id(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep, fields: str
) -> None:
    api.script_next_task(TaskScript(create_id_fields=fields))  # type: ignore[arg-type]
    task_id = await make_client(api, session, sleep).create("p", "veo3.1", "16x9")
    assert list(api.tasks) == [task_id]


# -- create: never resubmitted after an ambiguous failure ----------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504, 524])
async def test_create_5xx_is_uncertain_and_sent_once(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep, status: int
) -> None:
    api.inject("create", Fault.server_error(status), times=5)
    with pytest.raises(SubmissionUncertain) as info:
        await make_client(api, session, sleep).create("p", "veo3.1", "16x9")
    assert len(api.create_requests()) == 1
    assert sleep.delays == []
    assert "not resent" in info.value.user_message


async def test_create_timeout_is_uncertain_and_sent_once(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep
) -> None:
    api.inject("create", Fault.slow(0.5, after_processing=True), times=5)
    client = make_client(api, session, sleep, retry=RetryPolicy(request_timeout=0.1))
    with pytest.raises(SubmissionUncertain):
        await client.create("p", "veo3.1", "16x9")
    assert len(api.create_requests()) == 1
    assert len(api.tasks) == 1  # the provider did accept it: exactly why resending would bill twice
    assert sleep.delays == []


@pytest.mark.parametrize("after", [False, True])
async def test_create_dropped_connection_is_uncertain_and_sent_once(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep, after: bool
) -> None:
    api.inject("create", Fault.drop(after_processing=after), times=5)
    with pytest.raises(SubmissionUncertain):
        await make_client(api, session, sleep).create("p", "veo3.1", "16x9")
    assert len(api.create_requests()) == 1
    assert len(api.tasks) == (1 if after else 0)


async def test_create_truncated_answer_is_uncertain(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep
) -> None:
    api.inject("create", Fault.truncated())
    with pytest.raises(SubmissionUncertain):
        await make_client(api, session, sleep).create("p", "veo3.1", "16x9")
    assert len(api.create_requests()) == 1 and len(api.tasks) == 1


# -- create: unambiguous failures ----------------------------------------------------------------------


async def test_create_429_is_retried_honouring_retry_after(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep
) -> None:
    api.inject("create", Fault.rate_limited(retry_after="3"), times=2)
    task_id = await make_client(api, session, sleep).create("p", "veo3.1", "16x9")
    assert len(api.create_requests()) == 3
    assert list(api.tasks) == [task_id]
    assert sleep.delays == [3.0, 3.0]


async def test_create_429_beyond_the_budget_is_busy(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep
) -> None:
    api.inject("create", Fault.rate_limited(retry_after=None), times=10)
    with pytest.raises(ProviderBusy):
        await make_client(api, session, sleep).create("p", "veo3.1", "16x9")
    assert len(api.create_requests()) == FAST_POLICY.attempts
    assert len(sleep.delays) == FAST_POLICY.attempts - 1
    assert api.tasks == {}


async def test_create_connection_refused_is_retried_then_busy(
    session: aiohttp.ClientSession, sleep: RecordingSleep
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with FakeCometAPI() as api:
        client = make_client(api, session, sleep, base_url=f"http://127.0.0.1:{port}/v1")
        with pytest.raises(ProviderBusy):
            await client.create("p", "veo3.1", "16x9")
    assert len(sleep.delays) == FAST_POLICY.attempts - 1


async def test_create_400_is_rejected_with_the_provider_message_once(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep
) -> None:
    client = make_client(api, session, sleep, orientation_map={"16x9": OrientationParams("999x999", None)})
    with pytest.raises(ProviderRejected) as info:
        await client.create("p", "veo3.1", "16x9")
    assert type(info.value) is ProviderRejected
    assert info.value.user_message == "The video service rejected the request: invalid size '999x999'"
    assert len(api.create_requests()) == 1


async def test_create_safety_rejection(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep
) -> None:
    api.inject("create", Fault.http(400, message="Your prompt was flagged by the content moderation system",
                                    code="content_policy_violation"))
    with pytest.raises(SafetyRejected) as info:
        await make_client(api, session, sleep).create("p", "veo3.1", "16x9")
    assert "safety filter" in info.value.user_message and "rephras" in info.value.user_message
    assert len(api.create_requests()) == 1


async def test_create_500_invalid_request_is_not_retried(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep
) -> None:
    api.inject("create", Fault.http(500, code="invalid_request", message="model not supported"), times=5)
    with pytest.raises(ProviderRejected) as info:
        await make_client(api, session, sleep).create("p", "veo9", "16x9")
    assert "model not supported" in info.value.user_message
    assert len(api.create_requests()) == 1


async def test_wrong_key_is_a_configuration_error_without_the_key(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(api, session, sleep, api_key=SecretStr("sk-wrong-key-9876543210"))
    with pytest.raises(ProviderConfigError) as info:
        await client.create("p", "veo3.1", "16x9")
    assert "misconfigured" in info.value.user_message
    assert len(api.create_requests()) == 1
    assert "sk-wrong-key-9876543210" not in caplog.text + str(info.value) + info.value.user_message


@pytest.mark.parametrize(
    "fault", [Fault.http(403, message="no access to model"), Fault.html(), Fault.redirect(), Fault.html(404)]
)
async def test_create_config_problems(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep, fault: Fault
) -> None:
    api.inject("create", fault)
    with pytest.raises(ProviderConfigError):
        await make_client(api, session, sleep).create("p", "veo3.1", "16x9")
    assert len(api.create_requests()) == 1
    assert api.cdn_requests() == []  # the redirect target was never asked, with or without the key


async def test_wrong_base_path_is_a_configuration_error(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep
) -> None:
    client = make_client(api, session, sleep, base_url=api.base_url.replace("/v1", "/v2"))
    with pytest.raises(ProviderConfigError):
        await client.create("p", "veo3.1", "16x9")
    with pytest.raises(ProviderConfigError):
        await client.get("task_x")
    assert [r.route for r in api.requests] == ["other", "other"]
