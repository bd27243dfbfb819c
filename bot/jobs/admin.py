"""``WorkspaceAdmin``: per-guild settings, pause and resume, the audit log and the usage report."""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bot.jobs.errors import InvalidInput, msg
from bot.jobs.policy import OVERRIDABLE, AuditEntry, Policy, UsageRow, WorkspaceSettings, day_start, with_changes
from bot.jobs.ports import JobStore
from bot.jobs.records import JobStatus, Workspace
from bot.jobs.worker import JobWorker

log = logging.getLogger(__name__)

PERIODS: dict[str, float | None] = {"today": None, "7d": 7 * 86400.0, "30d": 30 * 86400.0, "all": 0.0}
# What each override means to an admin, and the range it accepts (lists have no range).
SETTING_LABELS: dict[str, str] = {
    "max_active_per_user": msg("jobs one member may have running at once"),
    "max_active_per_guild": msg("jobs this server may have running at once"),
    "max_queued": msg("jobs that may wait in this server's queue (0 = no limit)"),
    "daily_quota_per_user": msg("videos one member may start per UTC day (0 = no quota)"),
    "daily_quota_per_guild": msg("videos this server may start per UTC day (0 = no quota)"),
    "cooldown_seconds": msg("seconds a member waits between two videos (0 = none)"),
    "allowed_channels": msg("channels where /veo works"),
    "allowed_roles": msg("roles that may use /veo"),
    "allowed_models": msg("models members may pick"),
}
_MINIMUM = {"max_active_per_user": 1, "max_active_per_guild": 1}
_MAXIMUM = 100_000


@dataclass(frozen=True, slots=True)
class UsageLine:
    """Usage of one user or one model: jobs started, jobs likely billed, seconds and estimated cost."""

    key: str
    jobs: int
    billed_jobs: int
    seconds: float
    cost: float


@dataclass(frozen=True, slots=True)
class UsageDay:
    """Usage with one model on one UTC day: jobs started, jobs likely billed, seconds and estimated cost."""

    day: datetime.date
    model: str
    jobs: int
    billed_jobs: int
    seconds: float
    cost: float


@dataclass(frozen=True, slots=True)
class UsageReport:
    """Usage per user and per model over a period, with totals, and per day and model from ``since`` to ``until``."""

    period: str
    by_user: list[UsageLine]
    by_model: list[UsageLine]
    total: UsageLine
    days: list[UsageDay] = field(default_factory=list)
    since: float = 0.0
    until: float = 0.0


class WorkspaceAdmin:
    """What a workspace's admins and moderators may change, always with an audit entry."""

    def __init__(
        self,
        store: JobStore,
        worker: JobWorker,
        *,
        prices: Mapping[str, float],
        video_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.worker = worker
        self.prices = dict(prices)
        self.video_seconds = video_seconds
        self.clock = clock

    async def settings(self, workspace: Workspace) -> tuple[WorkspaceSettings, Policy]:
        """The workspace's overrides and the limits in force."""
        overrides = await self.store.workspace_settings(workspace)
        return overrides, Policy.effective(self.worker.config.workspace_defaults, overrides)

    async def _save(self, updated: WorkspaceSettings, actor_id: str, action: str, details: str) -> WorkspaceSettings:
        await self.store.save_workspace_settings(updated, actor_id=actor_id, action=action, details=details,
                                                 now=self.clock())
        log.info("platform=%s workspace=%s %s by user=%s: %s",
                 updated.platform, updated.workspace_id, action, actor_id, details)
        # Queued jobs' status messages show a pause; freed caps let waiting jobs start.
        for job in await self.store.in_flight(Workspace(updated.platform, updated.workspace_id)):
            if job.status is JobStatus.QUEUED:
                await self.worker.refresh_status(job.id, force=True)
        self.worker.wake()
        return updated

    async def set_number(self, workspace: Workspace, actor_id: str, name: str, value: float) -> WorkspaceSettings:
        """Override one numeric limit for the workspace."""
        if name not in SETTING_LABELS or name.startswith("allowed_"):
            raise InvalidInput("Unknown setting {name}.", params={"name": name})
        if not _MINIMUM.get(name, 0) <= value <= _MAXIMUM:
            raise InvalidInput("{name}: give a number from {low} to {high}.",
                               params={"name": name, "low": _MINIMUM.get(name, 0), "high": _MAXIMUM})
        current = await self.store.workspace_settings(workspace)
        number: float = float(value) if name == "cooldown_seconds" else int(value)
        updated = with_changes(current, **{name: number})
        before = getattr(current, name)
        shown = "default" if before is None else f"{before:g}"
        return await self._save(updated, actor_id, "set", f"{name}: {shown} → {number:g}")

    async def reset(self, workspace: Workspace, actor_id: str, name: str) -> WorkspaceSettings:
        """Go back to the bot's default for one setting."""
        if name not in OVERRIDABLE:
            raise InvalidInput("Unknown setting {name}.", params={"name": name})
        current = await self.store.workspace_settings(workspace)
        updated = with_changes(current, **{name: None})
        return await self._save(updated, actor_id, "reset", f"{name}: back to the default")

    async def change_list(
        self, workspace: Workspace, actor_id: str, name: str, action: str, item: str | None
    ) -> WorkspaceSettings:
        """Add to, remove from, or clear an allow-list (channels, roles, models); an empty list means none."""
        if name not in ("allowed_channels", "allowed_roles", "allowed_models"):
            raise InvalidInput("Unknown setting {name}.", params={"name": name})
        current = await self.store.workspace_settings(workspace)
        items: list[str] = list(getattr(current, name) or ())
        if action == "clear":
            new_value: tuple[str, ...] | None = None
        elif item is None:
            raise InvalidInput("Say which one to add or remove.")
        elif action == "add":
            if name == "allowed_models" and item not in self.worker.config.workspace_defaults.models:
                raise InvalidInput("`{model}` is not one of the bot's models.", params={"model": item})
            new_value = tuple(dict.fromkeys([*items, item]))
        elif action == "remove":
            if item not in items:
                raise InvalidInput("That one is not on the list.")
            new_value = tuple(i for i in items if i != item) or None
        else:
            raise InvalidInput("Choose add, remove or clear.")
        updated = with_changes(current, **{name: new_value})
        return await self._save(updated, actor_id, f"{name} {action}", f"{name}: {item if item is not None else ''}")

    async def set_threads(
        self, workspace: Workspace, actor_id: str, channel_id: str | None, enabled: bool
    ) -> WorkspaceSettings:
        """Give each job made in a channel a thread of its own, or stop; with no channel, stop everywhere.

        Jobs keep what was in force when they were made.
        """
        current = await self.store.workspace_settings(workspace)
        channels = list(current.thread_channels or ())
        if channel_id is None:
            if enabled:
                raise InvalidInput("Say which channel.")
            if not channels:
                raise InvalidInput("No channel has threads for its jobs.")
            updated = with_changes(current, thread_channels=None)
            return await self._save(updated, actor_id, "threads off", "every channel")
        if enabled and channel_id in channels:
            raise InvalidInput("Threads are already on in that channel.")
        if not enabled and channel_id not in channels:
            raise InvalidInput("Threads are not on in that channel.")
        if enabled:
            new_value: tuple[str, ...] | None = (*channels, channel_id)
        else:
            new_value = tuple(c for c in channels if c != channel_id) or None
        updated = with_changes(current, thread_channels=new_value)
        return await self._save(updated, actor_id, "threads on" if enabled else "threads off", f"<#{channel_id}>")

    async def pause(self, workspace: Workspace, actor_id: str, reason: str | None) -> WorkspaceSettings:
        """Stop starting new jobs in the workspace; its queue is kept and its jobs say why they wait."""
        current = await self.store.workspace_settings(workspace)
        # NUL would not be shown anyway, and PostgreSQL's text type cannot hold it.
        clean = " ".join((reason or "").replace("\x00", " ").split())[:200] or None
        updated = with_changes(current, paused=True, pause_reason=clean)
        return await self._save(updated, actor_id, "pause", clean or "")

    async def resume(self, workspace: Workspace, actor_id: str) -> WorkspaceSettings:
        """Start the workspace's waiting jobs again."""
        current = await self.store.workspace_settings(workspace)
        updated = with_changes(current, paused=False, pause_reason=None)
        return await self._save(updated, actor_id, "resume", "")

    async def audit(self, workspace: Workspace, limit: int = 20) -> list[AuditEntry]:
        """The workspace's most recent moderator and admin actions."""
        return await self.store.audit_entries(workspace, limit)

    async def usage(self, workspace: Workspace, period: str) -> UsageReport:
        """Jobs, generated seconds and estimated cost per user and per model over ``period``."""
        if period not in PERIODS:
            raise InvalidInput("Period must be one of: {periods}.", params={"periods": ", ".join(PERIODS)})
        now = self.clock()
        span = PERIODS[period]
        since = day_start(now) if span is None else (now - span if span else 0.0)
        rows = await self.store.usage(workspace, since)
        days = [UsageDay(r.day, r.model, r.jobs, r.billed_jobs, r.billed_jobs * self.video_seconds,
                         round(self._cost(r.model, r.billed_jobs), 2))
                for r in await self.store.usage_by_day(workspace, since)]
        return UsageReport(
            period=period,
            by_user=self._group(rows, lambda r: r.user_id),
            by_model=self._group(rows, lambda r: r.model),
            total=self._line("total", rows),
            days=days,
            since=since,
            until=now,
        )

    def _cost(self, model: str, billed_jobs: int) -> float:
        # Unknown models are priced at the highest known rate, so that an estimate never runs low.
        price = self.prices.get(model, max(self.prices.values(), default=0))
        return billed_jobs * self.video_seconds * price

    def _line(self, key: str, rows: list[UsageRow]) -> UsageLine:
        seconds = sum(r.billed_jobs for r in rows) * self.video_seconds
        cost = sum(self._cost(r.model, r.billed_jobs) for r in rows)
        return UsageLine(key, sum(r.jobs for r in rows), sum(r.billed_jobs for r in rows), seconds, round(cost, 2))

    def _group(self, rows: list[UsageRow], key: Callable[[UsageRow], str]) -> list[UsageLine]:
        groups: dict[str, list[UsageRow]] = {}
        for row in rows:
            groups.setdefault(key(row), []).append(row)
        lines = [self._line(k, g) for k, g in groups.items()]
        return sorted(lines, key=lambda line: (-line.cost, -line.jobs))
