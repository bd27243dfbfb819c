"""``JobService``: what a chat front-end asks of the job core (create, find, list, cancel, moderate)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from bot.jobs.errors import ChannelList, LimitReached, NotAllowed, NotFound
from bot.jobs.inputs import remove_inputs
from bot.jobs.policy import Policy, Refusal, day_start
from bot.jobs.ports import JobStore, StatusView
from bot.jobs.preferences import (
    MemberPreferences,
    RequestChoices,
    choose,
    preferred_model,
    preferred_orientation,
)
from bot.jobs.provider import ImageInput
from bot.jobs.records import IN_FLIGHT_STATUSES, Job, JobStatus, NewJob, Workspace
from bot.jobs.requests import check_job_images
from bot.jobs.worker import JobWorker

log = logging.getLogger(__name__)

RECENT_FAILURES_WINDOW = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class WorkspaceOverview:
    """A workspace's queue as moderators see it."""

    in_flight: list[Job]
    recent_failures: list[Job]
    paused: bool
    pause_reason: str | None


def _minutes(seconds: float) -> int:
    """Whole minutes to wait, at least 1 (a number reads the same in every language)."""
    return max(1, -(-int(seconds) // 60))


class JobService:
    """The front-end's entry to the job core; holds no chat-platform code."""

    def __init__(self, store: JobStore, worker: JobWorker, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.worker = worker
        self.clock = clock

    async def policy(self, workspace: Workspace) -> Policy:
        """The limits in force in a workspace."""
        return Policy.effective(self.worker.config.workspace_defaults, await self.store.workspace_settings(workspace))

    async def check_request(
        self, workspace: Workspace, channel_id: str, role_ids: Collection[str], model: str | None
    ) -> Policy:
        """Refuse a request the workspace's rules forbid (channel, role, model) before anything is read or stored."""
        policy = await self.policy(workspace)
        if policy.allowed_channels is not None and channel_id not in policy.allowed_channels:
            raise NotAllowed("Videos can't be made in this channel. Use one of: {channels}.",
                             params={"channels": ChannelList(policy.allowed_channels[:10])})
        if policy.allowed_roles is not None and not set(role_ids) & set(policy.allowed_roles):
            raise NotAllowed("Only members with one of the roles chosen by this server's admins can make videos.")
        if model is not None and policy.models and model not in policy.models:
            raise NotAllowed("This server allows these models only: {models}.",
                             params={"models": ", ".join(f"`{m}`" for m in policy.models)})
        return policy

    async def create_job(
        self, new: NewJob, images: Sequence[ImageInput] = (), *, policy: Policy | None = None
    ) -> Job:
        """Admit a request under the guild's limits (the row and its images in one transaction, so that any
        process can submit it), post its status message, and submit it if a slot is free; raise ``LimitReached``
        when a limit refuses it, ``InvalidInput`` for images no job may carry (nothing stored either way)."""
        check_job_images(images, self.worker.config.max_image_bytes)
        policy = policy or await self.policy(new.workspace)
        # Whether the job gets a thread is decided now, once: a later change of the channel's setting leaves it be.
        in_thread = new.in_thread or new.channel_id in policy.thread_channels
        admission = await self.store.admit_job(
            dataclasses.replace(new, image_count=len(images), input_dir=None, in_thread=in_thread),
            policy, self.clock(), images,
        )
        if admission.job_id is None:
            raise self._refusal(admission.refusal, admission.retry_at, policy)
        job_id = admission.job_id
        log.info("job=%s created platform=%s workspace=%s user=%s model=%s images=%s",
                 job_id, new.platform, new.workspace_id, new.user_id, new.model, len(images))
        # Submit first (if a slot is free), so that the status message is posted once, already showing the
        # job at the provider; a slow submission does not hold it back for more than a moment.
        submitting = asyncio.ensure_future(self.worker.dispatch())
        try:
            await asyncio.wait([submitting], timeout=self.worker.config.first_status_wait)
            await self.worker.refresh_status(job_id, force=True)
        finally:
            await submitting
        self.worker.wake()
        job = await self.store.get_job(job_id)
        assert job is not None
        return job

    # -- members' preferences (/veo-prefer) ---------------------------------------------------------

    async def preferences(self, workspace: Workspace, user_id: str) -> MemberPreferences:
        """A member's own defaults in a workspace (none saved: every field at the workspace's default)."""
        return await self.store.member_preferences(workspace, user_id)

    async def set_preferences(
        self, workspace: Workspace, user_id: str, *, model: str | None = None, orientation: str | None = None,
        dm_when_ready: bool | None = None,
    ) -> MemberPreferences:
        """Change the preferences given (the others stay); refused, with nothing saved, when one cannot be used."""
        policy = await self.policy(workspace)
        changes: dict[str, object] = {}
        if model is not None:
            changes["model"] = preferred_model(model, policy, self.worker.config.workspace_defaults.models)
        if orientation is not None:
            changes["orientation"] = preferred_orientation(orientation)
        if dm_when_ready is not None:
            changes["dm_when_ready"] = dm_when_ready
        current = await self.store.member_preferences(workspace, user_id)
        saved = await self.store.save_member_preferences(
            dataclasses.replace(current, **changes), self.clock()  # type: ignore[arg-type]
        )
        log.info("preferences saved platform=%s workspace=%s user=%s fields=%s", workspace.platform, workspace.id,
                 user_id, ",".join(sorted(changes)))
        return saved

    async def reset_preferences(self, workspace: Workspace, user_id: str) -> bool:
        """Clear a member's preferences in a workspace; False when there were none."""
        return await self.store.reset_member_preferences(workspace, user_id)

    async def request_choices(
        self, workspace: Workspace, user_id: str, policy: Policy, *, model: str | None, orientation: str | None
    ) -> RequestChoices:
        """What a new job of this member gets: the options given, else their preferences, else the defaults."""
        return choose(await self.store.member_preferences(workspace, user_id), policy,
                      model=model, orientation=orientation)

    async def drop_unavailable_model(self, workspace: Workspace, user_id: str, choices: RequestChoices) -> bool:
        """Once a job exists, forget the preferred model it could not use, so that the member is told once;
        True when this call forgot it (a concurrent request may have done it first)."""
        if choices.unavailable_model is None:
            return False
        return await self.store.forget_preferred_model(workspace, user_id, choices.unavailable_model, self.clock())

    def _refusal(self, refusal: Refusal | None, retry_at: float | None, policy: Policy) -> LimitReached:
        minutes = _minutes(retry_at - self.clock()) if retry_at else 1
        if refusal is Refusal.QUEUE_FULL:
            return LimitReached("This server's video queue is full ({queued} waiting). "
                                "Try again when some jobs have finished.", params={"queued": policy.max_queued})
        if refusal is Refusal.COOLDOWN:
            return LimitReached("Please wait between videos (cooldown {cooldown} s). Try again in {minutes} min.",
                                params={"cooldown": f"{policy.cooldown_seconds:g}", "minutes": minutes})
        if refusal is Refusal.USER_QUOTA:
            return LimitReached("You have used your {quota} videos for today (failed jobs are refunded). "
                                "Try again in {minutes} min.",
                                params={"quota": policy.daily_quota_per_user, "minutes": minutes})
        return LimitReached("This server has used its {quota} videos for today. Try again in {minutes} min.",
                            params={"quota": policy.daily_quota_per_guild, "minutes": minutes})

    async def check_quotas(self, workspace: Workspace, user_id: str, policy: Policy) -> None:
        """Refuse early, before a member is asked for more, when the daily quotas are used up (admission checks
        them again, atomically)."""
        since = day_start(self.clock())
        user_used, workspace_used = await self.store.quota_used(workspace, user_id, since)
        if policy.daily_quota_per_user and user_used >= policy.daily_quota_per_user:
            raise self._refusal(Refusal.USER_QUOTA, since + 86400, policy)
        if policy.daily_quota_per_guild and workspace_used >= policy.daily_quota_per_guild:
            raise self._refusal(Refusal.GUILD_QUOTA, since + 86400, policy)

    async def quota(self, workspace: Workspace, user_id: str) -> tuple[int, int] | None:
        """(videos used today, daily quota) for a member, or None when no quota applies."""
        policy = await self.policy(workspace)
        if not policy.daily_quota_per_user:
            return None
        used, _ = await self.store.quota_used(workspace, user_id, day_start(self.clock()))
        return used, policy.daily_quota_per_user

    async def status_view(self, job: Job) -> StatusView:
        """Position, quota and pause, as the job's status message shows them."""
        return await self.worker.status_view(job)

    async def find_job(self, ref: str, workspace: Workspace) -> Job | None:
        """The workspace's job named by its number (``12`` or ``#12``) or by the provider's task id."""
        text = ref.strip().removeprefix("#").strip()
        if not text.isascii() and text.encode("utf-8", "replace").decode("utf-8") != text:
            return None  # not valid text (a lone surrogate): it names no job, and SQLite could not take it
        job: Job | None = None
        # isdigit() alone also accepts "²", which int() refuses.
        if text.isascii() and text.isdigit() and len(text) < 19:
            job = await self.store.get_job(int(text))
        if job is None and text:
            job = await self.store.get_job_by_task(text)
        return job if job is not None and job.workspace == workspace else None

    async def position(self, job: Job) -> int:
        """1-based position among the workspace's jobs in flight (0 when finished)."""
        return await self.store.queue_position(job)

    async def user_jobs(self, workspace: Workspace, user_id: str, limit: int = 10) -> list[Job]:
        """A member's most recent jobs in a workspace, newest first."""
        return await self.store.user_jobs(workspace, user_id, limit)

    async def workspace_overview(self, workspace: Workspace) -> WorkspaceOverview:
        """The workspace's jobs in flight, oldest first, its failures of the last 24 hours, and its pause."""
        policy = await self.policy(workspace)
        return WorkspaceOverview(
            in_flight=await self.store.in_flight(workspace),
            recent_failures=await self.store.failures_since(workspace, self.clock() - RECENT_FAILURES_WINDOW),
            paused=policy.paused,
            pause_reason=policy.pause_reason,
        )

    async def audit(self, workspace: Workspace, actor_id: str, action: str, details: str, *,
                    job_id: int | None = None) -> None:
        """Record a moderator's or admin's action in the workspace's audit log, now."""
        await self.store.add_audit(workspace, actor_id, action, details, self.clock(), job_id=job_id)

    async def cancel(self, ref: str, workspace: Workspace, user_id: str, *, is_moderator: bool) -> Job:
        """Cancel a job in flight; owners may cancel their own, moderators any in the workspace."""
        job = await self.find_job(ref, workspace)
        if job is None or (job.user_id != user_id and not is_moderator):
            raise NotFound("There is no job '{ref}' of yours in this server. Use /veo-status to see your jobs.",
                           params={"ref": ref.strip()[:40]})
        if job.status not in IN_FLIGHT_STATUSES:
            raise NotAllowed("Job #{job} has already finished ({state}); there is nothing to cancel.",
                             params={"job": job.id, "state": _label(job.status)})
        if not await self.store.cancel(job.id, self.clock()):
            fresh = await self.store.get_job(job.id)
            state = _label(fresh.status) if fresh else "gone"
            raise NotAllowed("Job #{job} finished while you were cancelling it ({state}).",
                             params={"job": job.id, "state": state})
        await self.store.drop_job_images(job.id)
        remove_inputs(job.input_dir)  # a job queued before images moved into the database
        log.info("job=%s cancelled by user=%s moderator=%s", job.id, user_id, is_moderator)
        if job.user_id != user_id:
            await self.store.add_audit(workspace, user_id, "cancel", f"job #{job.id}", self.clock(), job_id=job.id)
        await self.worker.refresh_status(job.id, force=True)
        self.worker.wake()  # its slot is free for the next queued job
        cancelled = await self.store.get_job(job.id)
        assert cancelled is not None
        return cancelled


def _label(status: JobStatus) -> str:
    return status.replace("_", " ")
