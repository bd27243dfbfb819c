"""Stream an HTTP response body to a file beside its destination, checking it is an MP4 under a cap."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

import aiohttp

from bot.jobs.provider import DownloadFailed, VideoTooLarge
from bot.part_files import new_part_file

CHUNK_SIZE = 64 * 1024
# Chunks are gathered up to this size before one write in a worker thread, to keep thread hops few.
WRITE_BATCH = 512 * 1024
MP4_MAGIC = b"ftyp"


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


async def stream_to_file(resp: aiohttp.ClientResponse, dest: Path, *, max_bytes: int, label: str) -> int:
    """Write ``resp``'s body to ``dest`` atomically and return its size; partial files never survive."""
    declared = resp.content_length
    if declared is not None and declared > max_bytes:
        raise VideoTooLarge(detail=f"{label}: Content-Length {declared} > cap {max_bytes}")
    try:
        fd, tmp = await asyncio.to_thread(new_part_file, dest)
    except OSError as exc:
        raise DownloadFailed(detail=f"{label}: cannot create a file in {dest.parent}: {exc.strerror}") from exc
    file = os.fdopen(fd, "wb")
    try:
        total = 0
        head = b""
        batch: list[bytes] = []
        batched = 0
        async for chunk in resp.content.iter_chunked(CHUNK_SIZE):
            total += len(chunk)
            if total > max_bytes:
                raise VideoTooLarge(detail=f"{label}: body passed the cap of {max_bytes} bytes")
            if len(head) < 8:
                head = (head + chunk)[:8]
                if len(head) == 8 and head[4:8] != MP4_MAGIC:
                    raise DownloadFailed(detail=f"{label}: not an MP4 (starts {head[:8]!r})")
            batch.append(chunk)
            batched += len(chunk)
            if batched >= WRITE_BATCH:
                await asyncio.to_thread(file.write, b"".join(batch))
                batch, batched = [], 0
        if len(head) < 8:
            raise DownloadFailed(detail=f"{label}: body is empty or too short ({total} bytes)")
        if batch:
            await asyncio.to_thread(file.write, b"".join(batch))
        await asyncio.to_thread(file.close)
        await asyncio.to_thread(os.replace, tmp, dest)
    except BaseException as exc:
        # Cleanup is synchronous so that it also runs when the task is being cancelled.
        file.close()
        _remove(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, aiohttp.ClientError | TimeoutError):
            raise DownloadFailed(detail=f"{label}: cannot write {dest.name}: {exc.strerror}") from exc
        raise
    return total
