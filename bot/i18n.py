"""Translations: English templates are the keys; Korean and Vietnamese catalogues map them by locale."""

from __future__ import annotations

import json
import logging
import string
from functools import cache
from importlib import resources
from typing import Any

log = logging.getLogger(__name__)

LANGUAGES = ("en", "ko", "vi")
_FORMATTER = string.Formatter()


# A platform's locale: a code such as ``ko`` or ``vi-VN``, or an enum whose ``value`` is one (Discord's).
Locale = object


def language(locale: Locale | None) -> str:
    """The catalogue for a locale (``ko``, ``vi``), English for every other one."""
    code = str(getattr(locale, "value", locale) or "").lower()
    base = code.split("-")[0]
    return base if base in LANGUAGES else "en"


@cache
def catalogue(lang: str) -> dict[str, str]:
    """The translations of one language, keyed by the English template (empty for English)."""
    if lang == "en":
        return {}
    text = resources.files("bot.locales").joinpath(f"{lang}.json").read_text(encoding="utf-8")
    data: dict[str, str] = json.loads(text)
    return data


def placeholders(template: str) -> set[str]:
    """The ``{names}`` a template fills in."""
    return {name for _, name, _, _ in _FORMATTER.parse(template) if name}


def tr(template: str, locale: Locale | None = None, /, **params: Any) -> str:
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
