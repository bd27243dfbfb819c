"""``StatusMessages``: keeps each job's status message in step with the job, with coarse edits."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Callable

from bot.jobs.config import CoreConfig
from bot.jobs.policy import Policy, day_start
from bot.jobs.ports import JobStore, Notifier, StatusView
from bot.jobs.records import Job, JobStatus

log = logging.getLogger(__name__)

# States shown as one phase: a job the provider accepted and one it is working on are both "at the
# provider"; going from one to the other is a change of progress, not news.
_PHASE = {JobStatus.SUBMITTED.value: JobStatus.RUNNING.value}
BUDGET_BURST = 10.0


def shown_state(job: Job) -> str:
    """The state the job's status message shows now (stored first in what was rendered), or ""."""
    return (job.status_rendered or "").split("|", 1)[0]


def phase(state: str) -> str:
    """The phase a stored state belongs to, for deciding whether a change is news."""
    return _PHASE.get(state, state)


class EditBudget:
    """A token bucket: at most ``rate`` edits a second on average, ``burst`` at once."""

    def __init__(self, rate: float, burst: float = BUDGET_BURST) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._at: float | None = None

    def _refill(self, now: float) -> None:
        if self._at is not None:
            self._tokens = min(self.burst, self._tokens + max(0.0, now - self._at) * self.rate)
        self._at = now if self._at is None else max(self._at, now)

    def ready(self, now: float) -> bool:
        """Whether an edit could be spent now (nothing is spent)."""
        if self.rate <= 0:
            return True
        self._refill(now)
        return self._tokens >= 1.0

    def take(self, now: float) -> bool:
        """Spend one edit if the budget allows it now."""
        if not self.ready(now):
            return False
        if self.rate > 0:
            self._tokens -= 1.0
        return True


class StatusMessages:
    """Decides what a job's status message shows and when it is edited; the notifier does the posting.

    News (a new phase: queued, at the provider, done, failed, cancelled) is shown at once. A change of
    progress or queue position alone is shown at most every ``progress_edit_every`` seconds per job, and
    such edits share a platform's budget (``progress_edits_per_second``), so that thousands of jobs in
    flight never spend Discord's request allowance on progress bars.
    """

    def __init__(
        self, store: JobStore, notifier: Notifier, config: CoreConfig, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.notifier = notifier
        self.config = config
        self.clock = clock
        # One budget per chat platform: each face has its own request limits (``set_budget``).
        self.budgets: dict[str, EditBudget] = {}
        # One refresh per job at a time: two at once could both post a first message.
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}

    async def view(self, job: Job) -> StatusView:
        """What the job's status message shows besides the job: position, quota, pause."""
        position = await self.store.queue_position(job)
        policy = Policy.effective(self.config.workspace_defaults, await self.store.workspace_settings(job.workspace))
        paused = policy.paused and job.status is JobStatus.QUEUED
        view = StatusView(position=position, paused=paused, pause_reason=policy.pause_reason if paused else None)
        if policy.daily_quota_per_user:
            used, _ = await self.store.quota_used(job.workspace, job.user_id, day_start(self.clock()))
            view = dataclasses.replace(view, quota_used=used, quota_limit=policy.daily_quota_per_user)
        return view

    @contextlib.asynccontextmanager
    async def _job_lock(self, job_id: int) -> AsyncIterator[None]:
        lock, users = self._locks.get(job_id, (asyncio.Lock(), 0))
        self._locks[job_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[job_id]
            if users <= 1:
                del self._locks[job_id]
            else:
                self._locks[job_id] = (lock, users - 1)

    async def refresh(self, job_id: int, *, force: bool = False, token: int | None = None) -> None:
        """Show the job's state in its status message, skipping edits that change nothing or come too often.

        ``token``: the fencing token of the worker step that asks; nothing is posted, edited or recorded once
        another claim has taken the job (a member's command passes none: it may show any job's state).
        """
        async with self._job_lock(job_id):
            await self._refresh(job_id, force, token)

    async def _refresh(self, job_id: int, force: bool, token: int | None) -> None:
        job = await self.store.get_job(job_id)
        if job is None:
            return
        if token is not None and job.lease_token != token:
            # Read afresh: the step's own last write may have freed the lease, but only another claim changes the
            # token, and then the new holder shows the job.
            log.info("job=%s status message left alone: another claim has taken the job", job_id)
            return
        shown = shown_state(job)
        posted = job.status_message_id is not None
        if posted and not force and not self.may_edit(
            job.platform, shown, job.status, job.status_edited_at, self.clock()
        ):
            return  # decided on the row alone, before the queries the view needs
        view = await self.view(job)
        rendered = f"{job.status}|{job.progress}|{view.position}|{job.delivered_message_id}|{view.paused}"
        if posted:
            if rendered == job.status_rendered:
                return
            if not force and phase(shown) == phase(job.status) and not self.budget(job.platform).take(self.clock()):
                return  # the platform's budget for progress edits is spent: a later poll tries again
        began = None if posted else self.clock()
        if began is not None and not await self.store.begin_status_post(job.id, began, self.config.lease_seconds,
                                                                         token=token):
            # Another caller (here or in another process) is posting it, or the job was taken over: the first
            # message is posted once, and a later refresh edits it.
            return
        try:
            created = await self.notifier.show_status(job, view)
        except Exception:
            log.exception("job=%s status message update failed", job.id)
            if began is not None:
                await self.store.abandon_status_post(job.id, began)  # the next refresh tries again at once
            return
        if not await self.store.set_status_shown(job.id, rendered, self.clock(), message_id=created, token=token):
            log.warning("job=%s status message %s shown but the job was taken over meanwhile", job.id,
                        created or job.status_message_id)

    def set_budget(self, platform: str, rate: float, burst: float) -> None:
        """Give a platform's progress edits a budget of their own (its face's request limits)."""
        self.budgets[platform] = EditBudget(rate, burst)

    def budget(self, platform: str) -> EditBudget:
        """The progress-edit budget of a platform (the configured default until its face sets one)."""
        budget = self.budgets.get(platform)
        if budget is None:
            budget = self.budgets[platform] = EditBudget(self.config.progress_edits_per_second,
                                                         self.config.progress_edit_burst)
        return budget

    def may_edit(self, platform: str, shown_state: str, state: JobStatus, edited_at: float | None, now: float
                 ) -> bool:
        """Whether an edit from ``shown_state`` to ``state`` may go now, by the row alone: news always, a
        change of progress alone when not too soon for this job and the platform's budget has room."""
        if phase(shown_state) != phase(state):
            return True
        return not self.too_soon(shown_state, state, edited_at, now) and self.budget(platform).ready(now)

    def too_soon(self, shown_state: str, state: JobStatus, edited_at: float | None, now: float) -> bool:
        """A change of progress or queue position alone waits for ``progress_edit_interval`` after the last
        edit; a new phase is shown at once (Discord's limits and users both prefer coarse edits)."""
        interval = max(self.config.status_edit_interval, self.config.progress_edit_every)
        return phase(shown_state) == phase(state) and edited_at is not None and now - edited_at < interval
