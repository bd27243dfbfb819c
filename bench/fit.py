"""``python -m bench.fit``: how long fitting a Veo-sized clip to Discord's upload limit takes, and what comes out.

Each clip is made here (PyAV: coarse noise, hard to compress, with an AAC tone), then fitted by the bot's own
``VideoFitter``, child process and all; the figures are the wall time, the child's CPU time and peak memory,
and the fitted file's size, picture size and bitrate. See docs/PERFORMANCE.md, "Fitting a video".
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bot.media.fitter import VideoFitter
from tests.support.media import make_noisy_mp4, media_facts

MIB = 1024 * 1024


@dataclass(frozen=True)
class Clip:
    """One clip to fit: its picture, length and how hard it is to compress (x264's CRF when it is made)."""

    name: str
    width: int
    height: int
    seconds: float
    crf: int


CLIPS = (
    Clip("1080p, 8 s, busy", 1920, 1080, 8.0, 20),
    Clip("1080p, 8 s, calmer", 1920, 1080, 8.0, 30),
    Clip("720x1280, 8 s, busy", 720, 1280, 8.0, 18),
)


def _children_usage() -> tuple[float, int]:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss


async def _fit(clip: Clip, limit: int, workdir: Path) -> str:
    source = workdir / f"{clip.width}x{clip.height}-{clip.crf}.mp4"
    size = make_noisy_mp4(source, width=clip.width, height=clip.height, seconds=clip.seconds, crf=clip.crf)
    dest = workdir / "fitted.mp4"
    cpu_before, _ = _children_usage()
    started = time.perf_counter()
    result = await VideoFitter(timeout=600).fit(source, dest, limit)
    wall = time.perf_counter() - started
    cpu_after, peak_kib = _children_usage()
    if not result.fitted:
        return f"| {clip.name} | {size / MIB:.1f} MiB | {result.outcome}: {result.detail} | | | | |"
    facts = media_facts(dest.read_bytes())
    bitrate = facts.size * 8 / facts.picture_seconds / 1000
    return (f"| {clip.name} | {size / MIB:.1f} MiB | {facts.size / MIB:.2f} MiB ({facts.size / limit:.0%}) | "
            f"{facts.width}x{facts.height} | {bitrate:,.0f} kb/s | {wall:.1f} s | {cpu_after - cpu_before:.1f} s "
            f"/ {peak_kib / 1024:.0f} MiB |")


async def main(argv: list[str]) -> None:
    """Fit each clip to each limit and print a table."""
    parser = argparse.ArgumentParser(prog="python -m bench.fit", description=__doc__.splitlines()[0])
    parser.add_argument("--limits", default="10", help="upload limits in MiB, comma-separated (default %(default)s)")
    args = parser.parse_args(argv)
    print("| clip | source | fitted | picture | overall bitrate | wall time | child CPU / peak RSS |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="veo-bench-fit-") as tmp:
        for limit in (int(float(text) * MIB) for text in args.limits.split(",")):
            for clip in CLIPS:
                print(await _fit(clip, limit, Path(tmp)), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
