"""Real MP4s for media tests, made with PyAV: noisy pictures (hard to compress, so they are big) and a tone;
and what a test checks in a fitted file, read back by decoding it to the end."""

from __future__ import annotations

import array
import io
import math
import random
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from tests.support.mp4 import top_level_boxes

SAMPLE_RATE = 48000
TONE_HZ = 440


def make_noisy_mp4(
    dest: Path,
    *,
    width: int = 640,
    height: int = 360,
    seconds: float = 3.0,
    fps: int = 24,
    audio: bool = True,
    crf: int = 18,
    seed: int = 1,
    faststart: bool = False,
) -> int:
    """Write an H.264 MP4 of coarse noise (and an AAC tone) to ``dest``; return its size in bytes.

    Noise in blocks of 8x8 pixels keeps the file large at a low CRF (a few MB for a few seconds), yet quick to
    make: each frame is drawn at an eighth of its size and scaled up.
    """
    rng = random.Random(seed)
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(dest), mode="w", format="mp4", options=options) as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"preset": "ultrafast", "crf": str(crf)}
        sound = None
        if audio:
            sound = container.add_stream("aac", rate=SAMPLE_RATE)
            sound.layout = "stereo"
        small = (width // 8, height // 8)
        for index in range(round(seconds * fps)):
            noise = rng.randbytes(small[0] * small[1] * 4)
            frame = av.VideoFrame.from_bytes(noise, small[0], small[1], format="rgba")
            frame = frame.reformat(width=width, height=height, format="yuv420p")
            frame.pts, frame.time_base = index, Fraction(1, fps)
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
        if sound is not None:
            total = int(seconds * SAMPLE_RATE)
            for start in range(0, total, 1024):
                count = min(1024, total - start)
                samples = array.array("h")
                for i in range(start, start + count):
                    value = int(9000 * math.sin(2 * math.pi * TONE_HZ * i / SAMPLE_RATE))
                    samples.extend((value, value))
                chunk = av.AudioFrame(format="s16", layout="stereo", samples=count)
                chunk.planes[0].update(samples.tobytes())
                chunk.sample_rate, chunk.pts, chunk.time_base = SAMPLE_RATE, start, Fraction(1, SAMPLE_RATE)
                for packet in sound.encode(chunk):
                    container.mux(packet)
            for packet in sound.encode(None):
                container.mux(packet)
    return dest.stat().st_size


def noisy_mp4_bytes(tmp_path: Path, **options: object) -> bytes:
    """``make_noisy_mp4``'s file, as bytes."""
    path = tmp_path / "noisy-source.mp4"
    make_noisy_mp4(path, **options)  # type: ignore[arg-type]
    return path.read_bytes()


@dataclass(frozen=True, slots=True)
class MediaFacts:
    """What a fitted file is, read from its bytes and by decoding every frame."""

    size: int
    boxes: list[str]
    video_codec: str
    pix_fmt: str | None
    width: int
    height: int
    frames_decoded: int
    picture_seconds: float  # from the first frame's start to the last frame's end
    audio_codec: str | None
    audio_seconds: float

    @property
    def index_first(self) -> bool:
        """True when the index (moov) comes before the media (mdat): the file plays while it downloads."""
        return "moov" in self.boxes and self.boxes.index("moov") < self.boxes.index("mdat")


def media_facts(data: bytes) -> MediaFacts:
    """Decode ``data`` to the end and describe it."""
    with av.open(io.BytesIO(data), mode="r") as container:
        video = container.streams.video[0]
        codec, pix_fmt = video.codec_context.name, video.codec_context.pix_fmt
        width, height = video.width, video.height
        starts, ends, frames = [], [], 0
        for frame in container.decode(video=0):
            frames += 1
            assert frame.pts is not None and frame.time_base is not None
            starts.append(float(frame.pts * frame.time_base))
            ends.append(float((frame.pts + (frame.duration or 0)) * frame.time_base))
    audio_codec, audio_seconds = None, 0.0
    with av.open(io.BytesIO(data), mode="r") as container:
        if container.streams.audio:
            audio_codec = container.streams.audio[0].codec_context.name
            samples = sum(frame.samples for frame in container.decode(audio=0))
            audio_seconds = samples / container.streams.audio[0].rate
    return MediaFacts(
        size=len(data), boxes=top_level_boxes(data), video_codec=codec, pix_fmt=pix_fmt, width=width, height=height,
        frames_decoded=frames, picture_seconds=max(ends) - min(starts) if frames else 0.0,
        audio_codec=audio_codec, audio_seconds=audio_seconds,
    )
