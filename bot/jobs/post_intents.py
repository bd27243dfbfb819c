"""What a face is about to post for a job, recorded before each call that cannot safely be made twice.

Some platforms take a message with no idempotency key (Slack's ``chat.postMessage`` and
``files.completeUploadExternal``): when a call's answer is lost (the process dies, the connection drops), nobody
knows whether the message went through. A face records its intent first; whoever tries again finds the record,
looks on the platform for what did get through, and adopts it instead of posting a second copy. The rows are
platform-neutral: a kind of message, a stage, the platform's file id and message id.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class PostKind(StrEnum):
    """Which of a job's messages an intent is about (one row per job and kind)."""

    STATUS = "status"  # the status message, kept current by edits
    RESULT = "result"  # the video (or the link to it)
    FAILURE = "failure"  # the notice that the job failed or timed out
    DM = "dm"  # the requester's direct message once the result is posted


class PostStage(StrEnum):
    """How far a post got; the stages before ``POSTED`` say what to look for after an interruption."""

    POSTING = "posting"  # a message is being posted: it may or may not have gone through
    UPLOADING = "uploading"  # a file is reserved (``file_id``) and its bytes are being sent: nothing visible yet
    COMPLETING = "completing"  # the upload is being completed (shared): it may or may not have gone through
    COMPLETED = "completed"  # the upload is complete; its message appears in the channel a little later
    POSTED = "posted"  # the message is there: ``message_id`` names it


@dataclass(frozen=True, slots=True)
class PostIntent:
    """One job's record of one message it is posting or has posted."""

    job_id: int
    kind: str
    stage: str
    updated_at: float
    file_id: str | None = None
    message_id: str | None = None
