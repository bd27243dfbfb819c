"""After a crash between two steps, the next process finishes them: stale status messages are updated, partial
downloads and the videos of finished jobs are removed, and a video still waiting to be posted is kept."""

from __future__ import annotations

from pathlib import Path

from bot.jobs.records import JobStatus
from tests.conftest import FakeClock
from tests.fakes.comet.api import FakeCometAPI, TaskScript
from tests.support.core import job_core


async def test_the_first_tick_finishes_what_a_crash_left_undone(tmp_path: Path, clock: FakeClock) -> None:
    async with FakeCometAPI(default_script=TaskScript(polls_until_done=0)) as api, \
            job_core(tmp_path, api, clock) as core:
        store, worker = core.store, core.worker
        delivered = await store.insert_job(core.request(prompt="delivered"), clock())
        waiting = await store.insert_job(core.request(prompt="waiting to be posted", user=2), clock())
        for _ in (delivered, waiting):
            [claimed] = await store.claim_submittable(worker.config.limits, clock(), clock() + 60, 1)
            await store.mark_submitted(claimed.id, f"task_{claimed.id}", clock(), clock() + 1e9)
            await store.mark_completed(claimed.id, None, clock())
            await store.set_status_shown(claimed.id, f"{JobStatus.COMPLETED}|100|0|None|False", clock(),
                                         message_id=500 + claimed.id)
        # The crash came after the result was recorded, before the video was removed and the status updated.
        await store.begin_delivery(delivered.id, clock() + 1e9)
        await store.mark_delivered(delivered.id, 999, clock())
        await store.postpone_delivery(waiting.id, clock() + 1e9, None)
        videos = worker.videos
        videos.root.mkdir(parents=True)
        for job in (delivered, waiting):
            videos.path_for(job.id).write_bytes(b"video")
        partial = videos.root / f".{videos.name_for(waiting.id)}.x1y2.part"
        partial.write_bytes(b"half a video")
        other = videos.root / "notes.txt"
        other.write_text("not the bot's")

        await worker.poll_once()

        assert not videos.path_for(delivered.id).exists() and not partial.exists()
        assert videos.path_for(waiting.id).exists() and other.exists()
        assert (delivered.id, JobStatus.DELIVERED) in [(j, s) for j, s, _, _ in core.notifier.statuses]
        refreshed = await store.get_job(delivered.id)
        assert refreshed is not None and (refreshed.status_rendered or "").startswith(f"{JobStatus.DELIVERED}|")
        assert await store.stale_status_messages(10) == []
