"""Re-encoding real MP4s to fit a limit: under it, playable to the end, the same length, H.264 yuv420p with AAC
sound, the index first; and the files that cannot be fitted, each with its reason."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.media.fit import EncodeFailed, Unreadable, fit_video, main, probe
from bot.media.plan import CannotFit
from tests.support.media import make_noisy_mp4, media_facts

LIMIT = 350_000
FRAME = 1 / 24


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("media") / "source.mp4"
    size = make_noisy_mp4(path, seconds=3.0)
    assert size > 4 * LIMIT  # really over the limit
    return path


def test_an_oversize_clip_comes_out_under_the_limit_playable_and_whole(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "fitted.mp4"
    report = fit_video(source, out, LIMIT)
    facts = media_facts(out.read_bytes())
    assert facts.size == report.size <= LIMIT
    assert facts.video_codec == "h264" and facts.pix_fmt == "yuv420p"
    assert (facts.width, facts.height) == (640, 360) == (report.width, report.height)
    assert facts.frames_decoded == 72  # every frame decodes, to the last
    assert facts.picture_seconds == pytest.approx(3.0, abs=2 * FRAME)
    assert facts.audio_codec == "aac" and facts.audio_seconds == pytest.approx(3.0, abs=0.05)
    assert facts.index_first  # moov before mdat: faststart
    assert facts.size > 0.6 * LIMIT  # it used the room it had


def test_a_clip_without_sound_is_fitted_without_sound(tmp_path: Path) -> None:
    silent = tmp_path / "silent.mp4"
    make_noisy_mp4(silent, seconds=2.0, audio=False, width=320, height=180)
    out = tmp_path / "fitted.mp4"
    report = fit_video(silent, out, 120_000)
    facts = media_facts(out.read_bytes())
    assert facts.size <= 120_000 and facts.audio_codec is None and report.audio_bitrate == 0
    assert facts.frames_decoded == 48


def test_a_large_clip_for_a_small_limit_is_made_smaller_in_size(tmp_path: Path) -> None:
    wide = tmp_path / "wide.mp4"
    make_noisy_mp4(wide, seconds=2.0, width=1280, height=720, crf=30)
    out = tmp_path / "fitted.mp4"
    report = fit_video(wide, out, 150_000)
    facts = media_facts(out.read_bytes())
    assert facts.size <= 150_000 and (facts.width, facts.height) == (report.width, report.height)
    assert facts.height < 720 and facts.width / facts.height == pytest.approx(16 / 9, rel=0.01)


def test_a_clip_too_long_for_the_limit_is_not_encoded(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "fitted.mp4"
    with pytest.raises(CannotFit, match="too little even at 640x360"):
        fit_video(source, out, 60_000)
    assert not out.exists()


def test_a_file_that_is_no_video_is_unreadable(tmp_path: Path) -> None:
    page = tmp_path / "page.mp4"
    page.write_bytes(b"<html><body>502 Bad Gateway</body></html>" * 50)
    with pytest.raises(Unreadable):
        probe(page)


def test_a_truncated_mp4_is_unreadable(source: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(source.read_bytes()[: source.stat().st_size // 2])  # the index (at the end) is gone
    with pytest.raises(Unreadable):
        fit_video(cut, tmp_path / "fitted.mp4", LIMIT)


def test_an_mp4_cut_short_after_its_index_fails_rather_than_posting_part_of_it(tmp_path: Path) -> None:
    whole = tmp_path / "whole.mp4"
    make_noisy_mp4(whole, seconds=3.0, faststart=True)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])  # the index is there, half the media not
    with pytest.raises(EncodeFailed, match="could be decoded"):
        fit_video(cut, tmp_path / "fitted.mp4", LIMIT)


def test_another_container_is_not_taken_for_an_mp4(tmp_path: Path) -> None:
    import av

    other = tmp_path / "clip.mkv"
    with av.open(str(other), mode="w", format="matroska") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for index in range(5):
            frame = av.VideoFrame(64, 64, "yuv420p")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    with pytest.raises(Unreadable, match="not an MP4"):
        probe(other)


def test_the_command_line_prints_one_json_line_per_outcome(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(source), str(tmp_path / "a.mp4"), str(LIMIT)]) == 0
    fitted = json.loads(capsys.readouterr().out)
    assert fitted["outcome"] == "fitted" and fitted["size"] == (tmp_path / "a.mp4").stat().st_size <= LIMIT
    assert main([str(source), str(tmp_path / "b.mp4"), "60000"]) == 0
    assert json.loads(capsys.readouterr().out)["outcome"] == "cannot_fit"
    (tmp_path / "junk.mp4").write_bytes(b"junk" * 100)
    assert main([str(tmp_path / "junk.mp4"), str(tmp_path / "c.mp4"), str(LIMIT)]) == 0
    assert json.loads(capsys.readouterr().out)["outcome"] == "unreadable"
    assert main([str(source), str(tmp_path / "d.mp4"), "lots"]) == 2
    assert "usage" in capsys.readouterr().err
    for seconds in ("soon", "0", "-1", "inf"):
        assert main([str(source), str(tmp_path / "d.mp4"), str(LIMIT), seconds]) == 2, seconds
    assert not (tmp_path / "d.mp4").exists()


def test_an_encoder_left_behind_ends_itself_at_its_time_limit() -> None:
    # What a child whose bot was killed does: nobody kills it, its own alarm does.
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", "from bot.media.fit import stop_after; stop_after(0.2); import time; time.sleep(30)"],
        capture_output=True, timeout=20, check=False,
    )
    assert done.returncode == -signal.SIGALRM and time.monotonic() - started < 10


def test_an_encoder_overshoot_is_tried_once_more_lower(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A first plan that misjudges the budget by a quarter, as an encoder that overshoots would: the file comes out
    # over the limit, and the second try, scaled by how much, fits.
    monkeypatch.setattr("bot.media.plan.MARGIN", 1.25)
    out = tmp_path / "fitted.mp4"
    report = fit_video(source, out, LIMIT)
    assert report.attempts == 2 and report.size == out.stat().st_size <= LIMIT
    assert media_facts(out.read_bytes()).frames_decoded == 72
