"""VideoClient.get against the fake CometAPI: every documented status, progress and result variant."""

from __future__ import annotations

import aiohttp
import pytest

from bot.jobs.provider import TaskNotFound, TaskState
from tests.bot.comet.support import RecordingSleep, make_client
from tests.fakes.comet.api import FakeCometAPI, TaskScript


async def test_status_sequence_with_mixed_spellings(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep
) -> None:
    api.script_next_task(TaskScript(polls_until_done=2, running_statuses=("queued", "IN_PROGRESS"),
                                    final_status="SUCCESS"))
    client = make_client(api, session, sleep)
    task_id = await client.create("p", "veo3.1", "16x9")
    seen = [await client.get(task_id) for _ in range(3)]
    assert [(s.state, s.raw_status, s.progress) for s in seen] == [
        (TaskState.RUNNING, "queued", 33),
        (TaskState.RUNNING, "IN_PROGRESS", 66),
        (TaskState.SUCCEEDED, "SUCCESS", 100),
    ]
    assert seen[-1].video_url is not None and seen[-1].video_url.startswith(api.cdn_base_url)
    assert all(r.header("Authorization") == f"Bearer {api.api_key}" for r in api.requests_for("get"))
    assert api.get_count(task_id) == 3


@pytest.mark.parametrize(
    ("style", "running", "done"),
    [("int", 50, 100), ("float", 50, 100), ("fixed50", 50, 100), ("percent_string", 50, 100),
     ("missing", 0, 100), ("null", 0, 100)],
)
async def test_progress_styles(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep, style: str, running: int, done: int
) -> None:
    api.script_next_task(TaskScript(progress_style=style))  # type: ignore[arg-type]
    client = make_client(api, session, sleep)
    task_id = await client.create("p", "veo3.1", "16x9")
    assert (await client.get(task_id)).progress == running
    assert (await client.get(task_id)).progress == done


@pytest.mark.parametrize("location", ["video_url", "metadata.url", "url", "output.url", "data.video_url"])
@pytest.mark.parametrize("wrapped", [False, True])
async def test_result_locations(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep, location: str, wrapped: bool
) -> None:
    api.script_next_task(TaskScript(polls_until_done=0, result_location=location,  # type: ignore[arg-type]
                                    wrap_in_data=wrapped))
    client = make_client(api, session, sleep)
    task_id = await client.create("p", "veo3.1", "16x9")
    status = await client.get(task_id)
    assert status.state is TaskState.SUCCEEDED
    assert status.video_url is not None
    assert status.video_url.startswith(f"{api.cdn_base_url}/files/{task_id}.mp4?sig=")


async def test_content_only_result_has_no_url(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep
) -> None:
    api.script_next_task(TaskScript(polls_until_done=0, result_location="content_only"))
    client = make_client(api, session, sleep)
    status = await client.get(await client.create("p", "veo3.1", "16x9"))
    assert (status.state, status.video_url) == (TaskState.SUCCEEDED, None)


@pytest.mark.parametrize("style", ["error_object", "fail_reason", "error_string"])
async def test_failures_carry_a_sanitised_message(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep, style: str
) -> None:
    api.script_next_task(TaskScript(polls_until_done=0, outcome="failure", failure_style=style,  # type: ignore[arg-type]
                                    final_status="FAILURE"))
    client = make_client(api, session, sleep)
    status = await client.get(await client.create("p", "veo3.1", "16x9"))
    assert status.state is TaskState.FAILED
    assert status.error == "Video generation failed"
    assert status.safety_rejection is False
    assert status.video_url is None


async def test_safety_failure_is_flagged(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep
) -> None:
    api.script_next_task(TaskScript.safety_failure(polls_until_done=0))
    client = make_client(api, session, sleep)
    status = await client.get(await client.create("p", "veo3.1", "16x9"))
    assert status.state is TaskState.FAILED and status.safety_rejection
    assert status.error is not None and "usage guidelines" in status.error and "request id" not in status.error


async def test_failure_message_echoing_the_key_is_redacted(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep
) -> None:
    api.script_next_task(TaskScript(polls_until_done=0, outcome="failure",
                                    failure_message=f"upstream refused key {api.api_key}"))
    client = make_client(api, session, sleep)
    status = await client.get(await client.create("p", "veo3.1", "16x9"))
    assert status.error == "upstream refused key [redacted]"


async def test_time_scripted_task_follows_the_injected_clock(session: aiohttp.ClientSession,
                                                              sleep: RecordingSleep) -> None:
    now = [1000.0]
    async with FakeCometAPI(clock=lambda: now[0], default_script=TaskScript(seconds_until_done=120)) as api:
        client = make_client(api, session, sleep)
        task_id = await client.create("p", "veo3.1", "16x9")
        first = await client.get(task_id)
        now[0] += 60
        second = await client.get(task_id)
        now[0] += 60
        last = await client.get(task_id)
    assert [(s.state, s.progress) for s in (first, second, last)] == [
        (TaskState.RUNNING, 0), (TaskState.RUNNING, 50), (TaskState.SUCCEEDED, 100)
    ]


async def test_task_id_is_quoted_into_the_path(
    api: FakeCometAPI, session: aiohttp.ClientSession, sleep: RecordingSleep
) -> None:
    with pytest.raises(TaskNotFound):
        await make_client(api, session, sleep).get("task a?b#c")
    [req] = api.requests
    assert req.path == "/v1/videos/task%20a%3Fb%23c" and req.query == {}
