"""Buttons on result messages that keep working after restarts: Regenerate, Continue and Delete."""

from __future__ import annotations

import logging
import re
from typing import Any

import discord

from bot.i18n import tr
from bot.jobs.errors import NotAllowed, NotFound
from bot.jobs.records import NewJob
from cogs.context import job_service
from cogs.errors import answer_error
from cogs.ids import member_id, role_ids, workspace_of
from cogs.limits import BUTTON_LABEL, CONTENT, clip
from cogs.render import Locale, message_link
from cogs.views.continuation import CONTINUE_ID, ContinueButton

log = logging.getLogger(__name__)

REGENERATE_ID = "veo:regen:{job}"
DELETE_ID = "veo:delete:{job}"


class RegenerateButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"veo:regen:(?P<job>\d+)"):
    """Make the same video again (same prompt, model and orientation), as a new job of whoever clicks."""

    def __init__(self, job_id: int, locale: Locale = None) -> None:
        super().__init__(discord.ui.Button(label=clip(tr("Regenerate", locale), BUTTON_LABEL), emoji="🔁",
                                           style=discord.ButtonStyle.secondary,
                                           custom_id=REGENERATE_ID.format(job=job_id)))
        self.job_id = job_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> RegenerateButton:
        """Rebuild the button from its custom id after a restart."""
        return cls(int(match["job"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Queue a copy of the job; it counts against the clicker's limits like /veo."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            await self._regenerate(interaction)
        except Exception as error:
            await answer_error(interaction, error)

    async def _regenerate(self, interaction: discord.Interaction) -> None:
        service = job_service(interaction)
        assert interaction.guild_id is not None and interaction.channel_id is not None
        workspace = workspace_of(interaction)
        original = await service.find_job(str(self.job_id), workspace)
        if original is None:
            raise NotFound("That job no longer exists.")
        if original.image_count:
            raise NotAllowed("This video started from images, which are not kept after a job is sent. "
                             "Run /veo again with the images attached.")
        policy = await service.check_request(workspace, str(interaction.channel_id), role_ids(interaction),
                                             original.model)
        # The same video again: the original's model and orientation; the clicker's own choice of a DM.
        clicker = await service.preferences(workspace, member_id(interaction))
        job = await service.create_job(
            NewJob(platform=workspace.platform, workspace_id=workspace.id, channel_id=str(interaction.channel_id),
                   user_id=member_id(interaction),
                   prompt=original.prompt, model=original.model, orientation=original.orientation,
                   locale=str(interaction.locale), dm_when_ready=clicker.dm_when_ready),
            policy=policy,
        )
        link = message_link(job, job.status_message_id)
        loc = interaction.locale
        content = tr("Queued job #{job}, a new take of job #{original}.", loc, job=job.id, original=original.id)
        if link:
            content += " " + tr("Follow it here: {link}", loc, link=link)
        await interaction.edit_original_response(content=clip(content, CONTENT))


class DeleteButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"veo:delete:(?P<job>\d+)"):
    """Delete a result message: its requester, or a moderator (Manage Messages)."""

    def __init__(self, job_id: int, locale: Locale = None) -> None:
        super().__init__(discord.ui.Button(label=clip(tr("Delete", locale), BUTTON_LABEL), emoji="🗑️",
                                           style=discord.ButtonStyle.danger,
                                           custom_id=DELETE_ID.format(job=job_id)))
        self.job_id = job_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> DeleteButton:
        """Rebuild the button from its custom id after a restart."""
        return cls(int(match["job"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Delete the message the button is on, after checking who clicked."""
        try:
            await self._delete(interaction)
        except Exception as error:
            await answer_error(interaction, error)

    async def _delete(self, interaction: discord.Interaction) -> None:
        service = job_service(interaction)
        assert interaction.guild_id is not None and interaction.message is not None
        job = await service.find_job(str(self.job_id), workspace_of(interaction))
        owner = job.user_id if job is not None else None
        is_moderator = interaction.permissions.manage_messages
        if member_id(interaction) != owner and not is_moderator:
            raise NotAllowed("Only the member who asked for this video, or a moderator, can delete it.")
        await interaction.response.defer()
        await interaction.message.delete()
        if member_id(interaction) != owner:
            await service.audit(workspace_of(interaction), member_id(interaction), "delete result",
                                f"job #{self.job_id}", job_id=self.job_id)
        log.info("job=%s result message deleted by user=%s", self.job_id, interaction.user.id)


def result_buttons(job_id: int, *, can_regenerate: bool, can_delete: bool, can_continue: bool = False,
                   locale: Locale = None) -> discord.ui.View:
    """The buttons under a result (or failure) message, labelled in the requester's language."""
    view = discord.ui.View(timeout=None)
    if can_regenerate:
        view.add_item(RegenerateButton(job_id, locale))
    if can_continue:
        view.add_item(ContinueButton(job_id, locale))
    if can_delete:
        view.add_item(DeleteButton(job_id, locale))
    return view


def result_custom_ids(job_id: int) -> frozenset[str]:
    """The custom ids of the buttons that may sit under a job's result or failure message: they name the job
    whatever language the message is written in."""
    return frozenset({REGENERATE_ID.format(job=job_id), CONTINUE_ID.format(job=job_id), DELETE_ID.format(job=job_id)})
