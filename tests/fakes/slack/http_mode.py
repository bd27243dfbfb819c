"""HTTP mode: Slack POSTs signed requests to the app's URL; events are re-sent with X-Slack-Retry-Num."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier

from tests.fakes.slack.socket_mode import Ack, NotAcked


@dataclass
class HttpAttempt:
    """One POST the fake made to the app: what was sent and what came back (status 0: no answer in time)."""

    type: str
    body: bytes
    headers: dict[str, str]
    status: int = 0
    answer: bytes = b""
    seconds: float = 0.0
    no_retry: bool = False


class HttpDelivery:
    """Sends what members do to the app's request URL as Slack does: form or JSON bodies, signed with the
    signing secret, answered within the ack timeout."""

    def __init__(self, url: str, signing_secret: str, *, ack_timeout: float = 3.0) -> None:
        self.url = url
        self.verifier = SignatureVerifier(signing_secret)
        self.ack_timeout = ack_timeout
        self.attempts: list[HttpAttempt] = []
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        """Close the HTTP client."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    @staticmethod
    def encode(type_: str, payload: dict[str, Any]) -> tuple[bytes, str]:
        """The body and content type Slack uses for each kind of request."""
        if type_ == "slash_commands":
            return urlencode(payload).encode(), "application/x-www-form-urlencoded"
        if type_ == "interactive":
            return urlencode({"payload": json.dumps(payload)}).encode(), "application/x-www-form-urlencoded"
        return json.dumps(payload).encode(), "application/json"

    async def post(self, type_: str, payload: dict[str, Any], *, timeout: float | None = None,
                   extra_headers: dict[str, str] | None = None, timestamp: int | None = None,
                   signature: str | None = None) -> HttpAttempt:
        """One signed POST (a `timestamp` or `signature` of the test's choosing forges a bad one)."""
        body, content_type = self.encode(type_, payload)
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": stamp,
                   "X-Slack-Signature": signature or str(self.verifier.generate_signature(timestamp=stamp, body=body)),
                   **(extra_headers or {})}
        attempt = HttpAttempt(type_, body, headers)
        self.attempts.append(attempt)
        if self._session is None:
            self._session = aiohttp.ClientSession()
        loop = asyncio.get_running_loop()
        started = loop.time()
        limit = self.ack_timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(limit), self._session.post(self.url, data=body, headers=headers) as response:
                attempt.status, attempt.answer = response.status, await response.read()
                attempt.no_retry = response.headers.get("X-Slack-No-Retry") == "1"
        except TimeoutError:
            attempt.status = 0
        attempt.seconds = loop.time() - started
        return attempt

    async def send(self, type_: str, payload: dict[str, Any], *, timeout: float | None = None,
                   retries: int = 0) -> Ack:
        """Deliver and return the app's answer as an ack; events are re-sent (X-Slack-Retry-Num) on a time-out
        or an error status unless the app answered `X-Slack-No-Retry: 1`."""
        extra: dict[str, str] = {}
        for attempt_number in range(retries + 1):
            attempt = await self.post(type_, payload, timeout=timeout, extra_headers=extra)
            if 200 <= attempt.status < 300:
                return Ack("", _answer(attempt.answer), attempt.seconds)
            if attempt.no_retry:
                break
            extra = {"X-Slack-Retry-Num": str(attempt_number + 1),
                     "X-Slack-Retry-Reason": "http_timeout" if attempt.status == 0 else "http_error"}
        raise NotAcked(f"{type_} request to {self.url} not answered with 2xx: last status {attempt.status}")


def _answer(body: bytes) -> dict[str, Any] | None:
    if not body:
        return None
    try:
        parsed = json.loads(body)
    except ValueError:
        return {"text": body.decode(errors="replace")}
    return parsed if isinstance(parsed, dict) else None
