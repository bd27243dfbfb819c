"""``/veo <prompt>``, ``/veo-status`` and ``/veo-cancel`` in Slack: what members are told, the workspace's rules
and limits as on Discord, and nothing stored when a request is refused."""

from __future__ import annotations

from pathlib import Path

from bot.jobs.records import JobStatus
from tests.fakes.comet.api import TaskScript
from tests.slack.support import jobs, running_slack, slack_world


async def test_bad_command_text_is_refused_privately_and_stores_nothing(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as w, running_slack(w, {"VEO_MAX_PROMPT_CHARS": "20"}) as process:
        await w.veo("x" * 21)
        assert "The prompt is 21 characters long; the limit is 20" in await w.answer()
        await w.veo("\u200b\u2060")
        assert "The prompt is empty" in await w.answer(count=2)
        await w.veo("bad \ud800 text")
        assert "not valid text" in await w.answer(count=3)
        assert await jobs(process) == [] and w.api.create_requests() == []


async def test_workspace_rules_refuse_with_what_to_do(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as w, running_slack(w) as process:
        admin = process.runtime.admin
        other = w.slack.add_channel("elsewhere", members=(w.member,))
        await admin.change_list(w.workspace, w.admin.id, "allowed_channels", "add", other.id)
        await w.veo("a fox")
        assert f"Videos can't be made in this channel. Use one of: <#{other.id}>" in await w.answer()
        await admin.change_list(w.workspace, w.admin.id, "allowed_channels", "clear", None)
        group = w.slack.add_usergroup("animators", (w.admin,))
        await admin.change_list(w.workspace, w.admin.id, "allowed_roles", "add", group.id)
        await w.veo("a fox")
        assert "Only members with one of the roles" in await w.answer(count=2)
        assert await jobs(process) == []
        await w.veo("a fox", user=w.admin)  # a member of the group
        assert "Job #1" in await w.answer(w.admin)


async def test_quota_cooldown_and_pause_are_said(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as w, running_slack(w, {"VEO_DAILY_QUOTA_PER_USER": "1"}) as process:
        await process.runtime.admin.pause(w.workspace, w.admin.id, "maintenance")
        await w.veo("a fox")
        first = await w.answer()
        assert "Job #1" in first and "paused video jobs" in first
        await w.veo("another fox")
        second = await w.answer(count=2)
        assert "You have used your 1 videos for today" in second and "Job #" not in second
        assert len(await jobs(process)) == 1


async def test_a_channel_without_the_bot_gets_invite_advice_or_is_joined_when_allowed(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as w:
        private = w.slack.add_channel("secret", private=True, members=(w.member,), bot_member=False)
        public = w.slack.add_channel("open", members=(w.member,), bot_member=False)
        async with running_slack(w) as process:
            await w.veo("a fox", channel=private)
            assert "/invite @veo" in await w.answer()
            await w.veo("a fox", channel=public)
            assert "/invite @veo" in await w.answer(count=2)
            assert await jobs(process) == [] and w.slack.calls("conversations.join") == []
        async with running_slack(w, {"SLACK_JOIN_CHANNELS": "true"}) as process:
            await w.veo("a fox", channel=public)
            assert "Job #1" in await w.answer(count=3)
            assert [c.ok for c in w.slack.calls("conversations.join")] == [True]
            await w.veo("a fox", channel=private)  # a private channel cannot be joined
            assert "/invite @veo" in await w.answer(count=4)
            assert len(await jobs(process)) == 1


async def test_status_and_cancel_own_jobs_moderators_any(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as w, running_slack(w, {"VEO_MAX_ACTIVE_TOTAL": "1"}) as process:
        w.api.default_script = TaskScript(polls_until_done=100_000)  # still generating while cancelled
        other = w.slack.add_user("cy", channels=(w.channel,))
        await w.veo("first <!here> fox")
        await w.veo("second fox")
        await w.answer(count=2)
        await w.slack.slash_command("/veo-status", "", channel=w.channel, user=w.member)
        listing = await w.answer(count=3)
        assert "#1" in listing and "#2" in listing
        await w.slack.slash_command("/veo-status", "1", channel=w.channel, user=w.member)
        detail = await w.answer(count=4)
        assert "first &lt;!here&gt; fox" in detail and "<!here>" not in detail
        await w.slack.slash_command("/veo-status", "1", channel=w.channel, user=other)
        assert "No job of yours matches" in await w.answer(other)
        await w.slack.slash_command("/veo-cancel", "2", channel=w.channel, user=other)
        assert "There is no job '2' of yours" in await w.answer(other, count=2)
        await w.slack.slash_command("/veo-cancel", "", channel=w.channel, user=w.member)
        assert "Say which job to cancel" in await w.answer(count=5)
        await w.slack.slash_command("/veo-cancel", "#2", channel=w.channel, user=w.admin)
        assert "Job #2 cancelled" in await w.answer(w.admin)
        await w.slack.slash_command("/veo-cancel", "1", channel=w.channel, user=w.member)
        assert "Job #1 cancelled" in await w.answer(count=6)
        assert [j.status for j in await jobs(process)] == [JobStatus.CANCELLED, JobStatus.CANCELLED]


async def test_cooldown_says_when_to_try_again(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as w, running_slack(w, {"VEO_COOLDOWN_SECONDS": "600"}) as process:
        await w.veo("a fox")
        assert "Job #1" in await w.answer()
        await w.veo("a second fox")
        assert "Please wait between videos (cooldown 600 s)" in await w.answer(count=2)
        assert len(await jobs(process)) == 1
