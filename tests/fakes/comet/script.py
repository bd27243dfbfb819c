"""Scripts, faults and request records for the fake CometAPI server (see ``comet_api.py``)."""

from __future__ import annotations

import random
import struct
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

Route = Literal["create", "get", "content", "cdn"]
ROUTES: tuple[Route, ...] = ("create", "get", "content", "cdn")
ProgressStyle = Literal["int", "float", "fixed50", "percent_string", "missing", "null"]
ResultLocation = Literal["video_url", "metadata.url", "url", "output.url", "data.video_url", "content_only"]
FailureStyle = Literal["error_object", "fail_reason", "error_string"]
FaultKind = Literal["status", "truncated", "slow", "drop", "html", "redirect"]

_FILLER = bytes(range(256))


def make_mp4_bytes(size: int = 2048) -> bytes:
    """Bytes that look like an MP4 (an ``ftyp`` box first, so ``ftyp`` sits at bytes 4–8), ``size`` long."""
    ftyp = struct.pack(">I", 32) + b"ftyp" + b"isom" + struct.pack(">I", 0x200) + b"isomiso2avc1mp41"
    mdat_payload = max(0, size - len(ftyp) - 8)
    mdat = struct.pack(">I", 8 + mdat_payload) + b"mdat"
    filler = _FILLER * (mdat_payload // len(_FILLER) + 1)
    return (ftyp + mdat + filler[:mdat_payload])[:size]


DEFAULT_VIDEO = make_mp4_bytes(4096)
SAFETY_MESSAGE = (
    "Veo could not generate videos because the input prompt violates the usage guidelines "
    "(public_error_unsafe_generation) (request id: 2026081512000012345)"
)


@dataclass
class TaskScript:
    """How one fake task behaves from creation to its end, and how its bodies are spelled."""

    polls_until_done: int = 1  # GETs answered "running" before the final state
    seconds_until_done: float | None = None  # when set, the injected clock decides instead of GETs
    running_statuses: tuple[str, ...] = ("queued", "in_progress")  # one per running GET, last repeats
    final_status: str | None = None  # default "completed" / "failed" by outcome
    progress_style: ProgressStyle = "int"
    result_location: ResultLocation = "video_url"
    wrap_in_data: bool = False  # the whole GET body inside {"code", "message", "data": …}
    outcome: Literal["success", "failure"] = "success"
    failure_style: FailureStyle = "error_object"
    failure_message: str = "Video generation failed (request id: 2026081512000099999)"
    failure_code: str = "generation_failed"
    video: bytes = DEFAULT_VIDEO
    create_id_fields: Literal["id", "task_id", "both"] = "both"
    cdn_content_length: bool = True  # False: the CDN answers chunked, without Content-Length
    cdn_content_type: str = "video/mp4"
    video_url: str | None = None  # overrides the CDN URL the task reports

    @classmethod
    def safety_failure(cls, **changes: Any) -> TaskScript:
        """A task that ends the way Veo's safety filter ends one."""
        base: dict[str, Any] = {
            "outcome": "failure",
            "failure_message": SAFETY_MESSAGE,
            "failure_code": "content_policy_violation",
        }
        return cls(**(base | changes))


@dataclass(frozen=True)
class Fault:
    """One injected misbehaviour of a route; build it with the class methods."""

    kind: FaultKind
    status: int = 500
    code: str = ""
    message: str = ""
    error_type: str = "comet_api_error"
    retry_after: str | None = None
    delay: float = 0.0
    after_processing: bool = False  # drop/slow: do the real work (create the task, count the GET) first
    location: str | None = None

    @classmethod
    def http(
        cls,
        status: int,
        *,
        code: str = "",
        message: str = "",
        error_type: str = "comet_api_error",
        retry_after: str | None = None,
    ) -> Fault:
        """Answer ``status`` with the JSON error envelope."""
        return cls("status", status, code, message, error_type, retry_after)

    @classmethod
    def rate_limited(cls, retry_after: str | None = "1") -> Fault:
        """A 429 with an optional ``Retry-After`` (seconds or an HTTP date)."""
        return cls.http(429, message="Rate limit reached, please try again later", retry_after=retry_after)

    @classmethod
    def server_error(cls, status: int = 503) -> Fault:
        """A 5xx with the JSON envelope (500, 502, 503, 504, 524…)."""
        return cls.http(status, message=f"upstream error {status}")

    @classmethod
    def truncated(cls) -> Fault:
        """JSON routes: a complete response whose JSON body is cut mid-object. Video routes: the
        connection closes halfway through a body whose Content-Length promised more."""
        return cls("truncated")

    @classmethod
    def slow(cls, delay: float, *, after_processing: bool = False) -> Fault:
        """Wait ``delay`` seconds before answering (so a client timeout triggers)."""
        return cls("slow", delay=delay, after_processing=after_processing)

    @classmethod
    def drop(cls, *, after_processing: bool = False) -> Fault:
        """Abort the TCP connection; before reading the body, or after doing the work (the task exists)."""
        return cls("drop", after_processing=after_processing)

    @classmethod
    def html(cls, status: int = 200) -> Fault:
        """An HTML page, as a wrong base URL or a proxy error page would give."""
        return cls("html", status)

    @classmethod
    def redirect(cls, location: str | None = None, status: int = 301) -> Fault:
        """A redirect; ``location`` defaults to a recording path on the CDN listener."""
        return cls("redirect", status, location=location)


@dataclass
class RecordedFile:
    """One file part of a multipart request."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class RecordedRequest:
    """One request as the fake saw it; ``path`` is the raw (percent-encoded) path without the query."""

    method: str
    path: str
    headers: dict[str, str]
    fields: dict[str, str] = field(default_factory=dict)
    files: list[RecordedFile] = field(default_factory=list)
    route: str = "other"
    listener: Literal["api", "cdn"] = "api"
    query: dict[str, str] = field(default_factory=dict)
    content_type: str = ""
    task_id: str | None = None

    def header(self, name: str) -> str | None:
        """A header's value, looked up case-insensitively."""
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)


@dataclass
class FakeTask:
    """One task held by the fake; ``gets`` counts status polls."""

    id: str
    script: TaskScript
    created_at: float  # on the injected clock
    created_unix: int
    prompt: str
    model: str
    size: str
    seconds: str
    files: list[RecordedFile]
    gets: int = 0

    def done(self, now: float) -> bool:
        """Whether the task has reached its final state (without counting a poll)."""
        if self.script.seconds_until_done is not None:
            return now - self.created_at >= self.script.seconds_until_done
        return self.gets > self.script.polls_until_done

    def fraction(self, now: float) -> float:
        """How far along a running task is, 0–1."""
        s = self.script
        if s.seconds_until_done is not None:
            return min(1.0, (now - self.created_at) / s.seconds_until_done) if s.seconds_until_done else 1.0
        return min(1.0, self.gets / (s.polls_until_done + 1))


class FaultPlan:
    """Which fault (if any) each next request to a route gets: injected ones first, then random rates."""

    def __init__(self, seed: int = 0) -> None:
        self._queues: dict[str, deque[list[Any]]] = {route: deque() for route in ROUTES}
        self._rates: dict[str, list[tuple[str, float]]] = {route: [] for route in ROUTES}
        self._rng = random.Random(seed)

    def inject(self, route: Route, fault: Fault, times: int = 1) -> None:
        """Queue ``fault`` for the next ``times`` requests to ``route``."""
        if route not in ROUTES:
            raise ValueError(f"unknown route {route!r}; expected one of {ROUTES}")
        self._queues[route].append([fault, times])

    def set_rates(self, seed: int | None = None, **rates: float) -> None:
        """Replace the random fault rates; names are ``<route>_<429|5xx|drop|truncated|html>``."""
        if seed is not None:
            self._rng = random.Random(seed)
        parsed: dict[str, list[tuple[str, float]]] = {route: [] for route in ROUTES}
        for key, rate in rates.items():
            route, _, kind = key.partition("_")
            if route not in ROUTES or not (kind.isdigit() or kind in ("drop", "truncated", "html")):
                raise ValueError(f"bad fault rate name {key!r}")
            parsed[route].append((kind, rate))
        self._rates = parsed

    def clear(self) -> None:
        """Forget injected faults and rates."""
        for route in ROUTES:
            self._queues[route].clear()
        self.set_rates()

    def take(self, route: Route) -> Fault | None:
        """The fault for the request arriving now on ``route``, if any."""
        queue = self._queues[route]
        if queue:
            entry = queue[0]
            entry[1] -= 1
            if entry[1] <= 0:
                queue.popleft()
            fault: Fault = entry[0]
            return fault
        roll = self._rng.random()
        for kind, rate in self._rates[route]:
            if roll < rate:
                if kind.isdigit():
                    return Fault.rate_limited() if kind == "429" else Fault.server_error(int(kind))
                return {"drop": Fault.drop, "truncated": Fault.truncated}.get(kind, Fault.html)()
            roll -= rate
        return None
