"""The Continue button end to end: button, form, and a new job whose first frame is the video's last frame."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.comet.api import TaskScript
from tests.fakes.discord.interactions import FakeInteraction
from tests.fakes.discord.modals import text_inputs
from tests.fakes.discord.models import ATTACH_FILES, BOT_DEFAULT_PERMISSIONS, FakeUser, MessageRecord
from tests.support.e2e import MEMBER_PERMISSIONS, World, running_bot, world
from tests.support.mp4 import RED, close_to, coloured_mp4, picture_colour


def _custom_ids(message: MessageRecord) -> list[str]:
    return [c["custom_id"] for row in message.components for c in row.get("components", [])]


def _teammate(w: World) -> FakeUser:
    teammate = w.discord.add_user("teammate")
    w.discord.add_member(w.guild.id, teammate, permissions=MEMBER_PERMISSIONS)
    return teammate


async def _deliver(w: World, tmp_path: Path, job: int = 1) -> MessageRecord:
    """Job ``job``, a 9x16 veo3.1 video of the member's whose last frame is red, delivered."""
    w.api.default_script = TaskScript(polls_until_done=0, video=coloured_mp4(tmp_path / "clip.mp4").read_bytes())
    interaction = await w.veo(prompt="a lighthouse in a storm", orientation="9x16", model="veo3.1")
    await interaction.wait_for_response(predicate=lambda m: f"Job #{job}" in m.content)
    return await w.discord.wait_until(
        lambda: next((m for m in w.results() if f"veo:delete:{job}" in _custom_ids(m)), None), timeout=10)


async def _click(w: World, result: MessageRecord, user: FakeUser, job: int = 1) -> FakeInteraction:
    return await w.discord.invoke_component(result, f"veo:continue:{job}", user=user, permissions=MEMBER_PERMISSIONS)


async def _answer(interaction: FakeInteraction) -> str:
    reply = await interaction.wait_for_response(predicate=lambda m: bool(m.content))
    assert reply.ephemeral
    return reply.content


async def test_continue_makes_the_next_clip_from_the_last_frame(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w) as app:
        result = await _deliver(w, tmp_path)
        assert _custom_ids(result) == ["veo:regen:1", "veo:continue:1", "veo:delete:1"]
        teammate = _teammate(w)
        click = await _click(w, result, teammate)
        modal = await click.wait_modal()
        assert click.callback_type == 9  # the form is the first answer: nothing deferred before it
        assert modal["custom_id"] == "veo:continue:1:prompt" and modal["title"] == "Continue job #1"
        [(in_label, field)] = text_inputs(modal)
        assert in_label and field["style"] == 2 and field["max_length"] == 1500
        submit = await w.discord.invoke_modal_submit(click, {"prompt": "  the keeper climbs the stairs  "},
                                                     permissions=MEMBER_PERMISSIONS)
        await submit.wait_acked()
        assert submit.callback_type == 5 and submit.ephemeral  # deferred first, privately
        content = await _answer(submit)
        assert content.startswith("Queued job #2, continuing from the last frame of job #1.")
        [status_two] = [m for m in w.status_messages() if "job #2" in str(m.embeds[0].get("title"))]
        assert str(status_two.id) in content  # links to the new job's status message
        first, second = w.api.create_requests()
        assert (second.fields["prompt"], second.fields["model"], second.fields["size"]) == (
            "the keeper climbs the stairs", "veo3.1", first.fields["size"])
        [image] = second.files
        assert (image.name, image.content_type) == ("input_reference", "image/png")
        assert close_to(picture_colour(image.data), RED)
        job = await app.store.get_job(2)
        assert job is not None and job.user_id == str(teammate.id) and job.image_count == 1


async def test_a_member_at_their_quota_is_refused_and_nothing_is_created(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w, env={"VEO_DAILY_QUOTA_PER_USER": "1"}) as app:
        result = await _deliver(w, tmp_path)
        teammate = _teammate(w)
        opened = await _click(w, result, teammate)
        await opened.wait_modal()
        # The member's one video of the day is job #1: the click is refused at once, before any form.
        click = await _click(w, result, w.member)
        assert "You have used your 1 videos for today" in await _answer(click)
        assert click.modal is None
        # A teammate who opened the form and used their video meanwhile is refused when submitting it.
        await w.veo(user=teammate, prompt="their own video")
        await w.discord.wait_until(lambda: len(w.api.create_requests()) == 2, timeout=5)
        submit = await w.discord.invoke_modal_submit(opened, {"prompt": "next"}, permissions=MEMBER_PERMISSIONS)
        assert "You have used your 1 videos for today" in await _answer(submit)
        assert len(w.api.create_requests()) == 2 and await app.store.get_job(3) is None
        inputs = tmp_path / "data" / "inputs"
        assert not inputs.exists() or not any(inputs.iterdir())


async def test_a_pruned_copy_is_refused_plainly(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w, env={"VEO_VIDEO_RETENTION_DAYS": "3"}) as app:
        result = await _deliver(w, tmp_path)
        click = await _click(w, result, w.member)
        await click.wait_modal()
        # Pruned while the form is open: the submission is refused, nothing is created.
        app.runtime.videos.path_for(1).unlink()
        submit = await w.discord.invoke_modal_submit(click, {"prompt": "next"}, permissions=MEMBER_PERMISSIONS)
        refusal = "The stored copy of job #1's video has been removed after 3 days"
        assert (await _answer(submit)).startswith(refusal)
        # And a click afterwards is answered at once, without a form.
        again = await _click(w, result, w.member)
        assert (await _answer(again)).startswith(refusal)
        assert again.modal is None and again.callback_type == 4
        assert len(w.api.create_requests()) == 1 and await app.store.get_job(2) is None


async def test_a_blank_prompt_or_a_channel_the_bot_cannot_post_in_is_refused(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w) as app:
        result = await _deliver(w, tmp_path)
        click = await _click(w, result, w.member)
        await click.wait_modal()
        submit = await w.discord.invoke_modal_submit(click, {"prompt": " \u200b "}, permissions=MEMBER_PERMISSIONS)
        assert (await _answer(submit)).startswith("The prompt is empty.")
        submit = await w.discord.invoke_modal_submit(click, {"prompt": "next"}, permissions=MEMBER_PERMISSIONS,
                                                     app_permissions=BOT_DEFAULT_PERMISSIONS & ~ATTACH_FILES)
        assert (await _answer(submit)).startswith("I can't post videos in this channel: I'm missing Attach Files.")
        assert len(w.api.create_requests()) == 1 and await app.store.get_job(2) is None


async def test_the_button_and_an_open_form_survive_a_restart(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        async with running_bot(w):
            result = await _deliver(w, tmp_path)
            opened_before = await _click(w, result, w.member)
            await opened_before.wait_modal()
        # A new process on the same store and video folder, with a shorter prompt limit than the open form's.
        async with running_bot(w, env={"VEO_MAX_PROMPT_CHARS": "10"}) as app:
            submit = await w.discord.invoke_modal_submit(opened_before, {"prompt": "a much longer prompt"},
                                                         permissions=MEMBER_PERMISSIONS)
            assert (await _answer(submit)).startswith("The prompt is 20 characters long; the limit is 10.")
            assert await app.store.get_job(2) is None
            submit = await w.discord.invoke_modal_submit(opened_before, {"prompt": "it rains"},
                                                         permissions=MEMBER_PERMISSIONS)
            assert (await _answer(submit)).startswith("Queued job #2, continuing from the last frame of job #1.")
            click = await _click(w, result, w.member)
            modal = await click.wait_modal()
            assert [field["max_length"] for _, field in text_inputs(modal)] == [10]
            submit = await w.discord.invoke_modal_submit(click, {"prompt": "dawn"}, permissions=MEMBER_PERMISSIONS)
            assert (await _answer(submit)).startswith("Queued job #3, continuing from the last frame of job #1.")
            assert len(w.api.create_requests()) == 3


async def test_no_button_when_videos_are_not_kept_and_a_corrupt_copy_is_refused(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        async with running_bot(w):
            result = await _deliver(w, tmp_path)
        async with running_bot(w, env={"VEO_VIDEO_RETENTION_DAYS": "0"}):
            click = await _click(w, result, w.member)  # a button from when the bot kept videos
            assert (await _answer(click)).startswith("This bot no longer keeps videos after posting them")
            assert click.modal is None
            second = await _deliver(w, tmp_path, job=2)
            assert _custom_ids(second) == ["veo:regen:2", "veo:delete:2"]
        async with running_bot(w) as app:
            app.runtime.videos.path_for(1).write_bytes(b"\x00\x00\x00\x20ftypisom" + bytes(500))  # unreadable
            click = await _click(w, result, w.member)
            await click.wait_modal()
            submit = await w.discord.invoke_modal_submit(click, {"prompt": "next"}, permissions=MEMBER_PERMISSIONS)
            assert (await _answer(submit)).startswith("The last frame of job #1's video could not be read.")
            assert len(w.api.create_requests()) == 2 and await app.store.get_job(3) is None
