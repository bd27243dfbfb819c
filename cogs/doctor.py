"""``veo-bot doctor``: the Discord checks (token, gateway intents, guilds, permissions) and the whole report."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import aiohttp
import discord

from bot.config import Settings
from bot.mock.provider import mock_available
from bot.ops.doctor import Finding, Level, common_findings, exit_code, report
from bot.ops.postgres_checks import postgres_server_findings
from cogs.app import bot_intents, configure_discord_endpoints
from db import open_store, read_postgres_server

# What the bot needs in a channel to post status messages and videos, and to check its own earlier posts.
REQUIRED_PERMISSIONS = discord.Permissions(
    view_channel=True, send_messages=True, embed_links=True, attach_files=True, read_message_history=True
)
SCOPES = ("bot", "applications.commands")
GATEWAY_TIMEOUT = 30.0
MAX_GUILDS_LISTED = 25
DISALLOWED_INTENTS = 4014


def invite_url(application_id: int) -> str:
    """The link a server admin opens to add the bot with the scopes and permissions it needs."""
    return discord.utils.oauth_url(application_id, permissions=REQUIRED_PERMISSIONS, scopes=SCOPES)


def _names(permissions: discord.Permissions) -> str:
    return ", ".join(name.replace("_", " ").title() for name, on in permissions if on)


def _missing(have: discord.Permissions) -> discord.Permissions:
    if have.administrator:
        return discord.Permissions.none()
    return discord.Permissions(REQUIRED_PERMISSIONS.value & ~have.value)


async def _guild_findings(client: discord.Client, settings: Settings, application_id: int) -> list[Finding]:
    invite = f"invite it with {invite_url(application_id)}"
    targets = list(settings.guild_ids) or [g.id for g in client.guilds][:MAX_GUILDS_LISTED]
    if not targets:
        return [Finding(Level.WARN, "guilds", "the bot is in no server yet", f"a server admin can {invite}")]
    found = []
    for guild_id in targets:
        guild = client.get_guild(guild_id)
        if guild is None:
            found.append(Finding(Level.FAIL, f"guild {guild_id}", "the bot is not in this server (DISCORD_GUILD_IDS)",
                                 f"a server admin can {invite}, or remove the id from DISCORD_GUILD_IDS"))
            continue
        label = f"guild {guild.name} ({guild.id})"
        missing = _missing(guild.me.guild_permissions)
        if missing.value:
            found.append(Finding(Level.FAIL, label, f"the bot's roles lack: {_names(missing)}",
                                 "give the bot's role these permissions, or re-invite it with the link below"))
        channels = guild.text_channels
        usable = [c for c in channels if not _missing(c.permissions_for(guild.me)).value]
        if not usable:
            found.append(Finding(Level.FAIL, label, f"the bot cannot post videos in any of its {len(channels)} "
                                 "text channels", f"allow {_names(REQUIRED_PERMISSIONS)} in the channels for /veo"))
        elif not missing.value:
            found.append(Finding(Level.OK, label, f"can post videos in {len(usable)} of {len(channels)} "
                                 "text channels"))
        try:
            await client.http.get_guild_commands(application_id, guild.id)
        except discord.Forbidden:
            found.append(Finding(Level.FAIL, label, "the bot may not create slash commands here",
                                 f"re-invite it with the applications.commands scope: {invite_url(application_id)}"))
        except discord.HTTPException:
            pass  # another failure says nothing about the scope; the permission checks above still hold
    return found


async def _connect(client: discord.Client, gateway_wait: float) -> Finding:
    """Open a gateway session with the bot's intents and wait until its guilds have arrived."""
    connect = asyncio.create_task(client.connect(reconnect=False))
    ready = asyncio.create_task(client.wait_until_ready())
    done, _ = await asyncio.wait({connect, ready}, timeout=gateway_wait, return_when=asyncio.FIRST_COMPLETED)
    ready.cancel()
    if ready in done:
        return Finding(Level.OK, "gateway", f"connected; intents accepted ({_intent_names(client.intents)})")
    error = connect.exception() if connect in done else None
    # With reconnect=False discord.py raises the raw close; 4014 is "disallowed intents".
    refused = isinstance(error, discord.ConnectionClosed) and error.code == DISALLOWED_INTENTS
    if isinstance(error, discord.PrivilegedIntentsRequired) or refused:
        return Finding(Level.FAIL, "gateway", "Discord refused the privileged gateway intents the bot asked for",
                       "enable them under Bot → Privileged Gateway Intents in the developer portal")
    if error is not None:
        return Finding(Level.FAIL, "gateway", f"the gateway connection failed: {type(error).__name__}",
                       "check DISCORD_GATEWAY_URL and the network, then try again")
    return Finding(Level.FAIL, "gateway", f"no gateway session within {gateway_wait:g} s",
                   "check DISCORD_GATEWAY_URL and the network, then try again")


def _intent_names(intents: discord.Intents) -> str:
    privileged = [name for name in ("members", "presences", "message_content") if getattr(intents, name)]
    return "privileged: " + ", ".join(privileged) if privileged else "no privileged intents"


async def check_discord(
    settings: Settings, *, intents: discord.Intents | None = None, gateway_wait: float = GATEWAY_TIMEOUT
) -> tuple[list[Finding], int | None]:
    """Log in, read the application, open a gateway session and check each guild; return the application id."""
    configure_discord_endpoints(settings)
    client = discord.Client(intents=intents or bot_intents())
    try:
        try:
            await client.login(settings.discord_token.get_secret_value())
        except discord.LoginFailure:
            return [Finding(Level.FAIL, "discord token", "Discord refused DISCORD_TOKEN",
                            "copy a new token from the developer portal (Bot → Reset Token) into DISCORD_TOKEN")], None
        except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
            return [Finding(Level.FAIL, "discord token", f"Discord could not be reached ({type(exc).__name__})",
                            "check DISCORD_API_BASE_URL and the network, then try again")], None
        assert client.user is not None
        found = [Finding(Level.OK, "discord token", f"logged in as {client.user} ({client.user.id})")]
        application = await client.application_info()
        if not application.bot_public:
            found.append(Finding(Level.WARN, "application", "the bot is private: only its owner can invite it",
                                 "turn on Public Bot in the developer portal if other admins should add it"))
        gateway = await _connect(client, gateway_wait)
        found.append(gateway)
        if gateway.level is Level.OK:
            found += await _guild_findings(client, settings, application.id)
        return found, application.id
    finally:
        with contextlib.suppress(Exception):
            await client.close()


async def discord_findings(
    settings: Settings, *, intents: discord.Intents | None = None, gateway_wait: float = GATEWAY_TIMEOUT
) -> tuple[list[Finding], list[str]]:
    """The Discord face's part of the doctor: its findings, and the invite link to print after the report."""
    # discord.py's own INFO lines (login, gateway) would interleave with the report.
    logging.getLogger("discord").setLevel(logging.WARNING)
    found, application_id = await check_discord(settings, intents=intents, gateway_wait=gateway_wait)
    notes = []
    if application_id is not None:
        notes.append(f"Invite link (scopes {' + '.join(SCOPES)}, permissions {REQUIRED_PERMISSIONS.value}): "
                     f"{invite_url(application_id)}")
    return found, notes


async def run_doctor(
    settings: Settings,
    *,
    out: Callable[[str], None] = print,
    intents: discord.Intents | None = None,
    gateway_wait: float = GATEWAY_TIMEOUT,
) -> int:
    """Run every check of a Discord-only bot, print the report and the invite link; 0 when nothing failed, else 1."""
    findings = await common_findings(settings, open_store, mock_ready=mock_available())
    findings += await postgres_server_findings(settings, findings, read_postgres_server)
    face_findings, notes = await discord_findings(settings, intents=intents, gateway_wait=gateway_wait)
    findings += face_findings
    out(report(findings))
    for note in notes:
        out(note)
    return exit_code(findings)
