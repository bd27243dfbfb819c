"""Status edits (``chat.update``) within Slack's rate limit, without losing the newest state.

Slack allows about 50 edits a minute per workspace (Tier 3); the core spends a per-face budget below that, but a
429 can still come (another app, a burst). Then the workspace's edits wait until ``Retry-After`` has passed,
and only the newest state of each waiting job is sent: an edit that waits is replaced by the next one for its
job, never queued behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from slack.web_api import error_code, retry_after_of

log = logging.getLogger(__name__)

GONE = frozenset({"message_not_found", "channel_not_found"})


@dataclass(frozen=True, slots=True)
class Edit:
    """One status message's new look."""

    job_id: int
    workspace_id: str
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    metadata: dict[str, Any]


class StatusEdits:
    """Sends edits now, or after a workspace's 429 has passed (the newest per job)."""

    def __init__(self, client: AsyncWebClient, *, clock: Callable[[], float],
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.client = client
        self._clock = clock
        self._sleep = sleep
        self._not_before: dict[str, float] = {}
        self._waiting: dict[int, Edit] = {}
        self._flusher: asyncio.Task[None] | None = None

    @property
    def waiting(self) -> int:
        """How many jobs' edits wait for a rate limit to pass."""
        return len(self._waiting)

    async def edit(self, edit: Edit) -> bool:
        """Show ``edit`` now, or once the workspace's rate limit has passed; False when the message is gone."""
        self._waiting.pop(edit.job_id, None)
        if self._clock() < self._not_before.get(edit.workspace_id, 0.0):
            self._wait(edit)
            return True
        try:
            await self._send(edit)
        except SlackApiError as exc:
            if error_code(exc) in GONE:
                return False
            wait = retry_after_of(exc)
            if wait is None:
                raise
            self._limited(edit.workspace_id, wait)
            self._wait(edit)
        return True

    async def _send(self, edit: Edit) -> None:
        await self.client.chat_update(channel=edit.channel, ts=edit.ts, text=edit.text, blocks=edit.blocks,
                                      metadata=edit.metadata)

    def _limited(self, workspace_id: str, wait: float) -> None:
        log.info("Slack rate limit on status edits in workspace %s; the newest states go in %.1f s", workspace_id,
                 wait)
        self._not_before[workspace_id] = max(self._not_before.get(workspace_id, 0.0), self._clock() + wait)

    def _wait(self, edit: Edit) -> None:
        self._waiting[edit.job_id] = edit
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="veo-slack-status-edits")

    async def _flush(self) -> None:
        """Send the waiting edits as their workspaces' limits pass, until none is left."""
        while self._waiting:
            now = self._clock()
            due = min(self._not_before.get(e.workspace_id, 0.0) for e in self._waiting.values())
            if due > now:
                await self._sleep(due - now)
                continue
            for edit in [e for e in self._waiting.values() if self._not_before.get(e.workspace_id, 0.0) <= now]:
                if self._waiting.get(edit.job_id) is not edit:
                    continue  # replaced by a newer one meanwhile: that one is sent in its turn
                del self._waiting[edit.job_id]
                try:
                    await self._send(edit)
                except SlackApiError as exc:
                    wait = retry_after_of(exc)
                    if wait is not None:
                        self._limited(edit.workspace_id, wait)
                        self._waiting.setdefault(edit.job_id, edit)
                        break
                    log.warning("job=%s status edit failed (%s)", edit.job_id, error_code(exc))
                except Exception:
                    log.exception("job=%s status edit failed", edit.job_id)

    async def close(self) -> None:
        """Stop sending waiting edits (the process is stopping; a restart shows each job's state afresh)."""
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
