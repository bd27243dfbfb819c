"""Fitting end to end: the real bot, the fake Discord enforcing the guild's upload limit, the fake CometAPI
serving a real oversize MP4; the posted file is a fitted copy under the limit, the original stays on disk."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.jobs.videos import VOLUME_ID_FILE
from tests.fakes.comet.api import TaskScript
from tests.support.e2e import MEMBER_PERMISSIONS, World, running_bot, world
from tests.support.media import make_noisy_mp4, media_facts

LIMIT = 300_000


@pytest.fixture(scope="module")
def oversize(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("media") / "oversize.mp4"
    assert make_noisy_mp4(path, seconds=2.0) > 3 * LIMIT
    return path.read_bytes()


async def _submit(w: World) -> None:
    interaction = await w.discord.invoke_command(
        "veo", channel_id=w.channel.id, user=w.member, options={"prompt": "static on an old television"},
        permissions=MEMBER_PERMISSIONS,
    )
    await interaction.wait_for_response(predicate=lambda m: "#" in m.content)


def _stored(tmp_path: Path) -> list[Path]:
    """The files of the video store (not the volume's id beside them)."""
    return sorted(p for p in (tmp_path / "data" / "videos").iterdir() if p.name != VOLUME_ID_FILE)


async def test_a_video_over_the_guilds_limit_is_posted_fitted_under_it(tmp_path: Path, oversize: bytes) -> None:
    async with world(tmp_path) as w:
        w.discord.state.guild(w.guild.id).upload_limit = LIMIT  # Discord refuses anything bigger
        async with running_bot(w, env={"VEO_UPLOAD_LIMIT_BYTES": str(LIMIT)}) as app:
            w.api.script_next_task(TaskScript(polls_until_done=0, video=oversize))
            await _submit(w)
            [result] = await w.discord.wait_until(lambda: w.results() or None, timeout=20)
            [attachment] = result.attachments
            assert attachment.filename == "veo-1.mp4" and attachment.size <= LIMIT
            facts = media_facts(attachment.data)
            assert facts.video_codec == "h264" and facts.pix_fmt == "yuv420p" and facts.audio_codec == "aac"
            assert facts.frames_decoded == 48 and facts.index_first
            assert "http" not in result.content and "full-quality" not in result.content  # no lasting link
            job = await w.discord.wait_until(lambda: _delivered(app), timeout=5)
            assert job.delivered_message_id == str(result.id)
            assert app.runtime.metrics.registry.sample("veo_video_fits_total", outcome="fitted") == 1
        # The original, for the retention; the fitted copy is gone.
        [original] = _stored(tmp_path)
        assert original.read_bytes() == oversize and not original.name.endswith(".fit.mp4")


async def test_the_fitted_file_points_to_the_full_quality_original(tmp_path: Path, oversize: bytes) -> None:
    async with world(tmp_path) as w:
        w.discord.state.guild(w.guild.id).upload_limit = LIMIT
        env = {"VEO_UPLOAD_LIMIT_BYTES": str(LIMIT), "VEO_PUBLIC_BASE_URL": "https://videos.example.org"}
        async with running_bot(w, env=env):
            w.api.script_next_task(TaskScript(polls_until_done=0, video=oversize))
            await _submit(w)
            [result] = await w.discord.wait_until(lambda: w.results() or None, timeout=20)
            # The fitted copy may still be there a moment: the post is recorded after it is seen.
            [original] = [path for path in _stored(tmp_path) if not path.name.endswith(".fit.mp4")]
            assert result.attachments[0].size <= LIMIT
            assert f"the full-quality original: https://videos.example.org/videos/{original.name}" in result.content
            assert "too large to upload" not in result.content


async def test_with_fitting_off_the_video_goes_as_a_link(tmp_path: Path, oversize: bytes) -> None:
    async with world(tmp_path) as w:
        w.discord.state.guild(w.guild.id).upload_limit = LIMIT
        async with running_bot(w, env={"VEO_UPLOAD_LIMIT_BYTES": str(LIMIT), "VEO_FIT_VIDEOS": "false"}):
            w.api.script_next_task(TaskScript(polls_until_done=0, video=oversize))
            await _submit(w)
            [result] = await w.discord.wait_until(lambda: w.results() or None, timeout=20)
            assert result.attachments == [] and "too large to upload here; download it: http" in result.content


async def test_a_video_too_long_for_the_limit_goes_as_a_link_with_a_log_line(
    tmp_path: Path, oversize: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with world(tmp_path) as w:
        w.discord.state.guild(w.guild.id).upload_limit = 40_000
        async with running_bot(w, env={"VEO_UPLOAD_LIMIT_BYTES": "40000"}) as app:
            w.api.script_next_task(TaskScript(polls_until_done=0, video=oversize))
            await _submit(w)
            [result] = await w.discord.wait_until(lambda: w.results() or None, timeout=20)
            assert result.attachments == [] and "download it: http" in result.content
            assert app.runtime.metrics.registry.sample("veo_video_fits_total", outcome="cannot_fit") == 1
    assert "job=1 video of" in caplog.text and "(cannot_fit: " in caplog.text and "posting a link" in caplog.text


async def _delivered(app: object) -> object:
    job = await app.store.get_job(1)  # type: ignore[attr-defined]
    return job if job is not None and job.delivered_at is not None else None
