"""/veo with bad input: a short private message saying what to change; nothing stored, nothing submitted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fakes.discord.models import ATTACH_FILES, BOT_DEFAULT_PERMISSIONS, EMBED_LINKS
from tests.support.e2e import JPEG, MEMBER_PERMISSIONS, PNG, running_bot, world

MIB = 1024 * 1024


CASES: list[tuple[str, Any, str]] = [
    ("blank prompt", lambda w: {"prompt": "   "}, "The prompt is empty"),
    ("invisible prompt", lambda w: {"prompt": "\u200b\u200b\u2060"}, "The prompt is empty"),
    ("prompt too long", lambda w: {"prompt": "x" * 1501}, "the limit is 1500"),
    ("last frame alone", lambda w: {"prompt": "a", "last_frame": w.attach("l.png", "image/png", PNG)},
     "`last_frame` needs `image`"),
    ("not an image", lambda w: {"prompt": "a", "image": w.attach("a.txt", "text/plain", b"hello")},
     "must be a PNG, JPEG or WebP"),
    ("no content type", lambda w: {"prompt": "a", "image": w.attach("a", None, PNG)}, "must be a PNG, JPEG or WebP"),
    ("gif", lambda w: {"prompt": "a", "image": w.attach("a.gif", "image/gif", b"GIF89a")}, "PNG, JPEG or WebP"),
    ("lying content type", lambda w: {"prompt": "a", "image": w.attach("a.png", "image/png", b"<html>x</html>")},
     "is not a valid PNG image"),
    ("jpeg labelled png", lambda w: {"prompt": "a", "image": w.attach("a.png", "image/png", JPEG)},
     "is not a valid PNG image"),
    ("empty file", lambda w: {"prompt": "a", "image": w.attach("a.png", "image/png", b"", size=0)}, "empty file"),
    ("too large", lambda w: {"prompt": "a", "image": w.attach("a.png", "image/png", PNG, size=11 * MIB)},
     "the limit is 10.0 MiB"),
    ("bad last frame", lambda w: {"prompt": "a", "image": w.attach("f.png", "image/png", PNG),
                                  "last_frame": w.attach("l.webp", "image/webp", PNG)}, "not a valid WEBP image"),
    ("unknown model", lambda w: {"prompt": "a", "model": "sora-2"}, "Unknown model"),
]


@pytest.mark.parametrize(("case", "options", "expected"), CASES, ids=[c[0] for c in CASES])
async def test_bad_input_is_refused_privately_and_changes_nothing(
    tmp_path: Path, case: str, options: Any, expected: str
) -> None:
    async with world(tmp_path) as w, running_bot(w) as app:
        interaction = await w.veo(**options(w))
        reply = await interaction.wait_for_response(predicate=lambda m: bool(m.content))
        assert reply.ephemeral and expected in reply.content, reply.content
        assert await app.store.get_job(1) is None
        assert w.api.create_requests() == []
        assert w.bot_messages() == []
        if case == "too large":
            assert w.discord.cdn_requests == []  # refused from its declared size, before downloading


async def test_image_larger_than_declared_is_refused(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w, env={"VEO_MAX_IMAGE_BYTES": "1000"}) as app:
        image = w.attach("a.png", "image/png", PNG + bytes(4096), size=10)
        interaction = await w.veo(prompt="a", image=image)
        reply = await interaction.wait_for_response(predicate=lambda m: bool(m.content))
        assert "larger than its size said" in reply.content
        assert await app.store.get_job(1) is None and w.api.create_requests() == []


async def test_attachment_gone_from_the_cdn_is_refused(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w) as app:
        image = w.attach("a.png", "image/png", PNG)
        w.discord.remove_attachment(image)
        interaction = await w.veo(prompt="a", image=image)
        reply = await interaction.wait_for_response(predicate=lambda m: bool(m.content))
        assert "Could not read `image`" in reply.content
        assert await app.store.get_job(1) is None and w.api.create_requests() == []


@pytest.mark.parametrize(("missing", "name"), [(ATTACH_FILES, "Attach Files"), (EMBED_LINKS, "Embed Links")])
async def test_channel_where_the_bot_cannot_post_is_refused(tmp_path: Path, missing: int, name: str) -> None:
    async with world(tmp_path) as w, running_bot(w) as app:
        interaction = await w.discord.invoke_command(
            "veo", channel_id=w.channel.id, user=w.member, options={"prompt": "a fox"},
            permissions=MEMBER_PERMISSIONS, app_permissions=BOT_DEFAULT_PERMISSIONS & ~missing,
        )
        reply = await interaction.wait_for_response(predicate=lambda m: bool(m.content))
        assert reply.ephemeral and "can't post videos in this channel" in reply.content and name in reply.content
        assert await app.store.get_job(1) is None and w.api.create_requests() == []
