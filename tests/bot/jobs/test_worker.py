"""The job lifecycle end to end against the fake CometAPI: every transition, limits, errors, restarts."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from bot.jobs.config import CoreConfig
from bot.jobs.errors import InvalidInput
from bot.jobs.ports import DeliveryFailed
from bot.jobs.provider import ImageInput
from bot.jobs.records import JobStatus, Limits, Workspace
from bot.jobs.worker import INTERRUPTED_SUBMISSION, LOST_INPUTS, TIMED_OUT, JobWorker
from tests.conftest import FakeClock
from tests.fakes.comet.api import FakeCometAPI, Fault, TaskScript, make_mp4_bytes
from tests.support.core import RecordingNotifier, job_core

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x01" * 64


async def test_text_job_goes_from_queued_to_delivered(tmp_path: Path, clock: FakeClock, core_database_url: str) -> None:
    video = make_mp4_bytes(10_000)
    async with FakeCometAPI() as api, job_core(tmp_path, api, clock, database_url=core_database_url) as core:
        api.script_next_task(TaskScript(polls_until_done=2, video=video))
        job = await core.service.create_job(core.request(prompt="a fox"))
        assert job.status is JobStatus.SUBMITTED and job.task_id and job.status_message_id == "1000"
        create = api.create_requests()[0]
        assert create.fields["prompt"] == "a fox" and create.fields["model"] == "veo3.1-fast"
        assert create.fields["size"] == "16x9" and create.files == []
        assert await core.tick(1) == 0  # nothing due before the first poll
        await core.tick(15)
        assert (await core.job(job.id)).status is JobStatus.RUNNING
        await core.tick(15)
        await core.tick(15)
        done = await core.job(job.id)
        assert done.status is JobStatus.DELIVERED and done.delivered_message_id is not None
        [delivery] = core.notifier.for_job(job.id)
        assert delivery.kind == "video" and delivery.video == video
        assert done.delivered_message_id == delivery.message_id
        assert not core.worker.video_path(done).exists()
        seen = [s for (i, s, _, _) in core.notifier.statuses if i == job.id]
        # Posted once the provider accepted it (no "queued" message edited a moment later).
        assert seen[0] is JobStatus.SUBMITTED and JobStatus.RUNNING in seen and seen[-1] is JobStatus.DELIVERED
        assert await core.tick(100) == 0  # nothing more to do, no duplicate
        assert len(core.notifier.for_job(job.id)) == 1


async def test_images_are_sent_in_order_and_then_removed(
    tmp_path: Path, clock: FakeClock, core_database_url: str
) -> None:
    async with FakeCometAPI() as api, job_core(tmp_path, api, clock, database_url=core_database_url) as core:
        images = [ImageInput(PNG, "image.png", "image/png"), ImageInput(JPEG, "last_frame.jpg", "image/jpeg")]
        job = await core.service.create_job(core.request(), images)
        assert job.image_count == 2
        files = api.create_requests()[0].files
        assert [(f.name, f.data) for f in files] == [("input_reference", PNG), ("input_reference", JPEG)]
        # Kept in the database with the job, never on this machine's disk, and forgotten once sent.
        assert job.input_dir is None and not (tmp_path / "data" / "inputs").exists()
        assert await core.store.job_images(job.id) == []


async def test_a_queued_jobs_images_wait_in_the_database_until_it_is_sent(
    tmp_path: Path, clock: FakeClock, core_database_url: str
) -> None:
    async with FakeCometAPI() as api, job_core(
        tmp_path, api, clock, database_url=core_database_url, limits=Limits(1, 10, 20),
    ) as core:
        api.default_script = TaskScript(polls_until_done=0)
        await core.service.create_job(core.request())
        images = [ImageInput(PNG, "image.png", "image/png")]
        queued = await core.service.create_job(core.request(), images)
        assert queued.status is JobStatus.QUEUED and await core.store.job_images(queued.id) == images
        await core.tick(15)
        assert (await core.job(queued.id)).status is JobStatus.SUBMITTED
        assert api.create_requests()[1].files[0].data == PNG
        assert await core.store.job_images(queued.id) == []


async def test_a_job_queued_with_image_files_before_the_upgrade_is_still_sent(
    tmp_path: Path, clock: FakeClock, core_database_url: str
) -> None:
    folder = tmp_path / "inputs" / "legacy"
    folder.mkdir(parents=True)
    (folder / "0.bin").write_bytes(PNG)
    (folder / "inputs.json").write_text(
        '[{"file": "0.bin", "filename": "image.png", "content_type": "image/png"}]', encoding="utf-8")
    async with FakeCometAPI() as api, job_core(tmp_path, api, clock, database_url=core_database_url) as core:
        api.default_script = TaskScript(polls_until_done=0)
        old = await core.store.insert_job(dataclasses.replace(core.request(), image_count=1, input_dir=str(folder)),
                                          clock())
        await core.tick(1)
        assert (await core.job(old.id)).status is not JobStatus.QUEUED
        assert api.create_requests()[0].files[0].data == PNG
        assert not folder.exists()  # removed once sent, as before


async def test_a_job_whose_images_are_gone_fails_without_being_sent(
    tmp_path: Path, clock: FakeClock, core_database_url: str
) -> None:
    async with FakeCometAPI() as api, job_core(tmp_path, api, clock, database_url=core_database_url) as core:
        lost = await core.store.insert_job(dataclasses.replace(core.request(), image_count=1), clock())
        await core.tick(1)
        failed = await core.job(lost.id)
        assert failed.status is JobStatus.FAILED and failed.error == LOST_INPUTS
        assert api.create_requests() == []


@pytest.mark.parametrize(("images", "says"), [
    ([ImageInput(PNG, "image.gif", "image/gif")], "must be a PNG, JPEG or WebP image"),
    ([ImageInput(JPEG, "image.png", "image/png")], "is not a valid PNG image"),
    ([ImageInput(PNG + b"\x00" * 2048, "image.png", "image/png")], "the limit is"),
    ([ImageInput(PNG, "a.png", "image/png")] * 3, "at most two images"),
])
async def test_images_no_job_may_carry_are_refused_and_nothing_is_stored(
    tmp_path: Path, clock: FakeClock, core_database_url: str, images: list[ImageInput], says: str
) -> None:
    async with FakeCometAPI() as api, job_core(
        tmp_path, api, clock, database_url=core_database_url, max_image_bytes=1024,
    ) as core:
        with pytest.raises(InvalidInput) as refused:
            await core.service.create_job(core.request(), images)
        assert says in refused.value.user_message
        assert await core.store.count_by_status() == {} and api.create_requests() == []


async def test_per_user_cap_queues_and_frees_slots_in_order(
    tmp_path: Path, clock: FakeClock, core_database_url: str
) -> None:
    async with FakeCometAPI() as api, job_core(
        tmp_path, api, clock, database_url=core_database_url, limits=Limits(2, 10, 20),
    ) as core:
        api.default_script = TaskScript(polls_until_done=0)
        jobs = [await core.service.create_job(core.request(user=7)) for _ in range(3)]
        assert [j.status for j in jobs] == [JobStatus.SUBMITTED, JobStatus.SUBMITTED, JobStatus.QUEUED]
        assert await core.service.position(jobs[2]) == 3
        other = await core.service.create_job(core.request(user=8))
        assert other.status is JobStatus.SUBMITTED  # another user's job is not stuck behind user 7's
        await core.tick(15)
        assert [(await core.job(j.id)).status for j in jobs[:2]] == [JobStatus.DELIVERED] * 2
        assert (await core.job(jobs[2].id)).status is JobStatus.SUBMITTED
        assert len(api.create_requests()) == 4


async def test_provider_failure_reasons_are_sanitised(tmp_path: Path, clock: FakeClock, core_database_url: str) -> None:
    async with FakeCometAPI() as api, job_core(tmp_path, api, clock, database_url=core_database_url) as core:
        api.script_next_task(TaskScript(polls_until_done=0, outcome="failure", failure_style="fail_reason",
                                        failure_message="Upstream overloaded (request id: 123abc)"))
        api.script_next_task(TaskScript.safety_failure(polls_until_done=0, final_status="FAILURE"))
        plain = await core.service.create_job(core.request())
        unsafe = await core.service.create_job(core.request())
        await core.tick(15)
        failed = await core.job(plain.id)
        assert failed.status is JobStatus.FAILED and failed.error == "Upstream overloaded"
        assert not failed.safety_rejection
        rejected = await core.job(unsafe.id)
        assert rejected.status is JobStatus.FAILED and rejected.safety_rejection
        assert "request id" not in (rejected.error or "")
        assert [d.kind for d in core.notifier.deliveries] == ["failure", "failure"]
        assert (await core.job(plain.id)).delivered_message_id is not None


async def test_job_times_out(tmp_path: Path, clock: FakeClock, core_database_url: str) -> None:
    async with FakeCometAPI() as api, job_core(
        tmp_path, api, clock, database_url=core_database_url, job_timeout=60.0,
    ) as core:
        api.script_next_task(TaskScript(polls_until_done=10_000))
        job = await core.service.create_job(core.request())
        for _ in range(6):
            await core.tick(12)
        timed_out = await core.job(job.id)
        assert timed_out.status is JobStatus.TIMED_OUT and timed_out.error == TIMED_OUT
        [notice] = core.notifier.for_job(job.id)
        assert notice.kind == "failure"


async def test_refused_submission_fails_the_job_without_retrying(
    tmp_path: Path, clock: FakeClock, core_database_url: str
) -> None:
    async with FakeCometAPI() as api, job_core(tmp_path, api, clock, database_url=core_database_url) as core:
        api.inject("create", Fault.http(401, message="invalid api key sk-abc"))
        job = await core.service.create_job(core.request())
        assert job.status is JobStatus.FAILED and "misconfigured" in (job.error or "")
        api.inject("create", Fault.server_error(503))
        uncertain = await core.service.create_job(core.request())
        assert uncertain.status is JobStatus.FAILED
        assert len(api.create_requests()) == 2  # one POST each: never resubmitted
        assert [d.kind for d in core.notifier.deliveries] == ["failure", "failure"]


async def test_poll_errors_back_off_and_recover(tmp_path: Path, clock: FakeClock, core_database_url: str) -> None:
    async with FakeCometAPI() as api, job_core(tmp_path, api, clock, database_url=core_database_url) as core:
        api.script_next_task(TaskScript(polls_until_done=0))
        job = await core.service.create_job(core.request())
        api.inject("get", Fault.server_error(503), times=3)  # the client's whole retry budget
        await core.tick(15)
        errored = await core.job(job.id)
        assert errored.status is JobStatus.SUBMITTED and errored.attempts == 1
        assert errored.next_poll_at is not None and errored.next_poll_at - clock.now >= 10.0
        assert await core.tick(5) == 0  # backing off
        await core.tick(40)
        assert (await core.job(job.id)).status is JobStatus.DELIVERED


async def test_one_bad_job_does_not_stop_the_others(tmp_path: Path, clock: FakeClock, core_database_url: str) -> None:
    notifier = RecordingNotifier(fail_next=[RuntimeError("bug in the notifier")])
    async with FakeCometAPI() as api, job_core(
        tmp_path, api, clock, database_url=core_database_url, notifier=notifier,
    ) as core:
        api.default_script = TaskScript(polls_until_done=0)
        jobs = [await core.service.create_job(core.request(user=u)) for u in (1, 2, 3)]
        await core.tick(15)
        states = [(await core.job(j.id)).status for j in jobs]
        assert states.count(JobStatus.DELIVERED) == 2 and states.count(JobStatus.COMPLETED) == 1
        await core.tick(60)  # the failed delivery is retried on its own schedule
        assert [(await core.job(j.id)).status for j in jobs] == [JobStatus.DELIVERED] * 3
        assert sorted(d.job_id for d in notifier.deliveries) == sorted(j.id for j in jobs)


async def test_unknown_task_fails_the_job(tmp_path: Path, clock: FakeClock, core_database_url: str) -> None:
    async with FakeCometAPI() as api, job_core(tmp_path, api, clock, database_url=core_database_url) as core:
        job = await core.service.create_job(core.request())
        api.tasks.clear()  # the provider forgot it
        await core.tick(15)
        assert (await core.job(job.id)).status is JobStatus.FAILED


async def test_a_new_instance_resumes_unfinished_jobs(tmp_path: Path, clock: FakeClock, core_database_url: str) -> None:
    async with FakeCometAPI() as api:
        api.default_script = TaskScript(polls_until_done=1)
        async with job_core(tmp_path, api, clock, database_url=core_database_url, limits=Limits(1, 10, 20)) as first:
            running = await first.service.create_job(first.request())
            queued = await first.service.create_job(first.request())
            assert queued.status is JobStatus.QUEUED
        async with job_core(tmp_path, api, clock, database_url=core_database_url, limits=Limits(1, 10, 20)) as second:
            for _ in range(6):
                await second.tick(15)
            assert (await second.job(running.id)).status is JobStatus.DELIVERED
            assert (await second.job(queued.id)).status is JobStatus.DELIVERED
            assert len(second.notifier.deliveries) == 2
            assert len(api.create_requests()) == 2


async def test_submission_a_dead_process_left_is_reported_at_start_or_when_its_lease_runs_out(
    tmp_path: Path, clock: FakeClock, core_database_url: str
) -> None:
    async with FakeCometAPI() as api, job_core(tmp_path, api, clock, database_url=core_database_url) as core:
        job = await core.store.insert_job(core.request(), clock.now)
        # Claimed by another process, which died during the POST: its lease has not run out.
        lease = core.worker.config.lease_seconds
        [claimed] = await core.store.claim_submittable(Limits(9, 9, 9), clock.now, clock.now + lease, 9, "dead")
        assert claimed.status is JobStatus.SUBMITTING
        await core.tick(0)
        if not core_database_url.startswith("sqlite"):
            # Several processes share PostgreSQL: the owner might be alive until its lease runs out.
            assert (await core.job(job.id)).status is JobStatus.SUBMITTING
            await core.tick(lease + 1)
        failed = await core.job(job.id)
        assert failed.status is JobStatus.FAILED and failed.error == INTERRUPTED_SUBMISSION
        assert failed.refunded  # it does not count against the member's daily quota
        assert api.create_requests() == []  # never sent again
        [notice] = core.notifier.for_job(job.id)
        assert notice.kind == "failure" and notice.error == INTERRUPTED_SUBMISSION


async def test_own_submission_unanswered_after_the_grace_is_reported(
    tmp_path: Path, clock: FakeClock, core_database_url: str
) -> None:
    async with FakeCometAPI() as api, job_core(tmp_path, api, clock, database_url=core_database_url) as core:
        await core.tick(0)  # this process has started: nothing was left in submitting
        job = await core.store.insert_job(core.request(), clock.now)
        # Claimed by this process, whose submit step then never recorded an answer.
        await core.store.claim_submittable(Limits(9, 9, 9), clock.now, clock.now + 120, 9)
        await core.tick(60)
        assert (await core.job(job.id)).status is JobStatus.SUBMITTING
        await core.tick(61)
        failed = await core.job(job.id)
        assert failed.status is JobStatus.FAILED and failed.error == INTERRUPTED_SUBMISSION
        assert api.create_requests() == []
        [notice] = core.notifier.for_job(job.id)
        assert notice.kind == "failure"


async def test_a_submission_under_way_at_the_first_tick_is_not_taken_for_interrupted(
    tmp_path: Path, clock: FakeClock, core_database_url: str
) -> None:
    async with FakeCometAPI() as api, job_core(tmp_path, api, clock, database_url=core_database_url) as core:
        api.inject("create", Fault.slow(0.5))  # the create is still in flight when the first tick runs
        job = await core.store.insert_job(core.request(), clock.now)
        submitting = asyncio.create_task(core.worker.dispatch())
        while not api.create_requests():
            await asyncio.sleep(0.01)
        assert (await core.job(job.id)).status is JobStatus.SUBMITTING
        await core.tick(0)
        await submitting
        submitted = await core.job(job.id)
        assert submitted.status is JobStatus.SUBMITTED and submitted.error is None
        assert core.notifier.for_job(job.id) == [] and len(api.create_requests()) == 1


async def test_delivery_is_retried_then_given_up_when_permanent(
    tmp_path: Path, clock: FakeClock, core_database_url: str
) -> None:
    notifier = RecordingNotifier(fail_next=[DeliveryFailed("Discord answered 503", permanent=False),
                                            DeliveryFailed("Discord answered 403", permanent=True)])
    async with FakeCometAPI() as api, job_core(
        tmp_path, api, clock, database_url=core_database_url, notifier=notifier,
    ) as core:
        api.default_script = TaskScript(polls_until_done=0)
        job = await core.service.create_job(core.request())
        await core.tick(15)
        first = await core.job(job.id)
        assert first.status is JobStatus.COMPLETED and first.delivery_attempts == 1
        assert first.next_poll_at is not None and first.next_poll_at > clock.now
        await core.tick(60)
        parked = await core.job(job.id)
        assert parked.delivery_attempts == 2 and parked.next_poll_at is None
        assert parked.error == "Could not post the result: Discord answered 403"
        await core.tick(10_000)
        assert notifier.deliveries == []


async def test_cancelled_job_is_never_delivered(tmp_path: Path, clock: FakeClock, core_database_url: str) -> None:
    async with FakeCometAPI() as api, job_core(tmp_path, api, clock, database_url=core_database_url) as core:
        api.script_next_task(TaskScript(polls_until_done=0))
        job = await core.service.create_job(core.request(user=5))
        cancelled = await core.service.cancel(str(job.id), Workspace("discord", "10"), "5", is_moderator=False)
        assert cancelled.status is JobStatus.CANCELLED
        await core.tick(15)
        await core.tick(100)
        assert core.notifier.deliveries == []
        assert api.get_count() == 0
        assert core.notifier.statuses[-1][1] is JobStatus.CANCELLED


async def test_progress_edits_are_coalesced(tmp_path: Path, clock: FakeClock, core_database_url: str) -> None:
    async with FakeCometAPI() as api, job_core(tmp_path, api, clock, database_url=core_database_url, poll_interval=2.0,
                                                 status_edit_interval=10.0) as core:
        api.script_next_task(TaskScript(polls_until_done=20))
        job = await core.service.create_job(core.request())
        for _ in range(20):
            await core.tick(2.5)
        running = [p for (i, s, p, _) in core.notifier.statuses if i == job.id and s is JobStatus.RUNNING]
        polls = api.get_count()
        assert polls >= 15
        assert 1 <= len(running) <= polls * 2.5 / 10 + 2  # about one edit per 10 s, not one per poll
        assert running == sorted(running)


async def test_progress_edits_share_a_bot_wide_budget(
    tmp_path: Path, clock: FakeClock, core_database_url: str
) -> None:
    async with FakeCometAPI() as api, job_core(
        tmp_path, api, clock, database_url=core_database_url, limits=Limits(per_user=40, per_guild=40, total=40),
        poll_interval=10.0,
        status_edit_interval=10.0, progress_edit_interval=10.0, progress_edits_per_second=0.1,
    ) as core:
        api.default_script = TaskScript(polls_until_done=50)
        jobs = [await core.service.create_job(core.request(user=i)) for i in range(30)]
        posted = len(core.notifier.statuses)
        assert posted == 30 and all(s is JobStatus.SUBMITTED for (_, s, _, _) in core.notifier.statuses)
        for _ in range(10):
            await core.tick(10)
        edits = core.notifier.statuses[posted:]
        assert api.get_count() >= 150  # every job polled on (nearly) every tick: progress changed each time
        # 100 simulated seconds at 0.1 edit/s after a burst of 10: at most 20 progress edits for 30 jobs,
        # where each job alone would have been allowed one per 10 s (300).
        assert 10 <= len(edits) <= 21
        assert {s for (_, s, _, _) in edits} == {JobStatus.RUNNING}
        # News is never held back by the budget: a cancel is shown at once.
        await core.service.cancel(str(jobs[3].id), jobs[3].workspace, jobs[3].user_id, is_moderator=False)
        assert core.notifier.statuses[-1][:2] == (jobs[3].id, JobStatus.CANCELLED)


async def test_a_slow_submission_does_not_hold_back_the_status_message(
    tmp_path: Path, clock: FakeClock, core_database_url: str
) -> None:
    async with FakeCometAPI() as api, job_core(
        tmp_path, api, clock, database_url=core_database_url, first_status_wait=0.05,
    ) as core:
        api.inject("create", Fault.slow(0.5))
        job = await core.service.create_job(core.request())
        seen = [(s, p) for (i, s, p, _) in core.notifier.statuses if i == job.id]
        # Posted while it was still being sent, then edited once the provider accepted it; one message.
        assert [s for s, _ in seen] == [JobStatus.SUBMITTING, JobStatus.SUBMITTED]
        assert job.status is JobStatus.SUBMITTED and job.status_message_id == "1000"


async def test_too_large_video_is_delivered_as_a_link(tmp_path: Path, clock: FakeClock, core_database_url: str) -> None:
    async with FakeCometAPI() as api, job_core(
        tmp_path, api, clock, database_url=core_database_url, max_download_bytes=1000,
    ) as core:
        api.script_next_task(TaskScript(polls_until_done=0, video=make_mp4_bytes(5000)))
        job = await core.service.create_job(core.request())
        await core.tick(15)
        [delivery] = core.notifier.for_job(job.id)
        assert delivery.kind == "link" and (await core.job(job.id)).video_url


def test_status_messages_and_delivery_follow_a_replaced_worker_clock(tmp_path: Path) -> None:
    worker = JobWorker(None, None, None, CoreConfig(limits=Limits(1, 1, 1), data_dir=tmp_path),  # type: ignore[arg-type]
                       clock=lambda: 1.0)
    worker.clock = lambda: 2.0  # as a benchmark does with its simulated clock
    assert worker.status.clock() == 2.0 and worker.delivery.clock() == 2.0
