"""Records, identifiers and constants of the fake Discord's in-memory model."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DISCORD_EPOCH_MS = 1420070400000
MiB = 1024 * 1024

# Permission bits (https://discord.com/developers/docs/topics/permissions).
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_EXTERNAL_EMOJIS = 1 << 18
USE_APPLICATION_COMMANDS = 1 << 31
MANAGE_THREADS = 1 << 34
CREATE_PUBLIC_THREADS = 1 << 35
SEND_MESSAGES_IN_THREADS = 1 << 38
ALL_PERMISSIONS = (1 << 51) - 1
# What @everyone gets in a new server (threads included), and what the bot gets with a usual invite.
BOT_DEFAULT_PERMISSIONS = (VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | ATTACH_FILES | READ_MESSAGE_HISTORY
                           | CREATE_PUBLIC_THREADS | SEND_MESSAGES_IN_THREADS)
EVERYONE_DEFAULT_PERMISSIONS = BOT_DEFAULT_PERMISSIONS | ADD_REACTIONS | USE_EXTERNAL_EMOJIS | USE_APPLICATION_COMMANDS

# Channel types.
GUILD_TEXT = 0
GUILD_VOICE = 2
GUILD_ANNOUNCEMENT = 5
ANNOUNCEMENT_THREAD = 10
PUBLIC_THREAD = 11
GUILD_FORUM = 15
THREAD_TYPES = frozenset({ANNOUNCEMENT_THREAD, PUBLIC_THREAD, 12})
# Thread lengths of inactivity before Discord archives a thread, in minutes: the only values it accepts.
AUTO_ARCHIVE_DURATIONS = frozenset({60, 1440, 4320, 10080})

# Gateway intents that decide which dispatches a session receives.
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_PRESENCES = 1 << 8
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = INTENT_GUILD_MEMBERS | INTENT_GUILD_PRESENCES | INTENT_MESSAGE_CONTENT
# Application flags an unverified app shows for privileged intents enabled in the developer portal.
LIMITED_INTENT_FLAGS = {INTENT_GUILD_PRESENCES: 1 << 13, INTENT_GUILD_MEMBERS: 1 << 15, INTENT_MESSAGE_CONTENT: 1 << 19}

# Channel types.
CHANNEL_DM = 1

# Message flags.
FLAG_SUPPRESS_EMBEDS = 1 << 2
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7
FLAG_SUPPRESS_NOTIFICATIONS = 1 << 12
FLAG_COMPONENTS_V2 = 1 << 15

# Upload cap per boost tier, as Discord documents it (and discord.py's Guild.filesize_limit mirrors it).
TIER_UPLOAD_LIMITS = {0: 10 * MiB, 1: 10 * MiB, 2: 50 * MiB, 3: 100 * MiB}

Clock = Callable[[], float]


class ManualClock:
    """A monotonic clock that tests can move forward (token expiry, ack deadline) without sleeping."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        """Monotonic time plus the jumps made so far."""
        return time.monotonic() + self.offset

    def advance(self, seconds: float) -> None:
        """Jump the clock forward by `seconds`."""
        self.offset += seconds


class SnowflakeGenerator:
    """Unique, strictly increasing snowflakes carrying the current wall-clock time, like Discord's ids."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        """Return a new snowflake; bursts beyond 4096/ms borrow from the next millisecond."""
        value = max((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22, self._last + 1)
        self._last = value
        return value

    def next_on_shard(self, shard_id: int, shard_count: int) -> int:
        """A new snowflake for a guild that Discord routes to ``shard_id`` of ``shard_count`` shards:
        ``(id >> 22) % shard_count == shard_id`` (its millisecond is moved forward as needed)."""
        value = self.next()
        millisecond = value >> 22
        millisecond += (shard_id - millisecond) % shard_count
        if millisecond != value >> 22:
            value = millisecond << 22
        self._last = value
        return value


def iso_now() -> str:
    """Discord's ISO-8601 timestamp format."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


class FakeHTTPError(Exception):
    """An error answer in Discord's envelope: `{"message", "code", "errors"?}`."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        errors: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} (code {code}): {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The JSON body Discord would send."""
        data: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors is not None:
            data["errors"] = self.errors
        return data


def nest_error(errors: dict[str, Any], path: str, code: str, message: str) -> dict[str, Any]:
    """Add one problem to a Discord `errors` object: `embeds.0.description` nests as Discord nests it.

    An empty path (or `_errors`) is a problem with the body as a whole.
    """
    node = errors
    for part in path.split(".") if path and path != "_errors" else []:
        node = node.setdefault(part, {})
    node.setdefault("_errors", []).append({"code": code, "message": message})
    return errors


def form_error(field_name: str, code: str, message: str) -> FakeHTTPError:
    """A 400 Invalid Form Body (50035) about one field, shaped like Discord's (nested by the dotted path)."""
    return FakeHTTPError(400, 50035, "Invalid Form Body", errors=nest_error({}, field_name, code, message))


@dataclass(slots=True)
class FakeUser:
    """A Discord user (the bot, the app owner or a test user)."""

    id: int
    name: str
    global_name: str | None = None
    bot: bool = False
    avatar: str | None = None
    # The privacy setting "Allow direct messages from server members": off, the bot's DMs get 403 / 50007.
    accepts_dms: bool = True

    @property
    def mention(self) -> str:
        """The `<@id>` mention text."""
        return f"<@{self.id}>"

    def payload(self) -> dict[str, Any]:
        """The user object."""
        return {
            "id": str(self.id),
            "username": self.name,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": self.avatar,
            "bot": self.bot,
            "public_flags": 0,
            "flags": 0,
        }


@dataclass(slots=True)
class FakeRole:
    """A guild role; the @everyone role has the guild's id."""

    id: int
    guild_id: int
    name: str
    permissions: int = 0
    position: int = 0
    mentionable: bool = False
    managed: bool = False

    @property
    def mention(self) -> str:
        """The `<@&id>` mention text."""
        return f"<@&{self.id}>"

    def payload(self) -> dict[str, Any]:
        """The role object."""
        return {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": self.managed,
            "mentionable": self.mentionable,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }


@dataclass(slots=True)
class FakeMember:
    """A user's membership in a guild; `permissions` overrides the role-derived value when set."""

    user: FakeUser
    guild_id: int
    roles: list[int] = field(default_factory=list)
    permissions: int | None = None
    nick: str | None = None
    joined_at: str = field(default_factory=iso_now)

    def payload(self, *, permissions: int | None = None) -> dict[str, Any]:
        """The guild member object (with `permissions` when given, as interactions carry it)."""
        data: dict[str, Any] = {
            "user": self.user.payload(),
            "roles": [str(r) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
        }
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data


@dataclass(slots=True)
class FakeChannel:
    """A guild channel or thread (`bot_permissions` is what the bot may do there; in a thread, in its parent),
    or the bot's DM channel with one user (type 1, no guild, `recipient`).

    `overwrites` are the permission overwrites the gateway shows (for the bot's cache to agree with
    `bot_permissions`, see `FakeDiscord.set_bot_permissions`).
    """

    id: int
    guild_id: int | None
    name: str
    position: int = 0
    type: int = GUILD_TEXT
    bot_permissions: int = BOT_DEFAULT_PERMISSIONS
    nsfw: bool = False
    topic: str | None = None
    last_message_id: int | None = None
    recipient: FakeUser | None = None
    overwrites: list[dict[str, Any]] = field(default_factory=list)
    # Threads only.
    parent_id: int | None = None
    owner_id: int | None = None
    archived: bool = False
    locked: bool = False
    auto_archive_duration: int = 1440
    member_ids: set[int] = field(default_factory=set)
    message_count: int = 0

    @property
    def mention(self) -> str:
        """The `<#id>` mention text."""
        return f"<#{self.id}>"

    @property
    def is_dm(self) -> bool:
        """Whether this is a DM channel."""
        return self.type == CHANNEL_DM

    @property
    def is_thread(self) -> bool:
        """Whether it is a thread (its messages live apart from its parent channel's)."""
        return self.type in THREAD_TYPES

    def payload(self) -> dict[str, Any]:
        """The channel object (a thread's has its metadata and no overwrites of its own)."""
        if self.recipient is not None:
            return {
                "id": str(self.id),
                "type": self.type,
                "last_message_id": None if self.last_message_id is None else str(self.last_message_id),
                "flags": 0,
                "recipients": [self.recipient.payload()],
            }
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "name": self.name,
            "position": self.position,
            "permission_overwrites": list(self.overwrites),
            "nsfw": self.nsfw,
            "topic": self.topic,
            "rate_limit_per_user": 0,
            "parent_id": None if self.parent_id is None else str(self.parent_id),
            "last_message_id": None if self.last_message_id is None else str(self.last_message_id),
            "flags": 0,
        }
        if self.type == GUILD_VOICE:
            data.update({"bitrate": 64000, "user_limit": 0, "rtc_region": None})
        elif self.type == GUILD_FORUM:
            data.update({"available_tags": [], "default_reaction_emoji": None, "default_sort_order": None,
                         "default_forum_layout": 0, "default_thread_rate_limit_per_user": 0})
        if self.is_thread:
            del data["permission_overwrites"], data["position"], data["topic"]
            data.update({
                "owner_id": str(self.owner_id),
                "message_count": self.message_count,
                "total_message_sent": self.message_count,
                "member_count": min(len(self.member_ids), 50),
                "thread_metadata": {
                    "archived": self.archived,
                    "auto_archive_duration": self.auto_archive_duration,
                    "archive_timestamp": iso_now(),
                    "locked": self.locked,
                    "create_timestamp": iso_now(),
                },
            })
        return data


@dataclass(slots=True)
class FakeGuild:
    """A guild; `upload_limit` overrides the boost-tier upload cap."""

    id: int
    name: str
    owner_id: int
    premium_tier: int = 0
    upload_limit: int | None = None
    locale: str = "en-US"
    roles: dict[int, FakeRole] = field(default_factory=dict)
    channels: dict[int, FakeChannel] = field(default_factory=dict)
    members: dict[int, FakeMember] = field(default_factory=dict)
    joined_at: str = field(default_factory=iso_now)

    @property
    def filesize_limit(self) -> int:
        """Bytes per uploaded file that this guild accepts."""
        if self.upload_limit is not None:
            return self.upload_limit
        return TIER_UPLOAD_LIMITS.get(self.premium_tier, 10 * MiB)

    def member_permissions(self, member: FakeMember) -> int:
        """Guild-level permissions of a member: @everyone plus roles, everything for administrators."""
        if member.permissions is not None:
            return member.permissions
        if member.user.id == self.owner_id:
            return ALL_PERMISSIONS
        value = self.roles[self.id].permissions if self.id in self.roles else 0
        for role_id in member.roles:
            role = self.roles.get(role_id)
            if role is not None:
                value |= role.permissions
        return ALL_PERMISSIONS if value & ADMINISTRATOR else value


@dataclass(slots=True)
class FakeAttachment:
    """A file on the fake CDN: registered by a test for a slash command, or uploaded by the bot."""

    id: int
    channel_id: int
    filename: str
    content_type: str | None
    data: bytes
    size: int
    url: str
    width: int | None = None
    height: int | None = None
    description: str | None = None
    ephemeral: bool = False
    removed: bool = False

    @property
    def proxy_url(self) -> str:
        """The media-proxy URL (served by the same fake CDN)."""
        return self.url

    def payload(self) -> dict[str, Any]:
        """The attachment object."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "filename": self.filename,
            "size": self.size,
            "url": self.url,
            "proxy_url": self.proxy_url,
            "content_type": self.content_type,
            "width": self.width,
            "height": self.height,
            "flags": 0,
        }
        if self.description is not None:
            data["description"] = self.description
        if self.ephemeral:
            data["ephemeral"] = True
        return data


@dataclass(frozen=True, slots=True)
class Pings:
    """Who a message notifies, after Discord's allowed_mentions rules."""

    user_ids: frozenset[int] = frozenset()
    role_ids: frozenset[int] = frozenset()
    everyone: bool = False


@dataclass(frozen=True, slots=True)
class MessageVersion:
    """One state of a message: its creation or one edit, with the allowed_mentions sent and the pings."""

    at: float
    via: str
    content: str
    embeds: tuple[dict[str, Any], ...]
    attachment_ids: tuple[int, ...]
    flags: int
    allowed_mentions: dict[str, Any] | None
    pings: Pings


@dataclass(slots=True)
class MessageRecord:
    """A stored message with its full edit history (`versions[0]` is the creation)."""

    id: int
    channel_id: int
    guild_id: int | None
    author: FakeUser
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[FakeAttachment] = field(default_factory=list)
    flags: int = 0
    tts: bool = False
    type: int = 0
    nonce: str | None = None
    timestamp: str = field(default_factory=iso_now)
    edited_timestamp: str | None = None
    pinned: bool = False
    message_reference: dict[str, Any] | None = None
    referenced_message_id: int | None = None
    allowed_mentions: dict[str, Any] | None = None
    pings: Pings = field(default_factory=Pings)
    interaction_id: int | None = None
    interaction_metadata: dict[str, Any] | None = None
    webhook_id: int | None = None
    deleted: bool = False
    versions: list[MessageVersion] = field(default_factory=list)

    @property
    def ephemeral(self) -> bool:
        """Whether only the invoking user can see it."""
        return bool(self.flags & FLAG_EPHEMERAL)

    @property
    def loading(self) -> bool:
        """Whether it is still a deferred "thinking…" placeholder."""
        return bool(self.flags & FLAG_LOADING)

    @property
    def edits(self) -> list[MessageVersion]:
        """The versions after the creation."""
        return self.versions[1:]

    @property
    def pinged_user_ids(self) -> frozenset[int]:
        """Users notified by the creation or any edit (strict: edits count as pings)."""
        return frozenset().union(*(v.pings.user_ids for v in self.versions))

    @property
    def pinged_role_ids(self) -> frozenset[int]:
        """Roles notified by the creation or any edit."""
        return frozenset().union(*(v.pings.role_ids for v in self.versions))

    @property
    def pinged_everyone(self) -> bool:
        """Whether @everyone/@here notified the server in the creation or any edit."""
        return any(v.pings.everyone for v in self.versions)

    @property
    def attachment_bytes(self) -> list[bytes]:
        """The bytes of the current attachments."""
        return [a.data for a in self.attachments]


@dataclass(frozen=True, slots=True)
class FilePart:
    """An uploaded file part of a multipart request."""

    field: str
    filename: str | None
    content_type: str | None
    size: int
    sha256: str


@dataclass(slots=True)
class RequestRecord:
    """One HTTP request the fake received (API path without the `/api/vN` prefix, or `/cdn/...`)."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: tuple[FilePart, ...]
    at: float
    status: int | None = None


@dataclass(frozen=True, slots=True)
class CommandPut:
    """A bulk overwrite of application commands (`guild_id` None = global)."""

    guild_id: int | None
    commands: tuple[dict[str, Any], ...]
    at: float
    created_names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NonceHit:
    """A create that `enforce_nonce` turned into a return of the existing message."""

    channel_id: int
    nonce: str
    message_id: int
    at: float


@dataclass(slots=True)
class InjectedFault:
    """A scripted failure for requests matching `method` and `re.search(pattern, path)`."""

    method: str
    pattern: re.Pattern[str]
    status: int = 0
    code: int = 0
    message: str = ""
    times: int = 1
    retry_after: float | None = None
    drop: str | None = None
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault applies to the request and still has uses left."""
        return (
            self.times > 0 and (self.method == "*" or self.method == method) and self.pattern.search(path) is not None
        )
