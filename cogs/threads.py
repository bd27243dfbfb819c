"""``JobThreads``: a job's own thread, started from its status message, where its result is posted.

On Discord a thread started from a message has the message's id, so the thread of a job is found from its
status message id alone. When the bot may not use threads in the channel (or the thread is locked or gone),
the result goes into the channel as it would without threads.
"""

from __future__ import annotations

import logging
from typing import Final, Literal

import discord

from bot.jobs.records import Job
from cogs.ids import snowflake
from cogs.limits import clip

log = logging.getLogger(__name__)

THREAD_NAME = 100  # characters of a thread's name
# A day without messages before Discord archives the thread: long enough to talk about the video; a post
# in an archived thread (not locked) opens it again.
AUTO_ARCHIVE_MINUTES: Final[Literal[1440]] = 1440
ALREADY_CREATED = 160004  # "A thread has already been created for this message"
THREAD_LOCKED = 160005
THREAD_ARCHIVED = 50083  # archived and locked: only Manage Threads may post
WRONG_CHANNEL_TYPE = 50024
UNKNOWN_CHANNEL = 10003
UNKNOWN_MESSAGE = 10008


def thread_name(job: Job) -> str:
    """The job's number and the start of its prompt, on one line, as a thread's name."""
    return clip(f"#{job.id} · {' '.join(job.prompt.split())}", THREAD_NAME)


class JobThreads:
    """Starts jobs' threads and says where their results go."""

    def __init__(self, client: discord.Client) -> None:
        self.client = client
        self._warned: set[str] = set()  # channels where the lack of thread permissions was logged

    def thread(self, job: Job) -> discord.PartialMessageable:
        """The job's thread (whose id is its status message's), whether or not it exists."""
        assert job.status_message_id is not None
        return self.client.get_partial_messageable(snowflake(job.status_message_id),
                                                   guild_id=snowflake(job.workspace_id),
                                                   type=discord.ChannelType.public_thread)

    async def start(self, job: Job, status_message_id: str) -> bool:
        """Start the job's thread from its status message; True when the thread exists (now or from before).

        False when the bot may not start threads in the channel, or the channel cannot have any: the job's
        messages then stay in the channel. Other errors are raised (a later attempt may succeed).
        """
        try:
            await self.client.http.start_thread_with_message(
                snowflake(job.channel_id), snowflake(status_message_id), name=thread_name(job),
                auto_archive_duration=AUTO_ARCHIVE_MINUTES,
            )
        except discord.HTTPException as exc:
            if exc.code == ALREADY_CREATED:
                return True  # an earlier attempt got it through
            if isinstance(exc, discord.Forbidden) or exc.code == WRONG_CHANNEL_TYPE:
                self.cannot_use(job, exc)
                return False
            raise
        log.info("job=%s thread started from status message %s", job.id, status_message_id)
        return True

    async def result_thread(self, job: Job) -> discord.PartialMessageable | None:
        """Where the job's result goes: its thread, or None for the channel (no thread, or no thread possible)."""
        if not job.in_thread or job.status_message_id is None:
            return None
        try:
            started = await self.start(job, job.status_message_id)
        except discord.NotFound as exc:
            if exc.code != UNKNOWN_MESSAGE:
                raise
            # A moderator deleted the status message: a thread started from it lives on, under the same id.
            started = True
        return self.thread(job) if started else None

    def closed(self, job: Job, exc: discord.HTTPException) -> bool:
        """Whether a post in the job's thread failed because the thread can't take it (gone, locked, or no
        permission to post in threads); the result then goes into the channel."""
        if exc.code == UNKNOWN_CHANNEL:
            log.info("job=%s thread is gone; posting in the channel", job.id)
            return True
        if exc.code in (THREAD_LOCKED, THREAD_ARCHIVED):
            log.info("job=%s thread is locked; posting in the channel", job.id)
            return True
        if isinstance(exc, discord.Forbidden):
            self.cannot_use(job, exc)
            return True
        return False

    def cannot_use(self, job: Job, exc: discord.HTTPException) -> None:
        """Log, once per channel, that the bot can't use threads there (until it restarts)."""
        reason = f"Discord answered {exc.status} (code {exc.code})"
        if job.channel_id in self._warned:
            log.debug("job=%s channel=%s no threads (%s)", job.id, job.channel_id, reason)
            return
        self._warned.add(job.channel_id)
        log.warning("job=%s channel=%s: the bot can't use threads there (%s); results are posted in the channel. "
                    "Allow Create Public Threads and Send Messages in Threads, or turn threads off for it.",
                    job.id, job.channel_id, reason)
