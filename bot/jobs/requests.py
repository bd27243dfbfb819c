"""Checks on a video request that every face makes alike: prompt, model, orientation, frames, image bytes.

Each refusal is an ``InvalidInput`` that says what to change; nothing is stored or sent before they pass.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.jobs.errors import InvalidInput
from bot.jobs.provider import ImageInput

MIB = 1024 * 1024
_INVISIBLE = re.compile(r"[\s\u200b-\u200f\u2060-\u2064\ufeff\u00ad\u034f\u180e]+")


@dataclass(frozen=True, slots=True)
class ImageKind:
    """An accepted image format: its content type and how its first bytes look."""

    content_type: str
    extension: str

    def matches(self, head: bytes) -> bool:
        """True when ``head`` starts like a file of this kind."""
        if self.content_type == "image/png":
            return head.startswith(b"\x89PNG\r\n\x1a\n")
        if self.content_type == "image/jpeg":
            return head.startswith(b"\xff\xd8\xff")
        return head[:4] == b"RIFF" and head[8:12] == b"WEBP"


IMAGE_KINDS = {
    "image/png": ImageKind("image/png", "png"),
    "image/jpeg": ImageKind("image/jpeg", "jpg"),
    "image/jpg": ImageKind("image/jpeg", "jpg"),
    "image/webp": ImageKind("image/webp", "webp"),
}


def clean_prompt(prompt: str, max_chars: int) -> str:
    """The prompt trimmed; refused when blank (invisible characters count as blank) or too long."""
    text = prompt.strip()
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (possible in JSON's \uD800 escapes) can be neither stored nor sent on.
        raise InvalidInput("The prompt contains characters that are not valid text. Please type it again.") from None
    if "\x00" in text:
        # NUL is no text to a video model, and PostgreSQL's text type cannot hold it.
        raise InvalidInput("The prompt contains characters that are not valid text. Please type it again.")
    if not _INVISIBLE.sub("", text):
        raise InvalidInput("The prompt is empty. Describe the video you want, e.g. `a red fox running through snow`.")
    if len(text) > max_chars:
        raise InvalidInput(
            "The prompt is {length} characters long; the limit is {limit}. Please shorten it.",
            params={"length": len(text), "limit": max_chars},
        )
    return text


def pick_model(model: str | None, models: tuple[str, ...], default: str) -> str:
    """The chosen model, or the default; refused when it is not one the bot offers."""
    if model is None or not model.strip():
        return default
    chosen = model.strip()
    if chosen not in models:
        raise InvalidInput(
            "Unknown model. Pick one of: {models} (or leave it empty for `{default}`).",
            params={"models": ", ".join(f"`{m}`" for m in models), "default": default},
        )
    return chosen


def pick_orientation(orientation: str | None, allowed: tuple[str, ...]) -> str:
    """The chosen orientation (16x9 when none); refused when it is not offered."""
    if orientation is None:
        return allowed[0]
    if orientation not in allowed:
        raise InvalidInput("Orientation must be one of: {choices}.", params={"choices": ", ".join(allowed)})
    return orientation


def check_frames(has_first: bool, has_last: bool) -> None:
    """A last frame only makes sense after a first frame."""
    if has_last and not has_first:
        raise InvalidInput("`last_frame` needs `image` too: attach the first frame as `image`, then the last frame.")


def image_kind(content_type: str | None, size: int, label: str, max_bytes: int) -> ImageKind:
    """Refuse, before downloading anything, a file that is not a PNG, JPEG or WebP image or is too large."""
    kind = IMAGE_KINDS.get((content_type or "").split(";")[0].strip().lower())
    if kind is None:
        raise InvalidInput("`{option}` must be a PNG, JPEG or WebP image.", params={"option": label})
    if size <= 0:
        raise InvalidInput("`{option}` is an empty file. Attach the image again.", params={"option": label})
    if size > max_bytes:
        raise InvalidInput(
            "`{option}` is {size} MiB; the limit is {limit} MiB. Please attach a smaller image.",
            params={"option": label, "size": f"{size / MIB:.1f}", "limit": f"{max_bytes / MIB:.1f}"},
        )
    return kind


def image_from_bytes(data: bytes, label: str, kind: ImageKind, max_bytes: int) -> ImageInput:
    """The downloaded image, once its real size and first bytes match what was announced."""
    if len(data) > max_bytes:
        raise InvalidInput("`{option}` is larger than its size said; the limit is {limit} MiB.",
                           params={"option": label, "limit": f"{max_bytes / MIB:.1f}"})
    if not kind.matches(data[:16]):
        raise InvalidInput("`{option}` is not a valid {kind} image (its content does not match).",
                           params={"option": label, "kind": kind.extension.upper()})
    return ImageInput(data=data, filename=f"{label}.{kind.extension}", content_type=kind.content_type)


def check_job_images(images: Sequence[ImageInput], max_bytes: int) -> None:
    """Refuse, before a job is stored, images a face let through that no job may carry: more than a first and a
    last frame, or one that is not a PNG, JPEG or WebP image of at most ``max_bytes``."""
    if len(images) > 2:
        raise InvalidInput("A video takes at most two images: `image` and `last_frame`.")
    for label, image in zip(("image", "last_frame"), images, strict=False):
        kind = image_kind(image.content_type, len(image.data), label, max_bytes)
        image_from_bytes(image.data, label, kind, max_bytes)
