"""The one error path for slash commands: expected errors become their message, the rest are logged."""

from __future__ import annotations

import logging
import uuid

import discord
from discord import app_commands

from bot.i18n import tr
from bot.jobs.errors import ChannelList, UserFacingError, msg
from cogs.limits import CONTENT, clip

log = logging.getLogger(__name__)

GENERIC = msg("Something went wrong; it has been logged.")
# Discord's own names for permissions where they differ from discord.py's attribute names.
PERMISSION_NAMES = {"manage_guild": "Manage Server", "manage_messages": "Manage Messages"}
# Discord error codes for an interaction whose token is gone: answering again can only fail again.
EXPIRED_CODES = frozenset({10062, 50027})


def user_message(error: BaseException, locale: discord.Locale | str | None = None) -> str | None:
    """The message to show for an expected error in the user's language, or None when it is a bug."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, UserFacingError):
        return tr(error.template, locale, **{name: _discord_text(value) for name, value in error.params.items()})
    if isinstance(error, app_commands.MissingPermissions):
        needed = ", ".join(PERMISSION_NAMES.get(p, p.replace("_", " ").title()) for p in error.missing_permissions)
        return tr("Only members with the {permission} permission can do this.", locale, permission=needed)
    if isinstance(error, app_commands.NoPrivateMessage):
        return tr("This command works in server channels only.", locale)
    if isinstance(error, app_commands.CommandOnCooldown):
        return tr("Slow down: try again in {seconds} s.", locale, seconds=f"{error.retry_after:.0f}")
    if isinstance(error, app_commands.CheckFailure):
        return tr("You can't use this command here.", locale)
    if isinstance(error, app_commands.TransformerError):
        return tr("One of the options has a value I can't use. Please check it and try again.", locale)
    return None


def _discord_text(value: object) -> object:
    """A message parameter as Discord shows it: channels named by id become channel links."""
    if isinstance(value, ChannelList):
        return ", ".join(f"<#{channel}>" for channel in value.ids)
    return value


async def reply_ephemeral(interaction: discord.Interaction, text: str) -> None:
    """Answer with an ephemeral message whether or not the interaction was already deferred."""
    text = clip(text, CONTENT)
    try:
        if interaction.response.is_done():
            await interaction.edit_original_response(content=text, embed=None, attachments=[])
        else:
            await interaction.response.send_message(text, ephemeral=True)
    except discord.HTTPException as exc:
        # An expired token (10062 / 50027) is final: retrying would only earn more 401/404s.
        level = logging.INFO if exc.code in EXPIRED_CODES else logging.WARNING
        log.log(level, "could not answer interaction %s: %s %s", interaction.id, exc.status, exc.code)


async def answer_error(interaction: discord.Interaction, error: Exception) -> None:
    """Answer a button or form whose work failed: the expected error's message, else a logged generic one."""
    message = user_message(error, interaction.locale)
    if message is None:
        log.error("%s failed guild=%s user=%s", interaction.type.name, interaction.guild_id, interaction.user.id,
                  exc_info=error)
        message = tr(GENERIC, interaction.locale)
    await reply_ephemeral(interaction, message)


class VeoCommandTree(app_commands.CommandTree[discord.Client]):
    """A command tree whose ``on_error`` is the bot's single error handler."""

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError, /) -> None:
        command = interaction.command.name if interaction.command else "?"
        original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        if isinstance(original, discord.HTTPException) and original.code in EXPIRED_CODES:
            # The interaction is gone (acknowledged too late, or its token expired): any answer would fail too.
            log.warning("command /%s interaction %s expired (code %s) guild=%s user=%s", command, interaction.id,
                        original.code, interaction.guild_id, interaction.user.id)
            return
        message = user_message(error, interaction.locale)
        if message is None:
            incident = uuid.uuid4().hex[:8]
            log.error(
                "command /%s failed incident=%s guild=%s channel=%s user=%s",
                command, incident, interaction.guild_id, interaction.channel_id, interaction.user.id,
                exc_info=original,
            )
            message = tr("Something went wrong; it has been logged. (incident {incident})", interaction.locale,
                         incident=incident)
        else:
            log.info("command /%s refused guild=%s user=%s: %s", command, interaction.guild_id,
                     interaction.user.id, type(error).__name__)
        await reply_ephemeral(interaction, message)
