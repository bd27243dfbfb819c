"""How jobs look in Discord: the status embed, progress bars, result and failure texts, list lines.

Every text is an English template translated with ``tr`` for the reader's locale: the requester's for
public messages, the caller's for private answers.
"""

from __future__ import annotations

import time
from collections import Counter

import discord

from bot.display import MOCK_LABEL, MOCK_NOTE, SAFETY_HINT, STATE_LABELS, age, state_line
from bot.i18n import tr
from bot.jobs.errors import msg
from bot.jobs.ports import StatusView
from bot.jobs.records import Job, JobStatus
from bot.mock.provider import is_mock_task
from cogs.limits import CONTENT, EMBED_DESCRIPTION, EMBED_TOTAL, FIELD_VALUE, clip, embed_size, fit_embed

Locale = discord.Locale | str | None

# Characters of the escaped prompt a status embed shows (a 1,000-character prompt, every character escaped).
PROMPT_IN_EMBED = 2000
PROMPT_EXCERPT = 60
STATE_COLOURS: dict[JobStatus, discord.Colour] = {
    JobStatus.DELIVERED: discord.Colour.green(),
    JobStatus.FAILED: discord.Colour.red(),
    JobStatus.TIMED_OUT: discord.Colour.red(),
    JobStatus.CANCELLED: discord.Colour.light_grey(),
}


def plain(text: str) -> str:
    """User text made inert: no mentions, no markdown, no links that render, one line."""
    text = " ".join(text.split())
    return discord.utils.escape_markdown(discord.utils.escape_mentions(text))


def excerpt(text: str, limit: int = PROMPT_EXCERPT) -> str:
    """A short, inert excerpt of a prompt: at most ``limit`` characters once escaped."""
    return clip(plain(text), limit)


def message_link(job: Job, message_id: str | None) -> str | None:
    """A jump link to one of a job's messages in its channel, or None."""
    if message_id is None:
        return None
    return f"https://discord.com/channels/{job.workspace_id}/{job.channel_id}/{message_id}"


def result_link(job: Job) -> str | None:
    """A jump link to the job's result: in the job's thread (whose id is its status message's) when it has one."""
    if job.delivered_message_id is None:
        return None
    where = job.status_message_id if job.in_thread and job.status_message_id is not None else job.channel_id
    return f"https://discord.com/channels/{job.workspace_id}/{where}/{job.delivered_message_id}"


def status_embed(job: Job, view: StatusView, *, now: float | None = None, locale: Locale = None) -> discord.Embed:
    """The status message of a job: prompt, model, orientation, number, state, progress, position, quota."""
    loc = locale if locale is not None else job.locale
    position = view.position
    embed = discord.Embed(
        title=tr("Veo video · job #{job}", loc, job=job.id),
        description=clip(discord.utils.escape_markdown(job.prompt), PROMPT_IN_EMBED),
        colour=STATE_COLOURS.get(job.status, discord.Colour.blurple()),
    )
    if is_mock_task(job.task_id):
        embed.set_author(name=tr(MOCK_LABEL, loc))
    embed.add_field(name=tr("Requested by", loc), value=f"<@{job.user_id}>", inline=True)
    embed.add_field(name=tr("Model", loc), value=plain(job.model), inline=True)
    embed.add_field(name=tr("Orientation", loc), value=job.orientation, inline=True)
    state = state_line(job, locale=loc)
    if view.paused:
        if view.pause_reason:
            state = tr("⏸️ Waiting: the server's moderators paused video jobs: {reason}", loc,
                       reason=plain(view.pause_reason))
        else:
            state = tr("⏸️ Waiting: the server's moderators paused video jobs", loc)
    embed.add_field(name=tr("State", loc), value=clip(state, FIELD_VALUE), inline=False)
    if job.status in (JobStatus.QUEUED, JobStatus.SUBMITTING, JobStatus.SUBMITTED, JobStatus.RUNNING) and position:
        embed.add_field(name=tr("Position", loc), value=tr("{position} in this server's queue", loc,
                                                            position=position), inline=True)
    if view.quota_limit:
        left = max(0, view.quota_limit - (view.quota_used or 0))
        embed.add_field(name=tr("Daily quota", loc), value=tr("{left} of {limit} left today", loc, left=left,
                                                               limit=view.quota_limit), inline=True)
    if job.image_count:
        frames = tr("first frame", loc) if job.image_count == 1 else tr("first and last frame", loc)
        embed.add_field(name=tr("Images", loc), value=frames)
    if job.status in (JobStatus.FAILED, JobStatus.TIMED_OUT) and job.error:
        embed.add_field(name=tr("Why", loc), value=clip(failure_reason(job, loc), FIELD_VALUE), inline=False)
    if job.delivered_message_id is not None and job.status is JobStatus.DELIVERED:
        link = result_link(job)
        embed.add_field(name=tr("Result", loc), value=tr("[Jump to the video]({link})", loc, link=link),
                        inline=False)
    elapsed = (now if now is not None else time.time()) - job.created_at
    embed.set_footer(text=tr("Job #{job} · {status} · started {age} ago", loc, job=job.id, status=job.status,
                             age=age(elapsed, loc)))
    return fit_embed(embed)


def failure_reason(job: Job, locale: Locale = None) -> str:
    """Why a job produced no video, in plain words, with a hint for safety rejections."""
    if job.status is JobStatus.TIMED_OUT:
        return tr("The video service did not finish it in time. Please try again later.", locale)
    # Known reasons are templates and get translated; a provider's own words stay as they are.
    # A blank reason (a provider's " ") would leave an empty embed field, which Discord refuses.
    reason = plain(tr(job.error or "", locale)) or plain(tr("The video service could not make this video.", locale))
    if job.safety_rejection:
        return tr("The video service's safety filter refused it: {reason}", locale, reason=reason) + " " + tr(
            SAFETY_HINT, locale)
    return reason


def result_text(job: Job, *, link: str | None, note: str | None = None, original: str | None = None) -> str:
    """The message that carries the finished video (or a link to it), in the requester's language; ``original``
    links the full-quality video when the file posted is a copy made smaller to fit."""
    loc = job.locale
    lines = [result_head(job)]
    if link:
        lines.append(tr("The file is too large to upload here; download it: {link}", loc, link=link))
    if original:
        lines.append(tr("Made smaller to fit the upload limit here; the full-quality original: {link}", loc,
                        link=original))
    if note:
        lines.append(tr(note, loc))
    if is_mock_task(job.task_id):
        lines.append(tr(MOCK_NOTE, loc))
    return clip("\n".join(lines), CONTENT)


def failure_text(job: Job) -> str:
    """The message that tells the requester their job failed, and why, in their language."""
    return clip(f"{failure_head(job)} {failure_reason(job, job.locale)}", CONTENT)


def result_head(job: Job) -> str:
    """How the result message begins: the requester, the job and its prompt, in the requester's language."""
    return tr("<@{user}> your video is ready (job #{job}): {prompt}", job.locale, user=job.user_id, job=job.id,
              prompt=excerpt(job.prompt, 120))


def failure_head(job: Job) -> str:
    """How the failure message begins: the requester, the job and what happened, in the requester's language."""
    if job.status is JobStatus.TIMED_OUT:
        return tr("<@{user}> your video job #{job} timed out.", job.locale, user=job.user_id, job=job.id)
    return tr("<@{user}> your video job #{job} failed.", job.locale, user=job.user_id, job=job.id)


def job_line(job: Job, *, now: float, position: int = 0, show_owner: bool = False, locale: Locale = None) -> str:
    """One job in a list: number, state, progress, age, prompt excerpt, owner and result link."""
    parts = [f"**#{job.id}**", state_line(job, position, locale),
             tr("{age} ago", locale, age=age(now - job.created_at, locale))]
    if show_owner:
        parts.append(f"<@{job.user_id}>")
    parts.append(f"“{excerpt(job.prompt, 40)}”")
    link = result_link(job)
    if link:
        parts.append(tr("[result]({link})", locale, link=link))
    return " · ".join(parts)


MAX_LIST_LINES = 15
EMBED_TEXT_LIMIT = EMBED_DESCRIPTION
MORE = msg("…and {count} more")


def clip_lines(lines: list[str], limit: int = EMBED_TEXT_LIMIT, *, locale: Locale = None) -> str:
    """Join whole lines within ``limit`` characters, ending with a count of the lines left out.

    A first line too long to fit whole is clipped rather than left out, so something is always shown.
    """
    whole = "\n".join(lines)
    if len(whole) <= limit:
        return whole
    kept: list[str] = []
    size = 0
    for index, line in enumerate(lines):
        grown = size + (1 if kept else 0) + len(line)
        rest = tr(MORE, locale, count=len(lines) - index - 1)
        if grown + 1 + len(rest) > limit:
            if not kept:
                kept.append(clip(line, limit - 1 - len(rest)) if index + 1 < len(lines) else clip(line, limit))
            break
        kept.append(line)
        size = grown
    left = len(lines) - len(kept)
    return clip("\n".join([*kept, tr(MORE, locale, count=left)] if left else kept), limit)


def queue_embed(
    in_flight: list[Job], failures: list[Job], *, paused: bool = False, now: float | None = None,
    locale: Locale = None,
) -> discord.Embed:
    """The moderators' view: jobs in flight by state, oldest wait, counts per user, recent failures."""
    now = time.time() if now is None else now
    loc = locale
    embed = discord.Embed(title=tr("Video jobs in this server", loc), colour=discord.Colour.blurple())
    lines: list[str] = []
    if not in_flight:
        embed.description = tr("No jobs are waiting or running.", loc)
    else:
        by_state = Counter(job.status for job in in_flight)
        embed.add_field(
            name=tr("By state", loc),
            value="\n".join(f"{tr(STATE_LABELS[s], loc)}: {n}" for s, n in sorted(by_state.items())),
            inline=True,
        )
        embed.add_field(name=tr("Oldest wait", loc), value=age(now - min(j.created_at for j in in_flight), loc),
                        inline=True)
        per_user = Counter(job.user_id for job in in_flight).most_common(10)
        embed.add_field(name=tr("Per user", loc), value="\n".join(f"<@{u}>: {n}" for u, n in per_user), inline=True)
        lines = [job_line(j, now=now, position=i, show_owner=True, locale=loc) for i, j in enumerate(in_flight, 1)]
    if failures:
        failed = [
            f"**#{j.id}** <@{j.user_id}> · " + tr("{age} ago", loc, age=age(now - (j.finished_at or now), loc))
            + " · " + (tr("timed out", loc) if j.status is JobStatus.TIMED_OUT
                       else excerpt(tr(j.error or "failed", loc), 80))
            for j in failures[:MAX_LIST_LINES]
        ]
        embed.add_field(name=tr("Failures in the last 24 h: {count}", loc, count=len(failures)),
                        value=clip_lines(failed, FIELD_VALUE, locale=loc), inline=False)
    if paused:
        embed.add_field(name=tr("Paused", loc), value=tr("⏸️ No new jobs start until a moderator resumes.", loc),
                        inline=False)
    embed.set_footer(text=tr("Pick a job below to cancel it, or /veo-cancel job:<number>.", loc))
    if lines:
        # The job list takes what the other parts leave of the 6,000 characters all of an embed may hold.
        room = min(EMBED_DESCRIPTION, EMBED_TOTAL - embed_size(fit_embed(embed)))
        embed.description = clip_lines(lines[:MAX_LIST_LINES * 4], room, locale=loc)
    return fit_embed(embed)
