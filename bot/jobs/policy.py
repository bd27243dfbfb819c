"""Per-workspace limits: the bot's defaults, a workspace's overrides, and the rules that admit a new job.

The limit names keep the word "guild" (``max_active_per_guild``): they are the names admins type and the
settings' names (``VEO_MAX_ACTIVE_PER_GUILD``), and mean "per workspace" on every platform.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, fields, replace
from enum import StrEnum

from bot.jobs.records import Limits


@dataclass(frozen=True, slots=True)
class WorkspaceSettings:
    """A workspace's overrides; None means "the bot's default"."""

    platform: str
    workspace_id: str
    max_active_per_user: int | None = None
    max_active_per_guild: int | None = None
    max_queued: int | None = None
    daily_quota_per_user: int | None = None
    daily_quota_per_guild: int | None = None
    cooldown_seconds: float | None = None
    allowed_channels: tuple[str, ...] | None = None
    allowed_roles: tuple[str, ...] | None = None
    allowed_models: tuple[str, ...] | None = None
    paused: bool = False
    pause_reason: str | None = None
    updated_at: float | None = None
    updated_by: str | None = None


# The overrides an admin may set or reset by name.
OVERRIDABLE = tuple(
    f.name for f in fields(WorkspaceSettings)
    if f.name not in ("platform", "workspace_id", "paused", "pause_reason", "updated_at", "updated_by")
)


@dataclass(frozen=True, slots=True)
class Defaults:
    """The bot-wide defaults (from the settings) that guild overrides replace."""

    max_active_per_user: int
    max_active_per_guild: int
    max_active_total: int
    max_queued: int
    daily_quota_per_user: int
    daily_quota_per_guild: int
    cooldown_seconds: float
    models: tuple[str, ...]
    default_model: str = ""  # empty: the first of ``models``


@dataclass(frozen=True, slots=True)
class Policy:
    """The limits in force in one workspace: defaults with the workspace's overrides applied."""

    platform: str
    workspace_id: str
    max_active_per_user: int
    max_active_per_guild: int
    max_queued: int
    daily_quota_per_user: int  # 0 = no quota
    daily_quota_per_guild: int  # 0 = no quota
    cooldown_seconds: float  # 0 = none
    allowed_channels: tuple[str, ...] | None
    allowed_roles: tuple[str, ...] | None
    models: tuple[str, ...]
    paused: bool
    pause_reason: str | None
    default_model: str = ""  # what /veo uses when neither the request nor the member's preferences name one

    @classmethod
    def effective(cls, defaults: Defaults, overrides: WorkspaceSettings) -> Policy:
        """Apply a workspace's overrides to the defaults."""

        def pick(name: str) -> int | float:
            value = getattr(overrides, name)
            return value if value is not None else getattr(defaults, name)  # type: ignore[no-any-return]

        models = defaults.models
        if overrides.allowed_models is not None:
            models = tuple(m for m in defaults.models if m in overrides.allowed_models) or defaults.models
        default_model = defaults.default_model if defaults.default_model in models else (models or ("",))[0]
        return cls(
            platform=overrides.platform,
            workspace_id=overrides.workspace_id,
            max_active_per_user=int(pick("max_active_per_user")),
            max_active_per_guild=int(pick("max_active_per_guild")),
            max_queued=int(pick("max_queued")),
            daily_quota_per_user=int(pick("daily_quota_per_user")),
            daily_quota_per_guild=int(pick("daily_quota_per_guild")),
            cooldown_seconds=float(pick("cooldown_seconds")),
            allowed_channels=overrides.allowed_channels,
            allowed_roles=overrides.allowed_roles,
            models=models,
            paused=overrides.paused,
            pause_reason=overrides.pause_reason,
            default_model=default_model,
        )

    def limits(self, total: int) -> Limits:
        """The concurrency caps for this workspace under the bot-wide total."""
        return Limits(per_user=self.max_active_per_user, per_guild=self.max_active_per_guild, total=total)


class Refusal(StrEnum):
    """Why the store refused to admit a job."""

    QUEUE_FULL = "queue_full"
    USER_QUOTA = "user_quota"
    GUILD_QUOTA = "guild_quota"
    COOLDOWN = "cooldown"


@dataclass(frozen=True, slots=True)
class Admission:
    """The store's answer to a new job: the job number, or why not (with when to try again)."""

    job_id: int | None
    refusal: Refusal | None = None
    retry_at: float | None = None
    used_today: int = 0


def day_start(now: float) -> float:
    """The start of the UTC day that contains ``now``."""
    moment = datetime.datetime.fromtimestamp(now, tz=datetime.UTC)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def with_changes(settings: WorkspaceSettings, **changes: object) -> WorkspaceSettings:
    """A copy of ``settings`` with some fields changed."""
    return replace(settings, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One moderator or admin action."""

    id: int
    platform: str
    workspace_id: str
    actor_id: str
    action: str
    details: str
    job_id: int | None
    at: float


@dataclass(frozen=True, slots=True)
class UsageRow:
    """Jobs one user started with one model in a period, and how many of them reached the provider."""

    user_id: str
    model: str
    jobs: int
    billed_jobs: int
