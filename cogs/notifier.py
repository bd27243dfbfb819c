"""``DiscordNotifier``: the job core's notifier on discord.py, posting through the bot's own channel API."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import discord

from bot.jobs.errors import msg
from bot.jobs.ports import DeliveryFailed, StatusView
from bot.jobs.records import Job, JobStatus
from bot.jobs.videos import fitted_job_id
from cogs.direct_messages import send_ready_dm
from cogs.ids import snowflake
from cogs.render import failure_head, failure_text, result_head, result_text, status_embed
from cogs.threads import JobThreads
from cogs.upload_limits import UploadLimits
from cogs.views.results import result_buttons, result_custom_ids

log = logging.getLogger(__name__)

NO_LINK = msg("The file is too large to upload here, and the video service gave no download link. "
              "Ask a server admin to raise the upload limit.")
HISTORY_SCAN_LIMIT = 100
# Discord answers 413 / code 40005 when a file is over the upload limit.
TOO_LARGE_CODE = 40005
UNKNOWN_CHANNEL = 10003
UNKNOWN_MESSAGE = 10008


def _reason(exc: BaseException) -> str:
    if isinstance(exc, discord.HTTPException):
        return f"Discord answered {exc.status} (code {exc.code})"
    return type(exc).__name__


def _as_delivery_failure(exc: BaseException) -> DeliveryFailed:
    # No access or no channel will not fix itself; anything else (5xx, network) may.
    permanent = isinstance(exc, discord.Forbidden) or (
        isinstance(exc, discord.NotFound) and exc.code == UNKNOWN_CHANNEL
    )
    return DeliveryFailed(_reason(exc), permanent=permanent)


class _FileTooLarge(Exception):
    """Discord refused the upload as over the guild's limit."""


class DiscordNotifier:
    """Status messages and results as channel messages: they outlive the 15-minute interaction token."""

    def __init__(
        self,
        client: discord.Client,
        *,
        nonce_salt: str,
        upload_limit: int | None = None,
        video_link: Callable[[Job], str | None] | None = None,
        can_continue: Callable[[Job], bool] | None = None,
    ) -> None:
        self.client = client
        self.nonce_salt = nonce_salt
        self.upload_limit_override = upload_limit
        # The lasting URL of a stored video (VEO_PUBLIC_BASE_URL), preferred to the provider's temporary one.
        self.video_link = video_link
        # Whether a result offers Continue (its video is kept on disk to take the last frame from).
        self.can_continue = can_continue
        self.threads = JobThreads(client)
        self.upload_limits = UploadLimits(client)

    def _channel(self, job: Job) -> discord.PartialMessageable:
        return self.client.get_partial_messageable(snowflake(job.channel_id), guild_id=snowflake(job.workspace_id),
                                                   type=discord.ChannelType.text)

    def nonce(self, job: Job, kind: str) -> str:
        """A nonce that is the same for every attempt at one message of one job (Discord dedups on it)."""
        return f"v{self.nonce_salt}{job.id}{kind}"[:25]

    async def upload_limit(self, guild_id: int) -> int:
        """The largest file the bot may upload in the guild (the override, else the guild's boost tier, from the
        gateway's cache or over REST)."""
        if self.upload_limit_override is not None:
            return self.upload_limit_override
        return await self.upload_limits.of(guild_id)

    # -- status -----------------------------------------------------------------------------------

    async def show_status(self, job: Job, view: StatusView) -> str | None:
        """Edit the job's status message, or post it when it does not exist (yet, or any more)."""
        embed = status_embed(job, view)
        channel = self._channel(job)
        none = discord.AllowedMentions.none()
        if job.status_message_id is not None:
            try:
                message = channel.get_partial_message(snowflake(job.status_message_id))
                await message.edit(embed=embed, allowed_mentions=none)
                return None
            except discord.NotFound as exc:
                if exc.code != UNKNOWN_MESSAGE:
                    raise
                if job.in_thread:
                    # The job's thread has the status message's id: a new one would start a second thread.
                    log.info("job=%s status message was deleted; its thread carries on", job.id)
                    return None
                log.info("job=%s status message was deleted; posting a new one", job.id)
        message = await channel.send(embed=embed, nonce=self.nonce(job, "s"), allowed_mentions=none)
        if job.in_thread:
            await self._start_thread(job, str(message.id))
        return str(message.id)

    async def _start_thread(self, job: Job, status_message_id: str) -> None:
        # The status message stands whatever happens here; delivery starts the thread if it is still missing.
        try:
            await self.threads.start(job, status_message_id)
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("job=%s could not start its thread yet (%s)", job.id, _reason(exc))

    # -- results ----------------------------------------------------------------------------------

    async def deliver_video(self, job: Job, video: Path | None) -> str:
        """Post the video as a file when it fits the guild's limit, else a link; exactly once."""
        existing = await self._already_posted(job, result_head(job))
        if existing is not None:
            return existing
        if video is not None and video.stat().st_size <= await self.upload_limit(snowflake(job.workspace_id)):
            # A copy made smaller to fit here points to the full-quality original when it has a lasting link.
            original = self.video_link(job) if fitted_job_id(video) is not None and self.video_link else None
            try:
                return await self._post(job, result_text(job, link=None, original=original), video)
            except _FileTooLarge:
                log.info("job=%s file refused as too large; posting a link", job.id)
        durable = self.video_link(job) if video is not None and self.video_link is not None else None
        if durable or job.video_url:
            text = result_text(job, link=durable or job.video_url)
        else:
            text = result_text(job, link=None, note=NO_LINK)
        return await self._post(job, text, None)

    async def max_upload_bytes(self, job: Job) -> int:
        """The largest file the bot may upload in the job's guild."""
        return await self.upload_limit(snowflake(job.workspace_id))

    async def deliver_failure(self, job: Job) -> str:
        """Tell the requester, in the channel, that the job failed and why; exactly once."""
        existing = await self._already_posted(job, failure_head(job))
        if existing is not None:
            return existing
        return await self._post(job, failure_text(job), None)

    async def send_ready_dm(self, job: Job) -> str:
        """Tell the requester by direct message that the result is posted, with a link to it; exactly once
        (the nonce makes a resend after a crash return the first message)."""
        return await send_ready_dm(self.client, job, nonce=self.nonce(job, "d"))

    async def _post(self, job: Job, content: str, video: Path | None) -> str:
        mentions = discord.AllowedMentions(
            everyone=False, roles=False, users=[discord.Object(job.user_id)], replied_user=False
        )
        try:
            thread = await self.threads.result_thread(job)
            if thread is not None:
                # In the job's own thread; the mention adds the requester to it.
                return str((await self._send(job, content, video, mentions, None, thread)).id)
        except discord.HTTPException as exc:
            if not self.threads.closed(job, exc):
                raise self._failure(exc, video) from exc
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise _as_delivery_failure(exc) from exc
        return await self._post_in_channel(job, content, video, mentions)

    def _failure(self, exc: discord.HTTPException, video: Path | None) -> Exception:
        if video is not None and (exc.status == 413 or exc.code == TOO_LARGE_CODE):
            return _FileTooLarge()
        return _as_delivery_failure(exc)

    async def _post_in_channel(
        self, job: Job, content: str, video: Path | None, mentions: discord.AllowedMentions
    ) -> str:
        reference: discord.MessageReference | None = None
        if job.status_message_id is not None:
            reference = discord.MessageReference(
                message_id=snowflake(job.status_message_id), channel_id=snowflake(job.channel_id),
                guild_id=snowflake(job.workspace_id),
                fail_if_not_exists=False,
            )
        try:
            try:
                message = await self._send(job, content, video, mentions, reference)
            except discord.Forbidden:
                if reference is None:
                    raise
                # Replying needs Read Message History; without it, post the result as a plain message.
                log.info("job=%s cannot reply to the status message; posting without the reply", job.id)
                message = await self._send(job, content, video, mentions, None)
        except discord.HTTPException as exc:
            raise self._failure(exc, video) from exc
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise _as_delivery_failure(exc) from exc
        return str(message.id)

    async def _send(
        self,
        job: Job,
        content: str,
        video: Path | None,
        mentions: discord.AllowedMentions,
        reference: discord.MessageReference | None,
        destination: discord.PartialMessageable | None = None,
    ) -> discord.Message:
        extra: dict[str, Any] = {"reference": reference} if reference is not None else {}
        buttons = result_buttons(
            job.id,
            can_regenerate=not job.image_count and not job.safety_rejection,
            can_delete=job.status is JobStatus.COMPLETED,
            can_continue=self.can_continue is not None and self.can_continue(job),
            locale=job.locale,
        )
        file = discord.File(video, filename=f"veo-{job.id}.mp4") if video is not None else discord.utils.MISSING
        try:
            return await (destination or self._channel(job)).send(
                content, file=file, nonce=self.nonce(job, "r"), allowed_mentions=mentions, view=buttons, **extra
            )
        finally:
            if video is not None:
                file.close()

    async def _already_posted(self, job: Job, head: str) -> str | None:
        """After an interrupted attempt, find a result message that did get through.

        The bot's message names the job: by a button's custom id (``veo:regen:N``, ``veo:delete:N``...), or, for a
        message without buttons, by beginning with ``head``, the text this job's message begins with in the
        requester's language. It is in the job's thread (when it has one), or in the channel, replying to the
        job's status message (when it has one).
        """
        if job.delivery_attempts <= 1:
            return None
        after_time = datetime.datetime.fromtimestamp(job.created_at, tz=datetime.UTC)
        after = discord.Object(snowflake(job.status_message_id) if job.status_message_id is not None
                               else discord.utils.time_snowflake(after_time))
        if job.in_thread and job.status_message_id is not None:
            found = await self._scan(job, head, self.threads.thread(job), after, in_thread=True)
            if found is not None:
                return found
        return await self._scan(job, head, self._channel(job), after, in_thread=False)

    async def _scan(
        self, job: Job, head: str, place: discord.PartialMessageable, after: discord.Object, *, in_thread: bool
    ) -> str | None:
        assert self.client.user is not None
        try:
            async for message in place.history(limit=HISTORY_SCAN_LIMIT, after=after):
                replies_to_status = (
                    job.status_message_id is not None
                    and message.reference is not None
                    and str(message.reference.message_id) == job.status_message_id
                )
                if message.author.id == self.client.user.id and _names_job(message, job, head) and (
                    in_thread or replies_to_status or job.status_message_id is None
                ):
                    log.info("job=%s result message %s was already posted", job.id, message.id)
                    return str(message.id)
        except discord.NotFound as exc:
            if not in_thread:
                log.warning("job=%s could not read channel history (%s)", job.id, _reason(exc))
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as exc:
            # Without Read Message History the nonce alone guards against a duplicate.
            log.warning("job=%s could not read channel history (%s)", job.id, _reason(exc))
        return None


def _names_job(message: discord.Message, job: Job, head: str) -> bool:
    """Whether a message is this job's result or failure notice, in whichever language it is written."""
    ids = result_custom_ids(job.id)
    for component in message.components:
        children = component.children if isinstance(component, discord.ActionRow) else [component]
        if any(getattr(child, "custom_id", None) in ids for child in children):
            return True
    return message.content.startswith(head)
