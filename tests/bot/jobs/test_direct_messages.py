"""The requester's direct message after the result: once, only when asked, after a crash, given up quietly."""

from __future__ import annotations

from pathlib import Path

from bot.jobs.ports import DeliveryFailed
from bot.jobs.records import JobStatus
from tests.conftest import FakeClock
from tests.fakes.comet.api import FakeCometAPI, TaskScript
from tests.support.core import Core, RecordingNotifier, job_core


async def _finished(core: Core, *, dm: bool, outcome: str = "success") -> int:
    core.api.script_next_task(TaskScript(polls_until_done=0, outcome=outcome))
    job = await core.service.create_job(core.request(dm_when_ready=dm))
    await core.tick(15)
    return job.id


async def test_the_message_follows_the_result_once(tmp_path: Path, clock: FakeClock) -> None:
    async with FakeCometAPI() as api, job_core(tmp_path, api, clock) as core:
        job_id = await _finished(core, dm=True)
        job = await core.job(job_id)
        assert job.status is JobStatus.DELIVERED and job.dm_sent_at == clock()
        assert core.notifier.dms == [(job_id, job.delivered_message_id)]
        assert await core.tick(100) == 0
        assert len(core.notifier.dms) == 1


async def test_a_failure_notice_is_followed_by_the_message_too(tmp_path: Path, clock: FakeClock) -> None:
    async with FakeCometAPI() as api, job_core(tmp_path, api, clock) as core:
        job_id = await _finished(core, dm=True, outcome="failure")
        [notice] = core.notifier.for_job(job_id)
        assert notice.kind == "failure" and core.notifier.dms == [(job_id, notice.message_id)]


async def test_no_message_unless_asked(tmp_path: Path, clock: FakeClock) -> None:
    async with FakeCometAPI() as api, job_core(tmp_path, api, clock) as core:
        job_id = await _finished(core, dm=False)
        assert (await core.job(job_id)).status is JobStatus.DELIVERED
        assert core.notifier.dms == [] and (await core.job(job_id)).dm_sent_at is None


async def test_a_crash_between_the_post_and_the_message_sends_it_at_the_next_start(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with FakeCometAPI() as api:
        async with job_core(tmp_path, api, clock) as core:
            job = await core.service.create_job(core.request(dm_when_ready=True))
            # The result is posted and recorded, then the process dies before the direct message.
            assert await core.store.mark_completed(job.id, None, clock())
            assert await core.store.begin_delivery(job.id, clock() + 60)
            assert await core.store.mark_delivered(job.id, "777", clock())
        notifier = RecordingNotifier()
        async with job_core(tmp_path, api, clock, notifier=notifier) as restarted:
            assert await restarted.tick(1) == 1
            assert notifier.dms == [(job.id, "777")] and notifier.deliveries == []
            assert await restarted.tick(100) == 0
            assert len(notifier.dms) == 1


async def test_members_who_refuse_direct_messages_are_given_up_on_quietly(tmp_path: Path, clock: FakeClock) -> None:
    async with FakeCometAPI() as api, job_core(tmp_path, api, clock) as core:
        core.notifier.fail_dm.append(DeliveryFailed("Discord answered 403 (code 50007)", permanent=True))
        job_id = await _finished(core, dm=True)
        job = await core.job(job_id)
        assert job.status is JobStatus.DELIVERED and len(core.notifier.for_job(job_id)) == 1
        assert job.dm_sent_at is not None and job.next_poll_at is None and core.notifier.dms == []
        assert await core.tick(1000) == 0


async def test_an_error_that_may_pass_is_retried_then_given_up(tmp_path: Path, clock: FakeClock) -> None:
    async with FakeCometAPI() as api, job_core(tmp_path, api, clock, delivery_retry_base=5.0,
                                                dm_give_up_after=100.0) as core:
        core.notifier.fail_dm.extend([DeliveryFailed("Discord answered 503", permanent=False), RuntimeError("bug")])
        job_id = await _finished(core, dm=True)
        job = await core.job(job_id)
        assert job.dm_sent_at is None and job.next_poll_at is not None and job.next_poll_at > clock()
        await core.tick(10)  # the second failure, unexpected: retried too
        assert (await core.job(job_id)).dm_sent_at is None and core.notifier.dms == []
        await core.tick(20)
        assert len(core.notifier.dms) == 1 and (await core.job(job_id)).dm_sent_at == clock()
        # Another job whose messages keep failing is given up once the window has passed.
        core.notifier.fail_dm.extend([DeliveryFailed("network", permanent=False)] * 50)
        other = await _finished(core, dm=True)
        for _ in range(20):
            await core.tick(30)
        gone = await core.job(other)
        assert gone.dm_sent_at is not None and gone.next_poll_at is None and len(core.notifier.dms) == 1
