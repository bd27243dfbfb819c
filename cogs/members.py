"""Members' display names for reports: the guild's cached members, then Discord's API, else the id itself."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

import discord

log = logging.getLogger(__name__)

# Seconds the look-ups of a report's names may take in all; names not found by then are shown as ids.
LOOKUP_TIMEOUT = 5.0


async def _look_up(client: discord.Client, guild: discord.Guild, user_id: int) -> str | None:
    try:
        return (await guild.fetch_member(user_id)).display_name
    except discord.NotFound:
        pass  # no longer a member: their account's name still says who it was
    except discord.HTTPException as error:
        log.info("guild=%s member %s not looked up: %s", guild.id, user_id, error)
        return None
    try:
        return (await client.fetch_user(user_id)).display_name
    except discord.HTTPException:
        return None


async def display_names(client: discord.Client, guild: discord.Guild | None, ids: Iterable[str], *,
                        budget: float = LOOKUP_TIMEOUT) -> dict[str, str]:
    """The display names (nickname, global name or user name) of the members behind these text ids.

    The bot has no members intent, so most members are not cached: those are fetched, concurrently,
    within ``budget`` seconds; ids that are not Discord's, or not found in time, are left out.
    """
    wanted = [key for key in dict.fromkeys(ids) if key.isdigit()]
    names: dict[str, str] = {}
    if guild is None:
        return names
    missing: list[str] = []
    for key in wanted:
        member = guild.get_member(int(key))
        if member is not None:
            names[key] = member.display_name
        else:
            missing.append(key)

    async def fill(key: str) -> None:
        name = await _look_up(client, guild, int(key))
        if name:
            names[key] = name

    if missing:
        try:
            async with asyncio.timeout(budget):
                await asyncio.gather(*(fill(key) for key in missing))
        except TimeoutError:
            log.info("guild=%s names of %d members not looked up in %.0f s", guild.id,
                     len(set(missing) - set(names)), budget)
    return names
