"""Any attachment metadata (wrong or lying content types, zero, negative or huge sizes, corrupt headers, reads
that fail) is refused with a clear message before or after reading, or accepted as a real image under the cap."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from types import SimpleNamespace

import aiohttp
import discord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.jobs.errors import InvalidInput
from cogs.attachments import check_attachment, read_image

MAX_BYTES = 2048
HEADERS = {
    "png": b"\x89PNG\r\n\x1a\n",
    "jpeg": b"\xff\xd8\xff\xe0",
    "webp": b"RIFF\x20\x00\x00\x00WEBPVP8 ",
    "gif": b"GIF89a",
    "pdf": b"%PDF-1.7",
    "html": b"<!DOCTYPE html>",
    "mp4": b"\x00\x00\x00\x20ftypisom",
}


@dataclass
class StubAttachment:
    """What the checks read of a ``discord.Attachment``: declared type and size, and the bytes behind it."""

    content_type: str | None
    size: int
    body: bytes | BaseException
    filename: str = "upload.bin"

    async def read(self) -> bytes:
        if isinstance(self.body, BaseException):
            raise self.body
        return self.body


def _http_error(status: int) -> discord.HTTPException:
    return discord.HTTPException(SimpleNamespace(status=status, reason="error"), {"code": 0, "message": "gone"})


content_types = st.one_of(
    st.none(),
    st.sampled_from(["image/png", "image/jpeg", "image/jpg", "image/webp", "IMAGE/PNG", "image/png; charset=binary",
                     " image/webp ", "image/gif", "image/svg+xml", "application/octet-stream", "video/mp4",
                     "text/html", "", ";", "image/", "image/png\x00"]),
    st.text(max_size=30),
)
sizes = st.one_of(st.integers(-5, MAX_BYTES + 5), st.integers(0, 2**64), st.sampled_from([0, MAX_BYTES, 10**15]))
bodies = st.one_of(
    st.builds(lambda head, tail: head + tail, st.sampled_from(list(HEADERS.values())), st.binary(max_size=64)),
    st.builds(lambda head, cut: head[:cut], st.sampled_from(list(HEADERS.values())), st.integers(0, 12)),
    st.binary(max_size=64),
    st.builds(lambda head, n: head + bytes(n), st.sampled_from(list(HEADERS.values())),
              st.integers(MAX_BYTES - 20, MAX_BYTES + 20)),
    st.sampled_from([_http_error(404), _http_error(403), aiohttp.ClientPayloadError("cut"),
                     aiohttp.ServerDisconnectedError(), TimeoutError()]),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content_types, sizes, bodies)
def test_any_attachment_is_refused_clearly_or_is_a_real_image_under_the_cap(
    content_type: str | None, size: int, body: bytes | BaseException
) -> None:
    attachment = StubAttachment(content_type, size, body)
    try:
        kind = check_attachment(attachment, "image", MAX_BYTES)  # type: ignore[arg-type]
    except InvalidInput as exc:
        assert "`image`" in exc.user_message
        return
    assert 0 < size <= MAX_BYTES  # nothing is downloaded unless the declared size is plausible
    try:
        image = asyncio.run(read_image(attachment, "image", kind, MAX_BYTES))  # type: ignore[arg-type]
    except InvalidInput as exc:
        assert "`image`" in exc.user_message
        return
    assert isinstance(body, bytes) and image.data == body and 0 < len(body) <= MAX_BYTES
    assert kind.matches(body[:16]) and image.content_type == kind.content_type
    assert image.filename == f"image.{kind.extension}"
