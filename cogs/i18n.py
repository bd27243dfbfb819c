"""Translations: English templates are the keys; Korean and Vietnamese catalogues map them by locale."""

from __future__ import annotations

import json
import logging
import string
from functools import cache
from importlib import resources
from typing import Any

import discord
from discord import app_commands

log = logging.getLogger(__name__)

LANGUAGES = ("en", "ko", "vi")
_FORMATTER = string.Formatter()


def language(locale: discord.Locale | str | None) -> str:
    """The catalogue for a Discord locale (``ko``, ``vi``), English for every other one."""
    code = str(locale.value if isinstance(locale, discord.Locale) else locale or "").lower()
    base = code.split("-")[0]
    return base if base in LANGUAGES else "en"


@cache
def catalogue(lang: str) -> dict[str, str]:
    """The translations of one language, keyed by the English template (empty for English)."""
    if lang == "en":
        return {}
    text = resources.files("cogs.locales").joinpath(f"{lang}.json").read_text(encoding="utf-8")
    data: dict[str, str] = json.loads(text)
    return data


def placeholders(template: str) -> set[str]:
    """The ``{names}`` a template fills in."""
    return {name for _, name, _, _ in _FORMATTER.parse(template) if name}


def tr(template: str, locale: discord.Locale | str | None = None, /, **params: Any) -> str:
    """Translate an English template for ``locale`` and fill in ``params`` (English when untranslated)."""
    translated = catalogue(language(locale)).get(template, template)
    if not params:
        return translated
    try:
        return translated.format(**params)
    except (KeyError, IndexError, ValueError):
        # A broken translation must never hide the message: fall back to English.
        log.warning("translation of %r does not fit its parameters", template[:60])
        return template.format(**params)


class VeoTranslator(app_commands.Translator):
    """Gives Discord the Korean and Vietnamese names and descriptions of the slash commands."""

    async def translate(
        self, string: app_commands.locale_str, locale: discord.Locale, context: app_commands.TranslationContextTypes
    ) -> str | None:
        lang = language(locale)
        if lang == "en":
            return None
        return catalogue(lang).get(string.message)
