"""Slash-command sync only when the command payload changed (Discord allows 200 creates a day per guild)."""

from __future__ import annotations

import hashlib
import json
import logging

import discord
from discord import app_commands

from bot.jobs.ports import JobStore

log = logging.getLogger(__name__)


async def payload_hash(tree: app_commands.CommandTree[discord.Client], guild: discord.abc.Snowflake | None) -> str:
    """A stable hash of what ``tree.sync(guild=guild)`` would send, translations included."""
    commands = tree.get_commands(guild=guild)
    translator = tree.translator
    dicts = [await c.get_translated_payload(tree, translator) if translator else c.to_dict(tree) for c in commands]
    payload = sorted(dicts, key=lambda d: str(d.get("name")))
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


async def sync_commands(
    tree: app_commands.CommandTree[discord.Client],
    store: JobStore,
    guild_ids: tuple[int, ...],
    *,
    force: bool = False,
) -> list[str]:
    """Sync to each configured guild (instant) or globally; skip targets whose payload is unchanged."""
    targets: list[discord.Object | None] = [discord.Object(g) for g in guild_ids] or [None]
    synced: list[str] = []
    for guild in targets:
        if guild is not None:
            # Without copying, syncing a guild would replace its commands with an empty list.
            tree.copy_global_to(guild=guild)
        name = f"guild {guild.id}" if guild is not None else "global"
        key = f"commands_hash:{name}"
        digest = await payload_hash(tree, guild)
        if not force and await store.get_meta(key) == digest:
            log.info("slash commands unchanged for %s; not syncing", name)
            continue
        await tree.sync(guild=guild)
        await store.set_meta(key, digest)
        log.info("slash commands synced for %s", name)
        synced.append(name)
    return synced
