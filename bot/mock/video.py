"""Draws a small, real MP4 for the mock provider: the prompt on a plain background, a few seconds long."""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from pathlib import Path

import av
from PIL import Image, ImageDraw, ImageFont

from bot.part_files import written_whole

FPS = 12
SIZES = {"16x9": (320, 180), "9x16": (180, 320)}
BACKGROUND = (22, 30, 58)
MARK = ("MOCK VIDEO", "no credits spent")


def _background(size: tuple[int, int], first_frame: bytes | None) -> Image.Image:
    """The member's first image scaled to fit when there is one the library can read, else a plain colour."""
    canvas = Image.new("RGB", size, BACKGROUND)
    if first_frame is None:
        return canvas
    try:
        with Image.open(io.BytesIO(first_frame)) as opened:
            picture = opened.convert("RGB")
            picture.thumbnail(size)
            canvas.paste(picture, ((size[0] - picture.width) // 2, (size[1] - picture.height) // 2))
    except (OSError, ValueError, Image.DecompressionBombError):
        pass  # an image Pillow cannot read still makes a video, without it
    return canvas


def _text_lines(prompt: str, model: str, width: int) -> list[str]:
    chars = max(16, width // 8)
    lines = textwrap.wrap(" ".join(prompt.split()), chars)[:6]
    return [*MARK, f"model: {model[:chars]}", "", *lines]


def render_mp4(
    dest: Path, *, prompt: str, model: str, orientation: str, seconds: float = 3.0,
    first_frame: bytes | None = None,
) -> int:
    """Write an H.264 MP4 of ``seconds`` to ``dest`` (atomically) and return its size in bytes."""
    width, height = SIZES.get(orientation, SIZES["16x9"])
    font = ImageFont.load_default(size=13)
    background = _background((width, height), first_frame)
    lines = _text_lines(prompt, model, width)
    frames = max(1, round(seconds * FPS))
    with written_whole(dest) as part:
        # faststart: the index (moov) before the media (mdat), so a player can start before the whole file
        # has arrived; FFmpeg moves it there when the file is closed.
        with av.open(str(part), mode="w", format="mp4", options={"movflags": "faststart"}) as container:
            stream = container.add_stream("libx264", rate=FPS)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.options = {"preset": "ultrafast", "crf": "30"}
            for index in range(frames):
                frame = _frame(background, lines, font, index / max(1, frames - 1))
                pixels = av.VideoFrame.from_bytes(frame.convert("RGBA").tobytes(), width, height, format="rgba")
                container.mux(stream.encode(pixels))
            container.mux(stream.encode(None))
    return dest.stat().st_size


def _frame(
    background: Image.Image, lines: Sequence[str], font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
    done: float,
) -> Image.Image:
    image = background.copy()
    draw = ImageDraw.Draw(image)
    width, height = image.size
    draw.rectangle((0, 0, width, 14 + 17 * len(lines)), fill=(0, 0, 0))
    for row, line in enumerate(lines):
        colour = (255, 200, 0) if row < len(MARK) else (235, 235, 235)
        draw.text((8, 6 + 17 * row), line, fill=colour, font=font)
    # A bar that fills over the clip, so it visibly plays.
    draw.rectangle((0, height - 6, int(width * done), height), fill=(230, 120, 40))
    return image
