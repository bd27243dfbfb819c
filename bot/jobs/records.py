"""The job record and its states, shared by the job core, the store and the chat faces.

Ids from chat platforms are opaque text: Discord's snowflakes as decimal text, Slack's ids (``T…``, ``C…``,
``U…``) and message timestamps (``1712345678.123456``) as they are. ``platform`` names the face a job came
from; a workspace is a Discord server or a Slack workspace.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple


class Workspace(NamedTuple):
    """Where a job lives: a chat platform and one of its workspaces (a Discord server, a Slack workspace)."""

    platform: str
    id: str


class JobStatus(StrEnum):
    """A job's state; the same strings are stored in the database and written to the logs."""

    QUEUED = "queued"  # stored, waiting for a free slot to be submitted
    SUBMITTING = "submitting"  # the create request is being sent; ambiguous if the process dies here
    SUBMITTED = "submitted"  # the provider accepted it and has not reported progress yet
    RUNNING = "running"  # the provider reports it is generating
    COMPLETED = "completed"  # the video is ready and waits to be posted
    DELIVERED = "delivered"  # the video was posted in the channel
    FAILED = "failed"  # no video: the provider refused or failed, or the submission was uncertain
    CANCELLED = "cancelled"  # stopped by its owner or a moderator
    TIMED_OUT = "timed_out"  # no result within the job timeout

    @property
    def is_terminal(self) -> bool:
        """True when nothing more will happen to the job at the provider."""
        return self in TERMINAL_STATUSES

    @property
    def is_active(self) -> bool:
        """True while the job holds one of the provider's concurrency slots."""
        return self in ACTIVE_STATUSES


ACTIVE_STATUSES = frozenset({JobStatus.SUBMITTING, JobStatus.SUBMITTED, JobStatus.RUNNING})
IN_FLIGHT_STATUSES = frozenset({JobStatus.QUEUED, *ACTIVE_STATUSES})
TERMINAL_STATUSES = frozenset({JobStatus.DELIVERED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.TIMED_OUT})


@dataclass(frozen=True, slots=True)
class NewJob:
    """What a face knows when a member asks for a video, before the job has a number."""

    platform: str
    workspace_id: str
    channel_id: str
    user_id: str
    prompt: str
    model: str
    orientation: str
    image_count: int = 0
    input_dir: str | None = None
    locale: str | None = None
    in_thread: bool = False  # the status message and the result go into a thread of their own
    dm_when_ready: bool = False  # the requester asked for a direct message once the result is posted

    @property
    def workspace(self) -> Workspace:
        """The platform and workspace the job will belong to."""
        return Workspace(self.platform, self.workspace_id)


@dataclass(frozen=True, slots=True)
class Job:
    """One row of the job store: everything needed to finish a job after a restart."""

    id: int
    platform: str
    workspace_id: str
    channel_id: str
    user_id: str
    prompt: str
    model: str
    orientation: str
    image_count: int
    input_dir: str | None
    locale: str | None
    status: JobStatus
    progress: int
    task_id: str | None
    error: str | None
    safety_rejection: bool
    video_url: str | None
    attempts: int
    polls: int
    next_poll_at: float | None
    created_at: float
    submitted_at: float | None
    completed_at: float | None
    finished_at: float | None
    status_message_id: str | None
    status_rendered: str | None
    status_edited_at: float | None
    delivery_attempts: int
    delivered_at: float | None
    delivered_message_id: str | None
    refunded: bool = False  # does not count against daily quotas
    in_thread: bool = False  # the status message starts a thread, and the result is posted in it
    dm_when_ready: bool = False  # the requester is told by direct message once the result is posted
    dm_sent_at: float | None = None  # when that direct message was sent (or given up)
    # The lease: the process whose worker step is under way on the job (None when none is), and the fencing
    # token of the latest claim. While leased, ``next_poll_at`` is when the lease runs out.
    lease_owner: str | None = None
    lease_token: int = 0

    @property
    def workspace(self) -> Workspace:
        """The platform and workspace the job belongs to."""
        return Workspace(self.platform, self.workspace_id)

    @property
    def needs_notice(self) -> bool:
        """True when the channel still has to be told of the result (video or failure)."""
        return self.delivered_at is None and self.status in (
            JobStatus.COMPLETED,
            JobStatus.FAILED,
            JobStatus.TIMED_OUT,
        )

    @property
    def dm_due(self) -> bool:
        """True when the result is posted and the requester's direct message about it is still to be sent."""
        return self.dm_when_ready and self.delivered_at is not None and self.dm_sent_at is None


@dataclass(frozen=True, slots=True)
class Limits:
    """How many jobs may hold a provider slot at once, per user, per guild and in total."""

    per_user: int
    per_guild: int
    total: int
