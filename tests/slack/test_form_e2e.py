"""``/veo`` alone opens the form; its submission is checked on the form, then the images are downloaded with the
bot token and the job made; every bad input is refused with a clear message and stores nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fakes.slack.records import FakeView
from tests.slack.support import PNG, SlackWorld, jobs, running_slack, slack_world

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(100))


async def _open_form(w: SlackWorld) -> FakeView:
    interaction = await w.veo("")
    assert interaction.ack.seconds < 3.0
    views = await w.slack.wait_for(lambda: w.slack.views(w.member), timeout=5)
    [view] = views
    return view


async def test_the_form_has_the_contracted_blocks_and_makes_a_job_with_two_frames(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as w, running_slack(w) as process:
        view = await _open_form(w)
        assert view.view["callback_id"] == "veo_submit"
        blocks = {b["block_id"]: b["element"] for b in view.view["blocks"]}
        assert list(blocks) == ["prompt", "first", "last", "model", "orientation"]
        assert {e["action_id"] for e in blocks.values()} == {"v"}
        assert [blocks[b]["type"] for b in blocks] == [
            "plain_text_input", "file_input", "file_input", "static_select", "radio_buttons"]
        assert blocks["first"]["max_files"] == blocks["last"]["max_files"] == 1
        assert [o["value"] for o in blocks["orientation"]["options"]] == ["16x9", "9x16"]
        first = w.slack.add_member_file(w.member, "bud.png", PNG, "image/png")
        last = w.slack.add_member_file(w.member, "bloom.jpg", JPEG, "image/jpeg")
        submission = await w.slack.submit_view(view, {
            "prompt": "the flower blooms <!channel>", "first": [first], "last": [last], "model": "veo3.1",
            "orientation": "9x16"})
        assert submission.action == "close" and submission.ack.seconds < 3.0
        answer = await w.answer()
        [job] = await jobs(process)
        assert f"Job #{job.id}" in answer
        assert (job.prompt, job.model, job.orientation, job.image_count) == (
            "the flower blooms <!channel>", "veo3.1", "9x16", 2)
        # Sent to the video service as the first and last frame, in that order.
        [create] = await w.slack.wait_for(lambda: w.api.create_requests(), timeout=5)
        assert [f.data for f in create.files] == [PNG, JPEG]
        assert w.slack.downloads == [(first.id, True), (last.id, True)]


@pytest.mark.parametrize(("values", "block", "says"), [
    ({"prompt": "\u200b \u200b"}, "prompt", "The prompt is empty"),
    ({"prompt": "x", "last": "LAST"}, "last", "A last frame needs a first frame"),
    ({"prompt": "x", "first": "TEXT"}, "first", "must be a PNG, JPEG or WebP image"),
    ({"prompt": "x", "first": "BIG"}, "first", "the limit is 0.0 MiB"),
    ({"prompt": "x", "first": "EMPTY"}, "first", "is an empty file"),
])
async def test_bad_form_values_come_back_on_the_form_and_nothing_is_stored(
        tmp_path: Path, values: dict[str, Any], block: str, says: str) -> None:
    async with slack_world(tmp_path) as w, running_slack(w, {"VEO_MAX_IMAGE_BYTES": "1000"}) as process:
        view = await _open_form(w)
        files = {
            "LAST": [w.slack.add_member_file(w.member, "last.png", PNG, "image/png")],
            "TEXT": [w.slack.add_member_file(w.member, "notes.txt", b"hello", "text/plain")],
            "BIG": [w.slack.add_member_file(w.member, "big.png", PNG + bytes(2000), "image/png")],
            "EMPTY": [w.slack.add_member_file(w.member, "empty.png", b"", "image/png")],
        }
        given = {k: files.get(v, v) if isinstance(v, str) and v in files else v for k, v in values.items()}
        submission = await w.slack.submit_view(view, given)
        assert submission.action == "errors" and submission.ack.seconds < 3.0
        assert block in submission.errors and says in submission.errors[block]
        assert view.open  # the member fixes the field and submits again
        assert await jobs(process) == [] and w.slack.downloads == [] and w.api.create_requests() == []


@pytest.mark.parametrize(("case", "says"), [
    ("login_page", "Slack sent a web page instead of `first`"),
    ("vanished", "`first` is no longer on Slack"),
    ("wrong_bytes", "`first` is not a valid PNG image"),
])
async def test_images_that_cannot_be_used_after_the_form_closed_are_refused_privately(
        tmp_path: Path, case: str, says: str) -> None:
    async with slack_world(tmp_path) as w, running_slack(w) as process:
        view = await _open_form(w)
        content = JPEG if case == "wrong_bytes" else PNG
        first = w.slack.add_member_file(w.member, "first.png", content, "image/png")
        if case == "login_page":
            w.slack.team.scopes.discard("files:read")
        if case == "vanished":
            first.deleted = True
        submission = await w.slack.submit_view(view, {"prompt": "a cat blinks", "first": [first]})
        assert submission.action == "close"
        answer = await w.answer()
        assert says in answer
        assert await jobs(process) == [] and w.api.create_requests() == []
        assert all(e.channel == w.channel.id for e in w.slack.ephemerals(w.member))
