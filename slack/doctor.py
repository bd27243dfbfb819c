"""``veo-bot doctor``, the Slack part: the bot token works (``auth.test``), the granted scopes cover the
manifest's, the app-level token opens Socket Mode (``apps.connections.open``), and the bot is in each channel
its workspace allows /veo in."""

from __future__ import annotations

import contextlib

import aiohttp
from prometheus_client import CollectorRegistry, Counter
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.jobs.records import Workspace
from bot.ops.doctor import Finding, Level
from db import open_store
from slack.client import web_client
from slack.ids import PLATFORM
from slack.manifest import BOT_SCOPES

REINSTALL = ("add them to the app's manifest (README, \"Slack\"), then reinstall the app to the workspace "
             "(a scope change needs a reinstall) and put the new bot token in SLACK_BOT_TOKEN")
MAX_CHANNELS_CHECKED = 25


def _counter() -> Counter:
    # The doctor counts nothing for /metrics; the client wants a counter all the same.
    return Counter("doctor_slack_errors", "unused", ["method", "error"], registry=CollectorRegistry())


async def _token(client: AsyncWebClient) -> tuple[list[Finding], str | None]:
    try:
        response = await client.auth_test()
    except SlackApiError as exc:
        return [Finding(Level.FAIL, "slack token", f"Slack refused SLACK_BOT_TOKEN ({exc.response.get('error')})",
                        "copy the Bot User OAuth Token from the app's OAuth & Permissions page into "
                        "SLACK_BOT_TOKEN (reinstall the app if it was revoked)")], None
    except (TimeoutError, aiohttp.ClientError) as exc:
        return [Finding(Level.FAIL, "slack token", f"Slack could not be reached ({type(exc).__name__})",
                        "check SLACK_API_BASE_URL and the network, then try again")], None
    team = str(response.get("team_id") or "")
    found = [Finding(Level.OK, "slack token", f"works for workspace {response.get('team')} ({team}) as "
                     f"bot user {response.get('user_id')}")]
    header = response.headers.get("x-oauth-scopes") or response.headers.get("X-OAuth-Scopes")
    if header is None:
        found.append(Finding(Level.WARN, "slack scopes", "Slack did not say which scopes the token has",
                             "check OAuth & Permissions against the manifest's scopes"))
    else:
        granted = {scope.strip() for scope in str(header).split(",") if scope.strip()}
        missing = [scope for scope in BOT_SCOPES if scope not in granted]
        if missing:
            found.append(Finding(Level.FAIL, "slack scopes", "the bot token lacks: " + ", ".join(missing), REINSTALL))
        else:
            found.append(Finding(Level.OK, "slack scopes", f"all {len(BOT_SCOPES)} scopes of the manifest granted"))
    return found, team


async def _socket_mode(settings: Settings, client: AsyncWebClient) -> Finding:
    if settings.slack_mode != "socket":
        return Finding(Level.SKIP, "slack socket mode", "SLACK_MODE=http: Slack's requests come to /slack/events")
    try:
        await client.apps_connections_open(app_token=settings.slack_app_token.get_secret_value())
    except SlackApiError as exc:
        return Finding(Level.FAIL, "slack socket mode", f"Slack refused SLACK_APP_TOKEN ({exc.response.get('error')})",
                       "generate an app-level token with connections:write (Basic Information → App-Level "
                       "Tokens) into SLACK_APP_TOKEN, and turn Socket Mode on in the app's settings")
    except (TimeoutError, aiohttp.ClientError) as exc:
        return Finding(Level.FAIL, "slack socket mode", f"Slack could not be reached ({type(exc).__name__})",
                       "check SLACK_API_BASE_URL and the network, then try again")
    return Finding(Level.OK, "slack socket mode", "the app-level token opens a Socket Mode connection")


async def _channels(settings: Settings, client: AsyncWebClient, team: str) -> list[Finding]:
    store = await open_store(settings.database_url)
    try:
        allowed = (await store.workspace_settings(Workspace(PLATFORM, team))).allowed_channels
    finally:
        await store.close()
    if not allowed:
        return [Finding(Level.OK, "slack channels", "/veo is allowed in every channel the bot is invited to")]
    found = []
    for channel in allowed[:MAX_CHANNELS_CHECKED]:
        try:
            info = (await client.conversations_info(channel=channel)).get("channel") or {}
        except SlackApiError as exc:
            info = {"error": exc.response.get("error")}
        if info.get("is_member"):
            found.append(Finding(Level.OK, f"slack channel {channel}", "the bot is a member"))
        else:
            found.append(Finding(Level.FAIL, f"slack channel {channel}", "the bot is not in this allowed channel",
                                 "invite it there with /invite @veo, or remove the channel with /veo-admin"))
    return found


async def slack_findings(settings: Settings) -> list[Finding]:
    """Every Slack check, in order; later ones are skipped when the token does not work."""
    async with aiohttp.ClientSession() as session:
        client = web_client(settings.slack_api_base_url, session, _counter(), token=None, timeout=15)
        client.token = settings.slack_bot_token.get_secret_value()
        found, team = await _token(client)
        if team is None:
            return found
        found.append(await _socket_mode(settings, client))
        with contextlib.suppress(Exception):  # the database check reports a store that cannot open
            found += await _channels(settings, client, team)
        return found
