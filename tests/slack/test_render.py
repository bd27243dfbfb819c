"""How jobs look in Slack: Block Kit within its limits, user text inert, the requester's language."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.i18n import catalogue
from bot.jobs.ports import StatusView
from bot.jobs.records import JobStatus
from slack.messages import failure_blocks, failure_text, ready_dm_text, result_blocks, result_head
from slack.render import status_blocks, status_text
from tests.slack.jobs import T0, slack_job

MENTION = re.compile(r"<(@[UW][A-Z0-9]+|![a-z]+(\^[^|>]*)?)(\|[^>]*)?>")
NASTY = "a fox <!channel> <!here> @everyone <!subteam^S1|@team> <@U999> & <https://evil.example|click>"


def texts(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every text object in the blocks."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("plain_text", "mrkdwn") and "text" in node:
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(blocks)
    return found


def mentions(blocks: list[dict[str, Any]]) -> set[str]:
    """What mrkdwn in the blocks would ping (plain_text pings nobody)."""
    return {m.group(1) for t in texts(blocks) if t["type"] == "mrkdwn" for m in MENTION.finditer(t["text"])}


def within_limits(blocks: list[dict[str, Any]]) -> None:
    assert 0 < len(blocks) <= 50
    for block in blocks:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        if block["type"] == "section":
            assert 0 < len(block["text"]["text"]) <= 3000
        if block["type"] == "context":
            assert 0 < len(block["elements"]) <= 10
        if block["type"] == "actions":
            assert all(len(e["text"]["text"]) <= 75 and len(e["action_id"]) <= 255 for e in block["elements"])


def test_the_status_message_shows_prompt_state_progress_and_facts() -> None:
    job = slack_job(status=JobStatus.RUNNING, progress=40, image_count=2)
    blocks = status_blocks(job, StatusView(position=2, quota_used=1, quota_limit=5), now=T0 + 200)
    within_limits(blocks)
    shown = json.dumps(blocks, ensure_ascii=False)
    assert blocks[0]["text"]["text"] == "Veo video · job #12"
    assert blocks[1]["text"] == {"type": "plain_text", "text": "a red fox in snow", "emoji": True}
    assert "🎬 Generating · ▰▰▰▰▰▱▱▱▱▱▱▱ 40%" in shown
    for fact in ("<@U1>", "veo3.1-fast", "16x9", "first and last frame", "2 in this workspace's queue",
                 "4 of 5 left today", "started 3 min ago"):
        assert fact in shown, fact
    assert status_text(job, StatusView()) == "Veo video · job #12: 🎬 Generating · ▰▰▰▰▰▱▱▱▱▱▱▱ 40%"


def test_a_finished_status_says_why_or_links_the_result() -> None:
    failed = slack_job(status=JobStatus.FAILED, error="blocked <!here>", safety_rejection=True)
    shown = json.dumps(status_blocks(failed, StatusView()))
    assert "safety filter refused it: blocked &lt;!here&gt;" in shown and "<!here>" not in shown
    delivered = slack_job(status=JobStatus.DELIVERED, delivered_message_id="1712345678.000200")
    blocks = status_blocks(delivered, StatusView(), result_link="https://t.slack.com/archives/C1/p1712345678000200")
    assert "<https://t.slack.com/archives/C1/p1712345678000200|Jump to the video>" in json.dumps(blocks)
    assert "Position" not in json.dumps(blocks)


def test_the_pause_reason_is_escaped() -> None:
    blocks = status_blocks(slack_job(), StatusView(paused=True, pause_reason="maintenance <!channel>"))
    assert "workspace's moderators paused video jobs: maintenance &lt;!channel&gt;" in json.dumps(blocks)


@settings(max_examples=60)
@given(prompt=st.text(min_size=1, max_size=2000), model=st.text(min_size=1, max_size=40),
       error=st.text(max_size=500), status=st.sampled_from(list(JobStatus)))
def test_user_and_provider_text_pings_nobody_but_the_requester(prompt: str, model: str, error: str,
                                                               status: JobStatus) -> None:
    job = slack_job(prompt=prompt, model=model, error=error or None, status=status, video_url="https://v/1.mp4")
    for blocks in (status_blocks(job, StatusView(position=1)), result_blocks(job, link="https://v/<!here>"),
                   failure_blocks(job)):
        within_limits(blocks)
        assert mentions(blocks) <= {"@U1"}
    for text in (status_text(job, StatusView()), failure_text(job), result_head(job), ready_dm_text(job, None)):
        assert {m.group(1) for m in MENTION.finditer(text)} <= {"@U1"}


def test_the_nasty_prompt_in_every_message() -> None:
    job = slack_job(prompt=NASTY, status=JobStatus.COMPLETED)
    head = result_head(job)
    assert head.startswith("<@U1> your video is ready (job #12): a fox &lt;!channel&gt;")
    assert mentions(result_blocks(job)) == {"@U1"}
    assert mentions(status_blocks(job, StatusView())) == {"@U1"}
    assert "@\u2060everyone" in head


def test_results_carry_buttons_that_name_the_job() -> None:
    done = slack_job(status=JobStatus.COMPLETED)
    [_, actions] = result_blocks(done)
    assert [e["action_id"] for e in actions["elements"]] == ["veo:regen:12", "veo:delete:12"]
    assert all(e["value"] == "12" for e in actions["elements"])
    # No Regenerate for a job made from images (they are gone) nor after a safety refusal; no Delete for a
    # failure notice.
    assert [e["action_id"] for e in result_blocks(slack_job(status=JobStatus.COMPLETED, image_count=1))[1][
        "elements"]] == ["veo:delete:12"]
    assert len(failure_blocks(slack_job(status=JobStatus.FAILED, safety_rejection=True, error="x"))) == 1
    [_, retry] = failure_blocks(slack_job(status=JobStatus.FAILED, error="x"))
    assert [e["action_id"] for e in retry["elements"]] == ["veo:regen:12"]


def test_messages_follow_the_requesters_language() -> None:
    ko = catalogue("ko")
    job = slack_job(locale="ko-KR", status=JobStatus.TIMED_OUT, error="x")
    assert ko["<@{user}> your video job #{job} timed out."].format(user="U1", job=12) in failure_text(job)
    blocks = status_blocks(slack_job(locale="vi", status=JobStatus.QUEUED), StatusView(position=3))
    assert catalogue("vi")["{position} in this workspace's queue"].format(position=3) in json.dumps(
        blocks, ensure_ascii=False)
    labels = [e["text"]["text"] for e in result_blocks(slack_job(locale="ko", status=JobStatus.COMPLETED))[1][
        "elements"]]
    assert labels == ["🔁 " + ko["Regenerate"], "🗑️ " + ko["Delete"]]


def test_the_ready_dm_links_the_result() -> None:
    text = ready_dm_text(slack_job(status=JobStatus.DELIVERED), "https://t.slack.com/archives/C1/p1")
    assert text.startswith("🎬 Your video #12 is ready: <https://t.slack.com/archives/C1/p1>\n> a red fox")
