"""Slack jobs for the unit tests: a job row as the store would hold it, with the fields a test sets."""

from __future__ import annotations

from typing import Any

from bot.jobs.records import Job, JobStatus

T0 = 1_790_000_000.0


def slack_job(**changes: Any) -> Job:
    """A Slack job (team T1, channel C1, requester U1), queued, with ``changes`` applied."""
    fields: dict[str, Any] = dict(
        id=12, platform="slack", workspace_id="T1", channel_id="C1", user_id="U1", prompt="a red fox in snow",
        model="veo3.1-fast", orientation="16x9", image_count=0, input_dir=None, locale=None,
        status=JobStatus.QUEUED, progress=0, task_id=None, error=None, safety_rejection=False, video_url=None,
        attempts=0, polls=0, next_poll_at=None, created_at=T0, submitted_at=None, completed_at=None,
        finished_at=None, status_message_id=None, status_rendered=None, status_edited_at=None,
        delivery_attempts=0, delivered_at=None, delivered_message_id=None,
    )
    fields.update(changes)
    return Job(**fields)
