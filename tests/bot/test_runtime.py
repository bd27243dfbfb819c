"""The runtime one process runs: faces join it with a notifier, a health probe and an edit budget each."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_settings
from bot.jobs.notifiers import FaceNotifiers
from bot.jobs.ports import DeliveryFailed, StatusView
from bot.jobs.records import Job, JobStatus, NewJob
from bot.ops.health import HealthProbe
from bot.runtime import Runtime
from db import open_store
from db.sqlite.group_commit import StoreClosed
from tests.support.core import RecordingNotifier

T0 = 1_790_000_000.0


def _new(platform: str) -> NewJob:
    return NewJob(platform, "W1", "C1", "U1", "a fox", "veo3.1-fast", "16x9")


async def _job(runtime: Runtime, platform: str) -> Job:
    return await runtime.store.insert_job(_new(platform), T0)


async def _runtime(tmp_path: Path) -> Runtime:
    settings = load_settings({"DISCORD_TOKEN": "discord-token-abcdef", "VEO_PROVIDER": "mock",
                              "DATABASE_URL": f"sqlite:///{tmp_path / 'veo.sqlite3'}",
                              "VEO_DATA_DIR": str(tmp_path / "data")})
    return await Runtime.open(settings, await open_store(settings.database_url))


async def test_each_job_goes_to_the_notifier_of_its_own_platform(tmp_path: Path) -> None:
    runtime = await _runtime(tmp_path)
    try:
        discord, slack = RecordingNotifier(upload_limit=10_000), RecordingNotifier(upload_limit=1_000_000)
        runtime.add_face("discord", discord, HealthProbe("gateway", lambda: None), edit_rate=5.0, edit_burst=10)
        runtime.add_face("slack", slack, HealthProbe("slack", lambda: "socket closed 12 s ago"),
                         edit_rate=0.5, edit_burst=2)
        on_discord, on_slack = await _job(runtime, "discord"), await _job(runtime, "slack")
        assert await runtime.notifiers.deliver_failure(on_slack) == "1000"
        assert await runtime.notifiers.show_status(on_discord, StatusView()) == "1000"
        assert [d.job_id for d in slack.deliveries] == [on_slack.id] and discord.deliveries == []
        assert [s[0] for s in discord.statuses] == [on_discord.id] and slack.statuses == []
        assert runtime.notifiers.platforms == ("discord", "slack")
        # Each face says how large a file its results may carry (the worker's notifier is measured on the way).
        assert await runtime.worker.notifier.max_upload_bytes(on_discord) == 10_000
        assert await runtime.worker.notifier.max_upload_bytes(on_slack) == 1_000_000
        # Each face's progress edits have a budget of their own.
        budgets = runtime.worker.status.budgets
        assert (budgets["discord"].rate, budgets["discord"].burst) == (5.0, 10)
        assert (budgets["slack"].rate, budgets["slack"].burst) == (0.5, 2)
        assert budgets["slack"].take(T0) and budgets["slack"].take(T0) and not budgets["slack"].take(T0)
        assert budgets["discord"].take(T0)  # spending Slack's budget leaves Discord's alone
        # And each face's connection is a check of /healthz of its own.
        report = await runtime.health.run()
        assert report.checks["gateway"] == "ok" and report.checks["slack"] == "socket closed 12 s ago"
        assert not report.ok and "slack: socket closed 12 s ago" in report.problems
    finally:
        await runtime.close()


async def test_a_job_of_a_face_this_process_does_not_run_waits_for_one_that_does(tmp_path: Path) -> None:
    notifiers = FaceNotifiers()
    notifiers.add("discord", RecordingNotifier())
    runtime = await _runtime(tmp_path)
    try:
        job = await _job(runtime, "slack")
        with pytest.raises(DeliveryFailed) as raised:
            await notifiers.deliver_video(job, None)
        # Not permanent: a process that runs the Slack face can still deliver it.
        assert not raised.value.permanent and "slack" in raised.value.reason
        with pytest.raises(ValueError, match="already registered"):
            notifiers.add("discord", RecordingNotifier())
    finally:
        await runtime.close()


async def test_the_runtime_shares_the_nonce_salt_and_closes_its_store(tmp_path: Path) -> None:
    first = await _runtime(tmp_path)
    salt = first.nonce_salt
    job = await _job(first, "discord")
    await first.close()
    with pytest.raises(StoreClosed):
        await first.store.get_job(job.id)
    second = await _runtime(tmp_path)
    try:
        assert second.nonce_salt == salt and len(salt) == 6  # made once per database, then shared
        fetched = await second.store.get_job(job.id)
        assert fetched is not None and fetched.status is JobStatus.QUEUED
    finally:
        await second.close()
