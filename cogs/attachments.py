"""Discord's side of a /veo request: reading attachments, and whether the bot may post in the channel."""

from __future__ import annotations

import aiohttp
import discord

from bot.jobs.errors import InvalidInput, NotAllowed
from bot.jobs.provider import ImageInput
from bot.jobs.requests import ImageKind, check_frames, image_from_bytes, image_kind

# What the bot needs in a channel to post status messages and results there.
REQUIRED_CHANNEL_PERMISSIONS: tuple[tuple[str, str], ...] = (
    ("view_channel", "View Channel"),
    ("send_messages", "Send Messages"),
    ("embed_links", "Embed Links"),
    ("attach_files", "Attach Files"),
)


def check_attachments(image: discord.Attachment | None, last_frame: discord.Attachment | None) -> None:
    """``last_frame`` only makes sense after a first frame."""
    check_frames(image is not None, last_frame is not None)


def check_attachment(attachment: discord.Attachment, label: str, max_bytes: int) -> ImageKind:
    """Refuse, before downloading anything, a file that is not a PNG, JPEG or WebP image or is too large."""
    return image_kind(attachment.content_type, attachment.size, label, max_bytes)


async def read_image(attachment: discord.Attachment, label: str, kind: ImageKind, max_bytes: int) -> ImageInput:
    """Download an attachment already checked by ``check_attachment`` and check its real bytes."""
    try:
        data = await attachment.read()
    except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as exc:
        raise InvalidInput("Could not read `{option}` from Discord. Please attach it again.",
                           params={"option": label}) from exc
    return image_from_bytes(data, label, kind, max_bytes)


def check_bot_can_post(permissions: discord.Permissions) -> None:
    """Refuse when the bot could not post the status message or the video in this channel."""
    missing = [name for attr, name in REQUIRED_CHANNEL_PERMISSIONS if not getattr(permissions, attr)]
    if missing:
        raise NotAllowed(
            "I can't post videos in this channel: I'm missing {permissions}. "
            "Ask a server admin to grant them, or use /veo in another channel.",
            params={"permissions": ", ".join(missing)},
        )
