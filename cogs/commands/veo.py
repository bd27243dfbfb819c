"""``VeoCog``: the ``/veo`` command, from options and attachments to a queued job and its status message."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.config import Settings
from bot.display import state_line
from bot.i18n import tr
from bot.jobs.errors import InvalidInput
from bot.jobs.ports import StatusView
from bot.jobs.records import Job, NewJob
from bot.jobs.requests import clean_prompt
from bot.jobs.service import JobService
from cogs.attachments import check_attachment, check_attachments, check_bot_can_post, read_image
from cogs.ids import member_id, role_ids, rules_channel_id, workspace_of
from cogs.limits import CONTENT, clip
from cogs.model_choices import model_choices
from cogs.render import Locale, message_link, status_embed

log = logging.getLogger(__name__)

ORIENTATION_CHOICES = [
    app_commands.Choice(name="16x9 (landscape)", value="16x9"),
    app_commands.Choice(name="9x16 (portrait)", value="9x16"),
]


def queued_reply(job: Job, view: StatusView, locale: Locale = None, *, dropped_model: str | None = None) -> str:
    """The private answer to /veo: the job's number and state, and where its status and video will appear.

    ``dropped_model``: the member's preferred model, which this server no longer allows (and which was just
    removed from their preferences): said first, once.
    """
    link = message_link(job, job.status_message_id)
    where = tr("Follow it here: {link}", locale, link=link) if link else tr(
        "Its status will appear in this channel.", locale)
    if job.in_thread:
        then = tr("I'll post the video in the job's thread, under its status message, and mention you when it's "
                  "ready.", locale)
    else:
        then = tr("I'll post the video in this channel and mention you when it's ready.", locale)
    lines = [tr("Job #{job}: {state}.", locale, job=job.id, state=state_line(job, view.position, locale))
             + f" {where}", then]
    if job.dm_when_ready:
        lines[-1] += " " + tr("You'll get a direct message too.", locale)
    if dropped_model is not None:
        lines.insert(0, tr("Your preferred model `{model}` is no longer allowed in this server, so this video uses "
                           "`{default}`. I removed it from your preferences: /veo-prefer sets another.", locale,
                           model=dropped_model, default=job.model))
    return clip("\n".join(lines), CONTENT)


class VeoCog(commands.Cog):
    """Makes videos from prompts (and optional first / last frame images)."""

    def __init__(self, service: JobService, settings: Settings) -> None:
        self.service = service
        self.settings = settings

    @app_commands.command(name="veo", description="Make a short video from a text prompt (and optional images).")
    @app_commands.guild_only()
    @app_commands.describe(
        prompt="What the video should show, e.g. 'a red fox running through fresh snow at dawn'",
        image="Optional first frame (PNG, JPEG or WebP): the video starts from this picture",
        last_frame="Optional last frame: the video ends on this picture (needs image too)",
        model="Which Veo model to use (leave empty for the default)",
        orientation="Landscape 16x9 (default) or portrait 9x16",
    )
    @app_commands.choices(orientation=ORIENTATION_CHOICES)
    async def veo(
        self,
        interaction: discord.Interaction,
        prompt: str,
        image: discord.Attachment | None = None,
        last_frame: discord.Attachment | None = None,
        model: str | None = None,
        orientation: app_commands.Choice[str] | None = None,
    ) -> None:
        """Queue a video job for this channel."""
        # Acknowledge first: Discord allows 3 s, and reading attachments or the DB can take longer.
        await interaction.response.defer(ephemeral=True, thinking=True)
        s = self.settings
        if interaction.guild_id is None or interaction.channel_id is None:
            raise InvalidInput("Use /veo in a server channel.")
        text = clean_prompt(prompt, s.max_prompt_chars)
        workspace = workspace_of(interaction)
        policy = await self.service.check_request(workspace, rules_channel_id(interaction), role_ids(interaction),
                                                  None)
        # The options given, else the member's /veo-prefer preferences, else the server's defaults.
        choices = await self.service.request_choices(workspace, member_id(interaction), policy, model=model,
                                                     orientation=orientation.value if orientation else None)
        check_attachments(image, last_frame)
        frames = [(label, att) for label, att in (("image", image), ("last_frame", last_frame)) if att is not None]
        kinds = [check_attachment(att, label, s.max_image_bytes) for label, att in frames]
        check_bot_can_post(interaction.app_permissions)
        images = [
            await read_image(att, label, kind, s.max_image_bytes)
            for (label, att), kind in zip(frames, kinds, strict=True)
        ]
        job = await self.service.create_job(
            NewJob(
                platform=workspace.platform,
                workspace_id=workspace.id,
                channel_id=str(interaction.channel_id),
                user_id=member_id(interaction),
                prompt=text,
                model=choices.model,
                orientation=choices.orientation,
                locale=str(interaction.locale),
                dm_when_ready=choices.dm_when_ready,
            ),
            images,
            policy=policy,
        )
        dropped = await self.service.drop_unavailable_model(workspace, job.user_id, choices)
        view = await self.service.status_view(job)
        loc = interaction.locale
        reply = queued_reply(job, view, loc, dropped_model=choices.unavailable_model if dropped else None)
        await interaction.edit_original_response(content=reply, embed=status_embed(job, view, locale=loc))

    @veo.autocomplete("model")
    async def model_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Offer the models this server allows that match what has been typed."""
        return await model_choices(self.service, self.settings, interaction, current)
