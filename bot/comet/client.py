"""Async client for CometAPI's Veo video endpoints: create, poll and download, with bounded retries."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import quote

import aiohttp
from pydantic import SecretStr
from yarl import URL

from bot.comet.download import stream_to_file
from bot.comet.errors import error_from_response, sanitize_provider_message
from bot.comet.hosts import Resolver, check_public_host, system_resolve
from bot.comet.http import backoff_delay, decode_json, origin, parse_retry_after
from bot.comet.parse import parse_task_status
from bot.comet.types import RetryPolicy
from bot.jobs.errors import InvalidInput
from bot.jobs.provider import (
    DownloadFailed,
    ImageInput,
    InvalidProviderResponse,
    ProviderBusy,
    ProviderConfigError,
    SubmissionUncertain,
    TaskStatus,
    VideoApiError,
)
from bot.orientations import DEFAULT_ORIENTATION_MAP, OrientationParams

log = logging.getLogger(__name__)

T = TypeVar("T")
_Kind = Literal["create", "get", "download"]

MAX_JSON_BYTES = 1024 * 1024
MAX_ERROR_BYTES = 64 * 1024
# Third-party video hosts may redirect (signed storage URLs); follow a few hops, never with the key,
# and each hop only to a public address (see comet_hosts).
MAX_REDIRECTS = 3


@dataclasses.dataclass(frozen=True, slots=True)
class _Redirect:
    location: str


async def _read_limited(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """Read at most ``limit`` bytes of a body, so a huge error page cannot fill memory."""
    parts: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(16 * 1024):
        parts.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(parts)[:limit]


class VideoClient:
    """CometAPI video client; the aiohttp session belongs to the caller."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        api_key: SecretStr,
        orientation_map: Mapping[str, OrientationParams] = DEFAULT_ORIENTATION_MAP,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen, so sharing the default is safe
        max_download_bytes: int = 200 * 1024 * 1024,
        allow_plain_http_downloads: bool = False,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        resolve: Resolver = system_resolve,
    ) -> None:
        base = URL(base_url.rstrip("/"))
        if not base.is_absolute() or base.scheme not in ("http", "https"):
            raise ValueError(f"base_url must be an absolute http(s) URL, got {base_url!r}")
        self._session = session
        self._base = base
        self._origin = origin(base)
        self._key = api_key
        self._orientation_map = dict(orientation_map)
        self._retry = retry
        self._max_download_bytes = max_download_bytes
        # The same switch that allows plain http lets local test doubles on 127.0.0.1 serve videos.
        self._allow_plain_http = allow_plain_http_downloads
        self._resolve = resolve
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._timeout = aiohttp.ClientTimeout(total=retry.request_timeout)
        # A large video may legitimately take longer than one request timeout: bound stalls instead.
        self._download_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=retry.request_timeout, sock_read=retry.request_timeout
        )

    def _api_url(self, *segments: str) -> URL:
        path = "".join("/" + quote(segment, safe="") for segment in segments)
        return URL(str(self._base) + path, encoded=True)

    def _secrets(self) -> tuple[str, ...]:
        return (self._key.get_secret_value(),)

    async def create(
        self, prompt: str, model: str, orientation: str, images: Sequence[ImageInput] = ()
    ) -> str:
        """Submit one generation job and return the provider's task id; never resubmits ambiguously."""
        params = self._orientation_map.get(orientation)
        if params is None:
            raise InvalidInput("Unknown orientation {orientation}.", params={"orientation": orientation})

        def form() -> aiohttp.FormData:
            # FormData can be serialised only once, so every attempt builds its own.
            # Without files aiohttp would send urlencoded; the API documents multipart/form-data.
            data = aiohttp.FormData(default_to_multipart=True)
            data.add_field("prompt", prompt)
            data.add_field("model", model)
            data.add_field("size", params.size)
            if params.seconds is not None:
                data.add_field("seconds", params.seconds)
            for image in images:
                # A BytesIO is streamed; raw bytes over 1 MiB make aiohttp warn about blocking the loop.
                data.add_field(
                    "input_reference", io.BytesIO(image.data), filename=image.filename,
                    content_type=image.content_type,
                )
            return data

        async def handle(resp: aiohttp.ClientResponse) -> str:
            try:
                body = await self._read_json(resp, "create")
            except InvalidProviderResponse as exc:
                # A 2xx may mean the job exists, so an unreadable answer is uncertain, not retried.
                raise SubmissionUncertain(detail=exc.detail, status=resp.status) from exc
            task_id = (body.get("id") or body.get("task_id")) if isinstance(body, dict) else None
            if isinstance(task_id, int) and not isinstance(task_id, bool):
                task_id = str(task_id)
            if not isinstance(task_id, str) or not task_id.strip():
                detail = f"create: HTTP {resp.status} without an id"
                raise SubmissionUncertain(detail=detail, status=resp.status)
            return task_id.strip()

        url = self._api_url("videos")
        task_id = await self._request("POST", url, kind="create", task="-", handle=handle, form=form)
        log.info("video api created task=%s model=%s images=%d", task_id, model, len(images))
        return task_id

    async def get(self, task_id: str) -> TaskStatus:
        """Fetch and normalise one task's status."""

        async def handle(resp: aiohttp.ClientResponse) -> TaskStatus:
            status = parse_task_status(await self._read_json(resp, "get"), task_id)
            if status.error is not None:
                status = dataclasses.replace(
                    status, error=sanitize_provider_message(status.error, secrets=self._secrets())
                )
            return status

        url = self._api_url("videos", task_id)
        return await self._request("GET", url, kind="get", task=task_id, handle=handle)

    async def download(self, task_id: str, video_url: str | None, dest: Path) -> int:
        """Stream the finished video to ``dest`` (atomically) and return the number of bytes written."""
        try:
            content = self._api_url("videos", task_id, "content")
            url = self._base.join(URL(video_url)) if video_url else content
        except ValueError as exc:
            raise DownloadFailed(detail=f"task {task_id}: unusable video URL") from exc
        redirected = False
        for _hop in range(MAX_REDIRECTS + 1):
            same_origin = origin(url) == self._origin
            plain_ok = self._allow_plain_http and url.scheme == "http"
            if not (url.scheme == "https" or same_origin or plain_ok):
                raise DownloadFailed(detail=f"task {task_id}: refusing a {url.scheme!r} video URL")
            if not same_origin:
                await check_public_host(url, allow_loopback=self._allow_plain_http, resolve=self._resolve,
                                        label=f"task {task_id}")

            async def handle(resp: aiohttp.ClientResponse, url: URL = url) -> int | _Redirect:
                if 300 <= resp.status < 400:
                    location = resp.headers.get("Location")
                    if not location:
                        raise DownloadFailed(detail=f"task {task_id}: redirect without Location")
                    return _Redirect(location)
                label = f"task {task_id} from {url.host}"
                return await stream_to_file(resp, dest, max_bytes=self._max_download_bytes, label=label)

            result = await self._request(
                "GET", url, kind="download", task=task_id, handle=handle,
                # The key goes only to the API's own origin, and never along a redirect.
                send_key=same_origin and not redirected, follow_redirects=not same_origin,
            )
            if not isinstance(result, _Redirect):
                log.info("video api downloaded task=%s bytes=%d", task_id, result)
                return result
            try:
                url = url.join(URL(result.location))
            except ValueError as exc:
                raise DownloadFailed(detail=f"task {task_id}: unusable redirect Location") from exc
            redirected = True
        raise DownloadFailed(detail=f"task {task_id}: more than {MAX_REDIRECTS} redirects")

    async def _read_json(self, resp: aiohttp.ClientResponse, kind: _Kind) -> object:
        raw = await _read_limited(resp, MAX_JSON_BYTES + 1)
        text = raw.decode("utf-8", errors="replace")
        if "html" in resp.content_type or text.lstrip()[:1] == "<":
            raise error_from_response(resp.status, raw, resp.content_type, secrets=self._secrets())
        if len(raw) > MAX_JSON_BYTES:
            raise InvalidProviderResponse(detail=f"{kind}: JSON body over {MAX_JSON_BYTES} bytes")
        try:
            return decode_json(text)
        except (ValueError, RecursionError) as exc:  # absurdly deep nesting exhausts the parser's stack
            detail = f"{kind}: HTTP {resp.status} body is not valid JSON"
            raise InvalidProviderResponse(detail=detail) from exc

    def _status_error(
        self, kind: _Kind, status: int, body: bytes, content_type: str, url: URL
    ) -> VideoApiError:
        """Refine error_from_response for the operation: what a status means depends on the request."""
        error = error_from_response(status, body, content_type, secrets=self._secrets())
        if kind == "create":
            if status == 404:
                return ProviderConfigError(detail=f"create: HTTP 404; is the base URL right? {error.detail}",
                                           status=status)
            if isinstance(error, ProviderBusy) and status != 429:
                # A 5xx or 408 after the body was sent: the job may exist. Resending could bill twice.
                return SubmissionUncertain(detail=error.detail, status=status)
        if kind == "download":
            if isinstance(error, ProviderConfigError) and origin(url) == self._origin:
                return error
            if not isinstance(error, ProviderBusy):
                return DownloadFailed(detail=f"download: {error.detail}", status=status)
        return error

    def _network_error(self, kind: _Kind, exc: BaseException) -> VideoApiError:
        detail = f"{kind}: {type(exc).__name__}"
        connect_failed = isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)
        if kind == "create" and not connect_failed:
            # Only a failed connect proves nothing was sent; anything later is ambiguous.
            return SubmissionUncertain(detail=detail)
        return ProviderBusy(detail=detail)

    async def _request(
        self,
        method: str,
        url: URL,
        *,
        kind: _Kind,
        task: str,
        handle: Callable[[aiohttp.ClientResponse], Awaitable[T]],
        form: Callable[[], aiohttp.FormData] | None = None,
        send_key: bool = True,
        follow_redirects: bool = False,
    ) -> T:
        """The one request path: send, map failures, and retry what is safe to retry, boundedly."""
        policy = self._retry
        headers = {"Accept": "video/mp4, */*" if kind == "download" else "application/json"}
        if send_key:
            headers["Authorization"] = f"Bearer {self._key.get_secret_value()}"
        timeout = self._download_timeout if kind == "download" else self._timeout
        attempt = 0
        while True:
            attempt += 1
            retry_after: float | None = None
            try:
                async with self._session.request(
                    method, url, headers=headers, data=form() if form else None,
                    allow_redirects=False, timeout=timeout,
                ) as resp:
                    if resp.status < 300 or (follow_redirects and resp.status < 400):
                        return await handle(resp)
                    body = await _read_limited(resp, MAX_ERROR_BYTES)
                    error = self._status_error(kind, resp.status, body, resp.content_type, url)
                    retry_after = parse_retry_after(resp.headers.get("Retry-After"))
            except VideoApiError as exc:
                error = exc
            except (TimeoutError, aiohttp.ClientError) as exc:
                error = self._network_error(kind, exc)
                error.__cause__ = exc
            # A 4xx from a video host will not change on an immediate retry (the caller may re-poll
            # for a fresh URL later), so downloads retry only transient trouble.
            final = kind == "download" and isinstance(error, DownloadFailed) and error.status is not None
            if final or not error.retryable or attempt >= policy.attempts:
                log.warning("video api %s task=%s failed after %d attempt(s): %s %s",
                            kind, task, attempt, type(error).__name__, error.detail)
                if kind == "download" and isinstance(error, ProviderBusy):
                    raise DownloadFailed(detail=error.detail, status=error.status) from error
                raise error
            delay = backoff_delay(policy, attempt, retry_after, self._rng)
            log.info("video api %s task=%s attempt %d/%d: %s status=%s; retrying in %.2fs",
                     kind, task, attempt, policy.attempts, type(error).__name__, error.status, delay)
            await self._sleep(delay)
