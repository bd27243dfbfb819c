"""The Discord face's entry points for the process (``bot.serve``): attach to the runtime, register the slash
commands (``veo-bot sync``), and its part of ``veo-bot doctor``."""

from __future__ import annotations

import logging

import discord

from bot.config import Settings
from bot.ops.doctor import Finding
from bot.runtime import Runtime
from bot.serve import FaceFailed
from cogs.app import VeoApp, configure_discord_endpoints
from cogs.sync import sync_commands as sync_tree

log = logging.getLogger(__name__)

TOKEN_REFUSED = "Discord refused the bot token: check DISCORD_TOKEN"  # noqa: S105 (names the setting)
INTENTS_REFUSED = "Discord refused the gateway intents"


class DiscordFace:
    """The Discord face as one of the process's faces: its client on the process's runtime."""

    def __init__(self, app: VeoApp) -> None:
        self.app = app

    async def start(self) -> None:
        """Log in (a refused token is ``FaceFailed``) and connect to the gateway in the background."""
        try:
            await self.app.start()
        except discord.LoginFailure:
            raise FaceFailed(TOKEN_REFUSED) from None

    async def wait_stopped(self) -> None:
        """Return when the gateway connection ends; ``FaceFailed`` when Discord refused the bot."""
        try:
            await self.app.wait_stopped()
        except discord.LoginFailure:
            raise FaceFailed(TOKEN_REFUSED) from None
        except discord.PrivilegedIntentsRequired:
            raise FaceFailed(INTENTS_REFUSED) from None

    async def close(self) -> None:
        """Close the client."""
        await self.app.close()

    async def kill(self) -> None:
        """Drop the connection abruptly."""
        await self.app.kill()


async def attach(runtime: Runtime) -> DiscordFace:
    """Add the Discord face (client, commands, notifier) to the process's runtime."""
    configure_discord_endpoints(runtime.settings)
    return DiscordFace(VeoApp(runtime))


async def sync_commands(settings: Settings) -> int:
    """Register the slash commands now, whether or not they changed since the last sync."""
    app = await VeoApp.create(settings)
    app.takes_commands = True  # whatever the process's role: these are the commands to register
    app.sync_on_start = False
    app.worker_enabled = False
    try:
        await app.bot.login(settings.discord_token.get_secret_value())  # runs setup_hook: the cogs are added
        synced = await sync_tree(app.bot.tree, app.store, settings.guild_ids, force=True)
        print("synced: " + ", ".join(synced))
    except discord.LoginFailure:
        log.error(TOKEN_REFUSED)
        return 1
    finally:
        await app.close()
    return 0


async def doctor_findings(settings: Settings) -> tuple[list[Finding], list[str]]:
    """The Discord checks (token, intents, guilds, permissions), and the invite link to print after them."""
    from cogs.doctor import discord_findings  # discord.py's login and gateway code, only for the doctor

    return await discord_findings(settings)
