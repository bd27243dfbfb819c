"""``QueueCog``: /veo-status, /veo-cancel and the moderators' /veo-queue."""

from __future__ import annotations

import time

import discord
from discord import app_commands
from discord.ext import commands

from bot.i18n import tr
from bot.jobs.admin import WorkspaceAdmin
from bot.jobs.errors import NotFound
from bot.jobs.ports import StatusView
from bot.jobs.records import Job
from bot.jobs.service import JobService
from cogs.ids import member_id, workspace_of
from cogs.limits import CONTENT, FIELD_VALUE, clip, fit_embed
from cogs.render import Locale, clip_lines, job_line, queue_embed, status_embed
from cogs.views.queue_actions import QueueActions


def _is_moderator(interaction: discord.Interaction) -> bool:
    return interaction.permissions.manage_messages


def job_detail_embed(job: Job, view: StatusView, *, now: float, locale: Locale = None) -> discord.Embed:
    """/veo-status job:<n>: the job's status embed, with the video service's task id."""
    embed = status_embed(job, view, now=now, locale=locale)
    if job.task_id:
        task_id = clip(job.task_id.replace("`", "'"), FIELD_VALUE - 2)
        embed.add_field(name=tr("Task id", locale), value=f"`{task_id}`", inline=False)
    return fit_embed(embed)


def recent_jobs_embed(
    jobs: list[Job], positions: list[int], quota_line: str, *, now: float, locale: Locale = None
) -> discord.Embed:
    """/veo-status: the caller's recent jobs, one line each, and their daily quota."""
    lines = [job_line(j, now=now, position=p, locale=locale) for j, p in zip(jobs, positions, strict=True)]
    embed = discord.Embed(title=tr("Your recent video jobs", locale), description=clip_lines(lines, locale=locale))
    if quota_line:
        embed.add_field(name=tr("Quota", locale), value=quota_line, inline=False)
    embed.set_footer(text=tr("/veo-status job:<number> shows one job; /veo-cancel job:<number> stops one.", locale))
    return fit_embed(embed)


class QueueCog(commands.Cog):
    """Lets members follow their jobs and moderators manage the server's queue."""

    def __init__(self, service: JobService, admin: WorkspaceAdmin) -> None:
        self.service = service
        self.admin = admin

    @app_commands.command(name="veo-status", description="Show your recent video jobs, or one job in detail.")
    @app_commands.guild_only()
    @app_commands.describe(job="A job number (e.g. 12) or the video service's task id; empty for your recent jobs")
    async def veo_status(self, interaction: discord.Interaction, job: str | None = None) -> None:
        """Show the caller's jobs (ephemeral)."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        assert interaction.guild_id is not None
        now = time.time()
        loc = interaction.locale
        if job is not None and job.strip():
            found = await self.service.find_job(job, workspace_of(interaction))
            if found is None or (found.user_id != member_id(interaction) and not _is_moderator(interaction)):
                raise NotFound("No job of yours matches that number or task id. Use /veo-status to list your jobs.")
            view = await self.service.status_view(found)
            await interaction.edit_original_response(embed=job_detail_embed(found, view, now=now, locale=loc))
            return
        jobs = await self.service.user_jobs(workspace_of(interaction), member_id(interaction), limit=10)
        quota = await self.service.quota(workspace_of(interaction), member_id(interaction))
        quota_line = tr("Daily quota: {left} of {limit} videos left today.", loc, left=max(0, quota[1] - quota[0]),
                        limit=quota[1]) if quota else ""
        if not jobs:
            await interaction.edit_original_response(
                content=clip((tr("You have no video jobs in this server yet. Try /veo.", loc) + " " + quota_line
                              ).strip(), CONTENT))
            return
        positions = [await self.service.position(j) for j in jobs]
        await interaction.edit_original_response(
            embed=recent_jobs_embed(jobs, positions, quota_line, now=now, locale=loc))

    @app_commands.command(name="veo-cancel", description="Cancel a video job that has not finished.")
    @app_commands.guild_only()
    @app_commands.describe(job="The job number (e.g. 12) or the video service's task id")
    async def veo_cancel(self, interaction: discord.Interaction, job: str) -> None:
        """Cancel one of the caller's jobs (moderators: any job in the server)."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        assert interaction.guild_id is not None
        cancelled = await self.service.cancel(
            job, workspace_of(interaction), member_id(interaction), is_moderator=_is_moderator(interaction)
        )
        loc = interaction.locale
        billed = (
            tr("The video service had already started it and may still bill for it; nothing will be posted.", loc)
            if cancelled.task_id
            else tr("It had not been sent to the video service yet, so nothing is billed.", loc)
        )
        await interaction.edit_original_response(
            content=clip(tr("Cancelled job #{job}.", loc, job=cancelled.id) + " " + billed, CONTENT))

    @app_commands.command(name="veo-queue", description="Moderators: the server's video jobs in flight.")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_messages=True)
    @app_commands.checks.has_permissions(manage_messages=True)
    async def veo_queue(self, interaction: discord.Interaction) -> None:
        """Show the guild's queue to moderators (ephemeral)."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        assert interaction.guild_id is not None
        overview = await self.service.workspace_overview(workspace_of(interaction))
        await interaction.edit_original_response(
            embed=queue_embed(overview.in_flight, overview.recent_failures, paused=overview.paused,
                              locale=interaction.locale),
            view=QueueActions(self.service, self.admin, overview.in_flight, paused=overview.paused,
                              locale=interaction.locale),
        )
