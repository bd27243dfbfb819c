"""The fake's three-step external upload, driven by the real AsyncWebClient and an aiohttp streamed POST."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack.models import FakeChannel
from tests.fakes.slack.server import FakeSlack

VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 64
BLOCKS = [{"type": "section", "block_id": "veo:s1:12:result",
           "text": {"type": "mrkdwn", "text": "<@U0REQUEST> here is your video"}}]


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 4096):
        yield data[start:start + 4096]


async def upload(slack: FakeSlack, web: AsyncWebClient, data: bytes = VIDEO) -> str:
    """Steps 1 and 2: an upload URL and the bytes, streamed; returns the file id."""
    step1 = await web.files_getUploadURLExternal(filename="veo-12.mp4", length=len(data))
    async with aiohttp.ClientSession() as session, session.post(step1["upload_url"], data=_chunks(data)) as posted:
        assert posted.status == 200 and await posted.text() == f"OK - {len(data)}"
    return str(step1["file_id"])


def share_ts(info: dict[str, object], channel: FakeChannel) -> str | None:
    """The ts of the file's share in `channel`, as a notifier reads it from files.info."""
    shares = info["shares"]
    assert isinstance(shares, dict)
    for scope in ("public", "private"):
        entries = shares.get(scope, {}).get(channel.id)
        if entries:
            return str(entries[0]["ts"])
    return None


async def test_three_step_upload_with_a_delayed_share(slack: FakeSlack, web: AsyncWebClient) -> None:
    channel = slack.add_channel("general")
    slack.set_share_delay(0.2)
    file_id = await upload(slack, web)
    done = await web.files_completeUploadExternal(files=[{"id": file_id, "title": "Job 12"}], channel_id=channel.id,
                                                  blocks=json.dumps(BLOCKS))
    assert done["files"] == [{"id": file_id, "title": "Job 12"}] and "ts" not in done.data
    first = await web.files_info(file=file_id)
    assert share_ts(first["file"], channel) is None and slack.file_messages(channel) == []
    ts = await slack.wait_for(lambda: share_ts(slack.state.files[file_id].as_json(""), channel), timeout=3)
    later = await web.files_info(file=file_id)
    assert share_ts(later["file"], channel) == ts
    [message] = slack.file_messages(channel)
    assert message.ts == ts and message.blocks == BLOCKS and message.files[0]["id"] == file_id
    assert slack.state.files[file_id].content == VIDEO


async def test_initial_comment_overrides_blocks(slack: FakeSlack, web: AsyncWebClient) -> None:
    channel = slack.add_channel("general")
    slack.set_share_delay(0)
    file_id = await upload(slack, web)
    await web.files_completeUploadExternal(files=[{"id": file_id}], channel_id=channel.id,
                                           initial_comment="plain words", blocks=json.dumps(BLOCKS))
    [message] = await slack.wait_for(lambda: slack.file_messages(channel))
    assert message.text == "plain words" and message.blocks is None


async def test_a_share_that_never_comes_then_delete_leaves_a_tombstone(slack: FakeSlack, web: AsyncWebClient) -> None:
    channel = slack.add_channel("general")
    slack.hold_shares()
    file_id = await upload(slack, web)
    await web.files_completeUploadExternal(files=[{"id": file_id}], channel_id=channel.id)
    with pytest.raises(SlackApiError) as twice:
        await web.files_completeUploadExternal(files=[{"id": file_id}], channel_id=channel.id)
    assert twice.value.response["error"] == "file_already_completed"
    await web.files_delete(file=file_id)
    with pytest.raises(SlackApiError) as gone:
        await web.files_info(file=file_id)
    assert gone.value.response["error"] == "file_deleted"
    [late] = slack.release_shares()
    assert late.files == [{"id": file_id, "mode": "tombstone"}]
    assert slack.file_messages(channel) == [] and slack.file_messages(channel, include_tombstones=True) == [late]


async def test_upload_urls_are_single_use_and_sizes_can_be_restricted(slack: FakeSlack, web: AsyncWebClient) -> None:
    step1 = await web.files_getUploadURLExternal(filename="a.mp4", length=10)
    async with aiohttp.ClientSession() as session:
        async with session.post(step1["upload_url"], data=b"0123456789") as first:
            assert first.status == 200
        async with session.post(step1["upload_url"], data=b"0123456789") as second:
            assert second.status == 404
    slack.team.file_size_limit = 1000
    with pytest.raises(SlackApiError) as big:
        await web.files_getUploadURLExternal(filename="big.mp4", length=1001)
    assert big.value.response["error"] == "file_upload_size_restricted"


async def test_completion_needs_the_bot_in_the_channel(slack: FakeSlack, web: AsyncWebClient) -> None:
    outside = slack.add_channel("elsewhere", bot_member=False)
    file_id = await upload(slack, web)
    with pytest.raises(SlackApiError) as refused:
        await web.files_completeUploadExternal(files=[{"id": file_id}], channel_id=outside.id)
    assert refused.value.response["error"] == "not_in_channel"
    assert not slack.state.files[file_id].completed


async def test_a_held_upload_waits_for_release(slack: FakeSlack, web: AsyncWebClient) -> None:
    gate = slack.hold_uploads()
    task = asyncio.create_task(upload(slack, web))
    await slack.wait_for(lambda: gate.waiting == 1)
    assert not task.done() and slack.uploads.upload_posts[-1][1] == len(VIDEO)
    slack.release_uploads()
    file_id = await asyncio.wait_for(task, 2)
    assert slack.state.files[file_id].uploaded


async def test_a_dropped_upload_keeps_the_bytes_but_gives_no_answer(slack: FakeSlack, web: AsyncWebClient) -> None:
    slack.drop_uploads()
    step1 = await web.files_getUploadURLExternal(filename="a.mp4", length=len(VIDEO))
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientError):
            async with session.post(step1["upload_url"], data=VIDEO):
                pass
    assert slack.state.files[step1["file_id"]].content == VIDEO
