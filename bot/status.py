"""``StatusMessages``: keeps each job's status message in step with the job, with coarse edits."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

from bot.core_config import CoreConfig
from bot.models import Job, JobStatus
from bot.policy import Policy, day_start
from bot.ports import JobStore, Notifier, StatusView

log = logging.getLogger(__name__)


class StatusMessages:
    """Decides what a job's status message shows and when it is edited; the notifier does the posting."""

    def __init__(
        self, store: JobStore, notifier: Notifier, config: CoreConfig, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.notifier = notifier
        self.config = config
        self.clock = clock

    async def view(self, job: Job) -> StatusView:
        """What the job's status message shows besides the job: position, quota, pause."""
        position = await self.store.queue_position(job)
        policy = Policy.effective(self.config.guild_defaults, await self.store.guild_settings(job.guild_id))
        paused = policy.paused and job.status is JobStatus.QUEUED
        view = StatusView(position=position, paused=paused, pause_reason=policy.pause_reason if paused else None)
        if policy.daily_quota_per_user:
            used, _ = await self.store.quota_used(job.guild_id, job.user_id, day_start(self.clock()))
            view = dataclasses.replace(view, quota_used=used, quota_limit=policy.daily_quota_per_user)
        return view

    async def refresh(self, job_id: int, *, force: bool = False) -> None:
        """Show the job's state in its status message, skipping edits that change nothing or come too often."""
        job = await self.store.get_job(job_id)
        if job is None:
            return
        view = await self.view(job)
        rendered = f"{job.status}|{job.progress}|{view.position}|{job.delivered_message_id}|{view.paused}"
        if job.status_message_id is not None:
            if rendered == job.status_rendered:
                return
            shown_state = (job.status_rendered or "").split("|", 1)[0]
            if not force and self.too_soon(shown_state, job.status, job.status_edited_at, self.clock()):
                return
        try:
            created = await self.notifier.show_status(job, view)
        except Exception:
            log.exception("job=%s status message update failed", job.id)
            return
        await self.store.set_status_shown(job.id, rendered, self.clock(), message_id=created)

    def too_soon(self, shown_state: str, state: JobStatus, edited_at: float | None, now: float) -> bool:
        """A change of progress or queue position alone waits for ``progress_edit_interval`` after the last
        edit; a new state is shown at once (Discord's limits and users both prefer coarse edits)."""
        interval = max(self.config.status_edit_interval, self.config.progress_edit_every)
        return shown_state == state and edited_at is not None and now - edited_at < interval
