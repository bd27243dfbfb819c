"""The last frame of an MP4, as a PNG (or a JPEG when the PNG would be too large) a video provider accepts.

This is the PyAV side, run in a child process by ``bot.media.stills.read_last_frame`` (``python -m
bot.media.frames``), so that PyAV never loads in the bot; decoding checks a deadline between frames, and any
file PyAV cannot read becomes a ``FrameError``.
"""

from __future__ import annotations

import json
import math
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
from av.video.frame import VideoFrame

from bot.media.fit import stop_after
from bot.media.stills import FRAME_TIMEOUT, FrameError, Still

# How far before the end to seek: the decoder then starts at the keyframe before that point and runs to the end.
SEEK_BACK_SECONDS = 1.0
# JPEG's scale (2 = best, 31 = worst) when the PNG is over the limit; each step down shrinks the file.
JPEG_QUALITIES = (2, 4, 8, 16)


def _check(deadline: float) -> None:
    if time.monotonic() > deadline:
        raise FrameError("reading the last frame took too long")


def _decode_to_end(container: av.container.InputContainer, stream: av.VideoStream,
                   deadline: float) -> VideoFrame | None:
    """Decode from the container's position to the end; keep the frame shown last (highest time stamp).

    Frames leave the decoder in presentation order, but files whose last packets are B-frames are why the time
    stamp decides rather than the order of arrival.
    """
    last: VideoFrame | None = None
    for frame in container.decode(stream):
        _check(deadline)
        if last is None or frame.pts is None or last.pts is None or frame.pts >= last.pts:
            last = frame
    return last


def _seek_target(container: av.container.InputContainer, stream: av.VideoStream) -> int | None:
    """A time stamp (in the stream's time base) a little before the end, or None when the length is unknown."""
    time_base = stream.time_base
    if time_base is None or time_base == 0:
        return None
    start = stream.start_time or 0
    if stream.duration:
        end = start + stream.duration
    elif container.duration:
        end = start + int(container.duration / av.time_base / time_base)
    else:
        return None
    return max(start, end - int(SEEK_BACK_SECONDS / time_base))


def last_frame(path: Path, *, time_limit: float = FRAME_TIMEOUT) -> VideoFrame:
    """The frame a player shows last in the video at ``path``."""
    deadline = time.monotonic() + time_limit
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise FrameError("the file has no video stream")
            stream = container.streams.video[0]
            target = _seek_target(container, stream)
            frame: VideoFrame | None = None
            if target is not None:
                container.seek(target, stream=stream, backward=True, any_frame=False)
                frame = _decode_to_end(container, stream, deadline)
            if frame is None:
                # No length to seek by, or the seek found nothing: read the whole file instead.
                container.seek(0, stream=stream, backward=True, any_frame=False)
                frame = _decode_to_end(container, stream, deadline)
            if frame is None:
                raise FrameError("the video has no frames")
            return frame
    except FileNotFoundError:
        raise
    except (av.FFmpegError, OSError, ValueError, EOFError) as exc:
        raise FrameError(f"the video could not be decoded: {type(exc).__name__}") from exc


def _encode(frame: VideoFrame, codec: str, pix_fmt: str, options: dict[str, str] | None = None) -> bytes:
    context = av.CodecContext.create(codec, "w")
    assert isinstance(context, av.VideoCodecContext)
    context.width, context.height, context.pix_fmt = frame.width, frame.height, pix_fmt
    context.time_base = frame.time_base or Fraction(1, 25)
    if options:
        context.options = options
    picture = frame.reformat(format=pix_fmt)
    picture.pts = 0
    packets = [*context.encode(picture), *context.encode(None)]
    return b"".join(bytes(packet) for packet in packets)


def encode_png(frame: VideoFrame) -> Still:
    """The frame as a lossless PNG."""
    return Still(_encode(frame, "png", "rgb24"), "image/png", "png", frame.width, frame.height)


def encode_jpeg(frame: VideoFrame, quality: int = JPEG_QUALITIES[0]) -> Still:
    """The frame as a JPEG at ``quality`` (FFmpeg's scale: 2 is best, 31 worst)."""
    data = _encode(frame, "mjpeg", "yuvj420p", {"qmin": str(quality), "qmax": str(quality)})
    return Still(data, "image/jpeg", "jpg", frame.width, frame.height)


def last_frame_image(path: Path, max_bytes: int, *, time_limit: float = FRAME_TIMEOUT) -> Still:
    """The video's last frame as a PNG, or as a JPEG when the PNG is over ``max_bytes``."""
    frame = last_frame(path, time_limit=time_limit)
    still = encode_png(frame)
    for quality in JPEG_QUALITIES:
        if len(still.data) <= max_bytes:
            return still
        still = encode_jpeg(frame, quality)
    if len(still.data) <= max_bytes:
        return still
    raise FrameError(f"the last frame is over {max_bytes} bytes even as a JPEG")


def main(argv: list[str] | None = None) -> int:
    """``python -m bot.media.frames VIDEO OUT MAX_BYTES SECONDS``: write the last frame to ``OUT`` and print what
    it is as one JSON line (or why there is none); the process ends itself after ``SECONDS`` in any case."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 4 or not args[2].isdigit() or not _is_seconds(args[3]):
        print("usage: python -m bot.media.frames VIDEO OUT MAX_BYTES TIME_LIMIT_SECONDS", file=sys.stderr)
        return 2
    time_limit = float(args[3])
    stop_after(time_limit + 1.0)
    try:
        still = last_frame_image(Path(args[0]), int(args[2]), time_limit=time_limit)
    except FileNotFoundError:
        report: dict[str, object] = {"missing": True}
    except FrameError as exc:
        report = {"error": str(exc)}
    else:
        Path(args[1]).write_bytes(still.data)
        report = {"content_type": still.content_type, "extension": still.extension, "width": still.width,
                  "height": still.height}
    print(json.dumps(report), flush=True)
    return 0


def _is_seconds(arg: str) -> bool:
    try:
        return 0 <= float(arg) < math.inf
    except ValueError:
        return False


if __name__ == "__main__":
    sys.exit(main())
