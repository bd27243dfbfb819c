"""Thread channels in the job core: admins turn them on and off per channel, and a job keeps its choice."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot.jobs.admin import WorkspaceAdmin
from bot.jobs.errors import InvalidInput
from bot.jobs.records import Workspace
from tests.conftest import FakeClock
from tests.fakes.comet.api import FakeCometAPI, TaskScript
from tests.support.core import Core, job_core

GUILD = Workspace("discord", "10")


def admin_of(core: Core) -> WorkspaceAdmin:
    return WorkspaceAdmin(core.store, core.worker, prices={}, video_seconds=8.0, clock=core.clock)


async def test_threads_on_and_off_per_channel_with_audit(tmp_path: Path, clock: FakeClock) -> None:
    async with FakeCometAPI() as api, job_core(tmp_path, api, clock) as core:
        admin = admin_of(core)
        await admin.set_threads(GUILD, "7", "100", True)
        await admin.set_threads(GUILD, "7", "200", True)
        settings, policy = await admin.settings(GUILD)
        assert settings.thread_channels == ("100", "200") and policy.thread_channels == ("100", "200")
        await admin.set_threads(GUILD, "8", "100", False)
        assert (await admin.settings(GUILD))[0].thread_channels == ("200",)
        await admin.set_threads(GUILD, "8", "200", False)
        settings, policy = await admin.settings(GUILD)
        assert settings.thread_channels is None and policy.thread_channels == ()
        await admin.set_threads(GUILD, "7", "300", True)
        await admin.set_threads(GUILD, "7", None, False)  # off everywhere
        assert (await admin.settings(GUILD))[0].thread_channels is None
        entries = [(e.actor_id, e.action, e.details) for e in await admin.audit(GUILD)]
        assert entries == [
            ("7", "threads off", "every channel"), ("7", "threads on", "<#300>"), ("8", "threads off", "<#200>"),
            ("8", "threads off", "<#100>"), ("7", "threads on", "<#200>"), ("7", "threads on", "<#100>"),
        ]


@pytest.mark.parametrize(("channel", "enabled", "message"), [
    ("100", True, "already on"),
    ("200", False, "not on in that channel"),
    (None, True, "Say which channel"),
])
async def test_pointless_or_incomplete_thread_changes_are_refused(
    tmp_path: Path, clock: FakeClock, channel: str | None, enabled: bool, message: str
) -> None:
    async with FakeCometAPI() as api, job_core(tmp_path, api, clock) as core:
        admin = admin_of(core)
        await admin.set_threads(GUILD, "7", "100", True)
        before = await admin.settings(GUILD)
        with pytest.raises(InvalidInput, match=message):
            await admin.set_threads(GUILD, "7", channel, enabled)
        assert await admin.settings(GUILD) == before
        assert len(await admin.audit(GUILD)) == 1


async def test_turning_off_everywhere_with_nothing_on_is_refused(tmp_path: Path, clock: FakeClock) -> None:
    async with FakeCometAPI() as api, job_core(tmp_path, api, clock) as core:
        with pytest.raises(InvalidInput, match="No channel has threads"):
            await admin_of(core).set_threads(GUILD, "7", None, False)
        assert await core.store.audit_entries(GUILD, 5) == []


async def test_a_job_gets_a_thread_from_its_channel_at_creation_and_keeps_it(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with FakeCometAPI() as api, job_core(tmp_path, api, clock) as core:
        api.default_script = TaskScript(polls_until_done=10_000)
        admin = admin_of(core)
        await admin.set_threads(GUILD, "7", "100", True)
        threaded = await core.service.create_job(core.request())
        elsewhere = await core.service.create_job(dataclasses.replace(core.request(user=2), channel_id="999"))
        assert threaded.in_thread and not elsewhere.in_thread
        await admin.set_threads(GUILD, "7", "100", False)
        assert (await core.job(threaded.id)).in_thread  # the setting at creation time stays with the job
        later = await core.service.create_job(core.request(user=3))
        assert not later.in_thread
