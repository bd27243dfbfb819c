"""The one function that maps CometAPI responses to the provider errors, and the sanitising of its messages."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from bot.jobs.provider import (
    InvalidProviderResponse,
    ProviderBusy,
    ProviderConfigError,
    ProviderRejected,
    SafetyRejected,
    TaskNotFound,
    VideoApiError,
)

MAX_MESSAGE_CHARS = 300

_REQUEST_ID_RE = re.compile(r"\s*[(\[（]\s*request[ _-]?id\s*[:：=][^)\]）]*[)\]）]", re.IGNORECASE)
_BARE_REQUEST_ID_RE = re.compile(r"\brequest[ _-]?id\s*[:：=]\s*\S+", re.IGNORECASE)
# Anything shaped like an API key or bearer token, in case the provider echoes one we do not know.
_TOKEN_RE = re.compile(r"\b(?:sk-[A-Za-z0-9_-]{8,}|Bearer\s+\S+)", re.IGNORECASE)
# Controls, invisible and bidi characters, and lone surrogates (a JSON escape can produce them; not valid text).
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff\ud800-\udfff]")
_SPACE_RE = re.compile(r"\s+")

# Lower-case fragments that mark a safety / content-policy rejection in a message or an error code.
SAFETY_KEYWORDS: tuple[str, ...] = (
    "safety",
    "content policy",
    "content_policy",
    "content-policy",
    "moderation",
    "prohibited",
    "sensitive",
    "blocked",
    "violat",
    "nsfw",
    "unsafe",
    "harmful",
    "inappropriate",
    "usage guidelines",
    "responsible ai",
    "raimediafiltered",
    "content filter",
    "content_filter",
    "filtered out",
)


def sanitize_provider_message(text: str, *, secrets: Iterable[str] = ()) -> str:
    """Make a provider message safe for a user: no request ids, secrets, control characters; short."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    text = _TOKEN_RE.sub("[redacted]", text)
    text = _REQUEST_ID_RE.sub("", text)
    text = _BARE_REQUEST_ID_RE.sub("", text)
    text = _CONTROL_RE.sub(" ", text)
    text = _SPACE_RE.sub(" ", text).strip()
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - 1].rstrip() + "…"
    return text


def is_safety_message(*texts: str | None) -> bool:
    """True when any of the texts (a message, an error code) names a safety or content-policy filter."""
    joined = " ".join(t for t in texts if t).lower()
    return any(keyword in joined for keyword in SAFETY_KEYWORDS)


def _decode(body: bytes | str) -> str:
    return body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body


def _looks_like_html(text: str, content_type: str | None) -> bool:
    return "html" in (content_type or "").lower() or text.lstrip()[:1] == "<"


def _envelope_fields(text: str) -> tuple[str, str, str] | None:
    """Return (message, type, code) from a JSON error body, or None when the body is not JSON."""
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(payload, dict):
        return ("", "", "")
    error = payload.get("error", payload)
    if isinstance(error, str):
        return (error, "", "")
    if not isinstance(error, dict):
        return ("", "", "")
    message = error.get("message") or error.get("msg") or payload.get("message") or ""
    return (
        message if isinstance(message, str) else "",
        str(error.get("type") or ""),
        str(error.get("code") or ""),
    )


def rejection_error(message: str, code: str = "", *, status: int | None = None) -> ProviderRejected:
    """Build a ProviderRejected (or SafetyRejected) from an already sanitised provider message."""
    detail = f"HTTP {status} code={code!r} message={message!r}"
    if is_safety_message(message, code):
        text = "The video service's safety filter blocked this request"
        text += f": {message}" if message else ""
        text = text.rstrip(". ") + ". Try rephrasing the prompt or using a different image."
        return SafetyRejected(text, detail=detail, status=status)
    plain = f"The video service rejected the request: {message}" if message else None
    return ProviderRejected(plain, detail=detail, status=status)


def error_from_response(
    status: int, body: bytes | str, content_type: str | None, *, secrets: Iterable[str] = ()
) -> VideoApiError:
    """Map an HTTP status and its body (JSON envelope, text or HTML) to the matching exception."""
    text = _decode(body)
    fields = None if _looks_like_html(text, content_type) else _envelope_fields(text)
    message, etype, code = fields or ("", "", "")
    message = sanitize_provider_message(message, secrets=secrets)
    code = sanitize_provider_message(code, secrets=secrets)[:64]
    kind = "json" if fields is not None else ("html" if _looks_like_html(text, content_type) else "text")
    etype = sanitize_provider_message(etype, secrets=secrets)[:64]
    detail = f"HTTP {status} ({kind}) type={etype!r} code={code!r} message={message!r}"
    if 300 <= status < 400:
        return ProviderConfigError(detail=f"{detail}: redirect; is the base URL right?", status=status)
    if status in (401, 403):
        return ProviderConfigError(detail=detail, status=status)
    if status == 500 and code.lower() == "invalid_request":
        return rejection_error(message, code, status=status)
    if status in (408, 429) or status >= 500:
        return ProviderBusy(detail=detail, status=status)
    if status < 300 and kind == "json":
        return InvalidProviderResponse(detail=detail, status=status)
    if status < 300 or kind == "html" or (kind == "text" and status == 404):
        # An HTML page, or a plain 404, where the API answers JSON: the base URL points elsewhere.
        return ProviderConfigError(detail=f"{detail}: not the API; is the base URL right?", status=status)
    if status == 404:
        return TaskNotFound(detail=detail, status=status)
    if kind == "text":
        # Not the API's envelope (a proxy, say): show the user nothing of it, give the log a snippet.
        snippet = sanitize_provider_message(text, secrets=secrets)[:120]
        return ProviderRejected(detail=f"{detail} body={snippet!r}", status=status)
    return rejection_error(message, code, status=status)
