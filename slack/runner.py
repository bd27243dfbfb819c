"""The Slack face's entry points for the process (``bot.serve``): attach to the runtime, ``veo-bot sync`` (Slack
reads its commands from the app manifest) and its part of ``veo-bot doctor``."""

from __future__ import annotations

from bot.config import Settings
from bot.ops.doctor import Finding
from bot.runtime import Runtime
from slack.app import SlackFace


async def attach(runtime: Runtime) -> SlackFace:
    """Add the Slack face (Bolt app, commands, form, connection) to the process's runtime."""
    return await SlackFace.attach(runtime)


async def sync_commands(settings: Settings) -> int:
    """Nothing to register: Slack's slash commands are declared in the app manifest (see the README)."""
    print("slack: commands are declared in the app manifest (README, \"Slack\"); nothing to sync")
    return 0


async def doctor_findings(settings: Settings) -> tuple[list[Finding], list[str]]:
    """The Slack checks: token, scopes, Socket Mode token, channel membership."""
    from slack.doctor import slack_findings

    return await slack_findings(settings), []
