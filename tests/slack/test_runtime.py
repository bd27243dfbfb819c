"""The Slack notifier as a face of the real ``Runtime`` (its worker running on its own), killed with
``Runtime.kill`` in the middle of an upload and started again on the same database."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from bot.config import load_settings
from bot.jobs.records import JobStatus, NewJob
from bot.runtime import Runtime
from db import open_store
from slack.notifier import EDIT_BURST, EDITS_PER_SECOND, SlackNotifier
from slack.web_api import notifier_client
from tests.fakes.comet.api import FakeCometAPI, TaskScript
from tests.fakes.slack.server import FakeSlack
from tests.slack.rig import FAST_UPLOADS, fast_sleep
from tests.support.e2e import FAST_CORE, FAST_RETRY


@contextlib.asynccontextmanager
async def slack_runtime(slack: FakeSlack, api: FakeCometAPI, tmp_path: Path) -> AsyncIterator[Runtime]:
    """A running ``Runtime`` whose only face is the Slack notifier; killed (not closed) by the test or on exit."""
    settings = load_settings({
        "DISCORD_TOKEN": "unused-here", "COMETAPI_KEY": api.api_key, "COMETAPI_BASE_URL": api.base_url,
        "VEO_ALLOW_HTTP_DOWNLOADS": "true", "DATABASE_URL": f"sqlite:///{tmp_path / 'veo.sqlite3'}",
        "VEO_DATA_DIR": str(tmp_path / "data"), "VEO_POLL_INTERVAL": "0.05",
    })
    store = await open_store(settings.database_url)
    runtime = await Runtime.open(settings, store, retry=FAST_RETRY, **FAST_CORE)
    client = notifier_client(slack.bot_token, base_url=slack.api_url, session=runtime.session, sleep=fast_sleep)
    notifier = SlackNotifier(client, store, nonce_salt=runtime.nonce_salt, bot_user_id=slack.team.bot_user_id,
                             http=runtime.session, video_link=runtime.video_link, timings=FAST_UPLOADS)
    runtime.add_face("slack", notifier, edit_rate=EDITS_PER_SECOND, edit_burst=EDIT_BURST)
    await runtime.start()
    runtime.start_worker()
    try:
        yield runtime
    finally:
        await runtime.kill()
        await notifier.close()


async def test_a_runtime_killed_mid_upload_posts_the_video_once_after_a_restart(tmp_path: Path) -> None:
    async with FakeSlack() as slack, FakeCometAPI() as api:
        member = slack.add_user("member")
        channel = slack.add_channel("videos", members=(member,))
        api.default_script = TaskScript(polls_until_done=1)
        gate = slack.hold_uploads()
        async with slack_runtime(slack, api, tmp_path) as runtime:
            job = await runtime.service.create_job(NewJob(
                platform="slack", workspace_id=slack.team.id, channel_id=channel.id, user_id=member.id,
                prompt="a lighthouse at dusk", model="veo3.1-fast", orientation="16x9"))
            await slack.wait_for(lambda: gate.waiting == 1, timeout=10)
            await runtime.kill()  # as a crash: the upload's answer never arrives
        slack.release_uploads()
        async with slack_runtime(slack, api, tmp_path) as runtime:
            async def delivered() -> bool:
                fresh = await runtime.store.get_job(job.id)
                return fresh is not None and fresh.status is JobStatus.DELIVERED
            await slack.wait_for(delivered, timeout=15)
            statuses = [m for m in slack.messages(channel) if (m.metadata or {}).get("event_type") == "veo_job"]
            assert len(statuses) == 1
            await slack.wait_for(lambda: "Delivered" in str(statuses[0].blocks))  # edited right after
            assert len(slack.file_messages(channel)) == 1
            assert [c.ok for c in slack.calls("files.completeUploadExternal")] == [True]
            assert len(slack.calls("files.getUploadURLExternal")) == 2
            assert runtime.metrics.registry.sample("veo_deliveries_total", kind="video", outcome="posted") == 1
