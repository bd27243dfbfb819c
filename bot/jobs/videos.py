"""``VideoStore``: where finished videos are kept, under unguessable names, with a public URL and retention."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import os
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

DAY = 86400.0
KEY_META = "video_name_key"
# A file name the store itself made: the job number, then a token only the key can produce.
_NAME = re.compile(r"^(?P<job>[0-9]{1,18})-(?P<token>[0-9a-f]{24})\.mp4$")
# A copy re-encoded to fit an upload limit, kept from the fit until the result is posted.
_FITTED = re.compile(r"^(?P<job>[0-9]{1,18})-(?P<token>[0-9a-f]{24})\.fit\.mp4$")
FITTED_SUFFIX = ".fit.mp4"
# Downloads and fits land in ``.<name>.<random>.part`` files beside their destination, then are renamed.
_PART = re.compile(r"^\.(?P<job>[0-9]{1,18})-[0-9a-f]{24}(\.fit)?\.mp4\..*\.part$")
PRUNE_INTERVAL = 3600.0
# Beside the videos: the volume's id, which names the lease its pruning takes (``volume_id``).
VOLUME_ID_FILE = ".volume-id"
# Part files and fitted copies are work in progress for minutes (a download, an encode, a few delivery
# attempts): one this old belongs to work that ended without tidying up, whatever the retention.
STALE_WORK_AGE = DAY


def part_job_id(path: Path) -> int | None:
    """The job whose video (or fitted copy) the part file ``path`` is being written for, or None."""
    match = _PART.match(path.name)
    return int(match["job"]) if match else None


def fitted_job_id(path: Path) -> int | None:
    """The job whose fitted copy ``path`` is, or None when it is not a fitted copy the store named."""
    match = _FITTED.match(path.name)
    return int(match["job"]) if match else None


class MetaStore(Protocol):
    """The store's key-value notes, where the naming key is kept."""

    async def get_or_create_meta(self, key: str, value: str) -> str: ...


async def load_name_key(meta: MetaStore) -> bytes:
    """The database's secret for video file names, created on first use (names then survive restarts)."""
    return bytes.fromhex(await meta.get_or_create_meta(KEY_META, secrets.token_hex(32)))


class VideoStore:
    """Delivered videos on disk: kept ``retention`` seconds (0 = removed once posted), optionally public."""

    def __init__(
        self,
        root: Path,
        *,
        key: bytes = b"",
        retention: float = 0.0,
        public_base_url: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = root
        self._key = key
        self.retention = retention
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self.clock = clock

    @property
    def keeps_videos(self) -> bool:
        """True when delivered videos stay on disk for a while."""
        return self.retention > 0

    def name_for(self, job_id: int) -> str:
        """The file name of a job's video: the number, then a token that cannot be guessed from it."""
        token = hmac.new(self._key, f"video:{job_id}".encode(), hashlib.sha256).hexdigest()[:24]
        return f"{job_id}-{token}.mp4"

    def path_for(self, job_id: int) -> Path:
        """Where a job's video is downloaded to and kept."""
        return self.root / self.name_for(job_id)

    def fitted_path_for(self, job_id: int) -> Path:
        """Where the copy of a job's video re-encoded to fit an upload limit is kept until it is posted."""
        return self.root / self.name_for(job_id).replace(".mp4", FITTED_SUFFIX)

    def public_url(self, job_id: int) -> str | None:
        """The lasting link to a job's video, when videos are kept and served and this one is on disk."""
        if self.public_base_url is None or not self.keeps_videos or not self.path_for(job_id).is_file():
            return None
        return f"{self.public_base_url}/videos/{self.name_for(job_id)}"

    def resolve(self, name: str) -> Path | None:
        """The stored file called ``name``, or None for any other name (no paths, no partial files)."""
        if not _NAME.match(name):
            return None
        path = self.root / name
        return path if path.is_file() else None

    def prune(self, now: float | None = None) -> int:
        """Remove videos older than the retention, and part files and fitted copies left by work that ended
        long ago (``STALE_WORK_AGE``); return how many went."""
        if not self.keeps_videos or not self.root.is_dir():
            return 0
        now = self.clock() if now is None else now
        removed = 0
        for path in self.root.iterdir():
            if _NAME.match(path.name):
                cutoff = now - self.retention
            elif _PART.match(path.name) or _FITTED.match(path.name):
                cutoff = now - STALE_WORK_AGE
            else:
                continue  # not ours: leave it alone
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
        if removed:
            log.info("removed %d stored video(s) older than %.1f days", removed, self.retention / DAY)
        return removed

    def volume_id(self) -> str:
        """The id of the volume the videos are on, made once by whichever process comes first and read by every
        other that shares the volume (from this machine or another): the name of the lease that prunes it."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / VOLUME_ID_FILE
        with contextlib.suppress(FileNotFoundError):
            return path.read_text(encoding="ascii").strip()
        staged = self.root / f"{VOLUME_ID_FILE}.{secrets.token_hex(8)}.tmp"
        staged.write_text(secrets.token_hex(12), encoding="ascii")
        try:
            os.link(staged, path)  # whole or not at all, and only if no other process made it first
        except FileExistsError:
            pass
        finally:
            staged.unlink()
        return path.read_text(encoding="ascii").strip()

    async def run_pruner(
        self,
        stop: asyncio.Event,
        *,
        interval: float = PRUNE_INTERVAL,
        on_pruned: Callable[[int], None] | None = None,
        turn: Callable[[], contextlib.AbstractAsyncContextManager[bool]] | None = None,
    ) -> None:
        """Prune now and then every ``interval`` seconds until ``stop`` is set; with ``turn`` (the volume's lease),
        only the rounds whose turn says True prune (another process is pruning the same volume otherwise)."""
        while not stop.is_set():
            try:
                if turn is None:
                    removed = await asyncio.to_thread(self.prune)
                else:
                    async with turn() as mine:
                        removed = await asyncio.to_thread(self.prune) if mine else 0
                if on_pruned is not None and removed:
                    on_pruned(removed)
            except Exception:
                log.exception("pruning stored videos failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
