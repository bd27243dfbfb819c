"""``SlackNotifier``: the job core's notifier in Slack (the ``Notifier`` port of ``bot.jobs.ports``).

A status message per job (``chat.postMessage``, then ``chat.update``), the video by the three-step external
upload (``slack.upload``), a link when the workspace refuses the file, a failure notice, and the requester's
direct message. Every post is made exactly once across crashes without a nonce: ``slack.outbox`` for messages,
``slack.video_post`` for the upload. The client must be one whose retries never repeat a post
(``slack.web_api.notifier_client``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.i18n import tr
from bot.jobs.ports import DeliveryFailed, JobStore, StatusView
from bot.jobs.post_intents import PostKind, PostStage
from bot.jobs.records import Job
from bot.jobs.videos import fitted_job_id
from slack.messages import (
    NO_LINK,
    failure_blocks,
    failure_text,
    ready_dm_text,
    result_blocks,
    result_text,
)
from slack.metadata import job_metadata
from slack.outbox import BadAnswer, Outbox
from slack.render import status_blocks, status_text
from slack.status_edits import Edit, StatusEdits
from slack.upload import UploadBroken, UploadRefused, UploadTimings, VideoUploads
from slack.video_post import SHARE_GRACE, VideoPost
from slack.web_api import error_code, safe_retries

log = logging.getLogger(__name__)

# The status edits' share of Slack's allowance for chat.update (Tier 3, about 50 a minute per workspace), for
# ``Runtime.add_face(..., edit_rate=EDITS_PER_SECOND, edit_burst=EDIT_BURST)``.
EDITS_PER_SECOND = 40 / 60
EDIT_BURST = 10.0
# Slack's own ceiling for one file (a workspace may set a lower one: then the upload is refused and a link
# goes out instead).
DEFAULT_MAX_UPLOAD_BYTES = 1024 ** 3
# Errors that the next attempt will meet again: no access, no such conversation, a token that no longer works.
PERMANENT_ERRORS = frozenset({
    "not_in_channel", "channel_not_found", "is_archived", "invalid_auth", "not_authed", "account_inactive",
    "token_revoked", "token_expired", "missing_scope", "restricted_action", "no_permission", "cannot_dm_bot",
    "user_not_found", "user_disabled", "team_access_not_granted", "ekm_access_denied",
})


def as_failure(exc: BaseException) -> DeliveryFailed:
    """What a failed call means for the delivery: permanent when trying again will not help."""
    if isinstance(exc, DeliveryFailed):
        return exc
    if isinstance(exc, SlackApiError):
        code = error_code(exc)
        return DeliveryFailed(f"Slack answered {code}", permanent=code in PERMANENT_ERRORS)
    if isinstance(exc, BadAnswer | UploadBroken):
        return DeliveryFailed(str(exc), permanent=False)
    if isinstance(exc, UNREADABLE):
        # slack_sdk reading a body of the wrong shape (a JSON list, say): the traceback is worth having.
        log.warning("an answer from Slack could not be read", exc_info=exc)
        return DeliveryFailed(f"Slack's answer could not be read ({type(exc).__name__})", permanent=False)
    return DeliveryFailed(type(exc).__name__, permanent=False)


# slack_sdk's own reading of a body it did not expect can fail with these.
UNREADABLE = (AttributeError, TypeError, KeyError)
# What a call to Slack may raise besides a Slack error: a dropped connection, a timeout, a body that is no JSON.
CALL_ERRORS = (SlackClientError, BadAnswer, UploadBroken, aiohttp.ClientError, OSError, TimeoutError, ValueError,
               *UNREADABLE)


class SlackNotifier:
    """Shows jobs in Slack channels: one status message per job, then one result message."""

    def __init__(
        self,
        client: AsyncWebClient,
        store: JobStore,
        *,
        nonce_salt: str,
        bot_user_id: str,
        http: aiohttp.ClientSession | None = None,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
        video_link: Callable[[Job], str | None] | None = None,
        timings: UploadTimings = UploadTimings(),  # noqa: B008 - frozen
        share_grace: float = SHARE_GRACE,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not safe_retries(client):
            raise ValueError("the Slack notifier's client must not re-send posts on its own: build it with "
                             "slack.web_api.notifier_client")
        self.client = client
        self.store = store
        self.salt = nonce_salt
        self.max_upload = max_upload_bytes
        # The lasting URL of a stored video (VEO_PUBLIC_BASE_URL), preferred to the provider's temporary one.
        self.video_link = video_link
        self.clock = clock
        self._own_http = http is None and client.session is None
        self.http = http or client.session or aiohttp.ClientSession()
        self.outbox = Outbox(store, client, salt=nonce_salt, bot_user_id=bot_user_id, clock=clock)
        self.uploads = VideoUploads(client, self.http, timings=timings, sleep=sleep)
        self.video_post = VideoPost(store, self.outbox, self.uploads, clock=clock, share_grace=share_grace)
        self.edits = StatusEdits(client, clock=clock, sleep=sleep)

    async def close(self) -> None:
        """Stop the edits waiting for a rate limit, and close the HTTP session if it is this notifier's own."""
        await self.edits.close()
        if self._own_http:
            await self.http.close()

    @staticmethod
    def _thread(job: Job) -> str | None:
        """Where the job's result goes: the status message's thread for a job in a thread, else the channel."""
        return job.status_message_id if job.in_thread else None

    # -- status -----------------------------------------------------------------------------------

    async def show_status(self, job: Job, view: StatusView) -> str | None:
        """Edit the job's status message, or post it when it does not exist (yet, or any more)."""
        try:
            link = await self._permalink(job.channel_id, job.delivered_message_id)
            blocks = status_blocks(job, view, result_link=link, now=self.clock())
            text = status_text(job, view)
            if job.status_message_id is not None:
                edit = Edit(job.id, job.workspace_id, job.channel_id, job.status_message_id, text, blocks,
                            job_metadata(job.id, PostKind.STATUS, self.salt))
                if await self.edits.edit(edit):
                    return None
                if job.in_thread:
                    # The job's thread hangs off that message: a new one would start a second thread.
                    log.info("job=%s status message was deleted; its thread carries on", job.id)
                    return None
                log.info("job=%s status message was deleted; posting a new one", job.id)
                await self.outbox.record(job, PostKind.STATUS, PostStage.POSTING, token=None)
            return await self.outbox.post(job, PostKind.STATUS, channel=job.channel_id, text=text, blocks=blocks)
        except CALL_ERRORS as exc:
            failure = as_failure(exc)
            log.warning("job=%s status message not shown (%s)", job.id, failure.reason)
            raise failure from exc

    async def _permalink(self, channel: str, ts: str | None) -> str | None:
        """A link to a message, or None (none yet, or Slack would not say)."""
        if ts is None:
            return None
        try:
            answer = await self.client.chat_getPermalink(channel=channel, message_ts=ts)
        except CALL_ERRORS as exc:
            log.info("no link to message %s (%s)", ts, as_failure(exc).reason)
            return None
        link = answer.get("permalink")
        return link if isinstance(link, str) and link.startswith("https://") else None

    # -- results ----------------------------------------------------------------------------------

    async def deliver_video(self, job: Job, video: Path | None) -> str:
        """Upload the video into the job's channel (or thread), or post a link when it cannot be; exactly once."""
        try:
            return await self._deliver_video(job, video)
        except CALL_ERRORS as exc:
            raise as_failure(exc) from exc

    async def _deliver_video(self, job: Job, video: Path | None) -> str:
        token, thread = job.lease_token, self._thread(job)
        earlier = await self.video_post.earlier(job, channel=job.channel_id, token=token)
        if earlier is not None:
            return earlier
        intent = await self.store.post_intent(job.id, PostKind.RESULT)
        if intent is not None and intent.stage == PostStage.POSTING:
            # An earlier attempt was posting a link: if it got through, it is the result.
            found = await self.outbox.find(job, PostKind.RESULT, channel=job.channel_id, thread_ts=thread)
            if found is not None:
                await self.outbox.record(job, PostKind.RESULT, PostStage.POSTED, message_id=found, token=token)
                return found
        if video is not None and video.stat().st_size <= self.max_upload:
            # A copy made smaller to fit points to the full-quality original when it has a lasting link.
            original = self.video_link(job) if fitted_job_id(video) is not None and self.video_link else None
            try:
                return await self.video_post.upload(
                    job, video, channel=job.channel_id, thread_ts=thread, blocks=result_blocks(job, original=original),
                    title=tr("Veo video · job #{job}", job.locale, job=job.id), token=token)
            except UploadRefused as exc:
                log.info("job=%s the workspace refused the file (%s); posting a link", job.id, exc.code)
        durable = self.video_link(job) if video is not None and self.video_link is not None else None
        link = durable or job.video_url
        parts: dict[str, str] = {"link": link} if link else {"note": NO_LINK}
        return await self.outbox.post(job, PostKind.RESULT, channel=job.channel_id, text=result_text(job, **parts),
                                      blocks=result_blocks(job, **parts), thread_ts=thread, token=token)

    async def max_upload_bytes(self, job: Job) -> int:
        """The largest file the notifier uploads (a bigger video is fitted to it, or linked)."""
        return self.max_upload

    async def deliver_failure(self, job: Job) -> str:
        """Tell the requester, in a new message, that the job failed and why; exactly once."""
        try:
            return await self.outbox.post(job, PostKind.FAILURE, channel=job.channel_id, text=failure_text(job),
                                          blocks=failure_blocks(job), thread_ts=self._thread(job),
                                          token=job.lease_token)
        except CALL_ERRORS as exc:
            raise as_failure(exc) from exc

    async def send_ready_dm(self, job: Job) -> str:
        """Tell the requester by direct message that the result is posted, with a link to it; exactly once."""
        try:
            opened = await self.client.conversations_open(users=job.user_id)
            channel = opened.get("channel")
            dm = channel.get("id") if isinstance(channel, dict) else None
            if not isinstance(dm, str):
                raise BadAnswer("conversations.open answered without a conversation")
            link = await self._permalink(job.channel_id, job.delivered_message_id)
            return await self.outbox.post(job, PostKind.DM, channel=dm, text=ready_dm_text(job, link), blocks=None,
                                          token=job.lease_token)
        except CALL_ERRORS as exc:
            raise as_failure(exc) from exc
