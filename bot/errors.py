"""Expected failures: each carries a short, safe message that can be shown to a user as is."""

from __future__ import annotations


class UserFacingError(Exception):
    """An expected failure whose ``user_message`` is safe to show to a Discord (or Slack) user."""

    default_message = "Something went wrong; it has been logged."

    def __init__(self, user_message: str | None = None, *, detail: str | None = None) -> None:
        self.user_message = user_message or self.default_message
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
