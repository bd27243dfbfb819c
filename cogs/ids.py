"""Discord in the job records: the platform's name, and Discord's snowflakes as the records' text ids."""

from __future__ import annotations

import discord

from bot.jobs.errors import InvalidInput
from bot.jobs.records import Workspace

PLATFORM = "discord"


def workspace_of(interaction: discord.Interaction) -> Workspace:
    """The server an interaction came from, as the job core names workspaces."""
    if interaction.guild_id is None:
        raise InvalidInput("This command works in server channels only.")
    return Workspace(PLATFORM, str(interaction.guild_id))


def member_id(interaction: discord.Interaction) -> str:
    """The member who used the command or clicked, as the records' text id."""
    return str(interaction.user.id)


def rules_channel_id(interaction: discord.Interaction) -> str:
    """The channel whose rules apply to an interaction: a thread's parent channel, else its own channel."""
    channel = interaction.channel
    if isinstance(channel, discord.Thread) and channel.parent_id is not None:
        return str(channel.parent_id)
    return str(interaction.channel_id)


def role_ids(interaction: discord.Interaction) -> list[str]:
    """The member's roles, as text ids (for the server's allowed roles)."""
    return [str(role.id) for role in getattr(interaction.user, "roles", [])]


def snowflake(text: str) -> int:
    """A record's text id back as Discord's integer id."""
    return int(text)
