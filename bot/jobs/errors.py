"""Expected failures: each carries a short, safe message that can be shown to a user as is."""

from __future__ import annotations

from dataclasses import dataclass


def msg(template: str) -> str:
    """Mark an English template as user-facing text to translate; returns it unchanged."""
    return template


@dataclass(frozen=True, slots=True)
class ChannelList:
    """Channels named in a user message, by id; each face renders them its own way (as links where it can)."""

    ids: tuple[str, ...]

    def __str__(self) -> str:
        return ", ".join(f"#{channel}" for channel in self.ids)


class UserFacingError(Exception):
    """An expected failure whose ``user_message`` is safe to show to a Discord (or Slack) user.

    The message is an English template with ``{placeholders}`` filled from ``params``; front-ends may
    look the template up in a translation catalogue and fill it themselves.
    """

    default_message = "Something went wrong; it has been logged."

    def __init__(
        self, user_message: str | None = None, *, detail: str | None = None, params: dict[str, object] | None = None
    ) -> None:
        self.template = user_message or self.default_message
        self.params = params or {}
        self.user_message = self.template.format(**self.params) if self.params else self.template
        # ``detail`` is for the operator's log only; it must never hold a secret either.
        self.detail = detail
        super().__init__(detail or self.user_message)


class InvalidInput(UserFacingError):
    """The user's command options or attachments cannot be used; nothing was stored or submitted."""


class NotAllowed(UserFacingError):
    """The user may not do this (permissions, ownership, a paused guild)."""


class NotFound(UserFacingError):
    """The job (or other object) the user named does not exist or is not theirs to see."""


class LimitReached(UserFacingError):
    """A queue length or quota limit refuses the request."""
