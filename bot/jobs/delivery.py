"""``Delivery``: posts a finished job's result exactly once: the video (or a link to it), or the notice
that it failed."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.jobs.config import CoreConfig
from bot.jobs.fitting import UploadFitting
from bot.jobs.ports import DeliveryFailed, Fitter, JobStore, Notifier
from bot.jobs.provider import VideoApiError, VideoProvider, VideoTooLarge
from bot.jobs.records import Job, JobStatus
from bot.jobs.videos import VideoStore

log = logging.getLogger(__name__)


class _TryLater(Exception):
    """A step failed in a way the next attempt may fix; it is already scheduled."""


class Delivery:
    """One delivery attempt per call: counted before it starts, recorded once posted.

    Counting the attempt (and scheduling the next) before anything is posted means a crash in the middle
    of an upload leaves a row that says so; the notifier then checks the channel before posting again.
    """

    def __init__(
        self,
        store: JobStore,
        provider: VideoProvider,
        notifier: Notifier,
        videos: VideoStore,
        config: CoreConfig,
        *,
        clock: Callable[[], float],
        jitter: Callable[[float], float],
        refresh: Callable[..., Awaitable[None]],
        wake: Callable[[], None],
        fitter: Fitter | None = None,
        may_send: Callable[[int], bool] = lambda job_id: True,
    ) -> None:
        self.store = store
        self.provider = provider
        self.notifier = notifier
        self.videos = videos
        self.config = config
        self.clock = clock
        self._jitter = jitter
        self._refresh = refresh
        self._wake = wake
        self._may_send = may_send
        self.fitting = UploadFitting(fitter, notifier, videos, on_done=self._fitting_done)

    def video_path(self, job: Job) -> Path:
        """Where a job's downloaded video is kept (until it is posted, or for the store's retention)."""
        return self.videos.path_for(job.id)

    async def deliver(self, job: Job, *, token: int | None = None) -> bool:
        """Post the job's result (video or failure notice) once; return whether it was posted now.

        ``token``: the fencing token of the worker step's claim; every write is refused once the job is taken
        over, and nothing is posted once the step may no longer send.
        """
        if job.id in self.fitting.running:
            # Its copy is still being made: look again a little later, without counting an attempt.
            await self.store.postpone_delivery(job.id, self.clock() + self.config.fit_recheck, None, token=token)
            return False
        backoff = min(self.config.delivery_retry_base * 2 ** job.delivery_attempts, self.config.delivery_retry_cap)
        retry_at = self.clock() + self._jitter(backoff)
        started = await self.store.begin_delivery(job.id, retry_at, token=token)
        if started is None:
            return False
        try:
            if started.status is JobStatus.COMPLETED:
                video = await self._download(started)
                if video is not None:
                    video = await self.fitting.file_for(started, video)
                    if video is None:
                        # Being fitted in the background: posted when that is over (or, if this process dies
                        # first, fitted again soon after it is back).
                        await self.store.postpone_delivery(job.id, self.clock() + self.config.fit_recheck, None,
                                                           token=token)
                        return False
                if not self._may_send(job.id):
                    return False
                message_id = await self.notifier.deliver_video(started, video)
            else:
                if not self._may_send(job.id):
                    return False
                message_id = await self.notifier.deliver_failure(started)
        except _TryLater:
            await self.store.postpone_delivery(job.id, retry_at, None, token=token)
            return False
        except DeliveryFailed as exc:
            give_up = exc.permanent or started.delivery_attempts >= self.config.max_delivery_attempts
            log.warning("job=%s delivery failed (%s)%s", job.id, exc.reason, "; giving up" if give_up else "")
            if give_up:
                await self.store.postpone_delivery(job.id, None, f"Could not post the result: {exc.reason}",
                                                   token=token)
                self.fitting.discard(job.id)
            else:
                await self.store.postpone_delivery(job.id, retry_at, None, token=token)
            return False
        if not await self.store.mark_delivered(job.id, message_id, self.clock(), token=token):
            log.warning("job=%s posted message=%s but the job was taken over meanwhile", job.id, message_id)
            return False
        log.info("job=%s delivered message=%s", job.id, message_id)
        self.fitting.discard(job.id)
        if not self.videos.keeps_videos:
            self.video_path(job).unlink(missing_ok=True)
        await self._refresh(job.id, force=True, token=token)
        self._wake()
        return True

    async def _fitting_done(self, job_id: int) -> None:
        """Post the job's result now that its copy is fitted (or cannot be)."""
        await self.store.postpone_delivery(job_id, self.clock(), None)
        self._wake()

    async def close(self) -> None:
        """Stop the fits in progress (the worker is stopping)."""
        await self.fitting.close()

    async def _download(self, job: Job) -> Path | None:
        path = self.video_path(job)
        if path.exists():
            return path  # a complete file from an interrupted attempt (downloads land by rename)
        path.parent.mkdir(parents=True, exist_ok=True)
        assert job.task_id is not None
        try:
            await self.provider.download(job.task_id, job.video_url, path)
        except VideoTooLarge:
            log.info("job=%s video over the download cap; delivering a link", job.id)
            return None
        except VideoApiError as exc:
            log.warning("job=%s download failed (%s), attempt %s", job.id, type(exc).__name__,
                        job.delivery_attempts)
            if job.delivery_attempts < self.config.download_attempts:
                raise _TryLater from exc
            return None  # deliver a link (or say the file is unavailable) rather than nothing
        return path
