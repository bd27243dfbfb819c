"""The video posted exactly once: the upload's stages recorded before each step that cannot be repeated.

The file id is known before anything is visible, so it is recorded first (``uploading``); ``completing`` is
written before ``files.completeUploadExternal``, ``completed`` after it, ``posted`` with the message's ts once
its share appears. An attempt after an interruption:

- ``posted``: the message is there; nothing to do.
- ``completing`` / ``completed``: the completion may have gone through; its message appears a little later.
  ``files.info`` is polled for it (bounded). Found: adopted. Not found yet: try again later, until
  ``share_grace`` has passed since the completion; then the upload is deleted (a share that still comes late
  shows a deleted file, never a second video) and the video is uploaded anew.
- ``uploading``: nothing was shared; the upload starts over (the reserved file is left to expire).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.jobs.ports import DeliveryFailed, JobStore
from bot.jobs.post_intents import PostKind, PostStage
from bot.jobs.records import Job
from slack.outbox import Outbox
from slack.upload import REFUSED_UPLOADS, UploadRefused, VideoUploads
from slack.web_api import error_code, refused

log = logging.getLogger(__name__)

SHARE_GRACE = 120.0
GONE_FILES = frozenset({"file_not_found", "file_deleted"})


class ShareNotYet(DeliveryFailed):
    """The upload is complete but its message has not appeared in the channel yet: look again later."""

    def __init__(self) -> None:
        super().__init__("the uploaded video has not appeared in the channel yet", permanent=False)


class VideoPost:
    """Uploads a job's video into its channel once (see the module's docstring)."""

    def __init__(self, store: JobStore, outbox: Outbox, uploads: VideoUploads, *, clock: Callable[[], float],
                 share_grace: float = SHARE_GRACE) -> None:
        self.store = store
        self.outbox = outbox
        self.uploads = uploads
        self.clock = clock
        self.share_grace = share_grace

    async def earlier(self, job: Job, *, channel: str, token: int | None) -> str | None:
        """The result an earlier attempt posted (adopted now if need be), or None when there is none to wait for.

        ``ShareNotYet`` when an earlier completion's message may still appear.
        """
        intent = await self.store.post_intent(job.id, PostKind.RESULT)
        if intent is None:
            return None
        if intent.stage == PostStage.POSTED and intent.message_id:
            return intent.message_id
        if intent.stage in (PostStage.COMPLETING, PostStage.COMPLETED) and intent.file_id:
            try:
                ts = await self.uploads.wait_for_share(intent.file_id, channel)
            except SlackApiError as exc:
                if error_code(exc) not in GONE_FILES:
                    raise
                # Deleted (by a member, an admin, a retention rule): no message will come; upload anew.
                log.warning("job=%s the earlier upload %s is gone (%s); uploading anew", job.id, intent.file_id,
                            error_code(exc))
                await self.outbox.record(job, PostKind.RESULT, PostStage.UPLOADING, token=token)
                return None
            if ts is not None:
                log.info("job=%s the earlier upload's message %s appeared; adopting it", job.id, ts)
                await self._posted(job, intent.file_id, ts, token)
                return ts
            if self.clock() - intent.updated_at < self.share_grace:
                raise ShareNotYet
            log.warning("job=%s the earlier upload %s never appeared in the channel; deleting it and uploading anew",
                        job.id, intent.file_id)
            await self.uploads.discard(intent.file_id)
            await self.outbox.record(job, PostKind.RESULT, PostStage.UPLOADING, file_id=intent.file_id, token=token)
        return None

    async def upload(self, job: Job, video: Path, *, channel: str, thread_ts: str | None, title: str,
                     blocks: list[dict[str, Any]], token: int | None) -> str:
        """Upload the video with ``blocks`` as its message; the message's ts. ``UploadRefused`` when the
        workspace will not take the file (post a link instead)."""
        # The file's name on disk is the video store's (keyed, not to be guessed): Slack gets a plain one.
        url, file_id = await self.uploads.reserve(f"veo-{job.id}.mp4", video.stat().st_size)
        await self.outbox.record(job, PostKind.RESULT, PostStage.UPLOADING, file_id=file_id, token=token)
        await self.uploads.send(url, video)
        await self.outbox.record(job, PostKind.RESULT, PostStage.COMPLETING, file_id=file_id, token=token)
        try:
            await self.uploads.complete(file_id, title=title, channel=channel, thread_ts=thread_ts, blocks=blocks)
        except SlackApiError as exc:
            if refused(exc):
                # Slack said no: nothing was shared, so the next attempt need not wait for a message.
                await self.outbox.record(job, PostKind.RESULT, PostStage.UPLOADING, file_id=file_id, token=token)
                if error_code(exc) in REFUSED_UPLOADS:
                    raise UploadRefused(error_code(exc)) from exc
            raise
        await self.outbox.record(job, PostKind.RESULT, PostStage.COMPLETED, file_id=file_id, token=token)
        ts = await self.uploads.wait_for_share(file_id, channel)
        if ts is None:
            log.info("job=%s upload %s complete; its message has not appeared yet", job.id, file_id)
            raise ShareNotYet
        await self._posted(job, file_id, ts, token)
        return ts

    async def _posted(self, job: Job, file_id: str, ts: str, token: int | None) -> None:
        await self.outbox.record(job, PostKind.RESULT, PostStage.POSTED, file_id=file_id, message_id=ts, token=token)
