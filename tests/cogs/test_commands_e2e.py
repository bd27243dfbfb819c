"""/veo-status, /veo-cancel and /veo-queue end to end, permissions checked at run time."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.jobs.records import JobStatus
from tests.fakes.comet.api import TaskScript
from tests.support.e2e import MEMBER_PERMISSIONS, MODERATOR_PERMISSIONS, World, running_bot, world


async def _command(w: World, name: str, user: object, permissions: int, **options: object) -> str:
    interaction = await w.discord.invoke_command(
        name, channel_id=w.channel.id, user=user, options=options, permissions=permissions  # type: ignore[arg-type]
    )
    reply = await interaction.wait_for_response(predicate=lambda m: bool(m.content or m.embeds))
    assert reply.ephemeral
    return reply.content + " " + str(reply.embeds)


async def _start_job(w: World, prompt: str = "a slow sunrise over the sea") -> None:
    interaction = await w.veo(prompt=prompt)
    await interaction.wait_for_response(predicate=lambda m: "Job #" in m.content)


async def test_queue_is_refused_to_a_plain_member_even_if_discord_let_it_through(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w):
        w.api.default_script = TaskScript(polls_until_done=10_000)
        await _start_job(w)
        # The fake dispatches the command whatever default_permissions say, as Discord does when a server
        # admin overrides them: the bot's own run-time check must refuse.
        text = await _command(w, "veo-queue", w.member, MEMBER_PERMISSIONS)
        assert "Only members with the Manage Messages permission" in text
        assert "slow sunrise" not in text
        text = await _command(w, "veo-queue", w.moderator, MODERATOR_PERMISSIONS)
        assert "#1" in text and "slow sunrise" in text and "Oldest wait" in text and f"<@{w.member.id}>" in text
        registered = {c["name"]: c for c in w.discord.commands(w.guild.id)}
        assert int(registered["veo-queue"]["default_member_permissions"]) == 1 << 13


async def test_member_cannot_cancel_someone_elses_job_but_a_moderator_can(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w) as app:
        w.api.default_script = TaskScript(polls_until_done=10_000)
        await _start_job(w)
        other = w.discord.add_user("other")
        w.discord.add_member(w.guild.id, other, permissions=MEMBER_PERMISSIONS)
        text = await _command(w, "veo-cancel", other, MEMBER_PERMISSIONS, job="1")
        assert "no job '1' of yours" in text
        assert (await app.store.get_job(1)).status is not JobStatus.CANCELLED  # type: ignore[union-attr]
        text = await _command(w, "veo-cancel", w.moderator, MODERATOR_PERMISSIONS, job="#1")
        assert "Cancelled job #1" in text and "may still bill" in text
        job = await app.store.get_job(1)
        assert job is not None and job.status is JobStatus.CANCELLED
        await w.discord.wait_until(lambda: "Cancelled" in str(w.status_messages()[0].embeds))
        text = await _command(w, "veo-cancel", w.member, MEMBER_PERMISSIONS, job="1")
        assert "already finished (cancelled)" in text


async def test_owner_cancels_by_task_id_and_nothing_is_delivered(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w) as app:
        w.api.default_script = TaskScript(polls_until_done=3)
        await _start_job(w)
        job = await app.store.get_job(1)
        assert job is not None and job.task_id is not None
        text = await _command(w, "veo-cancel", w.member, MEMBER_PERMISSIONS, job=job.task_id)
        assert "Cancelled job #1" in text
        gets = w.api.get_count()
        # Long enough for the provider to have finished it several times over.
        await w.discord.wait_until(lambda: w.api.get_count() == gets, timeout=1)
        assert w.results() == []
        assert (await app.store.get_job(1)).status is JobStatus.CANCELLED  # type: ignore[union-attr]


async def test_status_lists_own_jobs_and_links_results(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w) as app:
        w.api.default_script = TaskScript(polls_until_done=0)
        await _start_job(w, "first clip")
        await w.discord.wait_until(lambda: w.results() or None, timeout=10)

        async def recorded() -> bool:  # the post is on Discord a moment before the store says delivered
            job = await app.store.get_job(1)
            return job is not None and job.delivered_message_id is not None

        await w.discord.wait_until(recorded, timeout=5)
        text = await _command(w, "veo-status", w.member, MEMBER_PERMISSIONS)
        assert "#1" in text and "first clip" in text and "Delivered" in text
        assert "Daily quota: 9 of 10 videos left today." in text
        assert f"/channels/{w.guild.id}/{w.channel.id}/{w.results()[0].id}" in text
        text = await _command(w, "veo-status", w.member, MEMBER_PERMISSIONS, job="1")
        assert "job #1" in text and "Task id" in text
        stranger = w.discord.add_user("stranger")
        w.discord.add_member(w.guild.id, stranger, permissions=MEMBER_PERMISSIONS)
        text = await _command(w, "veo-status", stranger, MEMBER_PERMISSIONS)
        assert "no video jobs" in text
        text = await _command(w, "veo-status", stranger, MEMBER_PERMISSIONS, job="1")
        assert "No job of yours" in text and "first clip" not in text


async def test_model_autocomplete_offers_configured_models(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w, env={"VEO_MODELS": "veo3.1-fast,veo3.1,veo3"}):
        interaction = await w.discord.invoke_autocomplete(
            "veo", focused="model", channel_id=w.channel.id, user=w.member,
            options={"prompt": "x", "model": "3.1"}, permissions=MEMBER_PERMISSIONS,
        )
        choices = await interaction.wait_choices()
        assert [c["value"] for c in choices] == ["veo3.1-fast", "veo3.1"]
        assert choices[0]["name"] == "veo3.1-fast (default)"


async def test_unexpected_error_gets_the_generic_message_and_a_log_line(
    tmp_path: Path, caplog: object
) -> None:
    async with world(tmp_path) as w, running_bot(w) as app:
        async def broken(*_: object, **__: object) -> None:
            raise RuntimeError("database on fire")

        app.service.create_job = broken  # type: ignore[method-assign]
        interaction = await w.veo(prompt="a fox")
        reply = await interaction.wait_for_response(predicate=lambda m: bool(m.content))
        assert reply.content.startswith("Something went wrong; it has been logged.")
        assert "database on fire" not in reply.content
        records = [r for r in caplog.records if "command /veo failed" in r.getMessage()]  # type: ignore[attr-defined]
        assert records and f"guild={w.guild.id}" in records[0].getMessage()
        assert f"user={w.member.id}" in records[0].getMessage()


async def test_an_expired_interaction_is_not_answered_again(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Every acknowledgement arrives "late" (deadline 0): Discord answers 10062 Unknown interaction.
    async with world(tmp_path, ack_deadline=0.0) as w, running_bot(w) as app:
        interaction = await w.veo(prompt="a fox")
        # The error handler has finished once it logs the expiry.
        await w.discord.wait_until(lambda: "expired (code 10062)" in caplog.text, timeout=5)
        callbacks = [r for r in w.discord.requests if "/callback" in r.path]
        assert len(callbacks) == 1 and interaction.rejected_callbacks[0][2] == 10062
        assert not [r for r in w.discord.requests if "/webhooks/" in r.path]
        assert await app.store.get_job(1) is None and w.api.create_requests() == []
