"""``Continuations``: the next clip of a story, a new job whose first frame is the last frame of a kept video."""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass

from bot.jobs.errors import InvalidInput, NotAllowed, NotFound
from bot.jobs.policy import Policy
from bot.jobs.provider import ImageInput
from bot.jobs.records import Job, JobStatus, NewJob, Workspace
from bot.jobs.requests import clean_prompt
from bot.jobs.service import JobService
from bot.jobs.videos import DAY, VideoStore
from bot.media.stills import FRAME_TIMEOUT, FrameError, read_last_frame

log = logging.getLogger(__name__)

# A job has a video to continue from once it completed; it stays so after the video was posted.
VIDEO_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.DELIVERED})


@dataclass(frozen=True, slots=True)
class Requester:
    """Who asks for the next clip, and where: what ``JobService.check_request`` needs to know."""

    workspace: Workspace
    channel_id: str
    user_id: str
    role_ids: Collection[str]
    locale: str | None = None
    rules_channel_id: str | None = None  # the channel whose rules apply (a thread's parent), when not channel_id


class Continuations:
    """Checks that a job's video can be continued, and queues the next clip from its last frame."""

    def __init__(self, service: JobService, videos: VideoStore, *, max_prompt_chars: int, max_image_bytes: int,
                 frame_timeout: float = FRAME_TIMEOUT) -> None:
        self.service = service
        self.videos = videos
        self.max_prompt_chars = max_prompt_chars
        self.max_image_bytes = max_image_bytes
        self.frame_timeout = frame_timeout

    def offered(self, job: Job) -> bool:
        """Whether the job's result offers Continue: a finished video that the bot keeps on disk."""
        return (self.videos.keeps_videos and job.status in VIDEO_STATUSES
                and self.videos.path_for(job.id).is_file())

    async def source(self, job_id: int, requester: Requester) -> Job:
        """The job to continue from, refused plainly when there is nothing to continue or the member may not
        make videos here (rules and daily quotas); cheap enough to run before a form is shown."""
        original, policy = await self._source(job_id, requester)
        await self.service.check_quotas(requester.workspace, requester.user_id, policy)
        return original

    async def _source(self, job_id: int, requester: Requester) -> tuple[Job, Policy]:
        original = await self.service.find_job(str(job_id), requester.workspace)
        if original is None:
            raise NotFound("That job no longer exists.")
        if original.status not in VIDEO_STATUSES:
            raise NotAllowed("Job #{job} has no finished video to continue from.", params={"job": original.id})
        self._check_stored(original)
        rules_channel = requester.rules_channel_id or requester.channel_id
        policy = await self.service.check_request(requester.workspace, rules_channel, requester.role_ids,
                                                  original.model)
        return original, policy

    def _check_stored(self, job: Job) -> None:
        if self.videos.path_for(job.id).is_file():
            return
        if not self.videos.keeps_videos:
            raise NotFound("This bot no longer keeps videos after posting them, so the last frame of job #{job} "
                           "is not available. Save a frame from the video and run /veo with it as `image`.",
                           params={"job": job.id})
        raise NotFound("The stored copy of job #{job}'s video has been removed after {days} days, so its last "
                       "frame is not available. Save a frame from the video and run /veo with it as `image`.",
                       params={"job": job.id, "days": f"{self.videos.retention / DAY:g}"})

    async def create(self, job_id: int, requester: Requester, prompt: str) -> tuple[Job, Job]:
        """Queue the next clip: ``prompt`` from the last frame of job ``job_id``, with its model and orientation,
        counted against the requester's limits like /veo. Returns (the original, the new job)."""
        text = clean_prompt(prompt, self.max_prompt_chars)
        original, policy = await self._source(job_id, requester)
        path = self.videos.path_for(original.id)
        try:
            still = await read_last_frame(path, self.max_image_bytes, time_limit=self.frame_timeout)
        except FileNotFoundError:
            self._check_stored(original)  # pruned since the check above
            raise
        except FrameError as exc:
            log.warning("job=%s last frame unreadable: %s", original.id, exc)
            raise InvalidInput("The last frame of job #{job}'s video could not be read. Save a frame from the "
                               "video and run /veo with it as `image`.", params={"job": original.id}) from exc
        image = ImageInput(data=still.data, filename=f"image.{still.extension}", content_type=still.content_type)
        # The clicker's own choice of a direct message, as for /veo and Regenerate.
        wants_dm = (await self.service.preferences(requester.workspace, requester.user_id)).dm_when_ready
        job = await self.service.create_job(
            NewJob(platform=requester.workspace.platform, workspace_id=requester.workspace.id,
                   channel_id=requester.channel_id, user_id=requester.user_id, prompt=text, model=original.model,
                   orientation=original.orientation, locale=requester.locale, dm_when_ready=wants_dm),
            [image],
            policy=policy,
        )
        log.info("job=%s continues job=%s from its last frame (%s)", job.id, original.id, still)
        return original, job
