"""``VeoTranslator``: Discord's names and descriptions of the slash commands, from the catalogues."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.i18n import catalogue, language


class VeoTranslator(app_commands.Translator):
    """Gives Discord the Korean and Vietnamese names and descriptions of the slash commands."""

    async def translate(
        self, string: app_commands.locale_str, locale: discord.Locale, context: app_commands.TranslationContextTypes
    ) -> str | None:
        lang = language(locale)
        if lang == "en":
            return None
        return catalogue(lang).get(string.message)
