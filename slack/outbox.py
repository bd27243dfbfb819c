"""Posting a job's message exactly once on Slack, which has no idempotency key (no nonce).

Before ``chat.postMessage``, the intent is written to the store (``bot.jobs.post_intents``: stage ``posting``);
after it, the message's ts (stage ``posted``). An attempt that finds ``posting`` does not know whether the
earlier post went through (the process died, the answer was lost): it looks in the conversation for this bot's
message whose metadata names the job and the kind (``slack.metadata``), and adopts it, or posts when there is
none. An attempt that finds ``posted`` returns the message it names.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.jobs.ports import DeliveryFailed, JobStore
from bot.jobs.post_intents import PostIntent, PostStage
from bot.jobs.records import Job
from slack.ids import is_ts
from slack.metadata import job_metadata, names_post
from slack.web_api import error_code, status_of

log = logging.getLogger(__name__)

HISTORY_PAGE = 200
HISTORY_PAGES = 5
# Messages older than the job by more than this are not looked at (clocks a little apart: the bot's and Slack's).
CLOCK_MARGIN = 600.0


class TakenOver(DeliveryFailed):
    """The job's claim passed to another process before this one could record what it is about to post."""

    def __init__(self) -> None:
        super().__init__("the job was taken over by another process", permanent=False)


class BadAnswer(Exception):
    """Slack answered ``ok`` without what the call returns (a proxy, a changed API): nothing to record."""


class Outbox:
    """Posts each (job, kind) message once, across attempts, crashes and processes."""

    def __init__(self, store: JobStore, client: AsyncWebClient, *, salt: str, bot_user_id: str,
                 clock: Callable[[], float]) -> None:
        self.store = store
        self.client = client
        self.salt = salt
        self.bot_user_id = bot_user_id
        self.clock = clock

    async def record(self, job: Job, kind: str, stage: str, *, token: int | None, file_id: str | None = None,
                     message_id: str | None = None) -> None:
        """Write the job's intent of ``kind``; ``TakenOver`` when its claim is no longer this step's."""
        intent = PostIntent(job.id, kind, stage, self.clock(), file_id=file_id, message_id=message_id)
        if not await self.store.record_post_intent(intent, token=token):
            raise TakenOver

    async def post(self, job: Job, kind: str, *, channel: str, text: str, blocks: list[dict[str, Any]] | None,
                   thread_ts: str | None = None, token: int | None = None) -> str:
        """The ts of the job's message of ``kind`` in ``channel``: the one posted earlier, or a new one."""
        intent = await self.store.post_intent(job.id, kind)
        if intent is not None and intent.stage == PostStage.POSTED and intent.message_id:
            return intent.message_id
        if intent is not None and intent.stage == PostStage.POSTING:
            found = await self.find(job, kind, channel=channel, thread_ts=thread_ts)
            if found is not None:
                await self.record(job, kind, PostStage.POSTED, message_id=found, token=token)
                return found
        await self.record(job, kind, PostStage.POSTING, token=token)
        answer = await self.client.chat_postMessage(
            channel=channel, text=text, blocks=blocks, thread_ts=thread_ts,
            metadata=job_metadata(job.id, kind, self.salt), unfurl_links=False, unfurl_media=False)
        ts = answer.get("ts")
        if not is_ts(ts):
            raise BadAnswer("chat.postMessage answered without the message's ts")
        await self.record(job, kind, PostStage.POSTED, message_id=str(ts), token=token)
        return str(ts)

    async def find(self, job: Job, kind: str, *, channel: str, thread_ts: str | None) -> str | None:
        """This bot's message of ``kind`` for the job in the conversation (or the thread), or None.

        Without access to the history (a scope not granted, not a member), it says so in the log and finds
        nothing: the message is posted (again). A 429 or a dropped connection is raised: try later.
        """
        try:
            for message in await self._messages(job, channel, thread_ts):
                if names_post(message, job_id=job.id, kind=kind, salt=self.salt, bot_user_id=self.bot_user_id):
                    ts = message.get("ts")
                    if is_ts(ts):
                        log.info("job=%s its %s message %s got through earlier; adopting it", job.id, kind, ts)
                        return str(ts)
        except SlackApiError as exc:
            if status_of(exc) == 429:
                raise
            log.warning("job=%s could not read the conversation to find its %s message (%s); posting it",
                        job.id, kind, error_code(exc))
        return None

    async def _messages(self, job: Job, channel: str, thread_ts: str | None) -> list[Mapping[str, Any]]:
        """The conversation's (or the thread's) messages since the job was made, a few pages at most."""
        found: list[Mapping[str, Any]] = []
        cursor: str | None = None
        oldest = f"{max(0.0, job.created_at - CLOCK_MARGIN):.6f}"
        for _ in range(HISTORY_PAGES):
            if thread_ts is not None:
                answer = await self.client.conversations_replies(
                    channel=channel, ts=thread_ts, include_all_metadata=True, limit=HISTORY_PAGE, cursor=cursor)
            else:
                answer = await self.client.conversations_history(
                    channel=channel, oldest=oldest, include_all_metadata=True, limit=HISTORY_PAGE, cursor=cursor)
            messages = answer.get("messages")
            if not isinstance(messages, list):
                raise BadAnswer("the conversation's history came without messages")
            found.extend(m for m in messages if isinstance(m, Mapping))
            metadata = answer.get("response_metadata")
            cursor = metadata.get("next_cursor") if isinstance(metadata, Mapping) else None
            if not cursor:
                break
        return found
