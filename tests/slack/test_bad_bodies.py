"""Bodies Slack (or a proxy before it) should not send: each is a clear reason to try again (or to give up, for
an error that will not pass), never a crash, and nothing is recorded as posted."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.jobs.ports import DeliveryFailed, JobStore, StatusView
from bot.jobs.post_intents import PostIntent, PostKind, PostStage
from bot.jobs.records import Job, JobStatus, NewJob
from db import open_store
from slack.notifier import SlackNotifier
from slack.web_api import notifier_client
from tests.slack.rig import FAST_UPLOADS, fast_sleep


class BadSlack:
    """A Web API on loopback that answers each method as the test says (default: an HTML page)."""

    def __init__(self) -> None:
        self.answers: dict[str, Callable[[], web.Response]] = {}
        self.calls: list[str] = []
        self.url = ""

    def answer(self, method: str, body: Any = None, *, status: int = 200, html: str | None = None) -> None:
        # A response object answers one request: each call gets a new one.
        if html is not None:
            self.answers[method] = lambda: web.Response(status=status, text=html, content_type="text/html")
        else:
            self.answers[method] = lambda: web.Response(status=status, text=json.dumps(body),
                                                        content_type="application/json")

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.calls.append(method)
        answer = self.answers.get(method)
        return answer() if answer else web.Response(text="<html>Sign in to Slack</html>", content_type="text/html")


@pytest.fixture
async def bad_slack() -> AsyncIterator[BadSlack]:
    fake = BadSlack()
    app = web.Application()
    app.router.add_route("*", "/api/{method}", fake.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.url = f"http://127.0.0.1:{runner.addresses[0][1]}/api/"
    yield fake
    await runner.cleanup()


@pytest.fixture
async def rig(bad_slack: BadSlack, tmp_path: Path) -> AsyncIterator[tuple[SlackNotifier, JobStore, Job]]:
    store = await open_store(f"sqlite:///{tmp_path / 'veo.sqlite3'}")
    job = await store.insert_job(NewJob("slack", "T1", "C1", "U1", "a fox <!here>", "veo3.1-fast", "16x9"), 1.0)
    async with aiohttp.ClientSession() as session:
        client = notifier_client("xoxb-test", base_url=bad_slack.url, session=session, sleep=fast_sleep)
        notifier = SlackNotifier(client, store, nonce_salt="s1", bot_user_id="UBOT", http=session,
                                 timings=FAST_UPLOADS, sleep=fast_sleep)
        yield notifier, store, job
        await notifier.close()
    await store.close()


def failed(job: Job, **changes: Any) -> Job:
    return Job(**{**{f: getattr(job, f) for f in job.__dataclass_fields__}, "status": JobStatus.FAILED,
                  "error": "no", **changes})


@pytest.mark.parametrize(("body", "html", "status", "reason", "permanent"), [
    (None, "<html>Sign in to Slack</html>", 200, "Slack answered unexpected answer (HTTP 200)", False),
    (None, "<html>Bad gateway</html>", 502, "Slack answered unexpected answer (HTTP 502)", False),
    ({"ok": True}, None, 200, "chat.postMessage answered without the message's ts", False),
    ({"ok": True, "ts": "soon"}, None, 200, "chat.postMessage answered without the message's ts", False),
    ({"ok": False}, None, 200, "Slack answered unexpected answer (HTTP 200)", False),
    ({"ok": False, "error": "brand_new_error"}, None, 200, "Slack answered brand_new_error", False),
    ({"ok": False, "error": "channel_not_found"}, None, 200, "Slack answered channel_not_found", True),
    ([1, 2], None, 200, "Slack's answer could not be read (AttributeError)", False),
])
async def test_a_bad_answer_to_a_post(rig: tuple[SlackNotifier, JobStore, Job], bad_slack: BadSlack,
                                      caplog: pytest.LogCaptureFixture, body: Any, html: str | None, status: int,
                                      reason: str, permanent: bool) -> None:
    notifier, store, job = rig
    bad_slack.answer("chat.postMessage", body, status=status, html=html)
    with pytest.raises(DeliveryFailed) as raised:
        await notifier.deliver_failure(failed(job))
    assert raised.value.reason == reason and raised.value.permanent is permanent
    intent = await store.post_intent(job.id, PostKind.FAILURE)
    assert intent is not None and intent.stage == PostStage.POSTING and intent.message_id is None
    # The status message: the same reasons, said in one log line with the job's number.
    with caplog.at_level(logging.WARNING, logger="slack.notifier"), pytest.raises(DeliveryFailed):
        await notifier.show_status(job, StatusView())
    assert f"job={job.id} status message not shown ({reason})" in caplog.text


async def test_bad_answers_during_the_upload_and_the_search(rig: tuple[SlackNotifier, JobStore, Job],
                                                            bad_slack: BadSlack, tmp_path: Path) -> None:
    notifier, store, job = rig
    video = tmp_path / "v.mp4"
    video.write_bytes(b"\x00" * 100)
    done = Job(**{**{f: getattr(job, f) for f in job.__dataclass_fields__}, "status": JobStatus.COMPLETED})
    bad_slack.answer("files.getUploadURLExternal", {"ok": True, "upload_url": 5})
    with pytest.raises(DeliveryFailed, match="without an upload URL"):
        await notifier.deliver_video(done, video)
    # A completed upload whose files.info answer makes no sense: not adopted, not uploaded again, tried later.
    assert await store.record_post_intent(PostIntent(job.id, PostKind.RESULT, PostStage.COMPLETED, 1.0, "F1"))
    bad_slack.answer("files.info", {"ok": True, "file": "F1"})
    with pytest.raises(DeliveryFailed, match=r"files\.info answered without a file"):
        await notifier.deliver_video(done, video)
    assert bad_slack.calls.count("files.getUploadURLExternal") == 1
    # A post in doubt whose history comes back without messages: not posted a second time.
    assert await store.record_post_intent(PostIntent(job.id, PostKind.FAILURE, PostStage.POSTING, 1.0))
    bad_slack.answer("conversations.history", {"ok": True})
    with pytest.raises(DeliveryFailed, match="history came without messages"):
        await notifier.deliver_failure(failed(job))
    assert "chat.postMessage" not in bad_slack.calls
    # Without access to the history (a scope missing), it says so and posts.
    bad_slack.answer("conversations.history", {"ok": False, "error": "missing_scope"})
    bad_slack.answer("chat.postMessage", {"ok": True, "ts": "1790000000.000100", "channel": "C1"})
    assert await notifier.deliver_failure(failed(job)) == "1790000000.000100"
    bad_slack.answer("conversations.open", {"ok": True, "channel": None})
    with pytest.raises(DeliveryFailed, match=r"conversations\.open answered without a conversation"):
        await notifier.send_ready_dm(failed(job, delivered_message_id="1790000000.000100"))
