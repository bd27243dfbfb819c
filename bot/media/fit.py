"""Re-encoding a video to fit a size limit with PyAV: H.264 (yuv420p) and AAC in an MP4 whose index comes first.

Pure media code, CPU-bound: the bot runs it in a child process (``python -m bot.media.fit SOURCE OUT LIMIT
[SECONDS]``, see ``bot.media.fitter``) so that its event loop never waits on it and a time limit can stop it
(the child also ends itself after ``SECONDS``). The child prints one JSON line:
``{"outcome": "fitted" | "cannot_fit" | "unreadable" | "failed", ...}``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error

from bot.media.plan import CannotFit, FitPlan, VideoInfo, plan_fit

# x264's speed against size: ``veryfast`` is several times quicker than ``medium`` and, held to a bitrate,
# only a little less sharp; a member waits for this encode.
PRESET = "veryfast"
# The decoded picture must cover this share of the source's length, or the source was damaged.
MIN_COVERAGE = 0.9
# The demuxer FFmpeg reads MP4 (and QuickTime) files with.
MP4_FORMAT = "mp4"
# A second try asks for this much less than the first try's overshoot says.
RETRY_SLACK = 0.95


class Unreadable(Exception):
    """The source is not an MP4 video that can be read (not one at all, damaged, or without a picture)."""


class EncodeFailed(Exception):
    """The encode itself failed, or produced a clip shorter than the source."""


@dataclass(frozen=True, slots=True)
class FitReport:
    """A finished fit: the file's size and how it was encoded."""

    size: int
    width: int
    height: int
    video_bitrate: int
    audio_bitrate: int
    attempts: int


def probe(source: Path) -> VideoInfo:
    """Read what planning needs from ``source``; raise ``Unreadable`` when it is no readable MP4 video."""
    try:
        with av.open(str(source), mode="r") as container:
            if MP4_FORMAT not in container.format.name.split(","):
                raise Unreadable(f"not an MP4 file ({container.format.name})")
            if not container.streams.video:
                raise Unreadable("no video stream")
            video = container.streams.video[0]
            duration = _duration(container, video)
            rate = video.average_rate or video.guessed_rate
            if duration is None or not rate or not video.width or not video.height:
                raise Unreadable("no duration, frame rate or picture size")
            return VideoInfo(duration=duration, width=video.width, height=video.height, fps=float(rate),
                             has_audio=bool(container.streams.audio))
    except av.error.FFmpegError as exc:
        raise Unreadable(str(exc)) from exc


def _duration(container: av.container.InputContainer, video: av.VideoStream) -> float | None:
    if container.duration:
        return container.duration / av.time_base
    if video.duration and video.time_base:
        return float(video.duration * video.time_base)
    return None


def encode(source: Path, out: Path, plan: FitPlan, *, expected_duration: float) -> None:
    """Write ``source`` to ``out`` as ``plan`` says; raise ``EncodeFailed`` when that fails or comes out short."""
    try:
        covered = _encode(source, out, plan)
    except av.error.FFmpegError as exc:
        raise EncodeFailed(str(exc)) from exc
    if covered < expected_duration * MIN_COVERAGE:
        raise EncodeFailed(f"only {covered:.2f} s of {expected_duration:.2f} s could be decoded")


def _encode(source: Path, out: Path, plan: FitPlan) -> float:
    """Transcode, returning the seconds of picture written (the end of the last frame)."""
    # faststart: the index (moov) before the media (mdat), so that a player starts before the whole file arrived.
    with av.open(str(source), mode="r") as src, \
            av.open(str(out), mode="w", format=MP4_FORMAT, options={"movflags": "+faststart"}) as dst:
        vin = src.streams.video[0]
        vin.thread_type = "AUTO"
        rate = vin.average_rate or vin.guessed_rate or Fraction(24)
        vout = dst.add_stream("libx264", rate=rate)
        vout.width, vout.height, vout.pix_fmt = plan.width, plan.height, "yuv420p"
        vout.bit_rate = plan.video_bitrate
        vout.options = {
            "preset": PRESET,
            "maxrate": str(plan.video_bitrate),
            "bufsize": str(plan.buffer_bits),
        }
        ain = src.streams.audio[0] if plan.audio_bitrate and src.streams.audio else None
        aout = None
        if ain is not None:
            aout = dst.add_stream("aac", rate=ain.rate or 48000)
            aout.layout = ain.layout.name if ain.layout.nb_channels else "stereo"
            aout.bit_rate = plan.audio_bitrate
        first: float | None = None
        end = 0.0
        for packet in src.demux([s for s in (vin, ain) if s is not None]):
            for frame in packet.decode():
                if isinstance(frame, av.VideoFrame):
                    if frame.pts is not None and frame.time_base is not None:
                        start = float(frame.pts * frame.time_base)
                        first = start if first is None else min(first, start)
                        end = max(end, start + float((frame.duration or 0) * frame.time_base))
                    picture = frame.reformat(width=plan.width, height=plan.height, format="yuv420p")
                    _mux(dst, vout.encode(picture))
                elif aout is not None and isinstance(frame, av.AudioFrame):
                    _mux(dst, aout.encode(frame))
        _mux(dst, vout.encode(None))
        if aout is not None:
            _mux(dst, aout.encode(None))
        return end - first if first is not None else 0.0


def _mux(container: av.container.OutputContainer, packets: Iterable[av.Packet[Any]]) -> None:
    for packet in packets:
        container.mux(packet)


def fit_video(source: Path, out: Path, limit: int) -> FitReport:
    """Write a copy of ``source`` of at most ``limit`` bytes to ``out``, trying once more, lower, when the
    encoder overshoots. Raises ``Unreadable``, ``CannotFit`` or ``EncodeFailed``."""
    info = probe(source)
    plan = plan_fit(info, limit)
    scale = 1.0
    for attempt in (1, 2):
        encode(source, out, plan, expected_duration=info.duration)
        size = out.stat().st_size
        if size <= limit:
            return FitReport(size, plan.width, plan.height, plan.video_bitrate, plan.audio_bitrate, attempt)
        scale *= limit / size * RETRY_SLACK
        if attempt == 1:
            plan = plan_fit(info, limit, budget_scale=scale)
    raise CannotFit(f"the encoder made {size} bytes of a {limit}-byte budget twice")


def main(argv: list[str] | None = None) -> int:
    """``python -m bot.media.fit SOURCE OUT LIMIT [SECONDS]``: fit, then print the outcome as one JSON line.

    With ``SECONDS``, the process ends itself that long after it started, even if nobody is waiting for it any
    more (the bot that started it was killed).
    """
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (3, 4) or not args[2].isdigit() or not _is_seconds(args[3:]):
        print("usage: python -m bot.media.fit SOURCE OUT LIMIT_BYTES [TIME_LIMIT_SECONDS]", file=sys.stderr)
        return 2
    if len(args) == 4:
        stop_after(float(args[3]))
    outcome: dict[str, object]
    try:
        report = fit_video(Path(args[0]), Path(args[1]), int(args[2]))
    except Unreadable as exc:
        outcome = {"outcome": "unreadable", "detail": str(exc)}
    except CannotFit as exc:
        outcome = {"outcome": "cannot_fit", "detail": str(exc)}
    except EncodeFailed as exc:
        outcome = {"outcome": "failed", "detail": str(exc)}
    else:
        outcome = {"outcome": "fitted", **asdict(report)}
    print(json.dumps(outcome), flush=True)
    return 0


def _is_seconds(args: list[str]) -> bool:
    try:
        return all(0 < float(arg) < math.inf for arg in args)
    except ValueError:
        return False


def stop_after(seconds: float) -> None:
    """End this process (SIGALRM) ``seconds`` from now, rounded up to whole seconds."""
    if hasattr(signal, "alarm"):  # not on Windows: there the parent's kill is the only limit
        signal.alarm(max(1, math.ceil(seconds)))


def lower_priority() -> None:
    """Put this process below the bot (and everything else): an encode keeps whole cores busy for seconds."""
    with contextlib.suppress(OSError, AttributeError):  # AttributeError: no nice() on this system
        os.nice(10)


if __name__ == "__main__":
    lower_priority()
    sys.exit(main())
