"""MP4s in tests: their box structure (read without a media library), and small real ones made with PyAV."""

from __future__ import annotations

import io
import random
from pathlib import Path

import av

BLUE = (30, 30, 200)
RED = (200, 30, 30)


def top_level_boxes(data: bytes) -> list[str]:
    """The types of an MP4's top-level boxes, in file order (ISO/IEC 14496-12 box headers)."""
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size, kind = int.from_bytes(data[offset:offset + 4], "big"), data[offset + 4:offset + 8].decode("latin-1")
        if size == 1:  # a 64-bit size follows the type
            size = int.from_bytes(data[offset + 8:offset + 16], "big")
        elif size == 0:  # the box runs to the end of the file
            size = len(data) - offset
        assert size >= 8, f"bad box size {size} at {offset}"
        boxes.append(kind)
        offset += size
    assert offset == len(data), "the boxes do not end with the file"
    return boxes


def coloured_mp4(path: Path, *, frames: int = 30, colour: tuple[int, int, int] = BLUE,
                 last_colour: tuple[int, int, int] = RED, size: tuple[int, int] = (64, 48),
                 b_frames: int = 2, gop: int = 12, noisy_top: bool = False) -> Path:
    """An H.264 MP4 of plain ``colour`` frames whose last frame is ``last_colour``; with B-frames (the default)
    the last packets in the file are B-frames, decoded before the frame shown last. ``noisy_top`` fills the top
    third of the last frame with noise (which PNG compresses far worse than JPEG)."""
    width, height = size
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=12)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "medium", "bf": str(b_frames), "g": str(gop), "crf": "18"}
        for index in range(frames):
            rgb = last_colour if index == frames - 1 else colour
            pixels = bytes((*rgb, 255)) * (width * height)
            if noisy_top and index == frames - 1:
                noise = random.Random(index).randbytes(width * (height // 3) * 4)
                pixels = noise + pixels[len(noise):]
            container.mux(stream.encode(av.VideoFrame.from_bytes(pixels, width, height, format="rgba")))
        container.mux(stream.encode(None))
    return path


def picture_colour(data: bytes) -> tuple[int, int, int]:
    """The colour at the centre of an encoded picture (PNG, JPEG...)."""
    with av.open(io.BytesIO(data)) as container:
        frame = next(container.decode(video=0)).reformat(format="rgb24")
    plane = frame.planes[0]
    offset = (frame.height // 2) * plane.line_size + (frame.width // 2) * 3
    red, green, blue = bytes(plane)[offset:offset + 3]
    return red, green, blue


def close_to(actual: tuple[int, int, int], expected: tuple[int, int, int], tolerance: int = 12) -> bool:
    """Whether two colours match within lossy coding's error."""
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))
