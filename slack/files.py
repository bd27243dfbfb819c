"""Images a member attached to the form, downloaded from Slack: from ``url_private_download`` with the bot
token (sent to Slack's hosts only), streamed and cut off past ``VEO_MAX_IMAGE_BYTES``, and their bytes checked.

Slack answers a download it will not serve (a missing ``files:read`` scope, a bad token) with its HTML sign-in
page and status 200; that reads as a clear refusal here, never as an image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bot.jobs.errors import InvalidInput
from bot.jobs.provider import ImageInput
from bot.jobs.requests import ImageKind, image_from_bytes, image_kind

CHUNK = 64 * 1024
DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=60, sock_connect=10)
# Where Slack serves files; the API's own origin (SLACK_API_BASE_URL) is allowed too, for a proxy.
SLACK_FILE_HOST_SUFFIX = ".slack.com"
HTML_STARTS = (b"<!doctype html", b"<html", b"<!--", b"<head")


@dataclass(frozen=True, slots=True)
class FormFile:
    """A file from a form's ``file_input``, as Slack describes it (nothing downloaded yet)."""

    label: str
    file_id: str
    mimetype: str | None
    size: int
    url: str

    @classmethod
    def from_payload(cls, label: str, file: dict[str, Any]) -> FormFile:
        """The file object of a ``view_submission`` payload; an unusable one is ``InvalidInput`` on ``label``."""
        url = file.get("url_private_download") or file.get("url_private")
        size = file.get("size")
        if not isinstance(url, str) or not isinstance(file.get("id"), str) or not isinstance(size, int):
            raise InvalidInput("`{option}` could not be read from Slack. Attach the image again.",
                               params={"option": label})
        mimetype = file.get("mimetype")
        return cls(label, file["id"], mimetype if isinstance(mimetype, str) else None, size, url)

    def kind(self, max_bytes: int) -> ImageKind:
        """The image format Slack announced, checked with its size before anything is downloaded."""
        return image_kind(self.mimetype, self.size, self.label, max_bytes)


def token_may_go_to(url: str, api_base_url: str) -> bool:
    """True when ``url`` is on Slack's file hosts (https) or the configured API origin: the bot token goes
    nowhere else."""
    target, api = urlsplit(url), urlsplit(api_base_url)
    if (target.scheme, target.netloc) == (api.scheme, api.netloc):
        return True
    host = (target.hostname or "").lower()
    return target.scheme == "https" and (host == "slack.com" or host.endswith(SLACK_FILE_HOST_SUFFIX))


class FileDownloader:
    """Downloads form images with the bot token through the runtime's aiohttp session."""

    def __init__(self, session: aiohttp.ClientSession, *, token: str, api_base_url: str, max_bytes: int) -> None:
        self.session = session
        self._token = token
        self.api_base_url = api_base_url
        self.max_bytes = max_bytes

    async def image(self, file: FormFile) -> ImageInput:
        """The file's bytes as an image input; ``InvalidInput`` saying what to do when they cannot be used."""
        kind = file.kind(self.max_bytes)
        if not token_may_go_to(file.url, self.api_base_url):
            raise InvalidInput("`{option}` is not stored by Slack, so I can't read it. Attach the image again.",
                               params={"option": file.label})
        try:
            data = await self._read(file)
        except (TimeoutError, aiohttp.ClientError):
            raise InvalidInput("`{option}` could not be downloaded from Slack. Try again in a moment.",
                               params={"option": file.label}) from None
        if data.lstrip()[:16].lower().startswith(HTML_STARTS):
            raise InvalidInput("Slack sent a web page instead of `{option}`: the app may lack the files:read "
                               "permission. Ask a workspace admin to reinstall the app.",
                               params={"option": file.label})
        return image_from_bytes(data, file.label, kind, self.max_bytes)

    async def _read(self, file: FormFile) -> bytes:
        # Redirects are not followed: the token must not travel to wherever one points, and Slack's answer to a
        # refused download is a redirect to its sign-in page.
        async with self.session.get(file.url, headers={"Authorization": f"Bearer {self._token}"},
                                    allow_redirects=False, timeout=DOWNLOAD_TIMEOUT) as response:
            if response.status in (403, 404, 410):
                raise InvalidInput("`{option}` is no longer on Slack (was it deleted?). Attach the image again.",
                                   params={"option": file.label})
            if 300 <= response.status < 400:
                raise InvalidInput("Slack sent a web page instead of `{option}`: the app may lack the files:read "
                                   "permission. Ask a workspace admin to reinstall the app.",
                                   params={"option": file.label})
            if response.status != 200:
                raise InvalidInput("`{option}` could not be downloaded from Slack. Try again in a moment.",
                                   params={"option": file.label})
            data = bytearray()
            async for chunk in response.content.iter_chunked(CHUNK):
                data += chunk
                if len(data) > self.max_bytes:
                    break  # image_from_bytes says it is too large; the rest is never read
            return bytes(data)
