"""/veo-prefer end to end: set, show and reset; bad input changes nothing; /veo follows the preferences unless
its options say otherwise; a model the server removed falls back, said once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.jobs.preferences import MemberPreferences
from cogs.app import VeoApp
from tests.fakes.comet.api import TaskScript
from tests.fakes.discord.models import MessageRecord
from tests.support.e2e import MEMBER_PERMISSIONS, World, guild_workspace, running_bot, world

ADMIN_PERMISSIONS = MEMBER_PERMISSIONS | (1 << 5) | (1 << 13)


async def _prefer(w: World, user: Any = None, locale: str = "en-US", deferred: bool = True,
                  **options: Any) -> MessageRecord:
    interaction = await w.discord.invoke_command("veo-prefer", channel_id=w.channel.id, user=user or w.member,
                                                 options=options, permissions=MEMBER_PERMISSIONS, locale=locale)
    await interaction.wait_acked()
    # Deferred privately first; a value discord.py cannot convert is refused before the command runs.
    assert interaction.callback_type == (5 if deferred else 4) and interaction.ephemeral
    reply = await interaction.wait_for_response(predicate=lambda m: bool(m.content or m.embeds))
    assert reply.ephemeral
    return reply


def _fields(reply: MessageRecord) -> dict[str, str]:
    return {f["name"]: f["value"] for f in reply.embeds[0]["fields"]}


async def _saved(app: VeoApp, w: World) -> MemberPreferences:
    return await app.service.preferences(guild_workspace(w.guild.id), str(w.member.id))


async def _veo(w: World, **options: Any) -> str:
    interaction = await w.veo(**options)
    reply = await interaction.wait_for_response(predicate=lambda m: "#" in m.content or "model" in m.content)
    return reply.content


async def test_preferences_are_set_shown_and_reset(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w) as app:
        shown = await _prefer(w)
        assert "no preferences in this server yet" in shown.content
        assert _fields(shown) == {"Model": "Server default (`veo3.1-fast`)", "Orientation": "Server default (16x9 "
                                  "(landscape))", "Direct message when ready": "Off"}
        saved = await _prefer(w, model="veo3.1", orientation="9x16", dm=True)
        assert saved.content.startswith("Saved.") and "direct message when each of your videos" in saved.content
        assert _fields(saved) == {"Model": "`veo3.1`", "Orientation": "9x16 (portrait)",
                                  "Direct message when ready": "On"}
        stored = await _saved(app, w)
        assert (stored.model, stored.orientation, stored.dm_when_ready) == ("veo3.1", "9x16", True)
        # One option changes one preference; the others stay.
        await _prefer(w, dm=False)
        assert _fields(await _prefer(w)) == {"Model": "`veo3.1`", "Orientation": "9x16 (portrait)",
                                             "Direct message when ready": "Off"}
        assert (await _prefer(w)).content == ""
        cleared = await _prefer(w, reset=True)
        assert "are cleared" in cleared.content and _fields(cleared)["Model"].startswith("Server default")
        assert not (await _saved(app, w)).saved
        assert "nothing to clear" in (await _prefer(w, reset=True)).content
        # Korean members get it in Korean.
        korean = await _prefer(w, locale="ko")
        assert "아직 저장된 설정이 없습니다" in korean.content and "모델" in _fields(korean)
        # Another member's preferences are their own.
        other = w.discord.add_user("other")
        w.discord.add_member(w.guild.id, other, permissions=MEMBER_PERMISSIONS)
        await _prefer(w, user=other, model="veo3")
        assert not (await _saved(app, w)).saved


async def test_bad_preferences_are_refused_and_change_nothing(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w) as app:
        await _prefer(w, orientation="9x16")
        before = await _saved(app, w)
        unknown = await _prefer(w, model="sora-2", dm=True)
        assert "Unknown model. Pick one of:" in unknown.content and "`veo3.1`" in unknown.content
        assert not unknown.embeds
        blank = await _prefer(w, model="   ")
        assert "Unknown model" in blank.content
        both = await _prefer(w, reset=True, dm=True)
        assert "`reset` clears all your preferences, so it goes alone" in both.content
        square = await _prefer(w, orientation="square", deferred=False)
        assert "One of the options has a value I can't use" in square.content
        interaction = await w.discord.invoke_command("veo-admin model", channel_id=w.channel.id, user=w.moderator,
                                                     options={"action": "add", "model": "veo3.1-fast"},
                                                     permissions=ADMIN_PERMISSIONS)
        await interaction.wait_for_response(predicate=lambda m: bool(m.content or m.embeds))
        refused = await _prefer(w, model="veo3.1")
        assert "This server allows these models only: `veo3.1-fast`." in refused.content
        assert await _saved(app, w) == before


async def test_model_autocomplete_offers_the_servers_models(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w, env={"VEO_MODELS": "veo3.1-fast,veo3.1,veo3"}):
        interaction = await w.discord.invoke_autocomplete("veo-prefer", focused="model", channel_id=w.channel.id,
                                                          user=w.member, options={"model": "veo3"},
                                                          permissions=MEMBER_PERMISSIONS)
        choices = await interaction.wait_choices()
        assert [c["value"] for c in choices] == ["veo3.1-fast", "veo3.1", "veo3"]
        assert choices[0]["name"] == "veo3.1-fast (default)"


async def test_veo_follows_the_preferences_and_its_options_win(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w, env={"VEO_MAX_ACTIVE_PER_USER": "5"}) as app:
        w.api.default_script = TaskScript(polls_until_done=10_000)
        await _prefer(w, model="veo3.1", orientation="9x16")
        reply = await _veo(w, prompt="a heron")
        assert "Job #1" in reply and "direct message" not in reply
        first = w.api.create_requests()[0].fields
        assert (first["model"], first["size"]) == ("veo3.1", "9x16")
        await _veo(w, prompt="a crane", model="veo3", orientation="16x9")
        second = w.api.create_requests()[1].fields
        assert (second["model"], second["size"]) == ("veo3", "16x9")
        await _veo(w, prompt="an egret", orientation="16x9")  # one option given: the other from the preferences
        third = w.api.create_requests()[2].fields
        assert (third["model"], third["size"]) == ("veo3.1", "16x9")
        jobs = [await app.store.get_job(n) for n in (1, 2, 3)]
        assert [(j.model, j.orientation, j.dm_when_ready) for j in jobs if j] == [
            ("veo3.1", "9x16", False), ("veo3", "16x9", False), ("veo3.1", "16x9", False)]
        # Without preferences, the server's defaults.
        other = w.discord.add_user("other")
        w.discord.add_member(w.guild.id, other, permissions=MEMBER_PERMISSIONS)
        await _veo(w, user=other, prompt="a stork")
        fourth = w.api.create_requests()[3].fields
        assert (fourth["model"], fourth["size"]) == ("veo3.1-fast", "16x9")


async def test_a_model_the_server_removed_falls_back_and_is_said_once(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w) as app:
        w.api.default_script = TaskScript(polls_until_done=10_000)
        await _prefer(w, model="veo3", dm=True)
        for model in ("veo3.1", "veo3.1-fast"):
            interaction = await w.discord.invoke_command(
                "veo-admin model", channel_id=w.channel.id, user=w.moderator,
                options={"action": "add", "model": model}, permissions=ADMIN_PERMISSIONS)
            await interaction.wait_for_response(predicate=lambda m: bool(m.content or m.embeds))
        shown = await _prefer(w)
        assert _fields(shown)["Model"] == "`veo3`: no longer allowed here, so /veo uses `veo3.1-fast`"
        reply = await _veo(w, prompt="a heron")
        assert reply.startswith("Your preferred model `veo3` is no longer allowed in this server, so this video "
                                "uses `veo3.1-fast`.") and "Job #1" in reply
        assert "You'll get a direct message too." in reply
        assert w.api.create_requests()[0].fields["model"] == "veo3.1-fast"
        kept = await _saved(app, w)
        assert kept.model is None and kept.dm_when_ready
        again = await _veo(w, prompt="a crane")
        assert "no longer allowed" not in again and "Job #2" in again
