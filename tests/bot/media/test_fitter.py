"""The fitter's child process: the fitted file lands whole, a failure leaves nothing, the time limit kills it."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from bot.media.fitter import FitOutcome, VideoFitter, child_environment
from tests.support.media import make_noisy_mp4, media_facts

LIMIT = 350_000


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("media") / "source.mp4"
    make_noisy_mp4(path, seconds=2.0)
    return path


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".part"))


async def test_the_fitted_file_appears_whole_at_its_destination(source: Path, tmp_path: Path) -> None:
    dest = tmp_path / "out.fit.mp4"
    result = await VideoFitter(timeout=60).fit(source, dest, LIMIT)
    assert result.outcome is FitOutcome.FITTED and result.fitted
    assert result.size == dest.stat().st_size <= LIMIT
    assert media_facts(dest.read_bytes()).frames_decoded == 48
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize(("content", "outcome"), [
    (b"<html>not found</html>" * 20, FitOutcome.UNREADABLE),
    (b"\x00\x00\x00\x20ftypisom" + bytes(3000), FitOutcome.UNREADABLE),
])
async def test_what_is_no_readable_mp4_gives_no_file(
    tmp_path: Path, content: bytes, outcome: FitOutcome
) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    dest = tmp_path / "out.fit.mp4"
    result = await VideoFitter(timeout=60).fit(bad, dest, LIMIT)
    assert result.outcome is outcome and result.detail and not dest.exists()
    assert _leftovers(tmp_path) == []


async def test_too_long_for_the_limit(source: Path, tmp_path: Path) -> None:
    dest = tmp_path / "out.fit.mp4"
    result = await VideoFitter(timeout=60).fit(source, dest, 40_000)
    assert result.outcome is FitOutcome.CANNOT_FIT and "too little" in result.detail and not dest.exists()


async def test_the_time_limit_kills_the_encoder_and_leaves_nothing(source: Path, tmp_path: Path) -> None:
    dest = tmp_path / "out.fit.mp4"
    result = await VideoFitter(timeout=0.05).fit(source, dest, LIMIT)
    assert result.outcome is FitOutcome.TIMED_OUT and "0.05 s" in result.detail
    assert not dest.exists() and _leftovers(tmp_path) == []


async def test_an_encoder_that_crashes_is_a_failure_with_its_last_words(source: Path, tmp_path: Path) -> None:
    python = _python_running(tmp_path, "import sys\nsys.stderr.write('MemoryError: out of memory\\n')\nsys.exit(1)\n")
    result = await VideoFitter(timeout=60, python=python).fit(source, tmp_path / "out.fit.mp4", LIMIT)
    assert result.outcome is FitOutcome.FAILED
    assert result.detail == "the encoder exited with 1: MemoryError: out of memory"
    assert _leftovers(tmp_path) == []


async def test_the_time_limit_kills_a_hung_encoder(source: Path, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    python = _python_running(tmp_path, f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
                                       "time.sleep(60)\n")
    fitter = VideoFitter(timeout=0.5, python=python)
    result = await fitter.fit(source, tmp_path / "out.fit.mp4", LIMIT)
    assert result.outcome is FitOutcome.TIMED_OUT
    with pytest.raises(ProcessLookupError):  # killed and reaped
        os.kill(int(pid_file.read_text()), 0)


def _python_running(tmp_path: Path, script: str) -> str:
    """A stand-in for the Python interpreter that runs ``script`` whatever it is asked to run."""
    (tmp_path / "script.py").write_text(script)
    wrapper = tmp_path / "python"
    wrapper.write_text(f"#!/bin/sh\nexec {sys.executable} {tmp_path / 'script.py'}\n")
    wrapper.chmod(0o755)
    return str(wrapper)


async def test_a_cancelled_fit_leaves_nothing(source: Path, tmp_path: Path) -> None:
    dest = tmp_path / "out.fit.mp4"
    task = asyncio.create_task(VideoFitter(timeout=60).fit(source, dest, LIMIT))
    for _ in range(200):
        if _leftovers(tmp_path):
            break
        await asyncio.sleep(0.005)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not dest.exists() and _leftovers(tmp_path) == []


async def test_fits_beyond_the_concurrency_wait_their_turn(source: Path, tmp_path: Path) -> None:
    fitter = VideoFitter(timeout=60, concurrency=1)
    running: list[int] = []
    peak = 0
    original = fitter._run

    async def counted(*args: object) -> object:
        nonlocal peak
        running.append(1)
        peak = max(peak, len(running))
        try:
            return await original(*args)  # type: ignore[arg-type]
        finally:
            running.pop()

    fitter._run = counted  # type: ignore[method-assign,assignment]
    results = await asyncio.gather(*(fitter.fit(source, tmp_path / f"{n}.fit.mp4", LIMIT) for n in range(2)))
    assert [r.outcome for r in results] == [FitOutcome.FITTED] * 2 and peak == 1


def test_the_encoder_gets_no_secrets() -> None:
    env = child_environment({"PATH": "/usr/bin", "DISCORD_TOKEN": "t", "COMETAPI_KEY": "k", "DATABASE_URL": "d",
                             "SLACK_BOT_TOKEN": "s", "VEO_DATA_DIR": "data", "HOME": "/root"})
    assert env == {"PATH": "/usr/bin", "VEO_DATA_DIR": "data", "HOME": "/root"}
