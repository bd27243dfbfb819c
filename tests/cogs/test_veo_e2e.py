"""/veo end to end: the real discord.py bot against the fake Discord and the fake CometAPI."""

from __future__ import annotations

from pathlib import Path

from bot.jobs.records import Job, JobStatus
from cogs.app import VeoApp
from tests.fakes.comet.api import TaskScript, make_mp4_bytes
from tests.support.e2e import JPEG, PNG, running_bot, world


async def test_text_prompt_is_acknowledged_then_delivered_once(tmp_path: Path) -> None:
    video = make_mp4_bytes(50_000)
    async with world(tmp_path) as w, running_bot(w) as app:
        w.api.script_next_task(TaskScript(polls_until_done=2, video=video))
        interaction = await w.veo(prompt="a red fox running through snow @everyone <@&123>")
        await interaction.wait_acked()
        assert interaction.callback_type == 5 and interaction.ephemeral  # deferred first, privately
        reply = await interaction.wait_for_response(predicate=lambda m: "Job #1" in m.content)
        assert reply.ephemeral
        [result] = await w.discord.wait_until(lambda: w.results() or None, timeout=10)
        assert result.attachments[0].filename == "veo-1.mp4" and result.attachment_bytes == [video]
        [status] = w.status_messages()
        assert result.message_reference is not None
        assert int(result.message_reference["message_id"]) == status.id
        assert result.pings.user_ids == frozenset({w.member.id}) and not result.pinged_everyone
        assert result.pinged_role_ids == frozenset()
        for message in w.bot_messages():
            assert not message.pinged_everyone and message.pinged_role_ids == frozenset()
            assert message.pinged_user_ids <= {w.member.id}
        # The message exists in the channel a moment before the bot records it.
        job = await w.discord.wait_until(lambda: _delivered(app), timeout=5)
        assert job.status is JobStatus.DELIVERED and job.delivered_message_id == str(result.id)
        await w.discord.wait_until(lambda: "Delivered" in str(w.status_messages()[0].embeds))
        [create] = w.api.create_requests()
        assert create.fields["prompt"].startswith("a red fox") and create.files == []
        assert len(w.results()) == 1


async def test_one_image_is_sent_as_the_first_frame(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w):
        image = w.attach("cat.png", "image/png", PNG)
        interaction = await w.veo(prompt="the cat blinks", image=image, orientation="9x16")
        await interaction.wait_for_response(predicate=lambda m: "Job #1" in m.content)
        [create] = w.api.create_requests()
        assert [(f.name, f.data, f.content_type) for f in create.files] == [("input_reference", PNG, "image/png")]
        assert create.fields["size"] == "9x16"
        await w.discord.wait_until(lambda: w.results() or None, timeout=10)


async def test_two_images_are_sent_in_order(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w):
        first = w.attach("bud.jpg", "image/jpeg", JPEG)
        last = w.attach("bloom.png", "image/png", PNG)
        interaction = await w.veo(prompt="the flower blooms", image=first, last_frame=last, model="veo3.1")
        await interaction.wait_for_response(predicate=lambda m: "Job #1" in m.content)
        [create] = w.api.create_requests()
        assert [f.data for f in create.files] == [JPEG, PNG]
        assert create.fields["model"] == "veo3.1"
        await w.discord.wait_until(lambda: w.results() or None, timeout=10)


async def _delivered(app: VeoApp) -> Job | None:
    job = await app.store.get_job(1)
    return job if job is not None and job.delivered_at is not None else None
