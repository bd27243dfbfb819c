"""Pure normalisation of CometAPI task bodies, whose shape varies by adapter, into ``TaskStatus``."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from bot.comet.errors import is_safety_message, sanitize_provider_message
from bot.jobs.provider import InvalidProviderResponse, TaskState, TaskStatus

# Spellings seen across adapters, compared after lower-casing and folding spaces/dashes to "_".
# Anything not listed (including the documented running spellings) counts as running.
SUCCESS_STATUSES = frozenset({"completed", "complete", "succeeded", "success", "successful", "done"})
FAILURE_STATUSES = frozenset(
    {"failed", "failure", "fail", "error", "errored", "cancelled", "canceled", "expired", "rejected"}
)
DEFAULT_FAILURE_MESSAGE = "The video service reported that the job failed."

_PERCENT_RE = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)\s*%?\s*$")
_FOLD_RE = re.compile(r"[\s-]+")
_URL_PATHS: tuple[tuple[str, ...], ...] = (
    ("video_url",),
    ("metadata", "url"),
    ("url",),
    ("output", "url"),
    ("data", "video_url"),
)


def _at(obj: object, path: tuple[str, ...]) -> object:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _non_empty_str(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _unwrap(body: Mapping[object, object]) -> Mapping[object, object]:
    """Return the task object: the body itself, or its ``data`` member when the body is an envelope."""
    data = body.get("data")
    if "status" not in body and isinstance(data, Mapping):
        return data
    return body


def parse_state(raw_status: str) -> TaskState:
    """Map one provider status spelling to a TaskState (unknown spellings mean still running)."""
    folded = _FOLD_RE.sub("_", raw_status.strip().lower())
    if folded in SUCCESS_STATUSES:
        return TaskState.SUCCEEDED
    if folded in FAILURE_STATUSES:
        return TaskState.FAILED
    return TaskState.RUNNING


def parse_progress(value: object) -> int:
    """Read progress given as an int, a float or a string like ``"50%"``; clamp to 0–100, 0 if unknown."""
    number: float
    if isinstance(value, bool):
        return 0
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and (match := _PERCENT_RE.match(value)):
        number = float(match.group(1))
    else:
        return 0
    if math.isnan(number):
        return 0
    return int(min(100.0, max(0.0, number)))


def find_video_url(*objects: object) -> str | None:
    """The first non-empty string at any known result-URL location in the given objects."""
    for obj in objects:
        for path in _URL_PATHS:
            found = _non_empty_str(_at(obj, path))
            if found is not None:
                return found
    return None


def _failure_text(task: Mapping[object, object]) -> tuple[str, str]:
    """Return (message, code) for a failed task from ``error`` or the older ``fail_reason``."""
    error = task.get("error")
    message, code = "", ""
    if isinstance(error, Mapping):
        message = _non_empty_str(error.get("message")) or ""
        code = _non_empty_str(error.get("code")) or ""
    elif isinstance(error, str):
        message = error
    if not message.strip():
        message = _non_empty_str(task.get("fail_reason")) or _non_empty_str(task.get("failure_reason")) or ""
    return message, code


def parse_task_status(body: object, task_id: str) -> TaskStatus:
    """Normalise one decoded task body; raise InvalidProviderResponse (only) when it is unusable."""
    if not isinstance(body, Mapping):
        raise InvalidProviderResponse(detail=f"task {task_id}: body is {type(body).__name__}, not an object")
    task = _unwrap(body)
    raw = task.get("status")
    if raw is None:
        raw = task.get("state")
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidProviderResponse(detail=f"task {task_id}: no usable 'status' in the body")
    raw_status = sanitize_provider_message(raw)[:64]
    state = parse_state(raw)
    progress = 100 if state is TaskState.SUCCEEDED else parse_progress(task.get("progress"))
    video_url = find_video_url(task, body) if state is TaskState.SUCCEEDED else None
    error: str | None = None
    safety = False
    if state is TaskState.FAILED:
        message, code = _failure_text(task)
        error = sanitize_provider_message(message) or DEFAULT_FAILURE_MESSAGE
        safety = is_safety_message(message, code)
    return TaskStatus(
        task_id=task_id,
        state=state,
        progress=progress,
        video_url=video_url,
        error=error,
        safety_rejection=safety,
        raw_status=raw_status,
    )
