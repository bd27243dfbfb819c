"""How a job's status message looks in Slack: Block Kit blocks, a fallback text, and its metadata.

The prompt is a ``plain_text`` section (never parsed); every other text from a user or the provider is escaped
before it goes into mrkdwn. Texts are English templates translated for the requester's locale.
"""

from __future__ import annotations

import time
from typing import Any

from bot.display import MOCK_LABEL, SAFETY_HINT, STATE_LABELS, age, progress_bar
from bot.i18n import Locale, tr
from bot.jobs.errors import msg
from bot.jobs.ports import StatusView
from bot.jobs.records import Job, JobStatus
from bot.mock.provider import is_mock_task
from slack.escape import HEADER_TEXT, MESSAGE_TEXT, clip, escape, mrkdwn, one_line, plain_text

PAUSED = msg("⏸️ Waiting: the workspace's moderators paused video jobs")
PAUSED_WHY = msg("⏸️ Waiting: the workspace's moderators paused video jobs: {reason}")
TIMED_OUT_REASON = msg("The video service did not finish it in time. Please try again later.")
NO_VIDEO = msg("The video service could not make this video.")
SAFETY_REFUSAL = msg("The video service's safety filter refused it: {reason}")
IN_FLIGHT = (JobStatus.QUEUED, JobStatus.SUBMITTING, JobStatus.SUBMITTED, JobStatus.RUNNING)


def state_line(job: Job, view: StatusView, locale: Locale | None) -> str:
    """The job's state in one line of mrkdwn: label, and progress, queue position or the pause."""
    if view.paused:
        if view.pause_reason:
            return tr(PAUSED_WHY, locale, reason=escape(one_line(view.pause_reason)))
        return tr(PAUSED, locale)
    label = tr(STATE_LABELS[job.status], locale)
    if job.status in (JobStatus.SUBMITTED, JobStatus.RUNNING):
        return f"{label} · {progress_bar(job.progress)}"
    return label


def failure_reason(job: Job, locale: Locale | None) -> str:
    """Why a job produced no video, in plain words (escaped mrkdwn), with a hint for safety refusals."""
    if job.status is JobStatus.TIMED_OUT:
        return tr(TIMED_OUT_REASON, locale)
    # Known reasons are templates and get translated; a provider's own words stay as they are, made inert.
    reason = escape(one_line(tr(job.error or "", locale))) or tr(NO_VIDEO, locale)
    if job.safety_rejection:
        return tr(SAFETY_REFUSAL, locale, reason=reason) + " " + tr(SAFETY_HINT, locale)
    return reason


def _facts(job: Job, view: StatusView, locale: Locale | None) -> list[str]:
    """The short facts under the state: who, model, orientation, images, place in the queue, quota."""
    facts = [
        tr("Requested by", locale) + f": <@{job.user_id}>",
        tr("Model", locale) + f": {escape(one_line(job.model))}",
        tr("Orientation", locale) + f": {escape(job.orientation)}",
    ]
    if job.image_count:
        frames = tr("first frame", locale) if job.image_count == 1 else tr("first and last frame", locale)
        facts.append(tr("Images", locale) + f": {frames}")
    if job.status in IN_FLIGHT and view.position:
        facts.append(tr("Position", locale) + ": "
                     + tr("{position} in this workspace's queue", locale, position=view.position))
    if view.quota_limit:
        left = max(0, view.quota_limit - (view.quota_used or 0))
        facts.append(tr("Daily quota", locale) + ": "
                     + tr("{left} of {limit} left today", locale, left=left, limit=view.quota_limit))
    return facts


def status_blocks(job: Job, view: StatusView, *, result_link: str | None = None, now: float | None = None
                  ) -> list[dict[str, Any]]:
    """The status message of a job: number, prompt, state, facts, why it failed, where its result is."""
    loc = job.locale
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain_text(tr("Veo video · job #{job}", loc, job=job.id), HEADER_TEXT)},
        {"type": "section", "text": plain_text(job.prompt)},
        {"type": "section", "text": mrkdwn("*" + tr("State", loc) + ":* " + state_line(job, view, loc))},
    ]
    if job.status in (JobStatus.FAILED, JobStatus.TIMED_OUT) and job.error:
        blocks.append({"type": "section", "text": mrkdwn("*" + tr("Why", loc) + ":* " + failure_reason(job, loc))})
    if result_link is not None and job.status is JobStatus.DELIVERED:
        blocks.append({"type": "section", "text": mrkdwn(
            "*" + tr("Result", loc) + ":* " + f"<{escape(result_link)}|" + tr("Jump to the video", loc) + ">")})
    elapsed = (now if now is not None else time.time()) - job.created_at
    context = [*_facts(job, view, loc),
               tr("Job #{job} · {status} · started {age} ago", loc, job=job.id, status=job.status,
                  age=age(elapsed, loc))]
    if is_mock_task(job.task_id):
        context.insert(0, tr(MOCK_LABEL, loc))
    # A context block holds at most ten elements.
    blocks.append({"type": "context", "elements": [mrkdwn(" · ".join(context))]})
    return blocks


def status_text(job: Job, view: StatusView) -> str:
    """The status message's top-level text (notifications, screen readers): job number and state, no prompt."""
    loc = job.locale
    return clip(tr("Veo video · job #{job}", loc, job=job.id) + ": " + state_line(job, view, loc), MESSAGE_TEXT)
