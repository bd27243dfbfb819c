"""``UploadFitting``: picks the file a finished job's result carries: the video itself when it fits where it is
posted, else a copy re-encoded to fit; the original stays for the lasting link and the retention.

An encode takes seconds to minutes, so it runs in the background: the worker goes on polling and posting
other jobs meanwhile, and is told when the copy is ready (or cannot be made) to post the result then. Each fit
remembers the fencing token of the claim it runs under, so that the post that follows it is refused once another
process has taken the job over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.jobs.ports import Fitter, Notifier
from bot.jobs.records import Job
from bot.jobs.videos import VideoStore
from bot.media.fitter import FitOutcome, FitResult

log = logging.getLogger(__name__)


class UploadFitting:
    """Fits videos over their workspace's upload limit; without a ``fitter``, every video goes as it is."""

    def __init__(
        self,
        fitter: Fitter | None,
        notifier: Notifier,
        videos: VideoStore,
        *,
        on_done: Callable[[int, int | None], Awaitable[None]],
    ) -> None:
        self.fitter = fitter
        self.notifier = notifier
        self.videos = videos
        self._on_done = on_done
        self._running: dict[int, asyncio.Task[None]] = {}
        self._tokens: dict[int, int | None] = {}  # per fit under way: the token of the claim it runs under
        # Every fit's task, until the post that follows it is over too (``running`` ends with the encode).
        self._tasks: set[asyncio.Task[None]] = set()
        # The limit each job's video could not be fitted to, so that the next attempt goes straight to the link
        # (and a later one, after a failed post, does not encode again).
        self._unfit: dict[int, int] = {}

    async def file_for(self, job: Job, video: Path, *, token: int | None = None) -> Path | None:
        """The file to post for ``job``: ``video`` when it fits (or cannot be made to), its fitted copy once
        made, or None while the copy is being made (``on_done`` is called with the job's id and the token of the
        claim the fit runs under when it is over)."""
        if self.fitter is None:
            return video
        limit = await self.notifier.max_upload_bytes(job)
        size = video.stat().st_size
        if size <= limit:
            return video
        fitted = self.videos.fitted_path_for(job.id)
        if fitted.is_file() and fitted.stat().st_size <= limit:
            return fitted  # made for this attempt, or before a crash or a failed post
        if self._unfit.get(job.id) == limit:
            return video
        self._tokens[job.id] = token
        if job.id not in self._running:
            log.info("job=%s video of %d bytes is over the upload limit of %d bytes; fitting it", job.id, size, limit)
            task = asyncio.create_task(self._fit(job.id, video, size, fitted, limit), name=f"veo-fit-{job.id}")
            self._running[job.id] = task
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return None

    async def _fit(self, job_id: int, video: Path, size: int, fitted: Path, limit: int) -> None:
        assert self.fitter is not None
        try:
            try:
                result = await self.fitter.fit(video, fitted, limit)
            except OSError as exc:  # no room for the copy, no way to start the encoder: the link still serves
                result = FitResult(FitOutcome.FAILED, f"{type(exc).__name__}: {exc}")
            if result.fitted:
                log.info("job=%s video of %d bytes fitted to %s bytes under the upload limit of %d",
                         job_id, size, result.size, limit)
            else:
                self._unfit[job_id] = limit
                log.warning("job=%s video of %d bytes is over the upload limit of %d bytes and was not fitted "
                            "(%s: %s); posting a link", job_id, size, limit, result.outcome, result.detail)
        except Exception:
            self._unfit[job_id] = limit
            log.exception("job=%s fitting the video failed; posting a link", job_id)
        finally:
            self._running.pop(job_id, None)
        try:
            await self._on_done(job_id, self._tokens.pop(job_id, None))
        except Exception:  # the job is due again when its lease runs out
            log.exception("job=%s could not post the result after fitting", job_id)

    def adopt(self, job_id: int, token: int | None) -> None:
        """The job's fit under way here now runs under a later claim (its lease was lost for a while, then claimed
        again by this process)."""
        if job_id in self._running:
            self._tokens[job_id] = token

    def discard(self, job_id: int) -> None:
        """Forget the job and remove its fitted copy: its result is posted, or will never be."""
        self._unfit.pop(job_id, None)
        self._tokens.pop(job_id, None)
        self.videos.fitted_path_for(job_id).unlink(missing_ok=True)

    @property
    def running(self) -> tuple[int, ...]:
        """The jobs whose videos are being fitted now."""
        return tuple(self._running)

    async def wait(self) -> None:
        """Return once every fit started so far is over, and the post that follows it."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> dict[int, int | None]:
        """Stop every fit (their encoders are killed); return the stopped fits' jobs with the tokens of their claims,
        for a later attempt to post."""
        stopped = {job_id: self._tokens.pop(job_id, None) for job_id in self._running}
        tasks = list(self._tasks)  # the posts that follow fits too: the process is going away
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        return stopped
