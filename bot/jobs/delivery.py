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
        keep_lease: Callable[[int], None] = lambda job_id: None,
        after_fit: Callable[[Job], Awaitable[None]] | None = None,
        release_lease: Callable[[int], None] = lambda job_id: None,
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
        self._keep_lease = keep_lease
        self._after_fit = after_fit
        self._release_lease = release_lease
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
            # Its copy is being made here, and this process claimed the job again (its lease ran out unrenewed for
            # a while): the fit goes on under this claim, without counting an attempt.
            self.fitting.adopt(job.id, token)
            self._keep_lease(job.id)
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
                    video = await self.fitting.file_for(started, video, token=token)
                    if video is None:
                        # Being fitted in the background, under this step's lease, which stays held (and renewed)
                        # until the fit is over and the result posted here. If this process dies first, another
                        # takes the job over when the lease runs out (a restarted SQLite process at once).
                        self._keep_lease(job.id)
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

    async def _fitting_done(self, job_id: int, token: int | None) -> None:
        """Post the job's result now that its copy is fitted (or cannot be), under the claim the fit ran under;
        nothing is posted once another process has taken the job over (it posts the result itself)."""
        try:
            job = await self.store.get_job(job_id)
        except BaseException:
            self._release_lease(job_id)  # no longer renewed here: the job falls due when its lease runs out
            raise
        if job is None or (token is not None and job.lease_token != token):
            log.warning("job=%s fit over, but another process has taken the job over; it posts the result", job_id)
            self._release_lease(job_id)
            return
        if self._after_fit is not None:
            await self._after_fit(job)  # a worker step, under the lease the fit kept
        elif await self.store.postpone_delivery(job_id, self.clock(), None, token=token):
            self._wake()

    async def close(self, *, give_up: bool = True) -> None:
        """Stop the fits in progress (the worker is stopping) and, with ``give_up``, free their jobs at once, so
        that a later attempt (another process's, or this one's after a restart) fits and posts them; without it
        (a crash) their leases run out."""
        stopped = await self.fitting.close()
        if not give_up:
            return
        for job_id, token in stopped.items():
            try:
                await self.store.postpone_delivery(job_id, self.clock(), None, token=token)
            except Exception:  # its lease runs out instead
                log.exception("job=%s could not give up the job whose fit was stopped", job_id)
            self._release_lease(job_id)

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
