"""``PreferCog``: ``/veo-prefer``, a member's own defaults for /veo in a server (model, orientation, a direct
message when a video is ready): set, shown, reset."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.config import Settings
from bot.i18n import tr
from bot.jobs.errors import InvalidInput
from bot.jobs.policy import Policy
from bot.jobs.preferences import MemberPreferences
from bot.jobs.service import JobService
from cogs.commands.veo import ORIENTATION_CHOICES
from cogs.ids import member_id, workspace_of
from cogs.limits import CONTENT, FIELD_VALUE, clip, fit_embed
from cogs.model_choices import model_choices
from cogs.render import Locale

ORIENTATION_LABELS = {choice.value: choice.name for choice in ORIENTATION_CHOICES}


def preferences_embed(preferences: MemberPreferences, policy: Policy, locale: Locale = None) -> discord.Embed:
    """A member's preferences in a server, each with what /veo will use when the member gives no option."""
    loc = locale
    embed = discord.Embed(title=tr("Your /veo preferences in this server", loc), colour=discord.Colour.blurple())
    if preferences.model is None:
        model = tr("Server default (`{model}`)", loc, model=policy.default_model)
    elif preferences.model in policy.models:
        model = f"`{preferences.model}`"
    else:
        model = tr("`{model}`: no longer allowed here, so /veo uses `{default}`", loc, model=preferences.model,
                   default=policy.default_model)
    if preferences.orientation in ORIENTATION_LABELS:
        orientation = tr(ORIENTATION_LABELS[preferences.orientation], loc)
    else:
        orientation = tr("Server default ({orientation})", loc, orientation=tr(ORIENTATION_LABELS["16x9"], loc))
    dm = tr("On", loc) if preferences.dm_when_ready else tr("Off", loc)
    embed.add_field(name=tr("Model", loc), value=clip(model, FIELD_VALUE), inline=True)
    embed.add_field(name=tr("Orientation", loc), value=orientation, inline=True)
    embed.add_field(name=tr("Direct message when ready", loc), value=dm, inline=True)
    embed.set_footer(text=tr("Options you give /veo win over these. /veo-prefer reset: True clears them.", loc))
    return fit_embed(embed)


class PreferCog(commands.Cog):
    """Members' own defaults for /veo, per server."""

    def __init__(self, service: JobService, settings: Settings) -> None:
        self.service = service
        self.settings = settings

    @app_commands.command(name="veo-prefer",
                          description="Your own defaults for /veo in this server. With no option, shows them.")
    @app_commands.guild_only()
    @app_commands.describe(
        model="The model your videos use unless you pick one in /veo",
        orientation="The orientation your videos use unless you pick one in /veo",
        dm="Get a direct message when each of your videos is ready",
        reset="Clear all your preferences here (use it alone)",
    )
    @app_commands.choices(orientation=ORIENTATION_CHOICES)
    async def prefer(
        self,
        interaction: discord.Interaction,
        model: str | None = None,
        orientation: app_commands.Choice[str] | None = None,
        dm: bool | None = None,
        reset: bool | None = None,
    ) -> None:
        """Set, show or reset the member's preferences; the answer is private."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        workspace = workspace_of(interaction)
        user = member_id(interaction)
        loc = interaction.locale
        changes = model is not None or orientation is not None or dm is not None
        if reset and changes:
            raise InvalidInput("`reset` clears all your preferences, so it goes alone. To change one preference, "
                               "give it without `reset`.")
        if reset:
            if await self.service.reset_preferences(workspace, user):
                content = tr("Your preferences in this server are cleared: /veo uses the server's defaults.", loc)
            else:
                content = tr("You had no preferences in this server: nothing to clear.", loc)
        elif changes:
            saved = await self.service.set_preferences(
                workspace, user, model=model, orientation=orientation.value if orientation else None,
                dm_when_ready=dm)
            content = tr("Saved. Your next /veo in this server uses these.", loc)
            if dm and saved.dm_when_ready:
                content += "\n" + tr("I'll send you a direct message when each of your videos is ready, if your "
                                     "privacy settings allow direct messages from this server's members.", loc)
        else:
            current = await self.service.preferences(workspace, user)
            content = "" if current.saved else tr(
                "You have no preferences in this server yet: /veo uses the server's defaults.", loc)
        preferences = await self.service.preferences(workspace, user)
        policy = await self.service.policy(workspace)
        await interaction.edit_original_response(content=clip(content, CONTENT) or None,
                                                 embed=preferences_embed(preferences, policy, loc))

    @prefer.autocomplete("model")
    async def model_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Offer the models this server allows that match what has been typed."""
        return await model_choices(self.service, self.settings, interaction, current)
