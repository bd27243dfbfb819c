"""``QueueActions``: the buttons under /veo-queue that let moderators cancel jobs and pause the server."""

from __future__ import annotations

import logging
from typing import Any

import discord

from bot.i18n import tr
from bot.jobs.admin import WorkspaceAdmin
from bot.jobs.records import Job
from bot.jobs.service import JobService
from cogs.errors import GENERIC, reply_ephemeral, user_message
from cogs.ids import member_id, workspace_of
from cogs.limits import (
    BUTTON_LABEL,
    CONTENT,
    OPTION_DESCRIPTION,
    OPTION_LABEL,
    SELECT_OPTIONS,
    SELECT_PLACEHOLDER,
    clip,
)
from cogs.render import Locale, excerpt, queue_embed

log = logging.getLogger(__name__)

VIEW_TIMEOUT = 600.0
CANCEL_ID = "veo:queue:cancel"
PAUSE_ID = "veo:queue:pause"


class QueueActions(discord.ui.View):
    """Cancel any job of the list, or pause / resume the server; moderators only, checked on every click."""

    def __init__(
        self, service: JobService, admin: WorkspaceAdmin, jobs: list[Job], *, paused: bool, locale: Locale = None
    ) -> None:
        super().__init__(timeout=VIEW_TIMEOUT)
        self.service = service
        self.admin = admin
        if jobs:
            select: discord.ui.Select[QueueActions] = discord.ui.Select(
                custom_id=CANCEL_ID,
                placeholder=clip(tr("Cancel a job…", locale), SELECT_PLACEHOLDER),
                options=[
                    discord.SelectOption(label=clip(f"#{job.id} · {job.status}", OPTION_LABEL), value=str(job.id),
                                         description=excerpt(job.prompt, OPTION_DESCRIPTION))
                    for job in jobs[:SELECT_OPTIONS]
                ],
            )
            select.callback = self._cancel  # type: ignore[method-assign]
            self.cancel_select = select
            self.add_item(select)
        button: discord.ui.Button[QueueActions] = discord.ui.Button(
            custom_id=PAUSE_ID,
            label=clip(tr("Resume new jobs", locale) if paused else tr("Pause new jobs", locale), BUTTON_LABEL),
            style=discord.ButtonStyle.success if paused else discord.ButtonStyle.danger,
        )
        button.callback = self._toggle_pause  # type: ignore[method-assign]
        self.add_item(button)
        self.paused = paused

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Only moderators may use the buttons (the message may be seen after permissions changed)."""
        if interaction.permissions.manage_messages:
            return True
        await reply_ephemeral(interaction, tr("Only members with the {permission} permission can do this.",
                                              interaction.locale, permission="Manage Messages"))
        return False

    async def on_error(self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item[Any]) -> None:
        """The same answers as the commands' error handler."""
        message = user_message(error, interaction.locale)
        if message is None:
            log.error("queue action failed guild=%s user=%s", interaction.guild_id, interaction.user.id,
                      exc_info=error)
            message = tr(GENERIC, interaction.locale)
        await reply_ephemeral(interaction, message)

    async def _show_queue(self, interaction: discord.Interaction, note: str) -> None:
        assert interaction.guild_id is not None
        overview = await self.service.workspace_overview(workspace_of(interaction))
        loc = interaction.locale
        view = QueueActions(self.service, self.admin, overview.in_flight, paused=overview.paused, locale=loc)
        await interaction.response.edit_message(
            content=clip(note, CONTENT),
            embed=queue_embed(overview.in_flight, overview.recent_failures, paused=overview.paused, locale=loc),
            view=view,
        )

    async def _cancel(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        chosen = self.cancel_select.values[0]
        job = await self.service.cancel(chosen, workspace_of(interaction), member_id(interaction), is_moderator=True)
        await self._show_queue(interaction, tr("Cancelled job #{job}.", interaction.locale, job=job.id))

    async def _toggle_pause(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        if self.paused:
            await self.admin.resume(workspace_of(interaction), member_id(interaction))
            note = tr("Resumed: waiting jobs start as slots free up.", interaction.locale)
        else:
            await self.admin.pause(workspace_of(interaction), member_id(interaction), "paused by a moderator")
            note = tr("Paused: no new jobs start until a moderator resumes.", interaction.locale)
        await self._show_queue(interaction, note)
