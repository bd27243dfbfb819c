"""The model option's autocomplete, shared by /veo and /veo-prefer: the models this server allows."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.config import Settings
from bot.i18n import tr
from bot.jobs.service import JobService
from cogs.ids import workspace_of
from cogs.limits import CHOICE_NAME, CHOICES, clip


async def model_choices(
    service: JobService, settings: Settings, interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """Offer the models this server allows that match what has been typed, the server's default marked."""
    needle = current.strip().lower()
    models = settings.models
    default = settings.default_model
    if interaction.guild_id is not None:
        policy = await service.policy(workspace_of(interaction))
        models = policy.models or models
        default = policy.default_model or default
    return [
        app_commands.Choice(
            name=clip(m + (tr(" (default)", interaction.locale) if m == default else ""), CHOICE_NAME),
            value=m,
        )
        for m in models
        if needle in m.lower()
    ][:CHOICES]
