"""The Slack notifier end to end: the real core and the real slack_sdk client against the fake Slack."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from bot.i18n import catalogue
from bot.jobs.records import JobStatus
from tests.fakes.comet.api import TaskScript, make_mp4_bytes
from tests.slack.rig import slack_core, slack_world

NASTY = "a fox <!channel> <!here> @everyone @here <!subteam^S0ABC|@team> <@U999> &lt;!here&gt; <https://x.y|z>"


async def test_status_posted_once_kept_current_and_the_video_uploaded_once(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as w, slack_core(w) as core:
        w.api.default_script = TaskScript(polls_until_done=3)
        job = await core.service.create_job(w.request())
        [status] = w.statuses()
        assert job.status_message_id == status.ts and not status.edited
        assert status.blocks is not None and status.blocks[1]["text"] == {
            "type": "plain_text", "text": "a red fox in snow", "emoji": True}
        assert status.metadata == {"event_type": "veo_job", "event_payload": {"job": job.id, "kind": "status",
                                                                              "salt": "s1"}}
        await core.tick(30)
        await core.tick(30)
        assert "Generating" in str(status.blocks) and status.edited
        done = await core.until(job.id, JobStatus.DELIVERED)
        assert [m.ts for m in w.statuses()] == [status.ts]
        [video] = w.videos()
        assert done.delivered_message_id == video.ts and video.files[0]["name"] == f"veo-{job.id}.mp4"
        assert "Delivered" in str(status.blocks) and "|Jump to the video>" in str(status.blocks)
        assert w.results() == [video]
        file = w.slack.files()[-1]
        assert file.content == TaskScript().video and file.title == f"Veo video · job #{job.id}"
        # The video's message mentions the requester and nobody else; it carries the job's buttons.
        pings = {m.ts: p for m, p in w.slack.pings(w.channel)}
        assert pings[video.ts].users == {w.member.id} and not (pings[video.ts].groups or pings[video.ts].broadcasts)
        assert [e["action_id"] for e in video.blocks[-1]["elements"]] == [f"veo:regen:{job.id}",
                                                                          f"veo:delete:{job.id}"]
        assert not video.thread_ts
        upload = w.slack.calls("files.completeUploadExternal")[0]
        assert "initial_comment" not in upload.args and upload.args["channel_id"] == w.channel.id
        assert len(w.slack.calls("chat.postMessage")) == 1
        assert all(not c.args.get("link_names") and c.args.get("parse") in (None, "none")
                   for c in w.slack.calls("chat.postMessage"))


async def test_a_prompt_full_of_mentions_pings_nobody_but_the_requester(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as w, slack_core(w) as core:
        w.api.default_script = TaskScript(polls_until_done=1)
        ok = await core.service.create_job(w.request(NASTY))
        w.api.script_next_task(TaskScript.safety_failure(polls_until_done=0, failure_message=f"refused {NASTY}"))
        refused = await core.service.create_job(w.request(NASTY))
        await core.until(ok.id, JobStatus.DELIVERED)
        await core.until(refused.id, JobStatus.FAILED)
        messages = w.slack.pings(w.channel)
        assert len(messages) == 4 and len(w.statuses()) == 2  # two status messages, a video, a notice
        for message, pings in messages:
            assert pings.users <= {w.member.id} and not pings.groups and not pings.broadcasts, message.text
        assert all(pings.users == {w.member.id} for message, pings in messages if message in w.results())
        # The prompt is shown as written, in plain text.
        assert all(m.blocks is not None and m.blocks[1]["text"]["text"] == NASTY for m in w.statuses())


async def test_a_file_the_workspace_refuses_goes_out_as_a_link(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as w, slack_core(w) as core:
        w.slack.team.file_size_limit = 1000
        w.api.default_script = TaskScript(polls_until_done=0, video=make_mp4_bytes(5000))
        job = await core.service.create_job(w.request())
        done = await core.until(job.id, JobStatus.DELIVERED)
        [link] = w.results()
        assert w.videos() == [] and done.delivered_message_id == link.ts
        assert done.video_url and done.video_url in str(link.blocks) and "too large to upload here" in link.text
        assert [c.error for c in w.slack.calls("files.getUploadURLExternal")] == ["file_upload_size_restricted"]
        assert link.pings.users == {w.member.id}


async def test_a_video_over_the_notifiers_limit_is_never_uploaded(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as w, slack_core(w, notifier_options={"max_upload_bytes": 1000}) as core:
        w.api.default_script = TaskScript(polls_until_done=0, video=make_mp4_bytes(5000))
        job = await core.service.create_job(w.request())
        await core.until(job.id, JobStatus.DELIVERED)
        assert w.videos() == [] and w.slack.calls("files.getUploadURLExternal") == []
        [link] = w.results()
        assert "download it" in link.text or "download it" in str(link.blocks)


async def test_a_failure_is_a_new_message_in_the_members_language(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as w, slack_core(w) as core:
        w.api.default_script = TaskScript.safety_failure(polls_until_done=0)
        job = await core.service.create_job(w.request(locale="ko-KR"))
        done = await core.until(job.id, JobStatus.FAILED)
        [notice] = w.results()
        ko = catalogue("ko")
        assert notice.text.startswith(ko["<@{user}> your video job #{job} failed."].format(user=w.member.id,
                                                                                         job=job.id))
        assert ko["Try rephrasing the prompt (or using another image) and run /veo again."] in notice.text
        assert done.delivered_message_id == notice.ts and "request id" not in notice.text
        assert notice.pings.users == {w.member.id}
        # The status message says it too, in Korean.
        [status] = w.statuses()
        assert ko["❌ Failed"] in str(status.blocks)


async def test_the_ready_dm_links_the_result(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as w, slack_core(w) as core:
        w.api.default_script = TaskScript(polls_until_done=0)
        job = await core.service.create_job(dataclasses.replace(w.request(), dm_when_ready=True))
        done = await core.until(job.id, JobStatus.DELIVERED)
        assert done.dm_sent_at is not None
        [dm] = w.slack.messages(w.slack.im(w.member))
        [video] = w.videos()
        assert dm.text.startswith(f"🎬 Your video #{job.id} is ready: <https://")
        assert video.ts.replace(".", "") in dm.text and dm.user == w.slack.team.bot_user_id


async def test_a_job_in_a_thread_gets_its_result_in_the_status_messages_thread(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as w, slack_core(w) as core:
        w.api.default_script = TaskScript(polls_until_done=0)
        job = await core.service.create_job(dataclasses.replace(w.request(), in_thread=True))
        await core.until(job.id, JobStatus.DELIVERED)
        [status] = w.statuses()
        [video] = w.videos()
        assert video.thread_ts == status.ts and status.ts != video.ts
