"""``QueueCog``: /veo-status, /veo-cancel and the moderators' /veo-queue."""

from __future__ import annotations

import time
from collections import Counter

import discord
from discord import app_commands
from discord.ext import commands

from bot.jobs.admin import GuildAdmin
from bot.jobs.errors import NotFound
from bot.jobs.records import Job, JobStatus
from bot.jobs.service import JobService
from cogs.i18n import tr
from cogs.moderation import QueueActions
from cogs.render import STATE_LABELS, Locale, age, excerpt, job_line, status_embed

MAX_LIST_LINES = 15
EMBED_TEXT_LIMIT = 4000


def _clip_lines(lines: list[str], limit: int = EMBED_TEXT_LIMIT, *, locale: Locale = None) -> str:
    """Join lines, stopping (with a count of the rest) before the embed's text limit."""
    out: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        if used + len(line) + 1 > limit - 40:
            out.append(tr("…and {count} more", locale, count=len(lines) - index))
            break
        out.append(line)
        used += len(line) + 1
    return "\n".join(out)


def _is_moderator(interaction: discord.Interaction) -> bool:
    return interaction.permissions.manage_messages


class QueueCog(commands.Cog):
    """Lets members follow their jobs and moderators manage the server's queue."""

    def __init__(self, service: JobService, admin: GuildAdmin) -> None:
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
            found = await self.service.find_job(job, interaction.guild_id)
            if found is None or (found.user_id != interaction.user.id and not _is_moderator(interaction)):
                raise NotFound("No job of yours matches that number or task id. Use /veo-status to list your jobs.")
            embed = status_embed(found, await self.service.status_view(found), now=now, locale=loc)
            if found.task_id:
                embed.add_field(name=tr("Task id", loc), value=f"`{found.task_id}`", inline=False)
            await interaction.edit_original_response(embed=embed)
            return
        jobs = await self.service.user_jobs(interaction.guild_id, interaction.user.id, limit=10)
        quota = await self.service.quota(interaction.guild_id, interaction.user.id)
        quota_line = tr("Daily quota: {left} of {limit} videos left today.", loc, left=max(0, quota[1] - quota[0]),
                        limit=quota[1]) if quota else ""
        if not jobs:
            await interaction.edit_original_response(
                content=(tr("You have no video jobs in this server yet. Try /veo.", loc) + " " + quota_line).strip())
            return
        lines = [job_line(j, now=now, position=await self.service.position(j), locale=loc) for j in jobs]
        embed = discord.Embed(title=tr("Your recent video jobs", loc), description=_clip_lines(lines, locale=loc))
        if quota_line:
            embed.add_field(name=tr("Quota", loc), value=quota_line, inline=False)
        embed.set_footer(text=tr("/veo-status job:<number> shows one job; /veo-cancel job:<number> stops one.", loc))
        await interaction.edit_original_response(embed=embed)

    @app_commands.command(name="veo-cancel", description="Cancel a video job that has not finished.")
    @app_commands.guild_only()
    @app_commands.describe(job="The job number (e.g. 12) or the video service's task id")
    async def veo_cancel(self, interaction: discord.Interaction, job: str) -> None:
        """Cancel one of the caller's jobs (moderators: any job in the server)."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        assert interaction.guild_id is not None
        cancelled = await self.service.cancel(
            job, interaction.guild_id, interaction.user.id, is_moderator=_is_moderator(interaction)
        )
        loc = interaction.locale
        billed = (
            tr("The video service had already started it and may still bill for it; nothing will be posted.", loc)
            if cancelled.task_id
            else tr("It had not been sent to the video service yet, so nothing is billed.", loc)
        )
        await interaction.edit_original_response(
            content=tr("Cancelled job #{job}.", loc, job=cancelled.id) + " " + billed)

    @app_commands.command(name="veo-queue", description="Moderators: the server's video jobs in flight.")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_messages=True)
    @app_commands.checks.has_permissions(manage_messages=True)
    async def veo_queue(self, interaction: discord.Interaction) -> None:
        """Show the guild's queue to moderators (ephemeral)."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        assert interaction.guild_id is not None
        overview = await self.service.guild_overview(interaction.guild_id)
        await interaction.edit_original_response(
            embed=queue_embed(overview.in_flight, overview.recent_failures, paused=overview.paused,
                              locale=interaction.locale),
            view=QueueActions(self.service, self.admin, overview.in_flight, paused=overview.paused,
                              locale=interaction.locale),
        )


def queue_embed(
    in_flight: list[Job], failures: list[Job], *, paused: bool = False, now: float | None = None,
    locale: Locale = None,
) -> discord.Embed:
    """The moderators' view: jobs in flight by state, oldest wait, counts per user, recent failures."""
    now = time.time() if now is None else now
    loc = locale
    embed = discord.Embed(title=tr("Video jobs in this server", loc), colour=discord.Colour.blurple())
    if not in_flight:
        embed.description = tr("No jobs are waiting or running.", loc)
    else:
        by_state = Counter(job.status for job in in_flight)
        embed.add_field(
            name=tr("By state", loc),
            value="\n".join(f"{tr(STATE_LABELS[s], loc)}: {n}" for s, n in sorted(by_state.items())),
            inline=True,
        )
        embed.add_field(name=tr("Oldest wait", loc), value=age(now - min(j.created_at for j in in_flight), loc),
                        inline=True)
        per_user = Counter(job.user_id for job in in_flight).most_common(10)
        embed.add_field(name=tr("Per user", loc), value="\n".join(f"<@{u}>: {n}" for u, n in per_user), inline=True)
        lines = [job_line(j, now=now, position=i, show_owner=True, locale=loc) for i, j in enumerate(in_flight, 1)]
        embed.description = _clip_lines(lines[:MAX_LIST_LINES * 4], locale=loc)
    if failures:
        lines = [
            f"**#{j.id}** <@{j.user_id}> · " + tr("{age} ago", loc, age=age(now - (j.finished_at or now), loc))
            + " · " + (tr("timed out", loc) if j.status is JobStatus.TIMED_OUT
                       else excerpt(tr(j.error or "failed", loc), 80))
            for j in failures[:MAX_LIST_LINES]
        ]
        embed.add_field(name=tr("Failures in the last 24 h: {count}", loc, count=len(failures)),
                        value=_clip_lines(lines, 1000, locale=loc), inline=False)
    if paused:
        embed.add_field(name=tr("Paused", loc), value=tr("⏸️ No new jobs start until a moderator resumes.", loc),
                        inline=False)
    embed.set_footer(text=tr("Pick a job below to cancel it, or /veo-cancel job:<number>.", loc))
    return embed
