"""The job core's knobs, derived from ``Settings`` in one place."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.config import Settings, default
from bot.jobs.policy import Defaults
from bot.jobs.records import Limits

_DATA_DIR: Path = default("data_dir")


@dataclass(frozen=True, slots=True)
class CoreConfig:
    """Timing, limits and storage the job core needs; no chat front-end details."""

    limits: Limits
    defaults: Defaults | None = None
    # Where a setting says the same, its default is the setting's (tests build configs without settings).
    poll_interval: float = default("poll_interval")
    job_timeout: float = default("job_timeout")
    data_dir: Path = _DATA_DIR
    # The largest input image a job may carry (VEO_MAX_IMAGE_BYTES): checked again before a job is stored.
    max_image_bytes: int = default("max_image_bytes")
    # The first poll comes a little after submission: Veo never finishes in under half a minute.
    first_poll_delay: float | None = None
    # Learn how long jobs take and poll around the expected completion (bot/jobs/schedule.py); when off,
    # or until enough jobs have finished, polls come every ``poll_interval`` from ``first_poll`` on.
    adaptive_polling: bool = True
    poll_batch: int = 100
    # The worker sleeps at least this long between ticks unless work is already due or it is woken, so that
    # each tick handles the jobs that fell due meanwhile together instead of one tick per job.
    tick_gap: float = 0.25
    poll_concurrency: int = 16
    submit_batch: int = 20
    # A worker step holds its job under a lease this long, renewed by a heartbeat every quarter of it; a process
    # that dies or freezes loses its jobs to another process when the lease runs out.
    lease_seconds: float = default("lease_seconds")
    error_backoff_cap: float = 300.0
    status_edit_interval: float = 10.0
    # Progress alone (same state) is shown at most this often (None: three status edit intervals), so a
    # job costs fewer edits while its bar still moves.
    progress_edit_interval: float | None = None
    # And such edits, bot-wide, at most this many a second on average, and this many at once (the Discord
    # face's DISCORD_EDIT_RATE and DISCORD_EDIT_BURST).
    progress_edits_per_second: float = default("discord_edit_rate")
    progress_edit_burst: float = default("discord_edit_burst")
    # A new job's status message waits this long for the submission, so that it is posted already
    # showing the job at the provider rather than posted and edited a moment later.
    first_status_wait: float = 2.0
    delivery_retry_base: float = default("delivery_retry_base")
    delivery_retry_cap: float = 900.0
    max_delivery_attempts: int = 8
    download_attempts: int = 3
    # A requester's direct message ("your video is ready") is given up after failing for this long.
    dm_give_up_after: float = 3600.0
    max_prompt_chars: int = default("max_prompt_chars")

    @property
    def progress_edit_every(self) -> float:
        """Seconds between two edits that would show a change of progress only."""
        if self.progress_edit_interval is not None:
            return self.progress_edit_interval
        return 3 * self.status_edit_interval

    @property
    def first_poll(self) -> float:
        """Seconds from submission to the first status request."""
        return self.first_poll_delay if self.first_poll_delay is not None else self.poll_interval

    @classmethod
    def from_settings(cls, settings: Settings) -> CoreConfig:
        """The core's configuration for these settings."""
        return cls(
            limits=Limits(
                per_user=settings.max_active_per_user,
                per_guild=settings.max_active_per_guild,
                total=settings.max_active_total,
            ),
            poll_interval=settings.poll_interval,
            job_timeout=settings.job_timeout,
            data_dir=settings.data_dir,
            max_image_bytes=settings.max_image_bytes,
            max_prompt_chars=settings.max_prompt_chars,
            defaults=defaults_from_settings(settings),
            lease_seconds=settings.lease_seconds,
            delivery_retry_base=settings.delivery_retry_base,
            progress_edits_per_second=settings.discord_edit_rate,
            progress_edit_burst=settings.discord_edit_burst,
        )

    @property
    def workspace_defaults(self) -> Defaults:
        """The bot-wide defaults guild overrides replace (from the caps alone when none were given)."""
        if self.defaults is not None:
            return self.defaults
        return Defaults(
            max_active_per_user=self.limits.per_user, max_active_per_guild=self.limits.per_guild,
            max_active_total=self.limits.total, max_queued=0, daily_quota_per_user=0, daily_quota_per_guild=0,
            cooldown_seconds=0.0, models=(),
        )


def defaults_from_settings(settings: Settings) -> Defaults:
    """The guild-overridable defaults named by the settings."""
    return Defaults(
        max_active_per_user=settings.max_active_per_user,
        max_active_per_guild=settings.max_active_per_guild,
        max_active_total=settings.max_active_total,
        max_queued=settings.max_queued_per_guild,
        daily_quota_per_user=settings.daily_quota_per_user,
        daily_quota_per_guild=settings.daily_quota_per_guild,
        cooldown_seconds=settings.cooldown_seconds,
        models=settings.models,
        default_model=settings.default_model,
    )
