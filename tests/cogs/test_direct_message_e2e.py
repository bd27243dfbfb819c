"""The direct message a member asked for with /veo-prefer: after the result, once, through crashes and lost
answers, and never at the cost of the channel post."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.jobs.records import Job
from cogs.app import VeoApp
from tests.fakes.comet.api import TaskScript
from tests.fakes.discord.models import FakeUser
from tests.support.e2e import MEMBER_PERMISSIONS, World, running_bot, world

DM_OPEN = r"/users/@me/channels$"


async def _prefer_dm(w: World, user: FakeUser) -> None:
    interaction = await w.discord.invoke_command("veo-prefer", channel_id=w.channel.id, user=user,
                                                 options={"dm": True}, permissions=MEMBER_PERMISSIONS)
    await interaction.wait_for_response(predicate=lambda m: m.content.startswith("Saved."))


async def _veo(w: World, user: FakeUser, prompt: str = "a kingfisher diving") -> None:
    interaction = await w.veo(user, prompt=prompt)
    await interaction.wait_for_response(predicate=lambda m: "Job #" in m.content)


async def _job(app: VeoApp, job_id: int, **wanted: Any) -> Job | None:
    job = await app.store.get_job(job_id)
    return job if job is not None and all(getattr(job, k) is not None for k in wanted) else None


def _link(w: World, message_id: int) -> str:
    return f"https://discord.com/channels/{w.guild.id}/{w.channel.id}/{message_id}"


async def test_the_requester_gets_one_direct_message_after_the_result(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w) as app:
        w.api.default_script = TaskScript(polls_until_done=1)
        await _prefer_dm(w, w.member)
        await _veo(w, w.member)
        [result] = await w.discord.wait_until(lambda: w.results() or None, timeout=10)
        [dm] = await w.discord.wait_until(lambda: w.discord.dm_messages(w.member) or None, timeout=10)
        assert dm.content.startswith(f"🎬 Your video #1 is ready: {_link(w, result.id)}")
        assert "a kingfisher diving" in dm.content
        assert dm.id > result.id and dm.pinged_user_ids == frozenset() and dm.allowed_mentions is not None
        job = await w.discord.wait_until(lambda: _job(app, 1, dm_sent_at=1), timeout=5)
        assert job.dm_when_ready and job.next_poll_at is None
        # A teammate who did not ask gets none; one who asked and clicks Regenerate gets one for the new job.
        quiet = w.discord.add_user("quiet")
        w.discord.add_member(w.guild.id, quiet, permissions=MEMBER_PERMISSIONS)
        await _veo(w, quiet, "a quiet pond")
        await w.discord.wait_until(lambda: len(w.results()) == 2, timeout=10)
        await w.discord.wait_until(lambda: _job(app, 2, delivered_at=1), timeout=5)
        teammate = w.discord.add_user("teammate")
        w.discord.add_member(w.guild.id, teammate, permissions=MEMBER_PERMISSIONS)
        await _prefer_dm(w, teammate)
        click = await w.discord.invoke_component(result, "veo:regen:1", user=teammate, permissions=MEMBER_PERMISSIONS)
        await click.wait_for_response(predicate=lambda m: "Queued job #3" in m.content)
        [retake] = await w.discord.wait_until(lambda: w.discord.dm_messages(teammate) or None, timeout=10)
        assert retake.content.startswith("🎬 Your video #3 is ready: ")
        assert w.discord.dm_messages(quiet) == [] and len(w.discord.dm_messages(w.member)) == 1
        assert (await app.store.get_job(2)).dm_sent_at is None  # type: ignore[union-attr]
        assert app.runtime.metrics.registry.sample("veo_direct_messages_total", outcome="sent") == 2


async def test_a_failed_job_is_told_by_direct_message_too(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w):
        w.api.default_script = TaskScript.safety_failure(polls_until_done=0)
        await _prefer_dm(w, w.member)
        await _veo(w, w.member)
        [notice] = await w.discord.wait_until(lambda: w.results() or None, timeout=10)
        [dm] = await w.discord.wait_until(lambda: w.discord.dm_messages(w.member) or None, timeout=10)
        assert dm.content.startswith(f"❌ Your video job #1 failed: {_link(w, notice.id)}")


async def test_a_member_who_refuses_direct_messages_still_gets_the_result(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w) as app:
        w.api.default_script = TaskScript(polls_until_done=0)
        closed = w.discord.add_user("closed", accepts_dms=False)
        w.discord.add_member(w.guild.id, closed, permissions=MEMBER_PERMISSIONS)
        await _prefer_dm(w, closed)
        await _veo(w, closed)
        [result] = await w.discord.wait_until(lambda: w.results() or None, timeout=10)
        assert result.attachments and result.pinged_user_ids == {closed.id}
        job = await w.discord.wait_until(lambda: _job(app, 1, dm_sent_at=1), timeout=5)
        assert job.delivered_message_id == str(result.id) and job.next_poll_at is None
        refused = [r for r in w.discord.requests if r.method == "POST" and r.status == 403]
        assert len(refused) == 1 and w.discord.dm_messages(closed) == []
        assert app.runtime.metrics.registry.sample("veo_direct_messages_total", outcome="failed_permanent") == 1
        await w.discord.wait_until(lambda: "Delivered" in str(w.status_messages()[0].embeds))


async def test_a_restart_before_the_direct_message_sends_it_once(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        w.api.default_script = TaskScript(polls_until_done=0)
        async with running_bot(w) as first:
            await _prefer_dm(w, w.member)
            # The result gets posted; the DM channel cannot be opened before the process dies.
            opening = w.discord.inject_drop("POST", DM_OPEN, after_processing=False, times=1000)
            await _veo(w, w.member)
            await w.discord.wait_until(lambda: w.results() or None, timeout=10)
            await w.discord.wait_until(lambda: opening.hits >= 1, timeout=10)
            await first.kill()
        w.discord.clear_faults()
        assert w.discord.dm_messages(w.member) == []
        async with running_bot(w) as second:
            [dm] = await w.discord.wait_until(lambda: w.discord.dm_messages(w.member) or None, timeout=10)
            assert dm.content.startswith(f"🎬 Your video #1 is ready: {_link(w, w.results()[0].id)}")
            await w.discord.wait_until(lambda: _job(second, 1, dm_sent_at=1), timeout=5)
        assert len(w.results()) == 1 and len(w.discord.dm_messages(w.member)) == 1


async def test_a_direct_message_whose_answer_was_lost_is_not_sent_twice(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        w.api.default_script = TaskScript(polls_until_done=0)
        dm_channel = w.discord.state.open_dm(w.member.id)
        dm_posts = rf"/channels/{dm_channel.id}/messages$"
        async with running_bot(w) as first:
            await _prefer_dm(w, w.member)
            # The DM reaches the member but the answer is lost; the process dies before it can record it.
            w.discord.inject_drop("POST", dm_posts, after_processing=True)
            later = w.discord.inject_drop("POST", dm_posts, after_processing=False, times=1000)
            await _veo(w, w.member)
            await w.discord.wait_until(lambda: w.discord.dm_messages(w.member) or None, timeout=10)
            await w.discord.wait_until(lambda: later.hits >= 1, timeout=10)
            await first.kill()
        w.discord.clear_faults()
        async with running_bot(w) as second:
            job = await w.discord.wait_until(lambda: _job(second, 1, dm_sent_at=1), timeout=10)
            assert job.status.value == "delivered"
        assert len(w.discord.dm_messages(w.member)) == 1 and len(w.results()) == 1
        assert [hit.channel_id for hit in w.discord.nonce_hits] == [dm_channel.id]
