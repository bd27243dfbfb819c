"""The video's three steps into Slack: reserve a file, send its bytes from disk, complete it into a channel.

``files_upload_v2`` is not used: it reads the whole file into memory, sends it with the client's short timeout,
and hides the file id until the end, which the exactly-once protocol (``slack.video_post``) needs first. Here
the bytes are streamed from disk with a long timeout, and no Slack token goes to the upload URL (it is a
pre-signed address). The message the upload makes appears in the channel a little later: ``find_share`` reads
it from ``files.info``, and ``wait_for_share`` polls for it, bounded, with backoff.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from slack.ids import is_ts
from slack.web_api import error_code, retry_after_of

log = logging.getLogger(__name__)

# The workspace does not take this file (size, or files at all): post a link instead.
REFUSED_UPLOADS = frozenset({
    "file_upload_size_restricted", "file_uploads_disabled", "file_uploads_except_images_disabled",
    "invalid_file_type", "file_too_large",
})


class UploadRefused(Exception):
    """The workspace refuses the file (its size or type): the result goes out as a link."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class UploadBroken(Exception):
    """An upload step failed in a way another attempt may fix (the text says which, safe to log)."""


@dataclass(frozen=True, slots=True)
class UploadTimings:
    """How long the steps may take: the bytes' whole POST, the wait for the share, and its polling."""

    send_timeout: float = 900.0  # seconds for the whole POST of the bytes (a slow link and a large video)
    share_wait: float = 30.0  # how long one attempt polls files.info for the upload's message
    share_poll_first: float = 0.5
    share_poll_max: float = 4.0


class VideoUploads:
    """The three steps of an external upload, and the lookup of its message, each one call."""

    def __init__(self, client: AsyncWebClient, http: aiohttp.ClientSession, *,
                 timings: UploadTimings = UploadTimings(), clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.client = client
        self.http = http
        self.timings = timings
        self._clock = clock
        self._sleep = sleep

    async def reserve(self, filename: str, size: int) -> tuple[str, str]:
        """Ask for an upload URL for ``size`` bytes: (url, file id); ``UploadRefused`` when the workspace will
        not take the file."""
        try:
            answer = await self.client.files_getUploadURLExternal(filename=filename, length=size)
        except SlackApiError as exc:
            code = error_code(exc)
            if code in REFUSED_UPLOADS:
                raise UploadRefused(code) from exc
            raise
        url, file_id = answer.get("upload_url"), answer.get("file_id")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")) or not isinstance(file_id, str):
            raise UploadBroken("files.getUploadURLExternal answered without an upload URL and a file id")
        return url, file_id

    async def send(self, url: str, video: Path) -> None:
        """POST the file's bytes to the upload URL, streamed from disk; ``UploadRefused`` on 413."""
        timeout = aiohttp.ClientTimeout(total=self.timings.send_timeout)
        with video.open("rb") as body:
            async with self.http.post(url, data=body, timeout=timeout,
                                      headers={"Content-Type": "application/octet-stream"}) as response:
                await response.read()
                if response.status == 413:
                    raise UploadRefused("file_too_large")
                if response.status != 200:
                    raise UploadBroken(f"the upload URL answered HTTP {response.status}")

    async def complete(self, file_id: str, *, title: str, channel: str, thread_ts: str | None,
                       blocks: list[dict[str, Any]]) -> None:
        """Complete the upload into the channel (or a thread), with ``blocks`` as its message (no
        ``initial_comment``: it would override them)."""
        await self.client.files_completeUploadExternal(
            files=[{"id": file_id, "title": title}], channel_id=channel, thread_ts=thread_ts,
            blocks=json.dumps(blocks))

    async def find_share(self, file_id: str, channel: str) -> str | None:
        """The ts of the message sharing the file in ``channel``, or None while there is none."""
        answer = await self.client.files_info(file=file_id)
        file = answer.get("file")
        if not isinstance(file, Mapping):
            raise UploadBroken("files.info answered without a file")
        shares = file.get("shares")
        if not isinstance(shares, Mapping):
            return None
        for visibility in ("public", "private"):
            places = shares.get(visibility)
            entries = places.get(channel) if isinstance(places, Mapping) else None
            for entry in entries if isinstance(entries, list) else []:
                ts = entry.get("ts") if isinstance(entry, Mapping) else None
                if is_ts(ts):
                    return str(ts)
        return None

    async def wait_for_share(self, file_id: str, channel: str) -> str | None:
        """Poll ``find_share`` with growing pauses for at most ``share_wait`` seconds."""
        deadline = self._clock() + self.timings.share_wait
        pause = self.timings.share_poll_first
        while True:
            wait = pause
            try:
                ts = await self.find_share(file_id, channel)
            except SlackApiError as exc:
                # Rate limited (many uploads at once): wait as told, within the same bound.
                limited = retry_after_of(exc)
                if limited is None:
                    raise
                ts, wait = None, max(pause, limited)
            if ts is not None:
                return ts
            left = deadline - self._clock()
            if left <= 0:
                return None
            await self._sleep(min(wait, left))
            pause = min(pause * 2, self.timings.share_poll_max)

    async def discard(self, file_id: str) -> None:
        """Delete an upload whose message never appeared, so that a late one shows no video; errors logged."""
        try:
            await self.client.files_delete(file=file_id)
        except SlackApiError as exc:
            log.warning("could not delete the unshared upload %s (%s)", file_id, error_code(exc))
