"""Members' own defaults for new jobs (``/veo-prefer``), and what a request gets from them.

An option given with the request wins over the member's preference, which wins over the workspace's
default. A preferred model the workspace no longer allows is not used: the request gets the workspace's
default instead, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import ORIENTATIONS
from bot.jobs.errors import InvalidInput, NotAllowed
from bot.jobs.policy import Policy
from bot.jobs.records import Workspace
from bot.jobs.requests import pick_model, pick_orientation


@dataclass(frozen=True, slots=True)
class MemberPreferences:
    """A member's own defaults in one workspace; None (and False) mean "the workspace's default"."""

    platform: str
    workspace_id: str
    user_id: str
    model: str | None = None
    orientation: str | None = None
    dm_when_ready: bool = False  # a direct message once each video (or failure notice) is posted
    updated_at: float | None = None  # None: nothing saved

    @property
    def workspace(self) -> Workspace:
        """The platform and workspace these preferences hold in."""
        return Workspace(self.platform, self.workspace_id)

    @property
    def saved(self) -> bool:
        """True when the member saved preferences here (and has not reset them since)."""
        return self.updated_at is not None


@dataclass(frozen=True, slots=True)
class RequestChoices:
    """What a new job gets: its model, orientation and direct-message choice.

    ``unavailable_model`` is the member's preferred model when the workspace no longer allows it (the job
    then has the workspace's default model).
    """

    model: str
    orientation: str
    dm_when_ready: bool
    unavailable_model: str | None = None


def choose(
    preferences: MemberPreferences, policy: Policy, *, model: str | None, orientation: str | None
) -> RequestChoices:
    """The request's options, else the member's preferences (while allowed), else the workspace's defaults.

    An option the workspace does not offer is refused (``InvalidInput``), as it is without preferences.
    """
    unavailable: str | None = None
    if model is not None and model.strip():
        chosen_model = pick_model(model, policy.models, policy.default_model)
    elif preferences.model is not None and preferences.model in policy.models:
        chosen_model = preferences.model
    else:
        chosen_model = policy.default_model
        unavailable = preferences.model
    if orientation is not None:
        chosen_orientation = pick_orientation(orientation, ORIENTATIONS)
    elif preferences.orientation in ORIENTATIONS:
        chosen_orientation = preferences.orientation
    else:
        chosen_orientation = ORIENTATIONS[0]
    return RequestChoices(chosen_model, chosen_orientation, preferences.dm_when_ready, unavailable)


def preferred_model(model: str, policy: Policy, offered: tuple[str, ...]) -> str:
    """A model a member may prefer in this workspace: one the bot offers and the workspace allows."""
    chosen = model.strip()
    allowed = ", ".join(f"`{m}`" for m in policy.models)
    if chosen not in offered:
        raise InvalidInput("Unknown model. Pick one of: {models}.", params={"models": allowed})
    if chosen not in policy.models:
        raise NotAllowed("This server allows these models only: {models}.", params={"models": allowed})
    return chosen


def preferred_orientation(orientation: str) -> str:
    """An orientation a member may prefer (16x9 or 9x16)."""
    return pick_orientation(orientation, ORIENTATIONS)
