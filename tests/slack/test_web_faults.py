"""What the notifier's client retries (429s; a dropped connection only where a call is safe to repeat), status
edits under a rate limit (the newest state goes out once it passes), and Slack's errors during delivery."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.jobs.records import JobStatus
from slack.web_api import method_of, notifier_client, retry_after
from tests.fakes.comet.api import TaskScript
from tests.fakes.slack.server import FakeSlack
from tests.slack.rig import fast_sleep, slack_core, slack_world


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as slack:
        slack.add_channel("videos")
        yield slack


async def test_a_dropped_post_is_never_sent_again_by_the_client(fake: FakeSlack) -> None:
    async with aiohttp.ClientSession() as session:
        client = notifier_client(fake.bot_token, base_url=fake.api_url, session=session, sleep=fast_sleep)
        channel = fake.add_channel("other")
        fake.inject_drop("chat.postMessage", after_processing=True)
        with pytest.raises(aiohttp.ClientError):
            await client.chat_postMessage(channel=channel.id, text="once")
        assert len(fake.calls("chat.postMessage")) == 1 and len(fake.messages(channel)) == 1
        fake.inject_drop("files.completeUploadExternal", after_processing=False)
        with pytest.raises(aiohttp.ClientError):
            await client.files_completeUploadExternal(files=[{"id": "F1"}], channel_id=channel.id)
        assert len(fake.calls("files.completeUploadExternal")) == 1
        # A read is repeated once after a dropped connection.
        fake.inject_drop("conversations.history", after_processing=False)
        answer = await client.conversations_history(channel=channel.id)
        assert answer["messages"] and len(fake.calls("conversations.history")) == 2


async def test_a_short_rate_limit_is_waited_out_and_a_long_one_is_the_callers(fake: FakeSlack) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async with aiohttp.ClientSession() as session:
        client = notifier_client(fake.bot_token, base_url=fake.api_url, session=session, sleep=sleep)
        channel = fake.add_channel("other")
        fake.inject("chat.postMessage", status=429, retry_after=2)
        await client.chat_postMessage(channel=channel.id, text="after a wait")
        assert slept == [2.0] and len(fake.messages(channel)) == 1
        fake.inject("chat.postMessage", status=429, retry_after=30)
        with pytest.raises(SlackApiError) as raised:
            await client.chat_postMessage(channel=channel.id, text="later")
        assert raised.value.response.status_code == 429 and slept == [2.0] and len(fake.messages(channel)) == 1


async def test_the_notifier_refuses_a_client_that_would_resend_posts(tmp_path: Path) -> None:
    from bot.jobs.ports import JobStore
    from slack.notifier import SlackNotifier

    store: JobStore = object()  # type: ignore[assignment]  # never reached
    async with aiohttp.ClientSession() as session:
        with pytest.raises(ValueError, match="must not re-send posts"):
            SlackNotifier(AsyncWebClient(token="xoxb-1", session=session), store, nonce_salt="s", bot_user_id="U1")
        assert SlackNotifier(AsyncWebClient(token="xoxb-1", session=session, retry_handlers=[]), store,
                             nonce_salt="s", bot_user_id="U1").client is not None


def test_small_helpers() -> None:
    assert method_of("http://127.0.0.1:9/api/chat.postMessage?x=1") == "chat.postMessage"
    assert retry_after({"Retry-After": ["3"]}) == 3.0 and retry_after({"retry-after": "1.5"}) == 1.5
    assert retry_after({"Retry-After": ["soon"]}) is None and retry_after(None) is None


async def test_status_edits_wait_out_a_rate_limit_and_show_the_newest_state(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as w, slack_core(w) as core:
        w.api.default_script = TaskScript(polls_until_done=1)
        job = await core.service.create_job(w.request())
        [status] = w.statuses()
        # Longer than the client waits inside a call: the edit waits, and the worker goes on.
        w.slack.inject("chat.update", status=429, retry_after=50)
        await core.tick(30)  # running: its edit is refused
        assert core.notifier.edits.waiting == 1 and not status.edited
        await core.tick(30)  # done and delivered: that edit waits in place of the older one
        done = await core.job(job.id)
        assert done.status is JobStatus.DELIVERED and core.notifier.edits.waiting == 1 and not status.edited
        w.clock.advance(25)  # 50 s after the refusal
        await w.slack.wait_for(lambda: status.edited)
        assert "Delivered" in str(status.blocks)
        assert [c.ok for c in w.slack.calls("chat.update")] == [False, True]
        assert core.notifier.edits.waiting == 0


async def test_an_unknown_slack_error_is_retried_and_a_permanent_one_given_up(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as w, slack_core(w) as core:
        w.api.default_script = TaskScript.safety_failure(polls_until_done=0)
        first = await core.service.create_job(w.request())
        w.slack.inject("chat.postMessage", error="something_new", times=1)
        await core.tick(30)
        job = await core.job(first.id)
        assert job.needs_notice and job.delivery_attempts == 1 and w.results() == []
        done = await core.until(first.id, JobStatus.FAILED)
        assert done.delivered_message_id == w.results()[0].ts
        # A channel the bot was removed from will not come back: the notice is given up, said in the job.
        w.channel.members.discard(w.slack.team.bot_user_id)
        second = await core.service.create_job(w.request())
        await core.tick(30)
        gave_up = await core.job(second.id)
        assert gave_up.next_poll_at is None and "not_in_channel" in (gave_up.error or "")
