"""``JobService``: what a chat front-end asks of the job core (create, find, list, cancel)."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.comet_types import ImageInput
from bot.errors import NotAllowed, NotFound
from bot.inputs import remove_inputs, save_inputs
from bot.models import IN_FLIGHT_STATUSES, Job, JobStatus, NewJob
from bot.ports import JobStore
from bot.worker import JobWorker

log = logging.getLogger(__name__)

RECENT_FAILURES_WINDOW = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class GuildOverview:
    """A guild's queue as moderators see it."""

    in_flight: list[Job]
    recent_failures: list[Job]


class JobService:
    """The front-end's entry to the job core; holds no chat-platform code."""

    def __init__(self, store: JobStore, worker: JobWorker, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.worker = worker
        self.clock = clock

    async def create_job(self, new: NewJob, images: Sequence[ImageInput] = ()) -> Job:
        """Store a request (images first, then the row), post its status message, and submit if a slot is free."""
        input_dir = save_inputs(self.worker.config.data_dir, images)
        try:
            job = await self.store.insert_job(
                dataclasses.replace(new, image_count=len(images), input_dir=input_dir), self.clock()
            )
        except BaseException:
            remove_inputs(input_dir)
            raise
        log.info("job=%s created guild=%s user=%s model=%s images=%s",
                 job.id, job.guild_id, job.user_id, job.model, job.image_count)
        await self.worker.refresh_status(job.id, force=True)
        await self.worker.dispatch()
        self.worker.wake()
        fresh = await self.store.get_job(job.id)
        return fresh or job

    async def find_job(self, ref: str, guild_id: int) -> Job | None:
        """The guild's job named by its number (``12`` or ``#12``) or by the provider's task id."""
        text = ref.strip().removeprefix("#").strip()
        job: Job | None = None
        if text.isdigit() and len(text) < 19:
            job = await self.store.get_job(int(text))
        if job is None and text:
            job = await self.store.get_job_by_task(text)
        return job if job is not None and job.guild_id == guild_id else None

    async def position(self, job: Job) -> int:
        """1-based position among the guild's jobs in flight (0 when finished)."""
        return await self.store.queue_position(job)

    async def user_jobs(self, guild_id: int, user_id: int, limit: int = 10) -> list[Job]:
        """A user's most recent jobs in a guild, newest first."""
        return await self.store.user_jobs(guild_id, user_id, limit)

    async def guild_overview(self, guild_id: int) -> GuildOverview:
        """The guild's jobs in flight, oldest first, and its failures of the last 24 hours."""
        return GuildOverview(
            in_flight=await self.store.in_flight(guild_id),
            recent_failures=await self.store.failures_since(guild_id, self.clock() - RECENT_FAILURES_WINDOW),
        )

    async def cancel(self, ref: str, guild_id: int, user_id: int, *, is_moderator: bool) -> Job:
        """Cancel a job in flight; owners may cancel their own, moderators any in the guild."""
        job = await self.find_job(ref, guild_id)
        if job is None or (job.user_id != user_id and not is_moderator):
            raise NotFound(f"There is no job {ref.strip()[:40]!r} of yours in this server. "
                           "Use /veo-status to see your jobs.")
        if job.status not in IN_FLIGHT_STATUSES:
            raise NotAllowed(f"Job #{job.id} has already finished ({_label(job.status)}); there is nothing to cancel.")
        if not await self.store.cancel(job.id, self.clock()):
            fresh = await self.store.get_job(job.id)
            state = _label(fresh.status) if fresh else "gone"
            raise NotAllowed(f"Job #{job.id} finished while you were cancelling it ({state}).")
        remove_inputs(job.input_dir)
        log.info("job=%s cancelled by user=%s moderator=%s", job.id, user_id, is_moderator)
        await self.worker.refresh_status(job.id, force=True)
        self.worker.wake()  # its slot is free for the next queued job
        cancelled = await self.store.get_job(job.id)
        assert cancelled is not None
        return cancelled


def _label(status: JobStatus) -> str:
    return status.replace("_", " ")
