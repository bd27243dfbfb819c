"""The messages a job ends with in Slack: the result (video or link), the failure notice, the direct message.

The requester is the only member a message mentions (``<@U…>``, written by the bot); the prompt excerpt, the
provider's words and links are escaped. Result and failure messages carry the Regenerate and Delete buttons,
whose action ids name the job (``veo:regen:12``), so that they work after any restart.
"""

from __future__ import annotations

from typing import Any

from bot.display import MOCK_NOTE
from bot.i18n import Locale, tr
from bot.jobs.errors import msg
from bot.jobs.records import Job, JobStatus
from bot.mock.provider import is_mock_task
from slack.escape import BUTTON_TEXT, MESSAGE_TEXT, SECTION_TEXT, clip, escape, mrkdwn, one_line, plain_text
from slack.render import failure_reason

REGENERATE_ID = "veo:regen:{job}"
DELETE_ID = "veo:delete:{job}"
PROMPT_EXCERPT = 120
NO_LINK = msg("The file is too large to upload here, and the video service gave no download link. "
              "Ask a workspace admin to allow larger files.")


def excerpt(prompt: str, limit: int = PROMPT_EXCERPT) -> str:
    """A short, inert excerpt of a prompt for mrkdwn."""
    return clip(escape(one_line(prompt)), limit)


def result_head(job: Job) -> str:
    """How the result message begins: the requester, the job and its prompt, in the requester's language."""
    return tr("<@{user}> your video is ready (job #{job}): {prompt}", job.locale, user=job.user_id, job=job.id,
              prompt=excerpt(job.prompt))


def failure_head(job: Job) -> str:
    """How the failure notice begins: the requester, the job and what happened."""
    if job.status is JobStatus.TIMED_OUT:
        return tr("<@{user}> your video job #{job} timed out.", job.locale, user=job.user_id, job=job.id)
    return tr("<@{user}> your video job #{job} failed.", job.locale, user=job.user_id, job=job.id)


def _button(text: str, action_id: str, job_id: int, *, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {"type": "button", "text": plain_text(text, BUTTON_TEXT), "action_id": action_id,
                              "value": str(job_id)}
    if style is not None:
        button["style"] = style
    return button


def result_buttons(job: Job) -> dict[str, Any] | None:
    """Regenerate (not for jobs that started from images, whose images are gone, nor after a safety refusal)
    and Delete (a video), labelled in the requester's language; None when neither applies."""
    loc: Locale | None = job.locale
    buttons = []
    if not job.image_count and not job.safety_rejection:
        buttons.append(_button("🔁 " + tr("Regenerate", loc), REGENERATE_ID.format(job=job.id), job.id))
    if job.status is JobStatus.COMPLETED:
        buttons.append(_button("🗑️ " + tr("Delete", loc), DELETE_ID.format(job=job.id), job.id, style="danger"))
    return {"type": "actions", "block_id": f"veo:result:{job.id}", "elements": buttons} if buttons else None


def result_text(job: Job, *, link: str | None = None, note: str | None = None, original: str | None = None) -> str:
    """The result message's text: the head, a download link when the file could not be uploaded (or ``note``
    when there is none), the full-quality original of a copy made smaller to fit."""
    loc = job.locale
    lines = [result_head(job)]
    if link:
        lines.append(tr("The file is too large to upload here; download it: {link}", loc, link=escape(link)))
    if original:
        lines.append(tr("Made smaller to fit the upload limit here; the full-quality original: {link}", loc,
                        link=escape(original)))
    if note:
        lines.append(tr(note, loc))
    if is_mock_task(job.task_id):
        lines.append(tr(MOCK_NOTE, loc))
    return clip("\n".join(lines), SECTION_TEXT)


def result_blocks(job: Job, *, link: str | None = None, note: str | None = None, original: str | None = None
                  ) -> list[dict[str, Any]]:
    """The result message: its text (``result_text``) and the buttons."""
    blocks: list[dict[str, Any]] = [{"type": "section", "text": mrkdwn(
        result_text(job, link=link, note=note, original=original))}]
    buttons = result_buttons(job)
    if buttons is not None:
        blocks.append(buttons)
    return blocks


def failure_blocks(job: Job) -> list[dict[str, Any]]:
    """The failure notice: the head and why, in plain words, with Regenerate where it can help."""
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": mrkdwn(f"{failure_head(job)} {failure_reason(job, job.locale)}")}]
    buttons = result_buttons(job)
    if buttons is not None:
        blocks.append(buttons)
    return blocks


def failure_text(job: Job) -> str:
    """The failure notice's top-level text (what the notification shows)."""
    return clip(f"{failure_head(job)} {failure_reason(job, job.locale)}", MESSAGE_TEXT)


def ready_dm_text(job: Job, link: str | None) -> str:
    """The direct message once the result is posted: what happened, a link to the result, the prompt."""
    loc = job.locale
    where = f"<{escape(link)}>" if link else ""
    if job.status is JobStatus.TIMED_OUT:
        head = tr("⌛ Your video job #{job} timed out: {link}", loc, job=job.id, link=where)
    elif job.status is JobStatus.FAILED:
        head = tr("❌ Your video job #{job} failed: {link}", loc, job=job.id, link=where)
    else:
        head = tr("🎬 Your video #{job} is ready: {link}", loc, job=job.id, link=where)
    return clip(f"{head}\n> {excerpt(job.prompt, 200)}", MESSAGE_TEXT)
