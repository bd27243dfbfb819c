"""What both store backends share of ``job_images``: a job's images in order are its first and last frame."""

from __future__ import annotations

from collections.abc import Sequence

from bot.jobs.provider import ImageInput

# The n-th image of a job is stored under the n-th kind, and read back in this order.
KINDS = ("first", "last")


def image_rows(images: Sequence[ImageInput]) -> list[tuple[str, str, str, bytes]]:
    """(kind, content type, file name, bytes) of each image; ``ValueError`` for more images than kinds."""
    if len(images) > len(KINDS):
        raise ValueError(f"a job has at most {len(KINDS)} images (first and last frame), not {len(images)}")
    return [(kind, image.content_type, image.filename, bytes(image.data))
            for kind, image in zip(KINDS, images, strict=False)]


def kind_order(kind: str) -> int:
    """Where an image of ``kind`` goes among a job's images."""
    return KINDS.index(kind)
