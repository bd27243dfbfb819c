"""The notifier's Slack Web API client, and how its failures read.

slack_sdk's client retries a call once, by default, when the connection drops: for ``chat.postMessage`` or
``files.completeUploadExternal`` that can post a second copy behind the notifier's back (Slack has no
idempotency key). The notifier's client retries instead only what is safe: a 429 (Slack refused the call, so
nothing happened), after its ``Retry-After`` when that is short, and a dropped connection only for methods that
change nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

# Methods that change nothing (or set the same thing again): safe to send twice.
REPEATABLE_METHODS = frozenset({
    "auth.test", "chat.getPermalink", "chat.update", "conversations.history", "conversations.info",
    "conversations.open", "conversations.replies", "files.info", "users.info",
})
# A 429 whose Retry-After is at most this many seconds is waited out inside the call; a longer one is the
# caller's to handle (it must not hold a worker step).
RETRY_AFTER_CAP = 3.0

Sleep = Callable[[float], Awaitable[None]]


def retry_after(headers: Mapping[str, Any] | None) -> float | None:
    """The seconds of a ``Retry-After`` header (one value, or a list of one), or None."""
    if not headers:
        return None
    for name, value in headers.items():
        if name.lower() == "retry-after":
            text = value[0] if isinstance(value, list) and value else value
            try:
                return max(0.0, float(str(text)))
            except ValueError:
                return None
    return None


class RateLimitRetry(AsyncRetryHandler):
    """Retries a call Slack answered with 429, once, after ``Retry-After`` when that is at most ``cap`` s."""

    def __init__(self, *, cap: float = RETRY_AFTER_CAP, sleep: Sleep = asyncio.sleep) -> None:
        super().__init__(max_retry_count=1)
        self.cap = cap
        self._sleep = sleep

    async def _can_retry_async(self, *, state: RetryState, request: HttpRequest,
                               response: HttpResponse | None = None, error: Exception | None = None) -> bool:
        if response is None or response.status_code != 429:
            return False
        wait = retry_after(response.headers)
        return wait is not None and wait <= self.cap

    async def prepare_for_next_attempt_async(self, *, state: RetryState, request: HttpRequest,
                                             response: HttpResponse | None = None,
                                             error: Exception | None = None) -> None:
        state.next_attempt_requested = True
        wait = retry_after(response.headers if response is not None else None) or 0.0
        log.info("Slack rate limit on %s; trying again in %.1f s", method_of(request.url), wait)
        await self._sleep(wait)
        state.increment_current_attempt()


class RepeatableConnectionRetry(AsyncConnectionErrorRetryHandler):
    """Retries a dropped connection once, only for methods that are safe to send twice."""

    async def _can_retry_async(self, *, state: RetryState, request: HttpRequest,
                               response: HttpResponse | None = None, error: Exception | None = None) -> bool:
        return method_of(request.url) in REPEATABLE_METHODS and await super()._can_retry_async(
            state=state, request=request, response=response, error=error)


def method_of(url: str) -> str:
    """The Web API method a request URL calls (``…/api/chat.postMessage?x=1`` → ``chat.postMessage``)."""
    return url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def notifier_client(token: str, *, base_url: str, session: aiohttp.ClientSession | None = None,
                    retry_after_cap: float = RETRY_AFTER_CAP, sleep: Sleep = asyncio.sleep) -> AsyncWebClient:
    """A Web API client whose retries never repeat a post (see the module's docstring)."""
    return AsyncWebClient(token=token, base_url=base_url, session=session, retry_handlers=[
        RateLimitRetry(cap=retry_after_cap, sleep=sleep), RepeatableConnectionRetry()])


def safe_retries(client: AsyncWebClient) -> bool:
    """True when none of the client's retry handlers repeats a call after a dropped connection whatever the
    method (slack_sdk's default handler does)."""
    return not any(isinstance(h, AsyncConnectionErrorRetryHandler) and not isinstance(h, RepeatableConnectionRetry)
                   for h in client.retry_handlers)


def error_code(exc: SlackApiError) -> str:
    """Slack's error code (``not_in_channel``), or a short description of an answer that had none (an HTML
    page, an empty body, a proxy's error)."""
    response = exc.response
    data = getattr(response, "data", None)
    if isinstance(data, Mapping) and isinstance(data.get("error"), str):
        return str(data["error"])
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    return f"unexpected answer (HTTP {status})"


def refused(exc: SlackApiError) -> bool:
    """True when Slack itself answered ``ok: false`` with an error code: the call was not carried out. (An
    answer without one, an HTML page from a proxy, says nothing about whether it was.)"""
    data = getattr(exc.response, "data", None)
    return isinstance(data, Mapping) and data.get("ok") is False and isinstance(data.get("error"), str)


def status_of(exc: SlackApiError) -> int | None:
    """The HTTP status of the answer an error came with."""
    response = exc.response
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    return int(status) if isinstance(status, int) else None


def retry_after_of(exc: SlackApiError) -> float | None:
    """The ``Retry-After`` of a 429 answer, or None."""
    if status_of(exc) != 429:
        return None
    return retry_after(getattr(exc.response, "headers", None)) or 1.0
