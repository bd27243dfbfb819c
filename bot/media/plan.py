"""Planning a re-encode that fits a size limit: the bitrates from the limit and the duration, and the largest
resolution those bits still serve well."""

from __future__ import annotations

from dataclasses import dataclass

# Rate control lands near its target, not on it, and the container (moov, box headers) costs a little more.
MARGIN = 0.95
CONTAINER_RESERVE = 4096
# The encoder may spend this many seconds of bits ahead of its average (its VBV buffer, which starts nearly
# full): the budget keeps room for it, so that a short clip of a busy scene still fits.
BUFFER_SECONDS = 1.0
# The short side of each resolution tried, largest first, after the source's own.
SHORT_SIDES = (720, 540, 480, 360)
# Below this many bits per pixel per frame, H.264 at these sizes turns to blocks: a smaller picture is better.
MIN_BITS_PER_PIXEL = 0.05
AUDIO_BITRATE = 128_000
MIN_AUDIO_BITRATE = 32_000
# Sound never takes more than this share of the bits: the picture is what a viewer notices first.
AUDIO_SHARE = 8


class CannotFit(Exception):
    """The video cannot fit the limit at a quality worth posting (it is too long for it)."""


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """What planning needs to know about a source video."""

    duration: float  # seconds
    width: int
    height: int
    fps: float
    has_audio: bool


@dataclass(frozen=True, slots=True)
class FitPlan:
    """How to encode: the picture size and the bitrates (bits per second) of the video and of the sound."""

    width: int
    height: int
    video_bitrate: int
    audio_bitrate: int  # 0: the source has no sound

    @property
    def buffer_bits(self) -> int:
        """The size of the encoder's rate-control buffer (its ``bufsize``)."""
        return int(self.video_bitrate * BUFFER_SECONDS)

    @property
    def total_bitrate(self) -> int:
        """Bits per second of the two streams together."""
        return self.video_bitrate + self.audio_bitrate


def _even(value: float) -> int:
    # yuv420p halves the chroma planes: both sides must be even.
    return max(2, round(value / 2) * 2)


def scaled(width: int, height: int, short_side: int) -> tuple[int, int]:
    """``width`` x ``height`` scaled so that its short side is ``short_side``, both sides even."""
    scale = short_side / min(width, height)
    return _even(width * scale), _even(height * scale)


def sizes_to_try(width: int, height: int) -> list[tuple[int, int]]:
    """The source's size, then each smaller standard size of the same shape, largest first."""
    short = min(width, height)
    sizes = [(_even(width), _even(height))]
    sizes += [scaled(width, height, side) for side in SHORT_SIDES if side < short]
    return sizes


def audio_bitrate_for(total: int) -> int:
    """The sound's share of ``total`` bits per second: 128 kb/s, less when bits are short, never under 32 kb/s."""
    return max(MIN_AUDIO_BITRATE, min(AUDIO_BITRATE, total // AUDIO_SHARE // 1000 * 1000))


def bits_per_pixel(bitrate: int, width: int, height: int, fps: float) -> float:
    """The bits each pixel of each frame gets at ``bitrate``."""
    return bitrate / (width * height * fps)


def plan_fit(info: VideoInfo, limit: int, *, budget_scale: float = 1.0) -> FitPlan:
    """The plan that makes ``info``'s video at most ``limit`` bytes, at the largest size that stays sharp.

    ``budget_scale`` (below 1) asks for a smaller file than the limit alone would: for a second try after the
    encoder overshot. Raises ``CannotFit`` when even the smallest size would get too few bits.
    """
    if info.duration <= 0 or info.fps <= 0 or info.width <= 0 or info.height <= 0:
        raise CannotFit("the video has no length or no picture")
    budget_bits = (limit - CONTAINER_RESERVE) * 8 * MARGIN * budget_scale
    audio = audio_bitrate_for(int(budget_bits / info.duration)) if info.has_audio else 0
    video = int((budget_bits - audio * info.duration) / (info.duration + BUFFER_SECONDS))
    sizes = sizes_to_try(info.width, info.height)
    for width, height in sizes:
        if video > 0 and bits_per_pixel(video, width, height, info.fps) >= MIN_BITS_PER_PIXEL:
            return FitPlan(width, height, video, audio)
    smallest = sizes[-1]
    raise CannotFit(
        f"{info.duration:.1f} s in {limit} bytes leaves {max(video, 0) // 1000} kb/s for the picture, "
        f"too little even at {smallest[0]}x{smallest[1]}"
    )
