"""The last frame of real MP4s made with PyAV: the one shown last, even when the file ends with B-frames."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.media.frames import encode_png, last_frame, last_frame_image
from bot.media.stills import FrameError, read_last_frame
from tests.support.mp4 import BLUE, RED, close_to, coloured_mp4, picture_colour

ROOT = Path(__file__).resolve().parents[3]


def test_the_last_frame_is_the_one_shown_last_when_the_file_ends_with_b_frames(tmp_path: Path) -> None:
    video = coloured_mp4(tmp_path / "b.mp4", frames=30, b_frames=2)
    frame = last_frame(video)
    still = encode_png(frame)
    assert (still.width, still.height) == (64, 48)
    assert still.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert close_to(picture_colour(still.data), RED)


@pytest.mark.parametrize(("frames", "b_frames", "gop"), [(1, 0, 12), (13, 0, 12), (120, 3, 24), (120, 0, 250)])
def test_last_frame_across_lengths_and_group_sizes(tmp_path: Path, frames: int, b_frames: int, gop: int) -> None:
    video = coloured_mp4(tmp_path / "v.mp4", frames=frames, b_frames=b_frames, gop=gop)
    still = last_frame_image(video, 10 * 1024 * 1024)
    assert still.content_type == "image/png"
    assert close_to(picture_colour(still.data), RED)


def test_other_frames_are_not_mistaken_for_the_last(tmp_path: Path) -> None:
    # The same video with the colours swapped: the answer follows the last frame, not a fixed colour.
    video = coloured_mp4(tmp_path / "v.mp4", colour=RED, last_colour=BLUE)
    assert close_to(picture_colour(last_frame_image(video, 1 << 20).data), BLUE)


def test_a_png_over_the_limit_becomes_a_jpeg_and_too_large_is_refused(tmp_path: Path) -> None:
    video = coloured_mp4(tmp_path / "noisy.mp4", size=(320, 240), noisy_top=True)
    png = last_frame_image(video, 10 * 1024 * 1024)
    assert png.content_type == "image/png"
    jpeg = last_frame_image(video, len(png.data) - 1)
    assert jpeg.content_type == "image/jpeg" and jpeg.extension == "jpg"
    assert jpeg.data.startswith(b"\xff\xd8\xff") and len(jpeg.data) < len(png.data)
    assert close_to(picture_colour(jpeg.data), RED, tolerance=24)
    with pytest.raises(FrameError, match="over 100 bytes"):
        last_frame_image(video, 100)


@pytest.mark.parametrize("content", [b"", b"not a video at all", b"\x00\x00\x00\x20ftypisom" + bytes(400)])
def test_a_file_that_is_not_a_readable_video_is_a_frame_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.mp4"
    path.write_bytes(content)
    with pytest.raises(FrameError):
        last_frame(path)


def test_a_truncated_video_is_a_frame_error(tmp_path: Path) -> None:
    video = coloured_mp4(tmp_path / "v.mp4")
    video.write_bytes(video.read_bytes()[: video.stat().st_size // 2])
    with pytest.raises(FrameError):
        last_frame(video)


def test_a_missing_file_is_reported_as_missing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        last_frame(tmp_path / "gone.mp4")


def test_the_time_limit_stops_decoding(tmp_path: Path) -> None:
    video = coloured_mp4(tmp_path / "v.mp4")
    with pytest.raises(FrameError, match="too long"):
        last_frame(video, time_limit=0.0)


async def test_read_last_frame_runs_off_the_event_loop(tmp_path: Path) -> None:
    video = coloured_mp4(tmp_path / "v.mp4")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    beat = asyncio.create_task(ticker())
    try:
        still = await read_last_frame(video, 1 << 20)
    finally:
        beat.cancel()
    assert close_to(picture_colour(still.data), RED)
    assert (still.content_type, still.extension, still.width, still.height) == ("image/png", "png", 64, 48)
    assert ticks > 1  # the loop kept running while the child decoded
    with pytest.raises(FrameError, match="too long"):
        await read_last_frame(video, 1 << 20, time_limit=0.0)


async def test_the_child_reports_a_missing_file_a_bad_file_and_a_frame_too_large(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        await read_last_frame(tmp_path / "gone.mp4", 1 << 20)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"nonsense" * 100)
    with pytest.raises(FrameError, match=r"could not be decoded|no video"):
        await read_last_frame(junk, 1 << 20)
    with pytest.raises(FrameError, match="over 100 bytes"):
        await read_last_frame(coloured_mp4(tmp_path / "v.mp4"), 100)


async def test_a_frame_reader_that_hangs_is_killed_at_the_time_limit(tmp_path: Path) -> None:
    hanging = tmp_path / "hanging-python"
    hanging.write_text("#!/bin/sh\nexec sleep 60\n")
    hanging.chmod(0o755)
    started = time.monotonic()
    with pytest.raises(FrameError, match="too long"):
        await read_last_frame(coloured_mp4(tmp_path / "v.mp4"), 1 << 20, time_limit=0.05, python=str(hanging))
    assert time.monotonic() - started < 10  # not the child's 60 s


def test_the_bot_never_loads_pyav_itself() -> None:
    code = ("import sys, cogs.app, bot.runtime, bot.jobs.continuation, bot.media.stills, bot.media.fitter\n"
            "print(sorted(name for name in sys.modules if name == 'av' or name.startswith('av.')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)  # noqa: S603
    assert out.stdout.strip() == "[]", out.stdout
