"""The worker on the adaptive schedule: learned first polls, restarts, 429 backoff, coalesced status edits."""

from __future__ import annotations

import random
from pathlib import Path

from bot.jobs.ports import DeliveryFailed
from bot.jobs.records import JobStatus, Limits, NewJob
from db.sqlite.store import SqliteJobStore
from tests.bot.jobs.test_schedule import veo_like
from tests.conftest import FakeClock
from tests.fakes.comet.api import FakeCometAPI, Fault, TaskScript
from tests.support.core import RecordingNotifier, job_core

INTERVAL = 10.0


async def finished_before(store: SqliteJobStore, clock: FakeClock, count: int = 60) -> None:
    """Jobs of the mix that finished before now, as a bot that has run for a while has them."""
    rng = random.Random(5)
    start = clock.now - 86_400
    ids = [(await store.insert_job(NewJob("discord", "99", "99", "1", "earlier", "veo3.1-fast", "16x9"), start)).id
           for _ in range(count)]
    await store.claim_submittable(Limits(count, count, count), start, start + 60, count)
    for i, job_id in enumerate(ids):
        submitted = start + 100 * i
        seen = submitted + veo_like(rng) + INTERVAL / 2
        await store.mark_submitted(job_id, f"old-{job_id}", submitted, seen)
        await store.mark_completed(job_id, None, seen)
        await store.mark_delivered(job_id, 1, seen)


async def test_cold_start_polls_on_the_fixed_interval(tmp_path: Path, clock: FakeClock) -> None:
    async with FakeCometAPI(clock=clock) as api, job_core(tmp_path, api, clock) as core:
        api.script_next_task(TaskScript(seconds_until_done=60))
        job = await core.service.create_job(core.request())
        assert job.next_poll_at is not None and 8 <= job.next_poll_at - clock.now <= 12
        assert core.worker.schedule.estimate("veo3.1-fast", clock.now) is None


async def test_learned_durations_survive_a_restart_and_set_the_first_poll(tmp_path: Path, clock: FakeClock) -> None:
    async with FakeCometAPI(clock=clock) as api:
        async with job_core(tmp_path, api, clock) as core:
            await finished_before(core.store, clock)
        # A new worker on the same database (a restart) learns the durations before its first tick.
        async with job_core(tmp_path, api, clock) as core:
            await core.tick()
            estimate = core.worker.schedule.estimate("veo3.1-fast", clock.now)
            assert estimate is not None and estimate.finished == 60
            earliest = estimate.quantiles[0]
            assert earliest is not None and 25 < earliest < 50
            api.script_next_task(TaskScript(seconds_until_done=70, progress_style="fixed50"))
            job = await core.service.create_job(core.request())
            assert job.next_poll_at is not None
            assert job.next_poll_at - clock.now >= earliest - INTERVAL / 4 > 2 * INTERVAL
            for _ in range(int(earliest // 5) - 2):
                await core.tick(5)
            assert api.get_count() == 0  # nothing before the earliest plausible completion
            for _ in range(40):
                await core.tick(2)
            polls = [r for r in api.requests_for("get")]
            assert (await core.job(job.id)).status is JobStatus.DELIVERED
            assert 2 <= len(polls) <= 5  # then every interval until it is done at 70 s


async def test_dense_polls_are_planned_one_tick_gap_early(tmp_path: Path, clock: FakeClock) -> None:
    # A due job is handled at the next tick, up to one tick gap late; planned that much early, a job
    # without usable progress is still asked about once per interval at most.
    async with FakeCometAPI(clock=clock) as api, job_core(tmp_path, api, clock) as core:
        await finished_before(core.store, clock)
        await core.tick()
        api.script_next_task(TaskScript(seconds_until_done=600, progress_style="fixed50"))
        job = await core.service.create_job(core.request())
        assert job.next_poll_at is not None
        clock.advance(job.next_poll_at - clock.now)
        assert await core.worker.poll_once() == 1
        polled = await core.job(job.id)
        gap = core.worker.config.tick_gap
        assert gap > 0 and polled.polls == 1
        assert polled.next_poll_at is not None and polled.next_poll_at - clock.now == INTERVAL - gap


async def test_a_rate_limited_poll_slows_every_job_down(tmp_path: Path, clock: FakeClock) -> None:
    async with FakeCometAPI(clock=clock) as api, job_core(tmp_path, api, clock) as core:
        api.default_script = TaskScript(seconds_until_done=300)
        job = await core.service.create_job(core.request())
        other = await core.service.create_job(core.request(user=2))
        api.inject("get", Fault.rate_limited(retry_after="0"), times=6)  # both jobs' whole retry budget
        clock.advance(12)
        polled = await core.worker.poll_once()
        assert polled == 2
        limited = [await core.job(j.id) for j in (job, other)]
        assert all(j.attempts == 1 and j.next_poll_at is not None for j in limited)
        # Two 429s: every gap stretched twice, then four times (rather than the error backoff's 2x each).
        assert core.worker.schedule.backoff(clock.now) == 4.0
        waits = sorted(j.next_poll_at - clock.now for j in limited if j.next_poll_at is not None)
        assert waits[0] >= 2 * INTERVAL * 0.8 and waits[1] >= 4 * INTERVAL * 0.8


async def test_the_status_goes_straight_to_delivered_when_the_post_follows(tmp_path: Path, clock: FakeClock) -> None:
    async with FakeCometAPI(clock=clock) as api, job_core(tmp_path, api, clock) as core:
        api.script_next_task(TaskScript(seconds_until_done=15))
        job = await core.service.create_job(core.request())
        await core.tick(12)
        await core.tick(12)
        seen = [s for (i, s, _, _) in core.notifier.statuses if i == job.id]
        assert seen[-1] is JobStatus.DELIVERED and JobStatus.COMPLETED not in seen


async def test_the_status_says_done_while_the_post_has_to_wait(tmp_path: Path, clock: FakeClock) -> None:
    notifier = RecordingNotifier(fail_next=[DeliveryFailed("Discord answered 503", permanent=False)])
    async with FakeCometAPI(clock=clock) as api, job_core(tmp_path, api, clock, notifier=notifier) as core:
        api.script_next_task(TaskScript(seconds_until_done=15))
        job = await core.service.create_job(core.request())
        await core.tick(12)
        await core.tick(12)
        seen = [s for (i, s, _, _) in notifier.statuses if i == job.id]
        assert seen[-1] is JobStatus.COMPLETED and notifier.deliveries == []
        await core.tick(60)
        assert [s for (i, s, _, _) in notifier.statuses if i == job.id][-1] is JobStatus.DELIVERED


async def test_progress_alone_is_shown_every_three_status_intervals(tmp_path: Path, clock: FakeClock) -> None:
    async with FakeCometAPI(clock=clock) as api, job_core(tmp_path, api, clock, status_edit_interval=10.0) as core:
        api.script_next_task(TaskScript(seconds_until_done=200))
        job = await core.service.create_job(core.request())
        for _ in range(19):
            await core.tick(10)
        running = [(s, p) for (i, s, p, _) in core.notifier.statuses if i == job.id and s is JobStatus.RUNNING]
        gets = api.get_count()
        assert gets >= 10  # about one poll per interval on the cold schedule
        assert 3 <= len(running) <= gets / 2  # the state change, then about one progress edit per 30 s
