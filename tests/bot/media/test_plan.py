"""Planning a fit: bitrates from the limit and the duration, the largest size the bits serve, or no fit."""

from __future__ import annotations

import pytest

from bot.media.plan import (
    BUFFER_SECONDS,
    MIN_AUDIO_BITRATE,
    MIN_BITS_PER_PIXEL,
    CannotFit,
    VideoInfo,
    bits_per_pixel,
    plan_fit,
    sizes_to_try,
)

MIB = 1024 * 1024


def _info(duration: float = 8.0, width: int = 1920, height: int = 1080, fps: float = 24.0,
          has_audio: bool = True) -> VideoInfo:
    return VideoInfo(duration=duration, width=width, height=height, fps=fps, has_audio=has_audio)


def test_a_1080p_clip_keeps_its_size_in_discords_10_mib() -> None:
    plan = plan_fit(_info(), 10 * MIB)
    assert (plan.width, plan.height) == (1920, 1080)
    assert plan.audio_bitrate == 128_000
    # The whole file, the encoder's buffer included, stays inside the limit.
    worst_case_bits = plan.video_bitrate * (8.0 + BUFFER_SECONDS) + plan.audio_bitrate * 8.0
    assert worst_case_bits / 8 < 10 * MIB
    assert worst_case_bits / 8 > 0.85 * 10 * MIB  # and it uses most of it


def test_the_bitrate_follows_the_limit_and_the_duration() -> None:
    short, long = plan_fit(_info(duration=4.0), 10 * MIB), plan_fit(_info(duration=8.0), 10 * MIB)
    assert short.video_bitrate > 1.5 * long.video_bitrate
    bigger = plan_fit(_info(), 25 * MIB)
    assert bigger.video_bitrate > 2.4 * long.video_bitrate


def test_the_resolution_steps_down_only_when_the_bits_are_too_few_for_it() -> None:
    steps = []
    for duration in (8, 30, 50, 70, 90, 160):
        plan = plan_fit(_info(duration=duration), 10 * MIB)
        steps.append(plan.height)
        assert bits_per_pixel(plan.video_bitrate, plan.width, plan.height, 24.0) >= MIN_BITS_PER_PIXEL
        bigger = [size for size in sizes_to_try(1920, 1080) if size[1] > plan.height]
        # The next size up would have been starved.
        assert all(bits_per_pixel(plan.video_bitrate, w, h, 24.0) < MIN_BITS_PER_PIXEL for w, h in bigger)
    assert steps == sorted(steps, reverse=True) and steps[0] == 1080 and steps[-1] == 360
    assert set(steps) <= {1080, 720, 540, 480, 360}


def test_portrait_clips_scale_by_their_short_side_and_stay_even() -> None:
    assert sizes_to_try(720, 1280) == [(720, 1280), (540, 960), (480, 854), (360, 640)]
    plan = plan_fit(_info(duration=120, width=720, height=1280), 10 * MIB)
    assert plan.width < plan.height and plan.width % 2 == 0 and plan.height % 2 == 0


def test_a_small_source_is_never_scaled_up() -> None:
    assert sizes_to_try(640, 360) == [(640, 360)]
    assert sizes_to_try(320, 180) == [(320, 180)]


def test_a_clip_too_long_for_the_limit_cannot_fit() -> None:
    with pytest.raises(CannotFit, match="too little even at 640x360"):
        plan_fit(_info(duration=600), 10 * MIB)
    with pytest.raises(CannotFit):
        plan_fit(_info(duration=3), 5000)  # the limit hardly holds the container


def test_sound_gets_less_when_bits_are_short_but_is_kept() -> None:
    roomy = plan_fit(_info(duration=8), 10 * MIB)
    tight = plan_fit(_info(duration=30, width=640, height=360), 2 * MIB)
    assert roomy.audio_bitrate == 128_000
    assert MIN_AUDIO_BITRATE <= tight.audio_bitrate < 128_000
    assert tight.audio_bitrate < tight.video_bitrate / 5


def test_a_silent_clip_spends_every_bit_on_the_picture() -> None:
    silent, sound = plan_fit(_info(has_audio=False), 10 * MIB), plan_fit(_info(), 10 * MIB)
    assert silent.audio_bitrate == 0 and silent.video_bitrate > sound.video_bitrate


def test_a_second_try_asks_for_less() -> None:
    first, second = plan_fit(_info(), 10 * MIB), plan_fit(_info(), 10 * MIB, budget_scale=0.8)
    assert second.total_bitrate < 0.85 * first.total_bitrate


@pytest.mark.parametrize("info", [_info(duration=0), _info(fps=0), _info(width=0)])
def test_no_length_or_no_picture_cannot_fit(info: VideoInfo) -> None:
    with pytest.raises(CannotFit, match="no length or no picture"):
        plan_fit(info, 10 * MIB)
