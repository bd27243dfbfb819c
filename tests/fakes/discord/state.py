"""The fake Discord's world: users, guilds, channels, CDN files and application commands, with payloads."""

from __future__ import annotations

import mimetypes
import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote

from tests.fakes.discord.limits import check_commands
from tests.fakes.discord.models import (
    ALL_PERMISSIONS,
    CHANNEL_DM,
    EVERYONE_DEFAULT_PERMISSIONS,
    GUILD_TEXT,
    INTENT_GUILD_MEMBERS,
    LIMITED_INTENT_FLAGS,
    Clock,
    CommandPut,
    FakeAttachment,
    FakeChannel,
    FakeGuild,
    FakeHTTPError,
    FakeMember,
    FakeRole,
    FakeUser,
    SnowflakeGenerator,
    form_error,
)

# (event name, data, guild id or None, intent bit a session needs to receive it or 0,
#  whether content is hidden from sessions without the MESSAGE_CONTENT intent)
Dispatch = Callable[[str, dict[str, Any], int | None, int, bool], None]


def unknown(what: str, code: int) -> FakeHTTPError:
    """Discord's 404 for a missing object, e.g. `Unknown Channel` (10003)."""
    return FakeHTTPError(404, code, f"Unknown {what}")


class DiscordState:
    """Everything the fake knows, keyed by snowflake; handlers use it with O(1) lookups."""

    def __init__(self, *, clock: Clock, bot_name: str, privileged_intents: int = 0) -> None:
        self.clock = clock
        # Privileged intents "enabled in the developer portal"; others make IDENTIFY fail with 4014.
        self.privileged_intents = privileged_intents
        self.snowflakes = SnowflakeGenerator()
        self.cdn_base = ""
        # Since 2020 an application's id and its bot user's id are the same snowflake.
        self.application_id = self.snowflakes.next()
        self.bot_user = FakeUser(self.application_id, bot_name, bot=True)
        self.owner = FakeUser(self.snowflakes.next(), "app-owner")
        self.users: dict[int, FakeUser] = {u.id: u for u in (self.bot_user, self.owner)}
        self.guilds: dict[int, FakeGuild] = {}
        self.channels: dict[int, FakeChannel] = {}
        self.dm_channels: dict[int, FakeChannel] = {}  # the bot's DM channel with each user, by user id
        self.cdn: dict[int, FakeAttachment] = {}
        self.commands: dict[int | None, list[dict[str, Any]]] = {None: []}
        self.command_puts: list[CommandPut] = []
        self.dispatch: Dispatch = lambda event, data, guild_id, intent, private: None

    # ----- setup -----

    def add_user(self, name: str, *, bot: bool = False, global_name: str | None = None) -> FakeUser:
        """Create a user."""
        user = FakeUser(self.snowflakes.next(), name, global_name=global_name, bot=bot)
        self.users[user.id] = user
        return user

    def add_guild(self, name: str, *, premium_tier: int, upload_limit: int | None, owner: FakeUser | None,
                  shard: tuple[int, int] | None = None) -> FakeGuild:
        """Create a guild with its @everyone role and the bot as a member; announce it to live sessions.

        ``shard`` (id, count) picks an id that Discord routes to that shard."""
        guild_owner = owner or self.owner
        guild_id = self.snowflakes.next() if shard is None else self.snowflakes.next_on_shard(*shard)
        guild = FakeGuild(guild_id, name, guild_owner.id, premium_tier, upload_limit)
        guild.roles[guild.id] = FakeRole(guild.id, guild.id, "@everyone", EVERYONE_DEFAULT_PERMISSIONS)
        self.guilds[guild.id] = guild
        guild.members[self.bot_user.id] = FakeMember(self.bot_user, guild.id)
        if guild_owner.id not in guild.members:
            guild.members[guild_owner.id] = FakeMember(guild_owner, guild.id)
        self.dispatch("GUILD_CREATE", self.guild_create_payload(guild, 0), guild.id, 0, False)
        return guild

    def add_channel(
        self, guild_id: int, name: str, *, bot_permissions: int, nsfw: bool, channel_type: int = GUILD_TEXT
    ) -> FakeChannel:
        """Create a channel (text unless `channel_type` says otherwise)."""
        guild = self.guild(guild_id)
        channel = FakeChannel(self.snowflakes.next(), guild.id, name, len(guild.channels), channel_type,
                              bot_permissions, nsfw)
        guild.channels[channel.id] = channel
        self.channels[channel.id] = channel
        self.dispatch("CHANNEL_CREATE", channel.payload(), guild.id, 0, False)
        return channel

    def open_dm(self, recipient_id: Any) -> FakeChannel:
        """POST /users/@me/channels: the bot's DM channel with a user, created once (Discord returns the same one).

        Opening always works for a real user; whether a message may be sent is decided when it is posted.
        """
        user_id = int(recipient_id) if isinstance(recipient_id, int | str) and str(recipient_id).isdigit() else None
        if recipient_id is None:
            raise form_error("recipient_id", "BASE_TYPE_REQUIRED", "This field is required")
        user = self.users.get(user_id) if user_id is not None else None
        if user is None or user.id == self.bot_user.id:
            raise FakeHTTPError(400, 50033, "Invalid Recipient(s)")
        channel = self.dm_channels.get(user.id)
        if channel is None:
            channel = FakeChannel(self.snowflakes.next(), None, "", type=CHANNEL_DM, bot_permissions=0, recipient=user)
            self.dm_channels[user.id] = channel
            self.channels[channel.id] = channel
        return channel

    def remove_member(self, guild_id: int, user: FakeUser) -> None:
        """The user leaves the guild (or is kicked)."""
        self.guild(guild_id).members.pop(user.id, None)

    def shares_guild_with_bot(self, user: FakeUser) -> bool:
        """Whether the user is a member of a guild the bot is in (needed for the bot to DM them)."""
        return any(user.id in guild.members for guild in self.guilds.values())

    def set_bot_permissions(self, channel: FakeChannel, permissions: int) -> None:
        """What the bot may do in a channel, enforced on REST and shown to its cache as a member overwrite."""
        channel.bot_permissions = permissions
        others = [o for o in channel.overwrites if o["id"] != str(self.bot_user.id)]
        mine = {"id": str(self.bot_user.id), "type": 1, "allow": str(permissions),
                "deny": str(ALL_PERMISSIONS & ~permissions)}
        channel.overwrites = [*others, mine]
        self.dispatch("CHANNEL_UPDATE", channel.payload(), channel.guild_id, 0, False)

    def bot_permissions_in(self, channel: FakeChannel) -> int:
        """What the bot may do in a channel; in a thread, what it may do in the thread's parent."""
        if channel.is_thread and channel.parent_id is not None:
            parent = self.channels.get(channel.parent_id)
            return parent.bot_permissions if parent is not None else 0
        return channel.bot_permissions

    def add_role(self, guild_id: int, name: str, *, permissions: int, mentionable: bool) -> FakeRole:
        """Create a role."""
        guild = self.guild(guild_id)
        role = FakeRole(self.snowflakes.next(), guild.id, name, permissions, len(guild.roles), mentionable)
        guild.roles[role.id] = role
        return role

    def add_member(
        self, guild_id: int, user: FakeUser, *, permissions: int | None, roles: Iterable[int], nick: str | None
    ) -> FakeMember:
        """Make `user` a member of the guild (replacing an existing membership)."""
        guild = self.guild(guild_id)
        self.users.setdefault(user.id, user)
        member = FakeMember(user, guild.id, list(roles), permissions, nick)
        guild.members[user.id] = member
        return member

    def add_attachment(
        self,
        channel_id: int,
        filename: str,
        content_type: str | None,
        data: bytes,
        *,
        size: int | None = None,
        width: int | None = None,
        height: int | None = None,
        ephemeral: bool = False,
        description: str | None = None,
    ) -> FakeAttachment:
        """Put a file on the fake CDN and return its attachment (`size` may lie, as a test needs)."""
        if not self.cdn_base:
            raise RuntimeError("start the fake (async with fake) before creating attachments: URLs need its port")
        attachment_id = self.snowflakes.next()
        now = int(time.time())
        url = (
            f"{self.cdn_base}/attachments/{channel_id}/{attachment_id}/{quote(filename)}"
            f"?ex={now + 86400:x}&is={now:x}&hm={secrets.token_hex(32)}&"
        )
        attachment = FakeAttachment(
            attachment_id,
            channel_id,
            filename,
            content_type if content_type is not None else mimetypes.guess_type(filename)[0],
            bytes(data),
            len(data) if size is None else size,
            url,
            width,
            height,
            description,
            ephemeral,
        )
        self.cdn[attachment_id] = attachment
        return attachment

    # ----- lookups -----

    def guild(self, guild_id: int) -> FakeGuild:
        """The guild, or 404 Unknown Guild."""
        guild = self.guilds.get(guild_id)
        if guild is None:
            raise unknown("Guild", 10004)
        return guild

    def member(self, guild_id: int, user_id: int) -> FakeMember:
        """A guild's member, or 404 Unknown Member (the guild must exist)."""
        member = self.guild(guild_id).members.get(user_id)
        if member is None:
            raise unknown("Member", 10007)
        return member

    def user(self, user_id: int) -> FakeUser:
        """A user, or 404 Unknown User."""
        user = self.users.get(user_id)
        if user is None:
            raise unknown("User", 10013)
        return user

    def channel(self, channel_id: int) -> FakeChannel:
        """The channel, or 404 Unknown Channel."""
        channel = self.channels.get(channel_id)
        if channel is None:
            raise unknown("Channel", 10003)
        return channel

    def upload_limit(self, guild_id: int | None) -> int:
        """Per-file upload cap where a message is posted."""
        guild = self.guilds.get(guild_id) if guild_id is not None else None
        return guild.filesize_limit if guild is not None else 10 * 1024 * 1024

    # ----- application commands -----

    def put_commands(self, guild_id: int | None, payload: Any) -> list[dict[str, Any]]:
        """Bulk-overwrite commands (keeping ids of same-named ones) and record the call."""
        if guild_id is not None:
            self.guild(guild_id)
        if not isinstance(payload, list):
            raise form_error("_errors", "ARRAY_TYPE_CONVERT", "Only iterables may be used in a ListType")
        if len(payload) > 110:
            raise form_error("_errors", "BASE_TYPE_MAX_LENGTH", "Must be 110 or fewer in length.")
        check_commands(payload)
        previous = {(c["name"], c.get("type", 1)): c for c in self.commands.get(guild_id, [])}
        stored: list[dict[str, Any]] = []
        created: list[str] = []
        seen: set[tuple[str, int]] = set()
        for index, command in enumerate(payload):
            key = self._validate_command(index, command)
            if key in seen:
                raise form_error(
                    f"{index}.name", "APPLICATION_COMMANDS_DUPLICATE_NAME", "Application command names must be unique"
                )
            seen.add(key)
            old = previous.get(key)
            if old is None:
                created.append(key[0])
            stored.append(self._command_record(command, guild_id, old))
        self.commands[guild_id] = stored
        self.command_puts.append(CommandPut(guild_id, tuple(stored), self.clock(), tuple(created)))
        return stored

    def _validate_command(self, index: int, command: Any) -> tuple[str, int]:
        # Names, descriptions, options and their limits were checked on the whole payload (`check_commands`).
        if not isinstance(command, dict) or not isinstance(command.get("name"), str):
            raise form_error(f"{index}.name", "BASE_TYPE_REQUIRED", "This field is required")
        return command["name"], int(command.get("type", 1))

    def _command_record(
        self, command: dict[str, Any], guild_id: int | None, old: dict[str, Any] | None
    ) -> dict[str, Any]:
        record: dict[str, Any] = {
            "type": 1,
            "description": "",
            "options": [],
            "default_member_permissions": None,
            "dm_permission": True,
            "nsfw": False,
            "integration_types": [0],
            "contexts": None,
            "name_localizations": None,
            "description_localizations": None,
        }
        record.update(command)
        record["id"] = old["id"] if old is not None else str(self.snowflakes.next())
        record["application_id"] = str(self.application_id)
        record["version"] = str(self.snowflakes.next())
        if guild_id is not None:
            record["guild_id"] = str(guild_id)
        return record

    def find_command(self, name: str, guild_id: int | None) -> tuple[dict[str, Any] | None, bool]:
        """The registered chat-input command called `name` (guild first), and whether it is a guild command."""
        if guild_id is not None:
            for command in self.commands.get(guild_id, []):
                if command["name"] == name and command.get("type", 1) == 1:
                    return command, True
        for command in self.commands[None]:
            if command["name"] == name and command.get("type", 1) == 1:
                return command, False
        return None, False

    # ----- payloads -----

    def guild_create_payload(self, guild: FakeGuild, intents: int) -> dict[str, Any]:
        """GUILD_CREATE data; members beyond the bot itself only with the GUILD_MEMBERS intent, like Discord."""
        if intents & INTENT_GUILD_MEMBERS:
            members = list(guild.members.values())
        else:
            members = [guild.members[self.bot_user.id]]
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(guild.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "premium_tier": guild.premium_tier,
            "premium_subscription_count": {0: 0, 1: 2, 2: 7, 3: 14}.get(guild.premium_tier, 0),
            "premium_progress_bar_enabled": False,
            "preferred_locale": guild.locale,
            "max_members": 500000,
            "max_video_channel_users": 25,
            "features": [],
            "roles": [r.payload() for r in guild.roles.values()],
            "emojis": [],
            "stickers": [],
            "soundboard_sounds": [],
            "joined_at": guild.joined_at,
            "large": len(guild.members) >= 250,
            "unavailable": False,
            "member_count": len(guild.members),
            "members": [m.payload() for m in members],
            "channels": [c.payload() for c in guild.channels.values() if not c.is_thread],
            "threads": [c.payload() for c in guild.channels.values() if c.is_thread and not c.archived],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "embedded_activities": [],
            "lazy": True,
            "incidents_data": None,
        }

    def guild_payload(self, guild: FakeGuild) -> dict[str, Any]:
        """GET /guilds/{id}: the guild object, without what only GUILD_CREATE carries (channels, members...)."""
        gateway_only = ("joined_at", "large", "unavailable", "member_count", "members", "channels", "threads",
                        "presences", "voice_states", "stage_instances", "guild_scheduled_events",
                        "embedded_activities", "lazy", "incidents_data", "soundboard_sounds")
        payload = self.guild_create_payload(guild, 0)
        return {key: value for key, value in payload.items() if key not in gateway_only}

    def application_payload(self) -> dict[str, Any]:
        """GET /oauth2/applications/@me."""
        return {
            "id": str(self.application_id),
            "name": self.bot_user.name,
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "owner": self.owner.payload(),
            "team": None,
            "flags": self.application_flags,
            "bot": self.bot_user.payload(),
            "rpc_origins": [],
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "tags": [],
            "approximate_guild_count": len(self.guilds),
            "integration_types_config": {"0": {}},
        }

    @property
    def application_flags(self) -> int:
        """Application flags, showing the enabled privileged intents."""
        return sum(flag for intent, flag in LIMITED_INTENT_FLAGS.items() if self.privileged_intents & intent)

    def me_payload(self) -> dict[str, Any]:
        """GET /users/@me for the bot."""
        data = self.bot_user.payload()
        data.update({"verified": True, "mfa_enabled": False, "locale": "en-US", "email": None})
        return data
