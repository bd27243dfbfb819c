"""``UploadFitting``: picks the file a finished job's result carries: the video itself when it fits where it is
posted, else a copy re-encoded to fit; the original stays for the lasting link and the retention."""

from __future__ import annotations

import logging
from pathlib import Path

from bot.jobs.ports import Fitter, Notifier
from bot.jobs.records import Job
from bot.jobs.videos import VideoStore
from bot.media.fitter import FitOutcome, FitResult

log = logging.getLogger(__name__)


class UploadFitting:
    """Fits videos over their workspace's upload limit; without a ``fitter``, every video goes as it is."""

    def __init__(self, fitter: Fitter | None, notifier: Notifier, videos: VideoStore) -> None:
        self.fitter = fitter
        self.notifier = notifier
        self.videos = videos
        # The limit each job's video could not be fitted to, so that a later attempt (the post failed for
        # another reason) goes straight to the link instead of encoding again.
        self._unfit: dict[int, int] = {}

    async def file_for(self, job: Job, video: Path) -> Path:
        """The file to post for ``job``: ``video`` when it fits (or cannot be made to), else its fitted copy."""
        if self.fitter is None:
            return video
        limit = await self.notifier.max_upload_bytes(job)
        size = video.stat().st_size
        if size <= limit:
            return video
        fitted = self.videos.fitted_path_for(job.id)
        if fitted.is_file() and fitted.stat().st_size <= limit:
            log.info("job=%s using the copy fitted by an earlier attempt", job.id)
            return fitted  # a crash (or a failed post) came between the fit and the post
        if self._unfit.get(job.id) == limit:
            return video
        try:
            result = await self.fitter.fit(video, fitted, limit)
        except OSError as exc:  # no room for the copy, no way to start the encoder: the link still serves
            result = FitResult(FitOutcome.FAILED, f"{type(exc).__name__}: {exc}")
        if result.fitted:
            log.info("job=%s video of %d bytes fitted to %s bytes under the upload limit of %d",
                     job.id, size, result.size, limit)
            return fitted
        self._unfit[job.id] = limit
        log.warning("job=%s video of %d bytes is over the upload limit of %d bytes and was not fitted (%s: %s); "
                    "posting a link", job.id, size, limit, result.outcome, result.detail)
        return video

    def discard(self, job_id: int) -> None:
        """Forget the job and remove its fitted copy: its result is posted, or will never be."""
        self._unfit.pop(job_id, None)
        self.videos.fitted_path_for(job_id).unlink(missing_ok=True)
