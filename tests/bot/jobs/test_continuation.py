"""Continuations in the job core: the next clip from a kept video's last frame, and every plain refusal."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bot.jobs.continuation import Continuations, Requester
from bot.jobs.errors import InvalidInput, LimitReached, NotAllowed, NotFound, UserFacingError
from bot.jobs.policy import Defaults, WorkspaceSettings, day_start
from bot.jobs.records import JobStatus, Workspace
from bot.jobs.videos import DAY, VideoStore
from tests.conftest import FakeClock
from tests.fakes.comet.api import FakeCometAPI, TaskScript
from tests.support.core import Core, job_core
from tests.support.mp4 import RED, close_to, coloured_mp4, picture_colour

GUILD = Workspace("discord", "10")
TEAMMATE = Requester(workspace=GUILD, channel_id="100", user_id="2", role_ids=(), locale="en-US")


@asynccontextmanager
async def continuing(tmp_path: Path, api: FakeCometAPI, clock: FakeClock, *, retention_days: float = 7.0,
                     **config: object) -> AsyncIterator[tuple[Core, Continuations]]:
    """A job core whose delivered videos are kept ``retention_days`` (the worker's own copy is removed once
    posted, so tests put the kept copy in place with ``keep``)."""
    async with job_core(tmp_path, api, clock, **config) as core:
        videos = VideoStore(core.worker.videos.root, retention=retention_days * DAY, clock=clock)
        yield core, Continuations(core.service, videos, max_prompt_chars=40, max_image_bytes=1 << 20)


async def delivered(core: Core, **script: object) -> int:
    """A job of member 1, delivered (or failed, by the script)."""
    core.api.script_next_task(TaskScript(polls_until_done=0, **script))  # type: ignore[arg-type]
    job = await core.service.create_job(core.request(user=1, model="veo3.1", orientation="9x16"))
    await core.tick(15)
    await core.tick(15)
    assert (await core.job(job.id)).status.is_terminal
    return job.id


def keep(continuations: Continuations, job_id: int, tmp_path: Path) -> Path:
    """Put a real video (its last frame red) where the store keeps job ``job_id``'s video."""
    path = continuations.videos.path_for(job_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(coloured_mp4(tmp_path / "source.mp4").read_bytes())
    return path


async def test_the_next_clip_starts_from_the_last_frame(tmp_path: Path, clock: FakeClock) -> None:
    async with FakeCometAPI() as api, continuing(tmp_path, api, clock) as (core, continuations):
        first = await delivered(core)
        keep(continuations, first, tmp_path)
        assert continuations.offered(await core.job(first))
        original, job = await continuations.create(first, TEAMMATE, "  the fox leaps  ")
        assert original.id == first
        assert (job.prompt, job.model, job.orientation) == ("the fox leaps", "veo3.1", "9x16")
        assert (job.user_id, job.channel_id, job.image_count, job.locale) == ("2", "100", 1, "en-US")
        [image] = api.create_requests()[-1].files
        assert (image.name, image.content_type, image.filename) == ("input_reference", "image/png", "image.png")
        assert close_to(picture_colour(image.data), RED)
        used, _ = await core.store.quota_used(GUILD, "2", day_start(clock()))
        assert used == 1  # counted against the one who continued


async def _refused(core: Core, continuations: Continuations, job_id: int, prompt: str = "next",
                   requester: Requester = TEAMMATE) -> UserFacingError:
    before = len(core.api.create_requests()), await core.store.user_jobs(requester.workspace, requester.user_id, 10)
    with pytest.raises(UserFacingError) as refused:
        await continuations.create(job_id, requester, prompt)
    after = len(core.api.create_requests()), await core.store.user_jobs(requester.workspace, requester.user_id, 10)
    assert after == before
    inputs = core.worker.config.data_dir / "inputs"
    assert not inputs.exists() or not any(inputs.iterdir())
    return refused.value


async def test_refusals_create_nothing(tmp_path: Path, clock: FakeClock) -> None:
    async with FakeCometAPI() as api, continuing(tmp_path, api, clock) as (core, continuations):
        done = await delivered(core)
        failed = await delivered(core, outcome="failure")
        keep(continuations, done, tmp_path)
        assert not continuations.offered(await core.job(failed))

        error = await _refused(core, continuations, 999)
        assert isinstance(error, NotFound) and error.template == "That job no longer exists."
        elsewhere = Requester(Workspace("discord", "11"), "100", "2", ())
        assert isinstance(await _refused(core, continuations, done, requester=elsewhere), NotFound)
        error = await _refused(core, continuations, failed)
        assert isinstance(error, NotAllowed) and error.user_message == (
            f"Job #{failed} has no finished video to continue from.")
        error = await _refused(core, continuations, done, prompt=" \u200b ")
        assert isinstance(error, InvalidInput) and "empty" in error.user_message
        error = await _refused(core, continuations, done, prompt="x" * 41)
        assert isinstance(error, InvalidInput) and "the limit is 40" in error.user_message

        continuations.videos.path_for(done).write_bytes(b"\x00\x00\x00\x20ftypisom" + bytes(500))
        error = await _refused(core, continuations, done)
        assert isinstance(error, InvalidInput) and "could not be read" in error.user_message

        assert continuations.videos.prune(now=time.time() + 8 * DAY) == 1  # files age by the real clock
        assert not continuations.offered(await core.job(done))
        error = await _refused(core, continuations, done)
        assert isinstance(error, NotFound)
        assert error.user_message.startswith(f"The stored copy of job #{done}'s video has been removed after 7 days")


async def test_a_job_still_running_has_nothing_to_continue(tmp_path: Path, clock: FakeClock) -> None:
    async with FakeCometAPI() as api, continuing(tmp_path, api, clock) as (core, continuations):
        api.script_next_task(TaskScript(polls_until_done=100))
        job = await core.service.create_job(core.request())
        assert job.status is JobStatus.SUBMITTED and not continuations.offered(job)
        error = await _refused(core, continuations, job.id)
        assert isinstance(error, NotAllowed) and "no finished video" in error.user_message


async def test_without_retention_nothing_is_offered(tmp_path: Path, clock: FakeClock) -> None:
    async with FakeCometAPI() as api, continuing(tmp_path, api, clock, retention_days=0) as (core, continuations):
        done = await delivered(core)
        assert not continuations.offered(await core.job(done))
        error = await _refused(core, continuations, done)
        assert isinstance(error, NotFound) and "no longer keeps videos" in error.user_message
        # Even a copy left on disk is not offered when the bot does not keep videos.
        keep(continuations, done, tmp_path)
        assert not continuations.offered(await core.job(done))


async def test_limits_and_rules_apply_as_for_veo(tmp_path: Path, clock: FakeClock) -> None:
    defaults = Defaults(max_active_per_user=2, max_active_per_guild=10, max_active_total=20, max_queued=0,
                        daily_quota_per_user=0, daily_quota_per_guild=0, cooldown_seconds=0.0,
                        models=("veo3.1-fast", "veo3.1"))
    async with FakeCometAPI() as api, continuing(tmp_path, api, clock, defaults=defaults) as (core, continuations):
        done = await delivered(core)
        keep(continuations, done, tmp_path)

        async def rules(**overrides: object) -> None:
            settings = WorkspaceSettings(GUILD.platform, GUILD.id, **overrides)  # type: ignore[arg-type]
            await core.store.save_workspace_settings(settings, actor_id="9", action="test", details="", now=clock())

        await rules(daily_quota_per_user=1)
        assert (await continuations.source(done, TEAMMATE)).id == done
        await continuations.create(done, TEAMMATE, "once")
        error = await _refused(core, continuations, done)
        assert isinstance(error, LimitReached) and "You have used your 1 videos for today" in error.user_message
        with pytest.raises(LimitReached):  # already when the member clicks, before any form
            await continuations.source(done, TEAMMATE)
        await rules(daily_quota_per_guild=3)  # two used: member 1's job, then member 2's
        assert (await continuations.source(done, Requester(GUILD, "100", "3", ()))).id == done
        await rules(daily_quota_per_guild=2)
        with pytest.raises(LimitReached, match="This server has used its 2 videos"):
            await continuations.source(done, Requester(GUILD, "100", "3", ()))
        await rules(allowed_channels=("200",))
        assert isinstance(await _refused(core, continuations, done), NotAllowed)
        await rules(allowed_models=("veo3.1-fast",))  # the original was made with veo3.1
        error = await _refused(core, continuations, done)
        assert isinstance(error, NotAllowed) and "`veo3.1-fast`" in error.user_message


async def test_the_next_clip_follows_the_clickers_choice_of_a_direct_message(tmp_path: Path, clock: FakeClock) -> None:
    async with FakeCometAPI() as api, continuing(tmp_path, api, clock) as (core, continuations):
        first = await delivered(core)
        keep(continuations, first, tmp_path)
        _, without = await continuations.create(first, TEAMMATE, "no message please")
        assert not without.dm_when_ready
        await core.service.set_preferences(GUILD, TEAMMATE.user_id, dm_when_ready=True)
        _, with_dm = await continuations.create(first, TEAMMATE, "tell me when it is ready")
        assert with_dm.dm_when_ready
