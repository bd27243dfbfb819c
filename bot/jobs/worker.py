"""``JobWorker``: submits queued jobs, polls the provider, and hands finished jobs to the notifier."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.jobs.config import CoreConfig
from bot.jobs.delivery import Delivery
from bot.jobs.direct_messages import ReadyMessages
from bot.jobs.errors import msg
from bot.jobs.inputs import load_inputs, remove_inputs
from bot.jobs.leases import Leases
from bot.jobs.ports import Fitter, JobStore, Notifier, StatusView
from bot.jobs.provider import (
    ImageInput,
    ProviderBusy,
    SafetyRejected,
    SubmissionUncertain,
    TaskNotFound,
    TaskState,
    VideoApiError,
    VideoProvider,
)
from bot.jobs.records import Job, JobStatus
from bot.jobs.recovery import remove_leftover_files, tidy_shared_rows
from bot.jobs.schedule import PollSchedule
from bot.jobs.status_messages import StatusMessages, shown_state
from bot.jobs.videos import VideoStore

log = logging.getLogger(__name__)

INTERRUPTED_SUBMISSION = msg(
    "The bot restarted while this job was being sent to the video service, so it is not known whether "
    "the service received it. It was not sent again, to avoid a double charge. Please try again."
)
LOST_INPUTS = msg("The images for this job were lost before it could be sent. Please try again.")
TIMED_OUT = msg("The video service did not finish this job in time.")
NO_VIDEO = msg("The video service could not make this video.")
SUBMIT_FAILED = msg("The job could not be sent to the video service. Please try again later.")


class JobWorker:
    """The background half of the job core: one ``poll_once`` per tick, safe to resume after a crash."""

    def __init__(
        self,
        store: JobStore,
        provider: VideoProvider,
        notifier: Notifier,
        config: CoreConfig,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        videos: VideoStore | None = None,
        fitter: Fitter | None = None,
        owner: str | None = None,
    ) -> None:
        self.store = store
        # Who holds the leases this worker takes: unique per process (and per worker), readable in the database.
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.provider = provider
        self.notifier = notifier
        self.config = config
        self.clock = clock
        self.rng = rng or random.Random()
        self._wake = asyncio.Event()
        self._dispatch_lock = asyncio.Lock()
        self._jobs_limit = asyncio.Semaphore(config.poll_concurrency)
        self.last_tick: float | None = None
        self._step_failed = False
        # Without a configured store, videos live under the data directory only until they are posted.
        self.videos = videos or VideoStore(config.data_dir / "videos")
        self.schedule = PollSchedule(
            interval=config.poll_interval, cold_first_poll=config.first_poll, rng=self.rng,
            enabled=config.adaptive_polling, tick_slack=min(config.tick_gap, config.poll_interval / 4),
        )
        self._schedule_seeded = False
        # The steps under way here: the job ids this worker holds a lease on, with their claims' fencing tokens.
        self.leases = Leases(config.lease_seconds, clock=lambda: self.clock())
        self._started = False
        self._start_lock = asyncio.Lock()
        # Both read the worker's clock at each use: whoever replaces it (a benchmark's simulated clock)
        # replaces theirs too.
        self.status = StatusMessages(store, notifier, config, clock=lambda: self.clock())
        self.delivery = Delivery(store, provider, notifier, self.videos, config, clock=lambda: self.clock(),
                                 jitter=self._jitter, refresh=self.refresh_status, wake=self.wake, fitter=fitter,
                                 may_send=self.leases.may_send, keep_lease=self.leases.keep,
                                 release_lease=self.leases.release,
                                 after_fit=lambda job: self._guarded(job, self._deliver))
        self.ready_messages = ReadyMessages(store, notifier, config, clock=lambda: self.clock(), jitter=self._jitter,
                                            may_send=self.leases.may_send)

    # -- scheduling -----------------------------------------------------------------------------

    def _jitter(self, seconds: float) -> float:
        # +/-20 % spreads polls of jobs submitted together, so they never hit the API in bursts.
        return seconds * self.rng.uniform(0.8, 1.2)

    def _after_error(self, failures: int) -> float:
        delay = min(self.config.poll_interval * 2 ** max(failures, 1), self.config.error_backoff_cap)
        return self.clock() + self._jitter(delay)

    def wake(self) -> None:
        """Make ``run`` tick now (a job was queued, a slot freed)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event, *, idle: float = 5.0, time_scale: float = 1.0) -> None:
        """Tick until ``stop`` is set, sleeping until the soonest due job (at most ``idle`` seconds).

        ``time_scale``: how many clock seconds pass per real second (a benchmark's fast clock).
        """
        log.info("job worker started (lease owner %s)", self.owner)
        heartbeat = asyncio.create_task(self._heartbeat(stop, time_scale))
        watcher = asyncio.create_task(self._watch_for_work(), name="veo-wakeups")
        try:
            await self._tick_until(stop, idle, time_scale)
        finally:
            for task in (heartbeat, watcher):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        log.info("job worker stopped")

    async def _watch_for_work(self) -> None:
        """Tick at once when another process announces new work; the timed tick goes on whatever happens here."""
        try:
            await self.store.watch_for_work(self.wake)
        except Exception:
            log.exception("listening for other processes' new work failed; the worker ticks on its own")

    async def _heartbeat(self, stop: asyncio.Event, time_scale: float) -> None:
        """Renew this worker's leases every quarter of their length, until ``stop``."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.config.lease_seconds / 4 / time_scale)
            if not stop.is_set():
                await self.renew_leases()

    async def renew_leases(self) -> None:
        """Extend the leases of the steps under way here, in one statement; a step whose lease is gone stops
        before it sends anything more."""
        held = self.leases.held()
        if not held:
            return
        now = self.clock()
        try:
            renewed = await self.store.renew_leases(self.owner, held, now, self.config.lease_seconds)
        except Exception:
            log.exception("could not renew the leases of %d job(s)", len(held))
            return
        self.leases.renewed(held, renewed, now)

    async def _tick_until(self, stop: asyncio.Event, idle: float, time_scale: float) -> None:
        while not stop.is_set():
            self._step_failed = False
            # Cleared before the tick, not after: a wake that comes during it (another process announcing work
            # this tick may already have missed) brings the next tick at once rather than being lost.
            self._wake.clear()
            try:
                await self.poll_once()
                failed = self._step_failed
            except Exception:
                # Only the store itself failing gets here; keep going, the next tick may succeed.
                log.exception("poll cycle failed")
                failed = True
            due = await self._next_due()
            delay = idle if due is None else self._sleep_until(due, idle)
            if failed:
                # What failed is still due: without a pause the loop would spin at full speed, flooding the log.
                delay = idle
            waits = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED), delay / time_scale)
            for w in waits:
                w.cancel()

    def _sleep_until(self, due: float, idle: float) -> float:
        """Seconds to sleep before the tick that handles work due at ``due``: none when it is already due
        (a backlog), else at least ``tick_gap``, so the jobs that fall due meanwhile share that tick."""
        ahead = due - self.clock()
        if ahead <= 0:
            return 0.0
        return min(idle, max(ahead, self.config.tick_gap))

    async def _next_due(self) -> float | None:
        try:
            return await self.store.next_due_at()
        except Exception:
            log.exception("could not read the next due time")
            return None

    async def _tidy_after_restart(self) -> None:
        """Once per process, before any download: finish what a crashed predecessor left between two steps."""
        try:
            await remove_leftover_files(self.store, self.videos, now=self.clock())
            await tidy_shared_rows(self.store, lambda job_id: self.refresh_status(job_id, force=True),
                                   owner=self.owner, lease_s=self.config.lease_seconds, clock=self.clock)
        except Exception:
            log.exception("tidying up after the last run failed; carrying on")

    async def _seed_schedule(self) -> None:
        """Learn the durations of recently finished jobs, so a restart keeps the adaptive schedule."""
        self._schedule_seeded = True
        try:
            recent = await self.store.recent_durations(self.schedule.window)
        except Exception:
            log.exception("could not read recent job durations; polling on the fixed schedule until jobs finish")
            return
        # The store knows when the bot saw a job finished: on average half an interval after it did.
        half = self.config.poll_interval / 2
        learned = self.schedule.seed((model, at, max(0.0, seconds - half)) for model, at, seconds in recent)
        log.info("poll schedule learned %d recent durations", learned)

    async def _start(self) -> None:
        """Once, before this worker's first claim: make due at once what a dead process left under way, where
        the store knows it is dead (one SQLite process); elsewhere its leases run out. A job it left in
        ``submitting`` is then failed as interrupted: whether the service received it is unknown, and it must
        not be sent again."""
        async with self._start_lock:
            if not self._started:
                ended = await self.store.end_dead_leases(self.clock())
                self._started = True
                if ended:
                    log.info("%d job(s) were under way when the last run ended; taking them up now", ended)

    async def _fail_interrupted(self, job: Job) -> None:
        log.warning("job=%s submission was interrupted; not resubmitting", job.id)
        await self._fail(job, JobStatus.FAILED, INTERRUPTED_SUBMISSION, from_statuses=(JobStatus.SUBMITTING,))

    async def poll_once(self) -> int:
        """Submit what fits under the caps, then handle every due job once; return how many were handled."""
        self.last_tick = self.clock()
        await self._start()
        if not self._schedule_seeded:
            await self._seed_schedule()
            await self._tidy_after_restart()
        await self.dispatch()
        now = self.clock()
        due = await self.store.claim_due(self.owner, now, self.config.lease_seconds, self.config.poll_batch)
        self.leases.claimed(due, now)
        await asyncio.gather(*(self._guarded(job, self._handle_due) for job in due))
        if due:
            # Jobs that finished freed provider slots: let queued jobs take them in the same tick.
            await self.dispatch()
        return len(due)

    async def _guarded(self, job: Job, step: Callable[[Job], Awaitable[object]]) -> None:
        async with self._jobs_limit:
            try:
                await step(job)
            except Exception:
                # One bad job never stops the loop; it is retried when next due (when its lease runs out).
                log.exception("job=%s step failed in status %s", job.id, job.status)
                self._step_failed = True
            finally:
                self.leases.done(job.id)

    async def dispatch(self) -> list[Job]:
        """Submit queued jobs, oldest first, as long as the user, guild and total caps allow."""
        async with self._dispatch_lock:
            await self._start()
            now = self.clock()
            claimed = await self.store.claim_submittable(
                self.config.limits, now, now + self.config.lease_seconds, self.config.submit_batch, self.owner
            )
            self.leases.claimed(claimed, now)
            await asyncio.gather(*(self._guarded(job, self._submit) for job in claimed))
            return claimed

    # -- one step per job -------------------------------------------------------------------------

    async def _submit(self, job: Job) -> None:
        try:
            images = await self._images(job)
        except (OSError, ValueError, KeyError):
            log.warning("job=%s input images missing", job.id)
            await self._fail(job, JobStatus.FAILED, LOST_INPUTS, from_statuses=(JobStatus.SUBMITTING,))
            return
        if not self.leases.may_send(job.id):
            return  # the lease is gone: whoever holds the job now reports it as interrupted, never resends it
        try:
            task_id = await self.provider.create(job.prompt, job.model, job.orientation, images)
        except VideoApiError as exc:
            log.warning("job=%s submission refused: %s", job.id, type(exc).__name__)
            await self._fail(job, JobStatus.FAILED, exc.user_message,
                             safety=isinstance(exc, SafetyRejected), from_statuses=(JobStatus.SUBMITTING,))
            return
        except Exception:
            log.exception("job=%s submission failed unexpectedly", job.id)
            await self._fail(job, JobStatus.FAILED, SUBMIT_FAILED, from_statuses=(JobStatus.SUBMITTING,))
            return
        finally:
            # Sent or refused, a job is never sent again: its images are of no further use.
            await self._drop_images(job)
        other = await self.store.get_job_by_task(task_id)
        if other is not None and other.id != job.id:
            # Two jobs cannot share a task (a replayed or cached answer?): which one is billed is unknown.
            log.warning("job=%s the service answered with task=%s of job %s; not trusting it", job.id, task_id,
                        other.id)
            await self._fail(job, JobStatus.FAILED, SubmissionUncertain.default_message,
                             from_statuses=(JobStatus.SUBMITTING,))
            return
        now = self.clock()
        if await self.store.mark_submitted(job.id, task_id, now, self.schedule.first_poll(job.id, job.model, now),
                                           token=job.lease_token):
            log.info("job=%s submitted task=%s", job.id, task_id)
        else:
            log.warning("job=%s submitted task=%s but it was cancelled or taken over meanwhile", job.id, task_id)
        await self.refresh_status(job.id, force=True, token=job.lease_token)

    async def _images(self, job: Job) -> list[ImageInput]:
        """The job's input images: stored with it, or (a job queued before they were) in files."""
        images = await self.store.job_images(job.id)
        if not images and job.input_dir is not None:
            images = load_inputs(job.input_dir)
        if len(images) != job.image_count:
            raise FileNotFoundError(f"{len(images)} of {job.image_count} images")
        return images

    async def _drop_images(self, job: Job) -> None:
        if not job.image_count:
            return
        remove_inputs(job.input_dir)
        try:
            await self.store.drop_job_images(job.id)
        except Exception:
            # Never in the way of recording the submission: the tidying after a restart drops them anyway.
            log.exception("job=%s could not forget its input images", job.id)

    async def _handle_due(self, job: Job) -> None:
        if job.status is JobStatus.SUBMITTING:
            # Its submission's lease ran out (or the process that held it is known dead): it was interrupted.
            await self._fail_interrupted(job)
        elif job.status in (JobStatus.SUBMITTED, JobStatus.RUNNING):
            await self._poll(job)
        elif job.needs_notice:
            await self._deliver(job)
        elif job.dm_due:
            # The result was posted but the process stopped before the requester's direct message.
            await self.ready_messages.send(job, token=job.lease_token)
        else:
            await self.store.postpone_delivery(job.id, None, None, token=job.lease_token)

    async def _poll(self, job: Job) -> None:
        assert job.task_id is not None
        now = self.clock()
        if job.submitted_at is not None and now - job.submitted_at > self.config.job_timeout:
            log.info("job=%s timed out", job.id)
            self.schedule.forget(job.id)
            await self._fail(job, JobStatus.TIMED_OUT, TIMED_OUT)
            return
        try:
            status = await self.provider.get(job.task_id)
        except TaskNotFound as exc:
            await self._fail(job, JobStatus.FAILED, exc.user_message)
            return
        except VideoApiError as exc:
            log.warning("job=%s poll failed (%s); retrying later", job.id, type(exc).__name__)
            rate_limited = isinstance(exc, ProviderBusy) and exc.status == 429
            retry_at = self.schedule.rate_limited(now) if rate_limited else self._after_error(job.attempts + 1)
            await self.store.record_poll_error(job.id, retry_at, token=job.lease_token)
            return
        if status.state is TaskState.SUCCEEDED and job.submitted_at is not None:
            self.schedule.completed(job.id, job.model, job.submitted_at, self.clock())  # learn from videos only
        elif status.state is TaskState.FAILED:
            self.schedule.forget(job.id)
        if status.state is TaskState.SUCCEEDED:
            if await self.store.mark_completed(job.id, status.video_url, self.clock(), token=job.lease_token):
                log.info("job=%s completed", job.id)
                # The status message goes straight to "delivered" when the post follows at once; it says
                # "done" only when the post has to wait (a retry), which saves an edit per job. (begin_delivery
                # reads the row afresh, so the one at hand will do.)
                if not await self._deliver(job):
                    await self.refresh_status(job.id, force=True, token=job.lease_token)
        elif status.state is TaskState.FAILED:
            log.info("job=%s failed at the provider (safety=%s)", job.id, status.safety_rejection)
            await self._fail(job, JobStatus.FAILED, status.error or NO_VIDEO,
                             safety=status.safety_rejection)
        else:
            stage = JobStatus.RUNNING if status.progress > 0 or job.status is JobStatus.RUNNING else JobStatus.SUBMITTED
            now = self.clock()
            next_poll = self.schedule.next_poll(job.id, job.model, job.submitted_at or now, now, status.progress)
            # The same test refresh_status makes, on the row at hand: most progress answers change nothing
            # that may be shown yet, and skipping here saves the status queries.
            if await self.store.record_progress(job.id, stage, status.progress, next_poll,
                                                token=job.lease_token) and self.status.may_edit(
                job.platform, shown_state(job), stage, job.status_edited_at, now
            ):
                await self.refresh_status(job.id, token=job.lease_token)

    async def _fail(
        self,
        job: Job,
        status: JobStatus,
        error: str,
        *,
        safety: bool = False,
        from_statuses: tuple[JobStatus, ...] = (JobStatus.SUBMITTING, JobStatus.SUBMITTED, JobStatus.RUNNING),
    ) -> None:
        if await self.store.mark_failed(job.id, status, error, self.clock(), safety_rejection=safety,
                                        from_statuses=from_statuses, token=job.lease_token):
            await self._drop_images(job)
            await self.refresh_status(job.id, force=True, token=job.lease_token)
            fresh = await self.store.get_job(job.id)
            if fresh is not None:
                await self._deliver(fresh, token=job.lease_token)

    # -- delivery: exactly once (bot/jobs/delivery.py) ---------------------------------------------------

    def video_path(self, job: Job) -> Path:
        """Where a job's downloaded video is kept (until it is posted, or for the store's retention)."""
        return self.delivery.video_path(job)

    async def _deliver(self, job: Job, *, token: int | None = None) -> bool:
        """Post the job's result under the step's claim (``token``: the claim's, when ``job`` was read since)."""
        token = job.lease_token if token is None else token
        delivered = await self.delivery.deliver(job, token=token)
        if delivered and job.dm_when_ready:
            fresh = await self.store.get_job(job.id)
            if fresh is not None:
                await self.ready_messages.send(fresh, token=token)
        return delivered

    # -- the status message -----------------------------------------------------------------------

    async def status_view(self, job: Job) -> StatusView:
        """What the job's status message shows besides the job: position, quota, pause."""
        return await self.status.view(job)

    async def refresh_status(self, job_id: int, *, force: bool = False, token: int | None = None) -> None:
        """Show the job's state in its status message, skipping edits that change nothing or come too often;
        ``token``: the worker step's claim, whose loss stops it."""
        await self.status.refresh(job_id, force=force, token=token)
