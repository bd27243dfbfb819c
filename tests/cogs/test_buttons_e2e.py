"""Result buttons end to end: Regenerate and Delete, also after a restart, with their permission checks."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.comet.api import TaskScript
from tests.support.e2e import MEMBER_PERMISSIONS, MODERATOR_PERMISSIONS, PNG, World, guild_workspace, running_bot, world


def _custom_ids(message: object) -> list[str]:
    rows = getattr(message, "components", [])
    return [c["custom_id"] for row in rows for c in row.get("components", [])]


async def _deliver_one(w: World, **options: object) -> object:
    interaction = await w.veo(prompt="a lighthouse in a storm", orientation="9x16", **options)
    await interaction.wait_for_response(predicate=lambda m: "Job #" in m.content)
    [result] = await w.discord.wait_until(lambda: w.results() or None, timeout=10)
    return result


async def test_regenerate_survives_a_restart_and_counts_for_the_clicker(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        w.api.default_script = TaskScript(polls_until_done=0)
        async with running_bot(w):
            result = await _deliver_one(w, model="veo3.1")
            assert _custom_ids(result) == ["veo:regen:1", "veo:continue:1", "veo:delete:1"]
        teammate = w.discord.add_user("teammate")
        w.discord.add_member(w.guild.id, teammate, permissions=MEMBER_PERMISSIONS)
        async with running_bot(w) as app:
            click = await w.discord.invoke_component(result, "veo:regen:1", user=teammate,  # type: ignore[arg-type]
                                                     permissions=MEMBER_PERMISSIONS)
            reply = await click.wait_for_response(predicate=lambda m: "Queued job #2" in m.content)
            assert reply.ephemeral
            job = await app.store.get_job(2)
            assert job is not None and job.user_id == str(teammate.id)
            assert (job.prompt, job.model, job.orientation) == ("a lighthouse in a storm", "veo3.1", "9x16")
            assert len(w.api.create_requests()) == 2


async def test_delete_is_for_the_requester_or_a_moderator(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w) as app:
        w.api.default_script = TaskScript(polls_until_done=0)
        result = await _deliver_one(w)
        stranger = w.discord.add_user("stranger")
        w.discord.add_member(w.guild.id, stranger, permissions=MEMBER_PERMISSIONS)
        click = await w.discord.invoke_component(result, "veo:delete:1", user=stranger,  # type: ignore[arg-type]
                                                 permissions=MEMBER_PERMISSIONS)
        refusal = await click.wait_for_response(predicate=lambda m: bool(m.content))
        assert "Only the member who asked for this video" in refusal.content
        assert not result.deleted  # type: ignore[attr-defined]
        click = await w.discord.invoke_component(result, "veo:delete:1", user=w.moderator,  # type: ignore[arg-type]
                                                 permissions=MODERATOR_PERMISSIONS)
        await w.discord.wait_until(lambda: result.deleted, timeout=5)  # type: ignore[attr-defined]
        # The button records the deletion in the audit log once the message is gone: wait for that too.
        [entry] = await w.discord.wait_until(
            lambda: app.store.audit_entries(guild_workspace(w.guild.id), 5), timeout=5
        )
        assert entry.action == "delete result" and entry.actor_id == str(w.moderator.id)


async def test_image_jobs_and_safety_failures(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w):
        w.api.default_script = TaskScript(polls_until_done=0)
        result = await _deliver_one(w, image=w.attach("a.png", "image/png", PNG))
        # No Regenerate (the images are not kept), but Continue: it needs only the video.
        assert _custom_ids(result) == ["veo:continue:1", "veo:delete:1"]
        w.api.script_next_task(TaskScript.safety_failure(polls_until_done=0))
        interaction = await w.veo(prompt="refused")
        await interaction.wait_for_response(predicate=lambda m: "Job #2" in m.content)
        notice = await w.discord.wait_until(lambda: next((m for m in w.results() if "#2" in m.content), None))
        assert _custom_ids(notice) == []
