"""The Slack Web API client the face uses: slack_sdk's ``AsyncWebClient`` on ``SLACK_API_BASE_URL`` and the
runtime's aiohttp session, counting every failed call by method and error in
``veo_slack_api_errors_total``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiohttp
from prometheus_client import Counter
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.ops.metrics import MetricsRegistry

ERRORS_METRIC = "veo_slack_api_errors_total"


def api_errors_counter(registry: MetricsRegistry) -> Counter:
    """The counter of failed Slack Web API calls, by method and Slack's error code (or the exception's name)."""
    return registry.counter(ERRORS_METRIC, "Slack Web API calls that failed, by method and error",
                            labels=("method", "error"))


def base_url(url: str) -> str:
    """``SLACK_API_BASE_URL`` as slack_sdk wants it: ending in a slash (it appends the method name)."""
    return url if url.endswith("/") else url + "/"


def error_code(exc: BaseException) -> str:
    """Slack's error code for a failed call (``not_in_channel``, ``ratelimited``…), else the exception's name."""
    if isinstance(exc, SlackApiError):
        error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
        return str(error or f"http_{exc.response.status_code}")
    return type(exc).__name__


class CountingWebClient(AsyncWebClient):
    """``AsyncWebClient`` that counts each failed call (``ok: false``, HTTP errors, connection errors)."""

    def __init__(self, *, errors: Counter, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._errors = errors

    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:
        """One Web API call, as slack_sdk makes it; a failure is counted, then raised as it was."""
        try:
            response = await super().api_call(api_method, **kwargs)
        except (TimeoutError, SlackApiError, aiohttp.ClientError) as exc:
            self._errors.labels(method=api_method, error=error_code(exc)).inc()
            raise
        assert isinstance(response, AsyncSlackResponse)
        return response


def web_client(url: str, session: aiohttp.ClientSession, errors: Counter, *, token: str | None,
               retry_handlers: Sequence[AsyncRetryHandler] | None = None, timeout: int = 30) -> CountingWebClient:
    """A Web API client on ``url`` sharing ``session``. ``retry_handlers`` None keeps slack_sdk's default (one
    retry of a dropped connection: right for reads, wrong for posts, whose clients pass ``[]``)."""
    kwargs: dict[str, Any] = {}
    if retry_handlers is not None:
        kwargs["retry_handlers"] = list(retry_handlers)
    return CountingWebClient(errors=errors, token=token, base_url=base_url(url), session=session, timeout=timeout,
                             **kwargs)
