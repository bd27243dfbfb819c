"""The requester's direct message once a job's result is posted in the channel: a short note and a link."""

from __future__ import annotations

import aiohttp
import discord

from bot.i18n import tr
from bot.jobs.ports import DeliveryFailed
from bot.jobs.records import Job, JobStatus
from cogs.ids import snowflake
from cogs.limits import CONTENT, clip
from cogs.render import excerpt, message_link

# Discord's 403 when the member does not take direct messages from the bot (closed, no server in common,
# blocked); a deleted account is 404 Unknown User, an id that names no user 400.
CANNOT_MESSAGE_USER = 50007


def ready_dm_text(job: Job) -> str:
    """The direct message: what happened to the job, the link to its result message, and the prompt."""
    loc = job.locale
    link = message_link(job, job.delivered_message_id) or ""
    if job.status is JobStatus.TIMED_OUT:
        head = tr("⌛ Your video job #{job} timed out: {link}", loc, job=job.id, link=link)
    elif job.status is JobStatus.FAILED:
        head = tr("❌ Your video job #{job} failed: {link}", loc, job=job.id, link=link)
    else:
        head = tr("🎬 Your video #{job} is ready: {link}", loc, job=job.id, link=link)
    return clip(f"{head}\n> {excerpt(job.prompt, 200)}", CONTENT)


async def send_ready_dm(client: discord.Client, job: Job, *, nonce: str) -> str:
    """Open (or reuse) the DM channel with the requester and post the note; return its message id.

    Raises ``DeliveryFailed``: permanent when Discord will not take it (the member refuses direct messages or
    is gone), else worth another try.
    """
    try:
        channel = await client.create_dm(discord.Object(snowflake(job.user_id)))
        message = await channel.send(ready_dm_text(job), nonce=nonce,
                                     allowed_mentions=discord.AllowedMentions.none())
    except discord.HTTPException as exc:
        if exc.code == CANNOT_MESSAGE_USER:
            raise DeliveryFailed("the member does not take direct messages from the bot", permanent=True) from exc
        # Other 4xx will answer the same next time; 5xx (after discord.py's own retries) may pass.
        raise DeliveryFailed(f"Discord answered {exc.status} (code {exc.code})", permanent=exc.status < 500) from exc
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise DeliveryFailed(type(exc).__name__, permanent=False) from exc
    return str(message.id)
