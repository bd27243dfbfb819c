"""``/veo`` in Slack end to end: the real Bolt app started by our code, over Socket Mode, against the fake Slack
and the fake CometAPI: the job, the private answer with a link, the status message and one video."""

from __future__ import annotations

from pathlib import Path

from bot.jobs.records import JobStatus
from tests.fakes.comet.api import TaskScript, make_mp4_bytes
from tests.slack.support import jobs, running_slack, slack_world

PROMPT = "a red fox <!channel> <!here> @everyone <!subteam^S0AAA|@team> <@U0OTHER> & friends"


async def test_veo_with_a_prompt_makes_a_job_answers_with_a_link_and_posts_the_video_once(tmp_path: Path) -> None:
    video = make_mp4_bytes(20_000)
    async with slack_world(tmp_path) as w, running_slack(w) as process:
        w.api.default_script = TaskScript(polls_until_done=1, video=video)
        interaction = await w.veo(PROMPT)
        assert interaction.ack.seconds < 3.0
        answer = await w.answer()
        [job] = await jobs(process)
        assert f"Job #{job.id}" in answer
        assert (job.platform, job.workspace_id, job.channel_id, job.user_id) == (
            "slack", w.slack.team.id, w.channel.id, w.member.id)
        assert job.prompt == PROMPT and job.model == "veo3.1-fast" and job.orientation == "16x9"
        assert job.locale == "en-US" and job.status_message_id is not None
        # The answer links to the status message the notifier posted.
        [permalink] = [c for c in w.slack.calls("chat.getPermalink") if c.ok]
        assert permalink.args["message_ts"] == job.status_message_id and "Follow it here: <http" in answer
        async def delivered() -> bool:
            done = await process.runtime.store.get_job(job.id)
            return done is not None and done.status is JobStatus.DELIVERED

        await w.slack.wait_for(delivered, timeout=20)
        assert len(w.slack.file_messages(w.channel)) == 1
        notified = [p for _, p in w.slack.pings(w.channel)]
        assert all(p.users <= {w.member.id} and not p.groups and not p.broadcasts for p in notified)
        assert len(w.slack.calls("auth.test")) == 1  # one auth.test, at start
