"""Delivery fits a video over the upload limit before posting it: the fitted copy goes out, the original stays
for the link and the retention; what cannot be fitted goes as a link, with a log line saying why."""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.jobs.ports import DeliveryFailed, Fitter
from bot.jobs.records import JobStatus
from bot.jobs.recovery import remove_leftover_files
from bot.jobs.videos import DAY, STALE_WORK_AGE, VideoStore
from bot.media.fitter import FitOutcome, FitResult, VideoFitter
from bot.ops.instrument import BotMetrics, InstrumentedFitter
from tests.conftest import FakeClock
from tests.fakes.comet.api import FakeCometAPI, TaskScript, make_mp4_bytes
from tests.support.core import Core, RecordingNotifier, job_core
from tests.support.media import make_noisy_mp4, media_facts

LIMIT = 300_000


@pytest.fixture(scope="module")
def oversize(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("media") / "oversize.mp4"
    assert make_noisy_mp4(path, seconds=2.0) > 3 * LIMIT
    return path.read_bytes()


@dataclass
class CountingFitter:
    """Counts the fits the job core asks for, passing them to the real fitter."""

    inner: Fitter
    calls: list[int] = field(default_factory=list)

    async def fit(self, source: Path, dest: Path, limit: int) -> FitResult:
        self.calls.append(limit)
        return await self.inner.fit(source, dest, limit)


def _videos(tmp_path: Path, clock: FakeClock, retention: float = DAY) -> VideoStore:
    return VideoStore(tmp_path / "videos", key=b"k" * 32, retention=retention, clock=clock)


async def _finish(core: Core, video: bytes) -> int:
    """Run a job until its result is posted (or its post failed), a fit in the background included."""
    core.api.script_next_task(TaskScript(polls_until_done=0, video=video))
    job = await core.service.create_job(core.request())
    await core.tick(15)
    await _after_fitting(core)
    return job.id


async def _after_fitting(core: Core) -> None:
    """Let a fit the last tick started end, then run the tick its end asks for."""
    await core.worker.delivery.fitting.wait()
    await core.tick(0)


async def test_a_video_over_the_limit_is_posted_fitted_and_the_original_kept(
    tmp_path: Path, clock: FakeClock, oversize: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    videos, fitter = _videos(tmp_path, clock), CountingFitter(VideoFitter(timeout=60))
    notifier = RecordingNotifier(upload_limit=LIMIT)
    caplog.set_level(logging.INFO, logger="bot.jobs")
    async with FakeCometAPI() as api, job_core(tmp_path, api, clock, notifier=notifier, videos=videos,
                                               fitter=fitter) as core:
        job_id = await _finish(core, oversize)
        [delivery] = notifier.for_job(job_id)
        assert delivery.kind == "video" and delivery.video is not None and len(delivery.video) <= LIMIT
        facts = media_facts(delivery.video)
        assert facts.video_codec == "h264" and facts.audio_codec == "aac" and facts.frames_decoded == 48
        assert notifier.posted_files == [videos.fitted_path_for(job_id).name]
        assert (await core.job(job_id)).status is JobStatus.DELIVERED
        assert videos.path_for(job_id).read_bytes() == oversize  # the original, for the link and the retention
        assert not videos.fitted_path_for(job_id).exists()  # the copy has done its work
        assert fitter.calls == [LIMIT]
        assert f"job={job_id} video of {len(oversize)} bytes fitted to" in caplog.text


async def test_a_video_within_the_limit_is_posted_as_it_is(
    tmp_path: Path, clock: FakeClock, oversize: bytes
) -> None:
    fitter = CountingFitter(VideoFitter(timeout=60))
    notifier = RecordingNotifier(upload_limit=len(oversize))
    async with FakeCometAPI() as api, job_core(tmp_path, api, clock, notifier=notifier, fitter=fitter) as core:
        job_id = await _finish(core, oversize)
        [delivery] = notifier.for_job(job_id)
        assert delivery.video == oversize and fitter.calls == []


async def test_without_a_fitter_a_video_over_the_limit_goes_as_a_link(
    tmp_path: Path, clock: FakeClock, oversize: bytes
) -> None:
    notifier = RecordingNotifier(upload_limit=LIMIT)
    async with FakeCometAPI() as api, job_core(tmp_path, api, clock, notifier=notifier) as core:
        job_id = await _finish(core, oversize)
        assert [d.kind for d in notifier.for_job(job_id)] == ["link"]


@pytest.fixture(scope="module")
def cut_short(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """An MP4 whose index is whole but whose media was cut off halfway (a download that stopped early)."""
    path = tmp_path_factory.mktemp("media") / "faststart.mp4"
    make_noisy_mp4(path, seconds=2.0, faststart=True)
    data = path.read_bytes()
    return data[: len(data) // 2]


@pytest.mark.parametrize(("video", "limit", "timeout", "outcome"), [
    ("no-index", 1000, 60.0, "unreadable"),  # an ftyp box, then filler: no MP4 inside
    ("cut-short", 250_000, 60.0, "failed"),
    ("oversize", 40_000, 60.0, "cannot_fit"),  # too long for so small a limit
    ("oversize", LIMIT, 0.01, "timed_out"),
])
async def test_what_cannot_be_fitted_goes_as_a_link_with_a_log_line(
    tmp_path: Path, clock: FakeClock, oversize: bytes, cut_short: bytes, caplog: pytest.LogCaptureFixture,
    video: str, limit: int, timeout: float, outcome: str,
) -> None:
    source = {"no-index": make_mp4_bytes(5000), "cut-short": cut_short, "oversize": oversize}[video]
    videos, metrics = _videos(tmp_path, clock), BotMetrics()
    notifier = RecordingNotifier(upload_limit=limit)
    fitter = InstrumentedFitter(VideoFitter(timeout=timeout), metrics)
    async with FakeCometAPI() as api, job_core(tmp_path, api, clock, notifier=notifier, videos=videos,
                                               fitter=fitter) as core:
        job_id = await _finish(core, source)
        assert [d.kind for d in notifier.for_job(job_id)] == ["link"]
        assert (await core.job(job_id)).status is JobStatus.DELIVERED
    [line] = [r.getMessage() for r in caplog.records if "was not fitted" in r.getMessage()]
    assert line.startswith(f"job={job_id} video of {len(source)} bytes is over the upload limit of {limit} bytes")
    assert f"({outcome}: " in line and line.endswith("posting a link")
    assert videos.path_for(job_id).read_bytes() == source
    assert sorted(p.name for p in videos.root.iterdir()) == [videos.name_for(job_id)]  # no copy, no part file
    assert metrics.registry.sample("veo_video_fits_total", outcome=outcome) == 1
    assert metrics.registry.sample("veo_video_fit_duration_seconds_count") == 1


async def test_a_failed_post_reuses_the_fitted_copy_instead_of_encoding_again(
    tmp_path: Path, clock: FakeClock, oversize: bytes
) -> None:
    videos, fitter = _videos(tmp_path, clock), CountingFitter(VideoFitter(timeout=60))
    notifier = RecordingNotifier(upload_limit=LIMIT, fail_next=[DeliveryFailed("Discord answered 503",
                                                                               permanent=False)])
    async with FakeCometAPI() as api, job_core(tmp_path, api, clock, notifier=notifier, videos=videos,
                                               fitter=fitter) as core:
        job_id = await _finish(core, oversize)
        assert notifier.for_job(job_id) == [] and videos.fitted_path_for(job_id).is_file()
        await core.tick(120)
        [delivery] = notifier.for_job(job_id)
        assert delivery.kind == "video" and len(delivery.video or b"") <= LIMIT
        assert fitter.calls == [LIMIT]  # encoded once
        assert not videos.fitted_path_for(job_id).exists()


async def test_a_failed_post_after_a_failed_fit_does_not_encode_again(
    tmp_path: Path, clock: FakeClock, oversize: bytes
) -> None:
    fitter = CountingFitter(VideoFitter(timeout=60))
    notifier = RecordingNotifier(upload_limit=40_000, fail_next=[DeliveryFailed("Discord answered 503",
                                                                                permanent=False)])
    async with FakeCometAPI() as api, job_core(tmp_path, api, clock, notifier=notifier, fitter=fitter) as core:
        job_id = await _finish(core, oversize)
        await core.tick(120)
        assert [d.kind for d in notifier.for_job(job_id)] == ["link"] and fitter.calls == [40_000]


async def test_a_delivery_given_up_leaves_no_fitted_copy(tmp_path: Path, clock: FakeClock, oversize: bytes) -> None:
    videos = _videos(tmp_path, clock)
    notifier = RecordingNotifier(upload_limit=LIMIT, fail_next=[DeliveryFailed("Discord answered 403",
                                                                               permanent=True)])
    async with FakeCometAPI() as api, job_core(tmp_path, api, clock, notifier=notifier, videos=videos,
                                               fitter=VideoFitter(timeout=60)) as core:
        job_id = await _finish(core, oversize)
        assert (await core.job(job_id)).next_poll_at is None  # given up
        assert not videos.fitted_path_for(job_id).exists() and videos.path_for(job_id).exists()


async def test_after_a_crash_a_fitted_copy_stays_only_while_its_result_waits(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with FakeCometAPI() as api, job_core(tmp_path, api, clock) as core:
        videos = _videos(tmp_path, clock)
        api.default_script = TaskScript(polls_until_done=0)
        waiting = await core.service.create_job(core.request())
        await core.store.mark_completed(waiting.id, "https://cdn.example/v.mp4", clock.now)
        delivered = await core.service.create_job(core.request(user=2))
        await core.store.mark_completed(delivered.id, "https://cdn.example/w.mp4", clock.now)
        await core.store.mark_delivered(delivered.id, "77", clock.now)
        videos.root.mkdir(parents=True)
        for job_id in (waiting.id, delivered.id, 99):  # 99: a job the store does not know
            videos.fitted_path_for(job_id).write_bytes(b"fitted")
            videos.path_for(job_id).write_bytes(b"original")
        part = videos.root / f".{videos.fitted_path_for(waiting.id).name}.x1y2.part"
        part.write_bytes(b"half")
        assert await remove_leftover_files(core.store, videos) == 3
        assert videos.fitted_path_for(waiting.id).exists() and not part.exists()
        assert not videos.fitted_path_for(delivered.id).exists() and not videos.fitted_path_for(99).exists()
        assert all(videos.path_for(job_id).exists() for job_id in (waiting.id, delivered.id, 99))  # kept


def test_the_pruner_removes_stale_fitted_copies_and_part_files_but_no_live_ones(
    tmp_path: Path, clock: FakeClock
) -> None:
    videos = _videos(tmp_path, clock, retention=7 * DAY)
    videos.root.mkdir()
    stale_copy, live_copy = videos.fitted_path_for(1), videos.fitted_path_for(2)
    stale_part = videos.root / f".{videos.fitted_path_for(3).name}.a1.part"
    live_part = videos.root / f".{videos.fitted_path_for(4).name}.b2.part"
    original = videos.path_for(1)
    foreign = videos.root / "1-notours.fit.mp4"
    for path in (stale_copy, live_copy, stale_part, live_part, original, foreign):
        path.write_bytes(b"x")
    old = clock() - STALE_WORK_AGE - 60
    for path in (stale_copy, stale_part, original, foreign):
        os.utime(path, (old, old))
    assert videos.prune() == 2
    assert not stale_copy.exists() and not stale_part.exists()
    assert live_copy.exists() and live_part.exists() and foreign.exists()
    assert original.exists()  # within its retention of a week
    assert videos.resolve(videos.fitted_path_for(2).name) is None  # never served as a stored video


async def test_an_error_from_the_fitter_is_counted_as_failed(tmp_path: Path) -> None:
    class Broken:
        async def fit(self, source: Path, dest: Path, limit: int) -> FitResult:
            raise OSError("no space left on device")

    metrics = BotMetrics()
    with pytest.raises(OSError, match="no space"):
        await InstrumentedFitter(Broken(), metrics).fit(tmp_path / "a", tmp_path / "b", 1)
    assert metrics.registry.sample("veo_video_fits_total", outcome=FitOutcome.FAILED.value) == 1


async def test_a_fitter_that_cannot_start_leaves_the_link(
    tmp_path: Path, clock: FakeClock, oversize: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = RecordingNotifier(upload_limit=LIMIT)
    fitter = VideoFitter(timeout=60, python=str(tmp_path / "no-such-python"))
    async with FakeCometAPI() as api, job_core(tmp_path, api, clock, notifier=notifier, fitter=fitter) as core:
        job_id = await _finish(core, oversize)
        assert [d.kind for d in notifier.for_job(job_id)] == ["link"]
    assert "(failed: FileNotFoundError" in caplog.text


@dataclass
class GatedFitter:
    """A fitter that holds every fit until the test opens the gate, then copies the first ``limit`` bytes."""

    gate: asyncio.Event = field(default_factory=asyncio.Event)
    calls: list[int] = field(default_factory=list)
    cancelled: int = 0

    async def fit(self, source: Path, dest: Path, limit: int) -> FitResult:
        self.calls.append(limit)
        try:
            await self.gate.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        dest.write_bytes(source.read_bytes()[:limit])
        return FitResult(FitOutcome.FITTED, size=limit)


async def test_other_jobs_go_on_while_a_video_is_fitted(tmp_path: Path, clock: FakeClock) -> None:
    fitter = GatedFitter()
    notifier = RecordingNotifier(upload_limit=3000)
    async with FakeCometAPI() as api, job_core(tmp_path, api, clock, notifier=notifier, fitter=fitter) as core:
        api.script_next_task(TaskScript(polls_until_done=0, video=make_mp4_bytes(5000)))
        big = await core.service.create_job(core.request(user=1))
        await core.tick(15)
        assert core.worker.delivery.fitting.running == (big.id,) and notifier.for_job(big.id) == []
        waiting = await core.job(big.id)
        # The fit holds the job's lease: no other process takes the job while it runs here.
        assert waiting.lease_owner == core.worker.owner and big.id in core.worker.leases.held()
        assert waiting.next_poll_at is not None and waiting.next_poll_at >= clock.now + core.worker.config.lease_seconds
        api.script_next_task(TaskScript(polls_until_done=0, video=make_mp4_bytes(2000)))
        small = await core.service.create_job(core.request(user=2))
        await core.tick(15)  # the encode does not hold up this tick
        assert [d.kind for d in notifier.for_job(small.id)] == ["video"]
        assert notifier.for_job(big.id) == [] and fitter.calls == [3000]
        for _ in range(20):  # a long encode, with no heartbeat here: each claim of the job counts no attempt
            await core.tick(10)
        still = await core.job(big.id)
        assert still.delivery_attempts == waiting.delivery_attempts and fitter.calls == [3000]
        assert still.lease_owner == core.worker.owner
        fitter.gate.set()
        await core.worker.delivery.fitting.wait()  # the post follows the fit at once, in this process
        [delivery] = notifier.for_job(big.id)
        assert delivery.kind == "video" and delivery.video == make_mp4_bytes(5000)[:3000]
        assert fitter.calls == [3000]


async def test_stopping_stops_the_fit_and_a_later_attempt_fits_again(tmp_path: Path, clock: FakeClock) -> None:
    fitter = GatedFitter()
    notifier = RecordingNotifier(upload_limit=3000)
    async with FakeCometAPI() as api, job_core(tmp_path, api, clock, notifier=notifier, fitter=fitter) as core:
        api.script_next_task(TaskScript(polls_until_done=0, video=make_mp4_bytes(5000)))
        job = await core.service.create_job(core.request())
        await core.tick(15)
        await core.worker.delivery.close()  # the process stops in the middle of the encode
        assert fitter.cancelled == 1 and core.worker.delivery.fitting.running == ()
        stopped = await core.job(job.id)
        assert stopped.lease_owner is None and stopped.next_poll_at == clock.now  # given up: due at once
        fitter.gate.set()
        await core.tick(0)
        await _after_fitting(core)
        assert [d.kind for d in notifier.for_job(job.id)] == ["video"] and fitter.calls == [3000, 3000]
