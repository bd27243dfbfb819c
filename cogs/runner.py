"""The Discord front-end's entry points for the command line: ``run`` and ``sync_commands``."""

from __future__ import annotations

import asyncio
import logging
import signal

import discord

from bot.config import Settings
from bot.ops.event_loop import loop_name
from cogs.app import VeoApp
from cogs.sync import sync_commands as sync_tree

log = logging.getLogger(__name__)


async def run(settings: Settings) -> int:
    """Run the bot until SIGINT or SIGTERM, then shut down cleanly; return the exit code."""
    app = await VeoApp.create(settings)
    loop = asyncio.get_running_loop()
    log.info("event loop: %s", loop_name(loop))
    stopping = asyncio.Event()

    def stop() -> None:
        log.info("shutting down")
        stopping.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    try:
        serve = asyncio.create_task(app.serve())
        stop_wait = asyncio.create_task(stopping.wait())
        done, _ = await asyncio.wait({serve, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
        stop_wait.cancel()
        if serve in done and serve.exception() is not None:
            raise serve.exception()  # type: ignore[misc]
    except discord.LoginFailure:
        log.error("Discord refused the bot token: check DISCORD_TOKEN")
        return 1
    except discord.PrivilegedIntentsRequired:
        log.error("Discord refused the gateway intents")
        return 1
    finally:
        await app.close()
    return 0


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
        log.error("Discord refused the bot token: check DISCORD_TOKEN")
        return 1
    finally:
        await app.close()
    return 0


async def doctor(settings: Settings) -> int:
    """Check the settings, database, CometAPI key, Discord token, intents and permissions; print what to fix."""
    from cogs.doctor import run_doctor

    return await run_doctor(settings)
