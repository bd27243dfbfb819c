"""Delivery end to end: file or link, failures in plain words, edits past the token, crashes, exactly once."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.jobs.records import JobStatus
from tests.fakes.comet.api import TaskScript, make_mp4_bytes
from tests.fakes.discord.models import READ_MESSAGE_HISTORY
from tests.support.e2e import MEMBER_PERMISSIONS, World, running_bot, world

MESSAGES = r"/channels/\d+/messages$"


async def _submit(w: World, prompt: str = "a paper boat on a stream", locale: str = "en-US") -> None:
    interaction = await w.discord.invoke_command(
        "veo", channel_id=w.channel.id, user=w.member, options={"prompt": prompt}, permissions=MEMBER_PERMISSIONS,
        locale=locale,
    )
    # "Job #1", "작업 #1", "Công việc #1": the private answer names the job in the member's language.
    await interaction.wait_for_response(predicate=lambda m: "#" in m.content)


async def test_video_over_the_guild_limit_is_posted_as_a_link(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w, env={"VEO_UPLOAD_LIMIT_BYTES": "1000"}) as app:
        w.api.script_next_task(TaskScript(polls_until_done=0, video=make_mp4_bytes(5000)))
        await _submit(w)
        [result] = await w.discord.wait_until(lambda: w.results() or None, timeout=10)
        job = await app.store.get_job(1)
        assert job is not None and job.video_url and job.video_url in result.content
        assert result.attachments == [] and "too large to upload here" in result.content
        assert result.pinged_user_ids == {w.member.id}


async def test_guild_upload_limit_comes_from_its_boost_tier(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        w.discord.state.guild(w.guild.id).upload_limit = 1000
        async with running_bot(w):
            w.api.script_next_task(TaskScript(polls_until_done=0, video=make_mp4_bytes(5000)))
            await _submit(w)
            [result] = await w.discord.wait_until(lambda: w.results() or None, timeout=10)
            assert result.attachments == [] and "download it" in result.content


async def test_discord_413_falls_back_to_a_link(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w):
        w.api.script_next_task(TaskScript(polls_until_done=2, video=make_mp4_bytes(3000)))
        await _submit(w)
        w.discord.inject("POST", MESSAGES, status=413, code=40005, message="Request entity too large")
        [result] = await w.discord.wait_until(lambda: w.results() or None, timeout=10)
        assert result.attachments == [] and "http" in result.content
        assert len(w.results()) == 1


async def test_failed_job_is_reported_with_the_safety_reason(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w) as app:
        w.api.script_next_task(TaskScript.safety_failure(polls_until_done=0))
        await _submit(w, "something the filter refuses @everyone")
        [notice] = await w.discord.wait_until(lambda: w.results() or None, timeout=10)
        assert f"<@{w.member.id}>" in notice.content and "failed" in notice.content
        assert "safety filter" in notice.content and "rephrasing" in notice.content
        assert "request id" not in notice.content
        assert notice.pinged_user_ids == {w.member.id} and not notice.pinged_everyone
        job = await w.discord.wait_until(lambda: _delivered(app), timeout=5)
        assert job.status is JobStatus.FAILED and job.delivered_message_id == str(notice.id)


async def test_progress_edits_continue_after_the_interaction_token_expired(tmp_path: Path) -> None:
    async with world(tmp_path, token_life=0.3) as w, running_bot(w, env={"VEO_POLL_INTERVAL": "0.1"}):
        w.api.script_next_task(TaskScript(polls_until_done=12))
        interaction = await w.veo(prompt="a long take")
        await interaction.wait_for_response(predicate=lambda m: "Job #" in m.content)
        [result] = await w.discord.wait_until(lambda: w.results() or None, timeout=15)
        [status] = w.status_messages()
        await w.discord.wait_until(lambda: "Delivered" in str(status.embeds))
        late = [v for v in status.edits if v.at > interaction.token_expires_at]
        assert len(late) >= 2  # progress and the final state, edited after the token died
        assert result.attachments


async def test_restart_in_the_middle_of_a_job_delivers_exactly_once(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        w.api.default_script = TaskScript(polls_until_done=6)
        async with running_bot(w) as first:
            await _submit(w)
            await w.discord.wait_until(lambda: w.api.get_count() >= 1, timeout=10)
            await first.kill()
        assert w.results() == []
        async with running_bot(w):
            [result] = await w.discord.wait_until(lambda: w.results() or None, timeout=15)
            assert result.attachments
        assert len(w.results()) == 1 and len(w.status_messages()) == 1
        assert len(w.api.create_requests()) == 1


async def test_crash_in_the_middle_of_the_upload_still_gives_one_message(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        w.api.default_script = TaskScript(polls_until_done=3)
        # A retry delay the first instance never reaches: the second instance does the retry.
        async with running_bot(w, delivery_retry_base=1.0, delivery_retry_cap=1.0) as first:
            await _submit(w)
            # The upload reaches Discord (the message exists) but the connection dies before the answer.
            w.discord.inject_drop("POST", MESSAGES, after_processing=True)
            await w.discord.wait_until(lambda: w.results() or None, timeout=10)
            await first.kill()
        crashed = await _job_row(tmp_path)
        assert crashed["delivered_at"] is None and crashed["delivery_attempts"] == 1
        async with running_bot(w, delivery_retry_base=1.0, delivery_retry_cap=1.0) as second:
            job = await w.discord.wait_until(lambda: _delivered(second), timeout=15)
            assert job.delivered_message_id == str(w.results()[0].id)
        assert len(w.results()) == 1


async def test_when_history_cannot_be_read_the_nonce_prevents_a_duplicate(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w) as app:
        w.api.default_script = TaskScript(polls_until_done=2)
        await _submit(w)
        w.discord.inject_drop("POST", MESSAGES, after_processing=True)
        w.discord.inject("GET", MESSAGES, status=403, code=50001, times=50)
        job = await w.discord.wait_until(lambda: _delivered(app), timeout=15)
        assert len(w.results()) == 1 and job.delivered_message_id == str(w.results()[0].id)
        assert len(w.discord.nonce_hits) == 1


async def test_without_read_message_history_the_result_is_posted_without_the_reply(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        w.discord.state.channel(w.channel.id).bot_permissions &= ~READ_MESSAGE_HISTORY
        async with running_bot(w) as app:
            w.api.default_script = TaskScript(polls_until_done=0)
            await _submit(w)
            job = await w.discord.wait_until(lambda: _delivered(app), timeout=15)
            [result] = w.results()
            assert job.delivered_message_id == str(result.id) and result.message_reference is None
            assert result.attachments and result.pinged_user_ids == {w.member.id}


async def test_crash_mid_upload_long_after_the_nonce_window_still_gives_one_message(tmp_path: Path) -> None:
    # With no nonce protection left, the bot must find its own message in the channel history.
    async with world(tmp_path, nonce_window=0.0) as w, running_bot(w) as app:
        w.api.default_script = TaskScript(polls_until_done=2)
        w.discord.inject_drop("POST", MESSAGES, after_processing=True, times=1)
        await _submit_after_status(w)
        job = await w.discord.wait_until(lambda: _delivered(app), timeout=15)
        assert len(w.results()) == 1 and job.delivered_message_id == str(w.results()[0].id)
        assert job.delivery_attempts >= 2


@pytest.mark.parametrize("locale", ["ko", "vi"])
@pytest.mark.parametrize("outcome", ["video", "failure"])
async def test_crash_mid_upload_after_the_nonce_window_gives_one_message_in_every_language(
    tmp_path: Path, locale: str, outcome: str
) -> None:
    # The requester's language writes "작업 #1" or "công việc #1", never "job #1": the bot must still know
    # its own message. A safety failure carries no button, so the text is all that names the job there.
    script = TaskScript(polls_until_done=2) if outcome == "video" else TaskScript.safety_failure(polls_until_done=2)
    async with world(tmp_path, nonce_window=0.0) as w, running_bot(w) as app:
        w.api.default_script = script
        w.discord.inject_drop("POST", MESSAGES, after_processing=True, times=1)
        await _submit_after_status(w, locale=locale)
        job = await w.discord.wait_until(lambda: _delivered(app), timeout=15)
        assert job.delivery_attempts >= 2 and w.discord.nonce_hits == []
        [result] = w.results()
        assert job.delivered_message_id == str(result.id) and "job #1" not in result.content
        assert {"ko": "작업", "vi": "công việc"}[locale] in result.content and "#1" in result.content
        assert bool(result.attachments) == (outcome == "video")
        assert bool(result.components) == (outcome == "video")


async def _submit_after_status(w: World, locale: str = "en-US") -> None:
    """Submit; the first channel POST is the status message, so let it through before faults apply."""
    faults = list(w.discord.rest.faults)
    w.discord.clear_faults()
    await _submit(w, locale=locale)
    w.discord.rest.faults.extend(faults)


async def _job_row(tmp_path: Path) -> dict[str, object]:
    conn = sqlite3.connect(tmp_path / "veo.sqlite3")
    try:
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT * FROM jobs WHERE id = 1").fetchone()
    finally:
        conn.close()
    assert row is not None
    return dict(row)


async def _delivered(app: object) -> object:
    job = await app.store.get_job(1)  # type: ignore[attr-defined]
    return job if job is not None and job.delivered_at is not None else None


async def test_commands_are_synced_only_when_they_change(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        async with running_bot(w):
            assert w.discord.sync_count(w.guild.id) == 1
            names = sorted(c["name"] for c in w.discord.commands(w.guild.id))
            assert names == ["veo", "veo-admin", "veo-cancel", "veo-prefer", "veo-queue", "veo-status"]
        async with running_bot(w):
            assert w.discord.sync_count(w.guild.id) == 1  # unchanged: no second registration
        async with running_bot(w, env={"VEO_MODELS": "veo3.1"}):
            assert w.discord.sync_count(w.guild.id) == 1  # settings that do not change the payload
        assert w.discord.sync_count(None) == 0  # guild mode never touches global commands
