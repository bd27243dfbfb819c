"""Moderators and admins in Slack: ``/veo-queue`` for moderators, ``/veo-admin`` for admins (workspace admins
and owners, ``SLACK_ADMIN_USERS``), moderator groups named by admins, every change audited; ``/veo-prefer``."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.comet.api import TaskScript
from tests.slack.support import SlackWorld, running_slack, slack_world


async def _command(w: SlackWorld, name: str, text: str, user: object, count: int) -> str:
    await w.slack.slash_command(name, text, channel=w.channel, user=user)  # type: ignore[arg-type]
    return await w.answer(user, count=count)  # type: ignore[arg-type]


async def test_queue_is_for_moderators_named_by_admins(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as w, running_slack(w) as process:
        w.api.default_script = TaskScript(polls_until_done=100_000)
        mod = w.slack.add_user("mo", channels=(w.channel,))
        group = w.slack.add_usergroup("mods", (mod,))
        await w.veo("a fox")
        await w.answer()
        assert "Only moderators can see the queue" in await _command(w, "/veo-queue", "", mod, 1)
        assert "Only workspace admins" in await _command(w, "/veo-admin", f"moderators add <!subteam^{group.id}|@mods>",
                                                         mod, 2)
        added = await _command(w, "/veo-admin", f"moderators add <!subteam^{group.id}|@mods>", w.admin, 1)
        assert f"<!subteam^{group.id}>" in added
        queue = await _command(w, "/veo-queue", "", mod, 3)
        assert "1 job(s) in flight" in queue and f"<@{w.member.id}>" in queue
        await w.slack.slash_command("/veo-cancel", "1", channel=w.channel, user=mod)  # a moderator cancels any
        assert "Job #1 cancelled" in await w.answer(mod, count=4)
        audit = await _command(w, "/veo-admin", "audit", w.admin, 2)
        assert "moderators add" in audit
        entries = await process.runtime.admin.audit(w.workspace)
        assert [e.action for e in entries][-1] == "moderators add"


async def test_admin_changes_limits_lists_pause_and_bad_input_changes_nothing(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as w, running_slack(w, {"SLACK_ADMIN_USERS": "U0BOOTSTRAP"}) as process:
        admin = w.admin
        assert "= 3" in await _command(w, "/veo-admin", "limit daily_quota_per_user 3", admin, 1)
        saved = await _command(w, "/veo-admin", f"channel add <#{w.channel.id}|videos>", admin, 2)
        assert f"<#{w.channel.id}>" in saved
        assert "Paused" in await _command(w, "/veo-admin", "pause maintenance", admin, 3)
        for n, bad in enumerate(["limit daily_quota_per_user lots", "channel add videos", "frobnicate",
                                 "model add no-such-model", "group add @nobody"], start=4):
            assert "Job #" not in await _command(w, "/veo-admin", bad, admin, n)
        overrides, policy = await process.runtime.admin.settings(w.workspace)
        assert policy.daily_quota_per_user == 3 and policy.allowed_channels == (w.channel.id,) and policy.paused
        assert overrides.allowed_models is None and overrides.allowed_roles is None
        assert "Resumed" in await _command(w, "/veo-admin", "resume", admin, 9)
        usage = await _command(w, "/veo-admin", "usage 7d", admin, 10)
        assert "Usage (7d): 0 job(s)" in usage


async def test_prefer_sets_shows_and_resets_and_veo_uses_it(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as w, running_slack(w) as process:
        shown = await _command(w, "/veo-prefer", "veo3.1 9x16 dm", w.member, 1)
        saved = await process.runtime.service.preferences(w.workspace, w.member.id)
        assert "model veo3.1, orientation 9x16, direct message when ready: yes" in shown
        assert (saved.model, saved.orientation, saved.dm_when_ready) == ("veo3.1", "9x16", True)
        assert "Unknown model. Pick one of:" in await _command(w, "/veo-prefer", "no-such-model", w.member, 2)
        await w.veo("a fox")
        await w.answer(count=3)
        job = await process.runtime.store.get_job(1)
        assert job is not None and (job.model, job.orientation, job.dm_when_ready) == ("veo3.1", "9x16", True)
        assert "cleared" in await _command(w, "/veo-prefer", "reset", w.member, 4)
        assert "`reset` goes alone" in await _command(w, "/veo-prefer", "reset dm", w.member, 5)
