"""How jobs look in Discord: the status embed, progress bars, result and failure texts, list lines."""

from __future__ import annotations

import time

import discord

from bot.mock_provider import is_mock_task
from bot.models import Job, JobStatus
from bot.ports import StatusView

PROMPT_IN_EMBED = 1000
PROMPT_EXCERPT = 60
BAR_CELLS = 12

STATE_LABELS: dict[JobStatus, str] = {
    JobStatus.QUEUED: "⏳ Waiting in the queue",
    JobStatus.SUBMITTING: "📤 Sending to the video service",
    JobStatus.SUBMITTED: "🕐 Accepted, waiting to start",
    JobStatus.RUNNING: "🎬 Generating",
    JobStatus.COMPLETED: "📦 Done, posting the video",
    JobStatus.DELIVERED: "✅ Delivered",
    JobStatus.FAILED: "❌ Failed",
    JobStatus.CANCELLED: "🚫 Cancelled",
    JobStatus.TIMED_OUT: "⌛ Timed out",
}
STATE_COLOURS: dict[JobStatus, discord.Colour] = {
    JobStatus.DELIVERED: discord.Colour.green(),
    JobStatus.FAILED: discord.Colour.red(),
    JobStatus.TIMED_OUT: discord.Colour.red(),
    JobStatus.CANCELLED: discord.Colour.light_grey(),
}
SAFETY_HINT = "Try rephrasing the prompt (or using another image) and run /veo again."
MOCK_LABEL = "🧪 Mock provider: a local test video, no credits spent"
MOCK_NOTE = "🧪 This is a mock video made by the bot itself for testing (VEO_PROVIDER=mock), not by Veo."


def plain(text: str) -> str:
    """User text made inert: no mentions, no markdown, no links that render, one line."""
    text = " ".join(text.split())
    return discord.utils.escape_markdown(discord.utils.escape_mentions(text))


def excerpt(text: str, limit: int = PROMPT_EXCERPT) -> str:
    """A short, inert excerpt of a prompt."""
    flat = " ".join(text.split())
    return plain(flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…")


def progress_bar(percent: int) -> str:
    """A text progress bar such as ``▰▰▰▱▱▱▱▱▱▱▱▱ 25%``."""
    percent = max(0, min(100, percent))
    filled = round(percent * BAR_CELLS / 100)
    return "▰" * filled + "▱" * (BAR_CELLS - filled) + f" {percent}%"


def age(seconds: float) -> str:
    """A short human duration: ``45 s``, ``3 min``, ``2 h 5 min``, ``3 d``."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        hours, rest = divmod(seconds, 3600)
        return f"{hours} h {rest // 60} min" if rest >= 60 else f"{hours} h"
    return f"{seconds // 86400} d"


def message_link(guild_id: int, channel_id: int, message_id: int | None) -> str | None:
    """A jump link to a message, or None."""
    if message_id is None:
        return None
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


def state_line(job: Job, position: int = 0) -> str:
    """The job's state in one line: label, and progress or queue position where they mean something."""
    label = STATE_LABELS[job.status]
    if job.status in (JobStatus.SUBMITTED, JobStatus.RUNNING):
        return f"{label} · {progress_bar(job.progress)}"
    if job.status is JobStatus.QUEUED and position:
        return f"{label} · position {position}"
    return label


def status_embed(job: Job, view: StatusView, *, now: float | None = None) -> discord.Embed:
    """The status message of a job: prompt, model, orientation, number, state, progress, position, quota."""
    position = view.position
    prompt = job.prompt if len(job.prompt) <= PROMPT_IN_EMBED else job.prompt[: PROMPT_IN_EMBED - 1] + "…"
    embed = discord.Embed(
        title=f"Veo video · job #{job.id}",
        description=discord.utils.escape_markdown(prompt),
        colour=STATE_COLOURS.get(job.status, discord.Colour.blurple()),
    )
    if is_mock_task(job.task_id):
        embed.set_author(name=MOCK_LABEL)
    embed.add_field(name="Requested by", value=f"<@{job.user_id}>", inline=True)
    embed.add_field(name="Model", value=plain(job.model), inline=True)
    embed.add_field(name="Orientation", value=job.orientation, inline=True)
    state = state_line(job)
    if view.paused:
        reason = f": {plain(view.pause_reason)}" if view.pause_reason else ""
        state = f"⏸️ Waiting: the server's moderators paused video jobs{reason}"
    embed.add_field(name="State", value=state, inline=False)
    if job.status in (JobStatus.QUEUED, JobStatus.SUBMITTING, JobStatus.SUBMITTED, JobStatus.RUNNING) and position:
        embed.add_field(name="Position", value=f"{position} in this server's queue", inline=True)
    if view.quota_limit:
        left = max(0, view.quota_limit - (view.quota_used or 0))
        embed.add_field(name="Daily quota", value=f"{left} of {view.quota_limit} left today", inline=True)
    if job.image_count:
        embed.add_field(name="Images", value="first frame" if job.image_count == 1 else "first and last frame")
    if job.status in (JobStatus.FAILED, JobStatus.TIMED_OUT) and job.error:
        embed.add_field(name="Why", value=failure_reason(job), inline=False)
    if job.delivered_message_id is not None and job.status is JobStatus.DELIVERED:
        link = message_link(job.guild_id, job.channel_id, job.delivered_message_id)
        embed.add_field(name="Result", value=f"[Jump to the video]({link})", inline=False)
    elapsed = (now if now is not None else time.time()) - job.created_at
    embed.set_footer(text=f"Job #{job.id} · {job.status} · started {age(elapsed)} ago")
    return embed


def failure_reason(job: Job) -> str:
    """Why a job produced no video, in plain words, with a hint for safety rejections."""
    if job.status is JobStatus.TIMED_OUT:
        return "The video service did not finish it in time. Please try again later."
    reason = plain(job.error or "The video service could not make this video.")
    if job.safety_rejection:
        return f"The video service's safety filter refused it: {reason} {SAFETY_HINT}"
    return reason


def result_text(job: Job, *, link: str | None, note: str | None = None) -> str:
    """The message that carries the finished video (or a link to it)."""
    lines = [f"<@{job.user_id}> your video is ready (job #{job.id}): {excerpt(job.prompt, 120)}"]
    if link:
        lines.append(f"The file is too large to upload here; download it: {link}")
    if note:
        lines.append(note)
    if is_mock_task(job.task_id):
        lines.append(MOCK_NOTE)
    return "\n".join(lines)


def failure_text(job: Job) -> str:
    """The message that tells the requester their job failed, and why."""
    what = "timed out" if job.status is JobStatus.TIMED_OUT else "failed"
    return f"<@{job.user_id}> your video job #{job.id} {what}. {failure_reason(job)}"


def job_line(job: Job, *, now: float, position: int = 0, show_owner: bool = False) -> str:
    """One job in a list: number, state, progress, age, prompt excerpt, owner and result link."""
    parts = [f"**#{job.id}**", state_line(job, position), f"{age(now - job.created_at)} ago"]
    if show_owner:
        parts.append(f"<@{job.user_id}>")
    parts.append(f"“{excerpt(job.prompt, 40)}”")
    link = message_link(job.guild_id, job.channel_id, job.delivered_message_id)
    if link:
        parts.append(f"[result]({link})")
    return " · ".join(parts)
