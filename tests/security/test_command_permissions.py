"""Moderator and admin commands check permissions when they run, whatever a server did to Discord's defaults.

``default_permissions`` only hides a command until a server admin overrides it; the fake Discord dispatches
every command whatever its defaults say, as Discord does after such an override. Every command that declares
default permissions must therefore refuse members who lack them, at run time.
"""

from __future__ import annotations

from pathlib import Path

import discord
from discord import app_commands

from tests.support.e2e import MEMBER_PERMISSIONS, running_bot, world


def _commands(items: list[app_commands.Command | app_commands.Group]) -> list[app_commands.Command]:
    found: list[app_commands.Command] = []
    for item in items:
        if isinstance(item, app_commands.Group):
            found += _commands(list(item.commands))
        elif isinstance(item, app_commands.Command):
            found.append(item)
    return found


def _required(command: app_commands.Command) -> discord.Permissions | None:
    node: app_commands.Command | app_commands.Group | None = command
    while node is not None:
        if node.default_permissions is not None and node.default_permissions.value:
            return node.default_permissions
        node = node.parent
    return None


def _checks_at_run_time(command: app_commands.Command) -> bool:
    if command.checks:
        return True
    check = getattr(type(command.binding), "interaction_check", None)
    # discord.py marks the Cog's do-nothing default; an override has no such mark.
    return check is not None and not hasattr(check, "__cog_special_method__")


async def test_every_command_with_default_permissions_refuses_members_at_run_time(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w) as app:
        guarded = [c for c in _commands(list(app.bot.tree.get_commands())) if _required(c) is not None]
        assert {c.qualified_name.split()[0] for c in guarded} >= {"veo-queue", "veo-admin"}
        unchecked = [c.qualified_name for c in guarded if not _checks_at_run_time(c)]
        assert unchecked == [], f"commands hidden by default_permissions only: {unchecked}"
        for command in guarded:
            required = _required(command)
            assert required is not None and MEMBER_PERMISSIONS & required.value != required.value
            interaction = await w.discord.invoke_command(
                command.qualified_name, channel_id=w.channel.id, user=w.member, permissions=MEMBER_PERMISSIONS)
            reply = await interaction.wait_for_response(timeout=5, predicate=lambda m: bool(m.content))
            assert "permission" in reply.content.lower(), (command.qualified_name, reply.content)
