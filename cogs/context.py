"""What a persistent view finds on the client that received its interaction: the job service, continuations.

Views are rebuilt from custom ids after a restart, so they cannot be handed their services; they look them
up on ``interaction.client``. This small protocol types that lookup without importing the client's class.
"""

from __future__ import annotations

from typing import Protocol, cast

import discord

from bot.jobs.continuation import Continuations
from bot.jobs.service import JobService


class ServesJobs(Protocol):
    """A Discord client that carries the job service (the face's ``VeoBot``)."""

    @property
    def job_service(self) -> JobService: ...

    @property
    def continuations(self) -> Continuations: ...


def job_service(interaction: discord.Interaction) -> JobService:
    """The job service of the client that received ``interaction``."""
    return cast(ServesJobs, interaction.client).job_service


def continuations(interaction: discord.Interaction) -> Continuations:
    """The continuations (next clips from a video's last frame) of the client that received ``interaction``."""
    return cast(ServesJobs, interaction.client).continuations
