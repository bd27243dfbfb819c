"""What the job core knows of a video provider: its interface, the task records it returns, and the
errors it raises. CometAPI's client (``bot.comet``) and the mock (``bot.mock``) implement it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import ClassVar, Protocol

from bot.jobs.errors import UserFacingError


class TaskState(StrEnum):
    """The three states the bot cares about; every provider spelling maps onto one of them."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class TaskStatus:
    """One normalised answer to ``GET /videos/{id}``."""

    task_id: str
    state: TaskState
    progress: int
    video_url: str | None
    error: str | None
    safety_rejection: bool
    raw_status: str


@dataclass(frozen=True, slots=True)
class ImageInput:
    """A reference image sent as one ``input_reference`` file part."""

    data: bytes
    filename: str
    content_type: str

    def __repr__(self) -> str:
        # Image bytes would flood logs and tracebacks.
        size = len(self.data)
        return f"ImageInput(filename={self.filename!r}, content_type={self.content_type!r}, {size} B)"


class VideoApiError(UserFacingError):
    """Base of all video-API failures; ``retryable`` says whether trying again later can help."""

    retryable: ClassVar[bool] = False
    default_message = "The video service failed unexpectedly. Please try again later."

    def __init__(
        self, user_message: str | None = None, *, detail: str | None = None, status: int | None = None
    ) -> None:
        super().__init__(user_message, detail=detail)
        self.status = status


class ProviderConfigError(VideoApiError):
    """The service refused the bot's credentials or the base URL is wrong: an operator problem."""

    default_message = (
        "The bot is misconfigured: the video service refused its credentials. Please tell a server admin."
    )


class ProviderRejected(VideoApiError):
    """The service refused this request (a 400): retrying the same request cannot help."""

    default_message = "The video service rejected the request."


class SafetyRejected(ProviderRejected):
    """The service's safety / content-policy filter refused the prompt or image."""

    default_message = (
        "The video service's safety filter blocked this request. "
        "Try rephrasing the prompt or using a different image."
    )


class ProviderBusy(VideoApiError):
    """Rate limits, server errors or network trouble outlasted the retry budget."""

    retryable = True
    default_message = "The video service is busy or unreachable right now. Please try again in a few minutes."


class SubmissionUncertain(VideoApiError):
    """The create request failed ambiguously: the job may or may not exist (and be billed)."""

    default_message = (
        "The video service did not confirm the request, so it may or may not have been accepted. "
        "It was not resent automatically, to avoid paying twice. Check again later or try again."
    )


class TaskNotFound(VideoApiError):
    """The service does not know this task id (expired or never created)."""

    default_message = "The video service no longer knows this job; it may have expired."


class InvalidProviderResponse(VideoApiError):
    """The service answered with JSON the bot cannot use (truncated, wrong shape, no id)."""

    retryable = True
    default_message = "The video service sent a reply the bot could not understand. Please try again later."


class DownloadFailed(VideoApiError):
    """The finished video could not be fetched or is not an MP4."""

    retryable = True
    default_message = "The video was made but could not be downloaded. Please try again later."


class VideoTooLarge(DownloadFailed):
    """The finished video is bigger than the bot's download cap."""

    retryable = False
    default_message = "The generated video is too large for the bot to deliver."


class VideoProvider(Protocol):
    """Makes videos: CometAPI's client, or the local mock."""

    async def create(
        self, prompt: str, model: str, orientation: str, images: Sequence[ImageInput] = ()
    ) -> str: ...
    async def get(self, task_id: str) -> TaskStatus: ...
    async def download(self, task_id: str, video_url: str | None, dest: Path) -> int: ...
