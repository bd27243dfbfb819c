"""INTERACTION_CREATE payloads for slash commands, autocomplete and components, shaped like Discord's."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from tests.fakes.discord.interactions import FakeInteraction, InteractionService
from tests.fakes.discord.messages import MessageStore
from tests.fakes.discord.modals import submission
from tests.fakes.discord.models import (
    FakeAttachment,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeRole,
    FakeUser,
    MessageRecord,
)
from tests.fakes.discord.state import DiscordState


class InteractionFactory:
    """Builds and registers interactions; option types come from the registered command when there is one."""

    def __init__(self, state: DiscordState, messages: MessageStore, service: InteractionService) -> None:
        self.state = state
        self.messages = messages
        self.service = service

    def command(
        self,
        name: str,
        *,
        guild_id: int,
        channel_id: int,
        user: FakeUser,
        options: Mapping[str, Any],
        permissions: int | None,
        app_permissions: int | None,
        locale: str,
        focused: str | None = None,
    ) -> FakeInteraction:
        """A chat-input command (type 2), or its autocomplete (type 4) when `focused` names an option.

        `name` may be "group sub" or "command sub" for subcommands.
        """
        guild, channel, member = self._where(guild_id, channel_id, user)
        top, *path = name.split()
        definition, is_guild_command = self.state.find_command(top, guild.id)
        definitions: list[dict[str, Any]] = (definition or {}).get("options") or []
        for sub in path:
            found = next((o for o in definitions if o.get("name") == sub and o.get("type") in (1, 2)), {})
            definitions = found.get("options") or []
        resolved: dict[str, dict[str, Any]] = {}
        leaf = [
            self._option(key, value, definitions, resolved, guild, focused=key == focused)
            for key, value in options.items()
        ]
        if focused is not None and focused not in options:
            leaf.append({"name": focused, "type": self._type(focused, "", definitions), "value": "", "focused": True})
        for depth in range(len(path) - 1, -1, -1):
            leaf = [{"name": path[depth], "type": 1 if depth == len(path) - 1 else 2, "options": leaf}]
        data: dict[str, Any] = {
            "id": definition["id"] if definition else str(self.state.snowflakes.next()),
            "name": top,
            "type": 1,
            "options": leaf,
        }
        if resolved:
            data["resolved"] = resolved
        if is_guild_command:
            data["guild_id"] = str(guild.id)
        kind = 2 if focused is None else 4
        return self._build(kind, name, guild, channel, member, data, permissions, app_permissions, locale)

    def component(
        self,
        message: MessageRecord,
        custom_id: str,
        *,
        user: FakeUser,
        component_type: int,
        values: list[str] | None,
        permissions: int | None,
        app_permissions: int | None,
        locale: str,
    ) -> FakeInteraction:
        """A button press or select choice (type 3) on a message."""
        if message.guild_id is None:
            raise ValueError("component interactions are only modelled in guild channels")
        guild, channel, member = self._where(message.guild_id, message.channel_id, user)
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = values
        return self._build(
            3, custom_id, guild, channel, member, data, permissions, app_permissions, locale, message=message
        )

    def modal_submit(
        self,
        opened: FakeInteraction,
        values: Mapping[str, str],
        *,
        permissions: int | None,
        app_permissions: int | None,
        locale: str,
    ) -> FakeInteraction:
        """The submission (type 5) of the modal the bot opened in answer to ``opened``, by the same member."""
        if opened.modal is None:
            raise ValueError(f"the bot opened no modal in answer to {opened!r}")
        guild, channel, member = self._where(opened.guild_id, opened.channel_id, opened.user)
        data = {"custom_id": opened.modal["custom_id"], "components": submission(opened.modal, values)}
        # A modal opened from a button carries the message the button is on, as the button press did.
        message = self.messages.by_id.get(opened.target_message_id or 0)
        if message is not None and message.deleted:
            message = None
        return self._build(5, data["custom_id"], guild, channel, member, data, permissions, app_permissions, locale,
                           message=message)

    def _where(self, guild_id: int, channel_id: int, user: FakeUser) -> tuple[FakeGuild, FakeChannel, FakeMember]:
        guild = self.state.guild(guild_id)
        channel = self.state.channel(channel_id)
        if channel.guild_id != guild.id:
            raise ValueError(f"channel {channel_id} is not in guild {guild_id}")
        member = guild.members.get(user.id)
        if member is None:
            member = self.state.add_member(guild.id, user, permissions=None, roles=(), nick=None)
        return guild, channel, member

    def _type(self, name: str, value: Any, definitions: list[dict[str, Any]]) -> int:
        for option in definitions:
            if option.get("name") == name:
                return int(option["type"])
        for kind, option_type in ((FakeAttachment, 11), (FakeUser, 6), (FakeChannel, 7), (FakeRole, 8)):
            if isinstance(value, kind):
                return option_type
        if isinstance(value, bool):
            return 5
        if isinstance(value, int):
            return 4
        if isinstance(value, float):
            return 10
        if isinstance(value, str):
            return 3
        raise TypeError(f"cannot infer the option type of {name}={value!r}")

    def _option(
        self,
        name: str,
        value: Any,
        definitions: list[dict[str, Any]],
        resolved: dict[str, dict[str, Any]],
        guild: FakeGuild,
        *,
        focused: bool,
    ) -> dict[str, Any]:
        option_type = self._type(name, value, definitions)
        option: dict[str, Any] = {"name": name, "type": option_type}
        if focused:
            # Autocomplete sends what the user typed so far, as text.
            option.update(value=str(value), focused=True)
            return option
        if option_type in (6, 7, 8, 9, 11):
            option["value"] = str(value.id)
            self._resolve(value, resolved, guild)
        elif option_type == 4:
            option["value"] = int(value)
        elif option_type == 10:
            option["value"] = float(value)
        elif option_type == 5:
            option["value"] = bool(value)
        else:
            option["value"] = str(value)
        return option

    def _resolve(self, value: Any, resolved: dict[str, dict[str, Any]], guild: FakeGuild) -> None:
        key = str(value.id)
        if isinstance(value, FakeAttachment):
            resolved.setdefault("attachments", {})[key] = {**value.payload(), "ephemeral": True}
        elif isinstance(value, FakeUser):
            resolved.setdefault("users", {})[key] = value.payload()
            member = guild.members.get(value.id)
            if member is not None:
                data = member.payload(permissions=guild.member_permissions(member))
                del data["user"]
                resolved.setdefault("members", {})[key] = data
        elif isinstance(value, FakeChannel):
            resolved.setdefault("channels", {})[key] = {**value.payload(), "permissions": str(value.bot_permissions)}
        elif isinstance(value, FakeRole):
            resolved.setdefault("roles", {})[key] = value.payload()

    def _build(
        self,
        kind: int,
        name: str,
        guild: FakeGuild,
        channel: FakeChannel,
        member: FakeMember,
        data: dict[str, Any],
        permissions: int | None,
        app_permissions: int | None,
        locale: str,
        *,
        message: MessageRecord | None = None,
    ) -> FakeInteraction:
        now = self.service.clock()
        interaction = FakeInteraction(
            # The id must carry the current time: discord.py derives created_at/expires_at from it.
            interaction_id=self.state.snowflakes.next(),
            token="aW50ZXJhY3Rpb246" + secrets.token_urlsafe(96),
            interaction_type=kind,
            name=name,
            guild_id=guild.id,
            channel_id=channel.id,
            user=member.user,
            created_at=now,
            token_expires_at=now + self.service.token_life,
            target_message_id=None if message is None else message.id,
        )
        user_permissions = guild.member_permissions(member) if permissions is None else permissions
        bot_permissions = channel.bot_permissions if app_permissions is None else app_permissions
        payload: dict[str, Any] = {
            "id": str(interaction.id),
            "application_id": str(self.state.application_id),
            "type": kind,
            "token": interaction.token,
            "version": 1,
            "guild_id": str(guild.id),
            "guild": {"id": str(guild.id), "locale": guild.locale, "features": []},
            "channel_id": str(channel.id),
            "channel": {**channel.payload(), "permissions": str(user_permissions)},
            "member": member.payload(permissions=user_permissions),
            "app_permissions": str(bot_permissions),
            "locale": locale,
            "guild_locale": guild.locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "authorizing_integration_owners": {"0": str(guild.id)},
            "context": 0,
            "attachment_size_limit": guild.filesize_limit,
            "data": data,
        }
        if message is not None:
            payload["message"] = self.messages.payload(message)
        interaction.payload = payload
        self.service.register(interaction)
        return interaction
