"""``/veo`` in Slack end to end: the real Bolt app started by our code, over Socket Mode, against the fake Slack."""

from __future__ import annotations

from pathlib import Path

from bot.jobs.records import JobStatus
from tests.slack.support import jobs, running_slack, slack_world


async def test_veo_with_a_prompt_makes_a_job_at_once_and_answers_privately(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as w, running_slack(w) as process:
        interaction = await w.veo("a red fox running through fresh snow at dawn")
        assert interaction.ack.seconds < 3.0
        answer = await w.answer()
        [job] = await jobs(process)
        assert f"Job #{job.id}" in answer
        assert (job.platform, job.workspace_id, job.channel_id, job.user_id) == (
            "slack", w.slack.team.id, w.channel.id, w.member.id)
        assert job.prompt == "a red fox running through fresh snow at dawn"
        assert job.model == "veo3.1-fast" and job.orientation == "16x9" and job.locale == "en-US"
        assert job.status is not JobStatus.FAILED
        assert [c.ok for c in w.slack.calls("auth.test")] == [True]  # one auth.test, at start
