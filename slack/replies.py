"""Text for Slack replies: escaping for mrkdwn, and expected failures (``UserFacingError``) in the member's
language, with channels as Slack channel links."""

from __future__ import annotations

from bot.i18n import Locale, tr
from bot.jobs.errors import ChannelList, UserFacingError

# Slack's section text is at most 3000 characters; ephemeral replies stay well under it.
MAX_REPLY = 2900


def escape(text: str) -> str:
    """User or provider text made inert in mrkdwn: ``&``, ``<`` and ``>`` are Slack's only control characters,
    so ``<!channel>``, ``<!subteam^…>`` and ``<@U…>`` become plain text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _param(value: object) -> str:
    if isinstance(value, ChannelList):
        return ", ".join(f"<#{channel}>" for channel in value.ids)
    return escape(str(value))


def error_text(error: UserFacingError, locale: Locale | None) -> str:
    """An expected failure, translated, its parameters escaped (channels shown as links)."""
    params = {name: _param(value) for name, value in error.params.items()}
    return clip(tr(error.template, locale, **params))


def clip(text: str, limit: int = MAX_REPLY) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
