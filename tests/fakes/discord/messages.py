"""Messages as Discord stores them: create/edit/delete, attachments, nonces, limits, mentions, history."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from typing import Any

from tests.fakes.discord.limits import check_message
from tests.fakes.discord.mentions import resolve_pings, validate_allowed_mentions
from tests.fakes.discord.models import (
    ATTACH_FILES,
    FLAG_COMPONENTS_V2,
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    FLAG_SUPPRESS_EMBEDS,
    FLAG_SUPPRESS_NOTIFICATIONS,
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MESSAGES,
    INTENT_MESSAGE_CONTENT,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    FakeAttachment,
    FakeChannel,
    FakeHTTPError,
    FakeUser,
    MessageRecord,
    MessageVersion,
    NonceHit,
    form_error,
    iso_now,
)
from tests.fakes.discord.state import DiscordState, unknown

MANAGE_MESSAGES = 1 << 13
CREATE_FLAGS = FLAG_SUPPRESS_EMBEDS | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_COMPONENTS_V2


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A `files[n]` part of a multipart request."""

    field: str
    index: int
    filename: str
    content_type: str | None
    data: bytes


class MessageStore:
    """All messages of all channels, indexed by id and by channel in creation order."""

    def __init__(self, state: DiscordState, *, nonce_window: float) -> None:
        self.state = state
        self.nonce_window = nonce_window
        self.by_id: dict[int, MessageRecord] = {}
        self.by_channel: dict[int, list[MessageRecord]] = {}
        self.nonce_hits: list[NonceHit] = []
        self._nonces: dict[tuple[int, int, str], tuple[int, float]] = {}

    # ----- channel REST (the bot's own message API) -----

    def post(self, channel_id: int, body: dict[str, Any], files: list[UploadedFile]) -> tuple[MessageRecord, bool]:
        """POST /channels/{id}/messages; returns (message, created) — created is False on an enforce_nonce hit."""
        channel = self.state.channel(channel_id)
        self.check_uploads(channel.guild_id, files)
        self._check_send_permissions(channel, body, files)
        nonce = body.get("nonce")
        if nonce is not None:
            nonce = str(nonce)
            if len(nonce) > 25:
                raise form_error("nonce", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        bot = self.state.bot_user
        now = self.state.clock()
        if nonce is not None and body.get("enforce_nonce"):
            seen = self._nonces.get((channel.id, bot.id, nonce))
            if seen is not None and now - seen[1] <= self.nonce_window:
                existing = self.by_id[seen[0]]
                if not existing.deleted:
                    self.nonce_hits.append(NonceHit(channel.id, nonce, existing.id, now))
                    return existing, False
        message = self.create(channel, bot, body, files, via="channel", nonce=nonce)
        if nonce is not None:
            self._nonces[(channel.id, bot.id, nonce)] = (message.id, now)
        return message, True

    def _check_send_permissions(self, channel: FakeChannel, body: dict[str, Any], files: list[UploadedFile]) -> None:
        if channel.recipient is not None:
            self._check_dm_allowed(channel.recipient)
            return
        perms = channel.bot_permissions
        if not perms & VIEW_CHANNEL:
            raise FakeHTTPError(403, 50001, "Missing Access")
        if not perms & SEND_MESSAGES:
            raise FakeHTTPError(403, 50013, "Missing Permissions")
        if files and not perms & ATTACH_FILES:
            raise FakeHTTPError(403, 50013, "Missing Permissions")
        if body.get("message_reference") and not perms & READ_MESSAGE_HISTORY:
            raise FakeHTTPError(403, 50013, "Missing Permissions")

    def _check_dm_allowed(self, recipient: FakeUser) -> None:
        """Discord's rule for a bot's DM: a human who shares a server with the bot and accepts DMs from its
        members; anyone else is 403 / 50007."""
        if recipient.bot or not recipient.accepts_dms or not self.state.shares_guild_with_bot(recipient):
            raise FakeHTTPError(403, 50007, "Cannot send messages to this user")

    def dm_messages(self, user_id: int) -> list[MessageRecord]:
        """The bot's messages in its DM channel with a user, oldest first."""
        channel = self.state.dm_channels.get(user_id)
        return [m for m in self.by_channel.get(channel.id, []) if not m.deleted] if channel is not None else []

    def visible(self, channel_id: int, message_id: int) -> MessageRecord:
        """A message reachable through channel routes (ephemeral ones are not), or 404 Unknown Message."""
        self.state.channel(channel_id)
        message = self.by_id.get(message_id)
        if message is None or message.deleted or message.ephemeral or message.channel_id != channel_id:
            raise unknown("Message", 10008)
        return message

    def edit_own(
        self, channel_id: int, message_id: int, body: dict[str, Any], files: list[UploadedFile]
    ) -> MessageRecord:
        """PATCH /channels/{id}/messages/{mid}: only the bot's own messages, and never expiring."""
        message = self.visible(channel_id, message_id)
        if message.author.id != self.state.bot_user.id:
            raise FakeHTTPError(403, 50005, "Cannot edit a message authored by another user")
        return self.edit(message, body, files, via="channel")

    def delete_in_channel(self, channel_id: int, message_id: int) -> None:
        """DELETE /channels/{id}/messages/{mid}."""
        message = self.visible(channel_id, message_id)
        channel = self.state.channel(channel_id)
        if message.author.id != self.state.bot_user.id and not channel.bot_permissions & MANAGE_MESSAGES:
            raise FakeHTTPError(403, 50013, "Missing Permissions")
        self.delete(message)

    def history(
        self, channel_id: int, *, limit: int, before: int | None, after: int | None, around: int | None
    ) -> list[MessageRecord]:
        """GET /channels/{id}/messages: newest first, like Discord, whatever the anchor."""
        channel = self.state.channel(channel_id)
        if not channel.bot_permissions & VIEW_CHANNEL:
            raise FakeHTTPError(403, 50001, "Missing Access")
        if not channel.bot_permissions & READ_MESSAGE_HISTORY:
            return []
        if not 1 <= limit <= 100:
            raise form_error("limit", "NUMBER_TYPE_MAX", "int value should be between 1 and 100.")
        items = [m for m in self.by_channel.get(channel_id, []) if not m.deleted and not m.ephemeral]
        if around is not None:
            older = [m for m in items if m.id <= around]
            newer = [m for m in items if m.id > around]
            n_newer = min(len(newer), limit // 2)
            picked = older[-(limit - n_newer) :] + newer[:n_newer]
        elif after is not None:
            picked = [m for m in items if m.id > after][:limit]
        else:
            picked = [m for m in items if before is None or m.id < before][-limit:]
        return list(reversed(picked))

    # ----- shared create/edit/delete -----

    def check_uploads(self, guild_id: int | None, files: list[UploadedFile]) -> None:
        """413 (40005) when a file exceeds the upload cap of the guild, as Discord answers."""
        limit = self.state.upload_limit(guild_id)
        if any(len(f.data) > limit for f in files):
            raise FakeHTTPError(413, 40005, "Request entity too large")
        if len(files) > 10:
            raise form_error("files", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")

    def create(
        self,
        channel: FakeChannel,
        author: FakeUser,
        body: dict[str, Any],
        files: list[UploadedFile],
        *,
        via: str,
        extra_flags: int = 0,
        allow_ephemeral: bool = False,
        message_type: int = 0,
        interaction_id: int | None = None,
        interaction_metadata: dict[str, Any] | None = None,
        placeholder: bool = False,
        nonce: str | None = None,
    ) -> MessageRecord:
        """Validate and store a new message, then dispatch MESSAGE_CREATE unless it is ephemeral."""
        self.check_uploads(channel.guild_id, files)
        check_message(body)
        message = MessageRecord(self.state.snowflakes.next(), channel.id, channel.guild_id, author)
        message.type = message_type
        message.nonce = nonce
        message.tts = bool(body.get("tts", False))
        message.interaction_id = interaction_id
        message.interaction_metadata = interaction_metadata
        if interaction_metadata is not None:
            message.webhook_id = self.state.application_id
        mask = CREATE_FLAGS | (FLAG_EPHEMERAL if allow_ephemeral else 0)
        message.flags = (int(body.get("flags") or 0) & mask) | extra_flags
        self._apply(message, body, files, creating=True)
        if not placeholder:
            self._validate(message)
        self._attach_reference(message, body.get("message_reference"))
        self._record_version(message, body, via)
        self.by_id[message.id] = message
        self.by_channel.setdefault(channel.id, []).append(message)
        channel.last_message_id = message.id
        if not message.ephemeral:
            self._dispatch("MESSAGE_CREATE", message)
        return message

    def edit(
        self,
        message: MessageRecord,
        body: dict[str, Any],
        files: list[UploadedFile],
        *,
        via: str,
        resolve_placeholder: bool = False,
    ) -> MessageRecord:
        """Apply the fields present in `body` (nothing changes when Discord would refuse it); a deferred
        placeholder becomes a real message."""
        self.check_uploads(message.guild_id, files)
        check_message(body)
        if "flags" in body and body["flags"] is not None:
            # Only SUPPRESS_EMBEDS may change on edit.
            message.flags = (message.flags & ~FLAG_SUPPRESS_EMBEDS) | (int(body["flags"]) & FLAG_SUPPRESS_EMBEDS)
        self._apply(message, body, files, creating=False)
        if resolve_placeholder:
            message.flags &= ~FLAG_LOADING
        else:
            message.edited_timestamp = iso_now()
        self._validate(message)
        self._record_version(message, body, via)
        if not message.ephemeral:
            self._dispatch("MESSAGE_UPDATE", message)
        return message

    def delete(self, message: MessageRecord) -> None:
        """Mark deleted and dispatch MESSAGE_DELETE."""
        message.deleted = True
        if not message.ephemeral:
            data: dict[str, Any] = {"id": str(message.id), "channel_id": str(message.channel_id)}
            if message.guild_id is not None:
                data["guild_id"] = str(message.guild_id)
            self.state.dispatch("MESSAGE_DELETE", data, message.guild_id, INTENT_GUILD_MESSAGES, False)

    def _apply(
        self, message: MessageRecord, body: dict[str, Any], files: list[UploadedFile], *, creating: bool
    ) -> None:
        if "content" in body:
            content = body["content"]
            if content is not None and not isinstance(content, str):
                raise form_error("content", "BASE_TYPE_STRING", "Could not interpret value as string.")
            message.content = content or ""
        if "embeds" in body:
            message.embeds = [{"type": "rich", **e} for e in body["embeds"] or []]
        if "components" in body:
            message.components = list(body["components"] or [])
        if "attachments" in body or files:
            message.attachments = self._attachments(message, body.get("attachments"), files, creating=creating)

    def _attachments(
        self, message: MessageRecord, entries: Any, files: list[UploadedFile], *, creating: bool
    ) -> list[FakeAttachment]:
        """`attachments` lists what to keep (existing ids) and metadata for new files (`id` = file index)."""
        uploaded = {f.index: f for f in files}
        existing = {} if creating else {a.id: a for a in message.attachments}
        result: list[FakeAttachment] = []
        used: set[int] = set()
        for position, entry in enumerate(entries or []):
            try:
                ref = int(entry["id"])
            except (KeyError, TypeError, ValueError):
                raise form_error(f"attachments.{position}.id", "BASE_TYPE_REQUIRED", "This field is required") from None
            if ref in uploaded and ref not in used:
                used.add(ref)
                result.append(self._store_file(message, uploaded[ref], entry))
            elif ref in existing:
                result.append(existing[ref])
            else:
                raise form_error(f"attachments.{position}.id", "ATTACHMENT_NOT_FOUND", "Unknown attachment")
        result.extend(self._store_file(message, f, {}) for f in files if f.index not in used)
        if entries is None and not creating:
            result = list(message.attachments) + result
        return result

    def _store_file(self, message: MessageRecord, upload: UploadedFile, entry: dict[str, Any]) -> FakeAttachment:
        filename = str(entry.get("filename") or upload.filename).replace(" ", "_")
        return self.state.add_attachment(
            message.channel_id,
            filename,
            mimetypes.guess_type(filename)[0],
            upload.data,
            description=entry.get("description"),
            ephemeral=message.ephemeral,
        )

    def _validate(self, message: MessageRecord) -> None:
        # The size limits were checked on the request body (`check_message`); this is about the result.
        if not (message.content.strip() or message.embeds or message.attachments or message.components):
            raise FakeHTTPError(400, 50006, "Cannot send an empty message")

    def _attach_reference(self, message: MessageRecord, reference: Any) -> None:
        if not reference:
            return
        target_id = int(reference.get("message_id", 0) or 0)
        target = self.by_id.get(target_id)
        if target is None or target.deleted:
            if reference.get("fail_if_not_exists", True):
                raise form_error("message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")
            return
        message.type = 19
        message.referenced_message_id = target.id
        message.message_reference = {
            "type": 0,
            "message_id": str(target.id),
            "channel_id": str(target.channel_id),
            "guild_id": None if target.guild_id is None else str(target.guild_id),
        }

    def _record_version(self, message: MessageRecord, body: dict[str, Any], via: str) -> None:
        allowed = body.get("allowed_mentions")
        validate_allowed_mentions(allowed)
        replied = self.by_id.get(message.referenced_message_id) if message.referenced_message_id else None
        pings = resolve_pings(message.content, allowed, replied.author.id if replied else None)
        message.allowed_mentions = allowed
        message.pings = pings
        message.versions.append(
            MessageVersion(
                self.state.clock(),
                via,
                message.content,
                tuple(message.embeds),
                tuple(a.id for a in message.attachments),
                message.flags,
                allowed,
                pings,
            )
        )

    # ----- payloads -----

    def payload(self, message: MessageRecord, *, include_nonce: bool = False, nested: bool = True) -> dict[str, Any]:
        """The message object as the REST API returns it (`nonce` only in the create response).

        Without the MESSAGE_CONTENT privileged intent, other users' messages that do not mention the bot
        come without content, embeds, attachments and components, on REST as on the gateway.
        """
        users = self.state.users
        hidden = self.content_private(message) and not self.state.privileged_intents & INTENT_MESSAGE_CONTENT
        data: dict[str, Any] = {
            "id": str(message.id),
            "channel_id": str(message.channel_id),
            "author": message.author.payload(),
            "content": "" if hidden else message.content,
            "timestamp": message.timestamp,
            "edited_timestamp": message.edited_timestamp,
            "tts": message.tts,
            "mention_everyone": message.pings.everyone,
            "mentions": [users[u].payload() for u in sorted(message.pings.user_ids) if u in users],
            "mention_roles": [str(r) for r in sorted(message.pings.role_ids)],
            "attachments": [] if hidden else [a.payload() for a in message.attachments],
            "embeds": [] if hidden else message.embeds,
            "components": [] if hidden else message.components,
            "pinned": message.pinned,
            "type": message.type,
            "flags": message.flags,
        }
        if message.guild_id is not None:
            data["guild_id"] = str(message.guild_id)
        if include_nonce and message.nonce is not None:
            data["nonce"] = message.nonce
        if message.webhook_id is not None:
            data["webhook_id"] = str(message.webhook_id)
            data["application_id"] = str(message.webhook_id)
        if message.interaction_metadata is not None:
            data["interaction_metadata"] = message.interaction_metadata
        if message.message_reference is not None:
            data["message_reference"] = message.message_reference
            if nested:
                target = self.by_id.get(message.referenced_message_id or 0)
                alive = target is not None and not target.deleted
                data["referenced_message"] = self.payload(target, nested=False) if alive and target else None
        return data

    def _dispatch(self, event: str, message: MessageRecord) -> None:
        data = self.payload(message, include_nonce=event == "MESSAGE_CREATE")
        intent = INTENT_GUILD_MESSAGES if message.guild_id is not None else INTENT_DIRECT_MESSAGES
        self.state.dispatch(event, data, message.guild_id, intent, self.content_private(message))

    def content_private(self, message: MessageRecord) -> bool:
        """Whether reading its content needs MESSAGE_CONTENT (not the bot's own, and not mentioning the bot)."""
        bot_id = self.state.bot_user.id
        return message.author.id != bot_id and bot_id not in message.pings.user_ids
