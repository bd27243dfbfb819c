"""Threads as Discord keeps them: started from a message (the thread takes the message's id), and what posting
in an archived or locked thread does."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.fakes.discord.models import (
    ANNOUNCEMENT_THREAD,
    AUTO_ARCHIVE_DURATIONS,
    CREATE_PUBLIC_THREADS,
    GUILD_ANNOUNCEMENT,
    GUILD_TEXT,
    MANAGE_THREADS,
    PUBLIC_THREAD,
    SEND_MESSAGES_IN_THREADS,
    VIEW_CHANNEL,
    FakeChannel,
    FakeHTTPError,
    MessageRecord,
    form_error,
)
from tests.fakes.discord.state import DiscordState

if TYPE_CHECKING:
    from tests.fakes.discord.messages import MessageStore

FLAG_HAS_THREAD = 1 << 5
NAME_LENGTH = (1, 100)
ALREADY_CREATED = 160004
THREAD_LOCKED = 160005
THREAD_ARCHIVED = 50083
WRONG_CHANNEL_TYPE = 50024


def start_from_message(
    state: DiscordState, messages: MessageStore, channel_id: int, message_id: int, body: Any
) -> FakeChannel:
    """POST /channels/{id}/messages/{mid}/threads: a public thread whose id is the message's id."""
    channel = state.channel(channel_id)
    if not channel.bot_permissions & VIEW_CHANNEL:
        raise FakeHTTPError(403, 50001, "Missing Access")
    message = messages.visible(channel_id, message_id)
    if channel.type not in (GUILD_TEXT, GUILD_ANNOUNCEMENT):
        raise FakeHTTPError(400, WRONG_CHANNEL_TYPE, "Cannot execute action on this channel type")
    if not channel.bot_permissions & CREATE_PUBLIC_THREADS:
        raise FakeHTTPError(403, 50013, "Missing Permissions")
    if message.id in state.channels:
        raise FakeHTTPError(400, ALREADY_CREATED, "A thread has already been created for this message")
    name, duration = _thread_fields(body)
    thread = FakeChannel(
        message.id, channel.guild_id, name,
        type=ANNOUNCEMENT_THREAD if channel.type == GUILD_ANNOUNCEMENT else PUBLIC_THREAD,
        bot_permissions=0, nsfw=channel.nsfw, parent_id=channel.id, owner_id=state.bot_user.id,
        auto_archive_duration=duration, member_ids={state.bot_user.id},
    )
    state.channels[thread.id] = thread
    state.guild(channel.guild_id).channels[thread.id] = thread
    message.flags |= FLAG_HAS_THREAD
    state.dispatch("THREAD_CREATE", {**thread.payload(), "newly_created": True}, channel.guild_id, 0, False)
    return thread


def _thread_fields(body: Any) -> tuple[str, int]:
    if not isinstance(body, dict):
        raise form_error("name", "BASE_TYPE_REQUIRED", "This field is required")
    name = body.get("name")
    if not isinstance(name, str):
        raise form_error("name", "BASE_TYPE_REQUIRED", "This field is required")
    low, high = NAME_LENGTH
    if not low <= len(name) <= high:
        raise form_error("name", "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")
    duration = body.get("auto_archive_duration")
    if duration is None:
        return name, 1440
    if duration not in AUTO_ARCHIVE_DURATIONS:
        raise form_error("auto_archive_duration", "BASE_TYPE_CHOICES",
                         f"Value must be one of {sorted(AUTO_ARCHIVE_DURATIONS)}.")
    return name, int(duration)


def check_post(state: DiscordState, thread: FakeChannel, permissions: int) -> None:
    """Before a message in a thread: the thread permission, and the archived and locked states.

    Posting in an archived thread that is not locked unarchives it; a locked one takes Manage Threads.
    """
    if not permissions & SEND_MESSAGES_IN_THREADS:
        raise FakeHTTPError(403, 50013, "Missing Permissions")
    if thread.locked and not permissions & MANAGE_THREADS:
        if thread.archived:
            raise FakeHTTPError(400, THREAD_ARCHIVED, "Thread is archived")
        raise FakeHTTPError(403, THREAD_LOCKED, "Thread is locked")
    if thread.archived:
        thread.archived = False
        state.dispatch("THREAD_UPDATE", thread.payload(), thread.guild_id, 0, False)


def after_post(thread: FakeChannel, message: MessageRecord) -> None:
    """A message in a thread counts, and the users it mentions (and its author) join the thread."""
    thread.message_count += 1
    thread.member_ids |= {message.author.id, *message.pings.user_ids}


def set_archived(state: DiscordState, thread: FakeChannel, *, archived: bool, locked: bool) -> None:
    """A moderator (or inactivity) archives, locks or reopens a thread."""
    thread.archived, thread.locked = archived, locked
    state.dispatch("THREAD_UPDATE", thread.payload(), thread.guild_id, 0, False)
