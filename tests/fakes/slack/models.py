"""Records, identifiers and errors of the fake Slack's in-memory model."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MiB = 1024 * 1024
Clock = Callable[[], float]

# What a freshly installed veo app holds (the manifest's bot scopes); tests take some away for missing_scope.
DEFAULT_BOT_SCOPES = frozenset({
    "commands", "chat:write", "files:read", "files:write", "users:read", "usergroups:read",
    "channels:read", "groups:read", "im:read", "mpim:read", "im:write",
    "channels:history", "groups:history", "im:history", "mpim:history", "channels:join",
})
APP_TOKEN_SCOPES = frozenset({"connections:write"})

PUBLIC = "public"
PRIVATE = "private"
IM = "im"
MPIM = "mpim"
# Scope prefixes per conversation type, as Slack names them (channels:history, groups:read, im:history, ...).
SCOPE_PREFIX = {PUBLIC: "channels", PRIVATE: "groups", IM: "im", MPIM: "mpim"}


class ManualClock:
    """A monotonic clock that tests move forward (trigger expiry, rate buckets) without sleeping."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        """Monotonic time plus the jumps made so far."""
        return time.monotonic() + self.offset

    def advance(self, seconds: float) -> None:
        """Jump the clock forward by `seconds`."""
        self.offset += seconds


class SlackError(Exception):
    """An `ok: false` answer: `error` is Slack's code; `extra` goes into the body beside it."""

    def __init__(self, error: str, *, status: int = 200, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The JSON body Slack sends."""
        return {"ok": False, "error": self.error, **self.extra}


def missing_field(name: str) -> SlackError:
    """Slack's answer to a missing required argument."""
    return SlackError("invalid_arguments", response_metadata={"messages": [f"[ERROR] missing required field: {name}"]})


class IdGenerator:
    """Slack-shaped ids (`C0000001A`...): a prefix letter and upper-case alphanumerics, unique per prefix."""

    def __init__(self) -> None:
        self._next: dict[str, int] = {}

    def __call__(self, prefix: str) -> str:
        """A new id starting with `prefix`."""
        n = self._next.get(prefix, 0x1000001)
        self._next[prefix] = n + 1
        return f"{prefix}{n:08X}"


def ts_text(micros: int) -> str:
    """A message timestamp as Slack writes it: seconds, a dot, six digits of microseconds."""
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def ts_micros(ts: str) -> int | None:
    """The microseconds of a `seconds.micro` timestamp, or None when it has another shape."""
    seconds, dot, micros = ts.partition(".")
    if not dot or not seconds.isdigit() or len(micros) != 6 or not micros.isdigit():
        return None
    return int(seconds) * 1_000_000 + int(micros)


@dataclass
class FakeTeam:
    """A workspace with the app installed: its bot token, bot user and granted scopes."""

    id: str
    name: str
    domain: str
    bot_token: str
    bot_user_id: str
    bot_id: str
    scopes: set[str]
    usergroups_enabled: bool = True
    file_size_limit: int | None = None


@dataclass
class FakeUser:
    """A member of a workspace (admins and owners as `users.info` reports them)."""

    id: str
    team_id: str
    name: str
    real_name: str = ""
    is_admin: bool = False
    is_owner: bool = False
    is_primary_owner: bool = False
    is_bot: bool = False
    deleted: bool = False
    locale: str = "en-US"
    tz: str = "Etc/UTC"

    def as_json(self, *, include_locale: bool) -> dict[str, Any]:
        """The user object of `users.info`."""
        body: dict[str, Any] = {
            "id": self.id, "team_id": self.team_id, "name": self.name, "real_name": self.real_name or self.name,
            "deleted": self.deleted, "is_admin": self.is_admin, "is_owner": self.is_owner,
            "is_primary_owner": self.is_primary_owner, "is_restricted": False, "is_ultra_restricted": False,
            "is_bot": self.is_bot, "is_app_user": False, "tz": self.tz,
            "profile": {"real_name": self.real_name or self.name, "display_name": self.name, "team": self.team_id},
        }
        if include_locale:
            body["locale"] = self.locale
        return body


@dataclass
class FakeChannel:
    """A conversation: public or private channel, IM or group DM, with its members (the bot among them or not)."""

    id: str
    team_id: str
    name: str
    kind: str
    members: set[str] = field(default_factory=set)
    im_user: str | None = None
    created: int = 0
    archived: bool = False

    def as_json(self, bot_user_id: str) -> dict[str, Any]:
        """The conversation object of `conversations.info`."""
        body: dict[str, Any] = {
            "id": self.id, "created": self.created, "is_archived": self.archived,
            "is_channel": self.kind == PUBLIC, "is_group": self.kind == PRIVATE, "is_im": self.kind == IM,
            "is_mpim": self.kind == MPIM, "is_private": self.kind != PUBLIC, "context_team_id": self.team_id,
        }
        if self.kind == IM:
            body.update({"user": self.im_user, "is_open": True})
        else:
            body.update({"name": self.name, "is_member": bot_user_id in self.members,
                         "num_members": len(self.members)})
        return body


@dataclass
class FakeUserGroup:
    """A user group (`S…`), the Slack stand-in for a role."""

    id: str
    team_id: str
    handle: str
    name: str
    users: list[str] = field(default_factory=list)

    def as_json(self, *, include_users: bool) -> dict[str, Any]:
        """The group object of `usergroups.list`."""
        body: dict[str, Any] = {"id": self.id, "team_id": self.team_id, "handle": self.handle, "name": self.name,
                                "is_usergroup": True, "user_count": len(self.users)}
        if include_users:
            body["users"] = list(self.users)
        return body


@dataclass
class CallRecord:
    """One Web API call as the fake received it (arguments merged from query, form and JSON)."""

    method: str
    http_method: str
    args: dict[str, Any]
    token_kind: str | None
    team_id: str | None
    at: float
    ok: bool | None = None
    error: str | None = None
    status: int = 200


@dataclass
class Fault:
    """An injected failure for the next `times` calls of `method` (`*` for any)."""

    method: str
    error: str | None = None
    status: int = 200
    times: int = 1
    retry_after: int | None = None
    drop: str | None = None
    # "before" / "after" processing: the call waits there until `release` is set (a post in flight).
    hold: str | None = None
    release: asyncio.Event = field(default_factory=asyncio.Event)
    holding: int = 0
    hits: int = 0

    def matches(self, method: str) -> bool:
        """Whether this fault takes the call."""
        return self.times > 0 and self.method in ("*", method)
