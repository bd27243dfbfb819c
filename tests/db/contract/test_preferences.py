"""Members' preferences: defaults when none are saved, save and overwrite, reset, and the isolation of
members, workspaces and platforms."""

from __future__ import annotations

import dataclasses

from bot.jobs.ports import JobStore
from bot.jobs.preferences import MemberPreferences
from tests.db.contract.helpers import T0, ws


def prefs(user: str = "1", guild: str = "10", platform: str = "discord", **fields: object) -> MemberPreferences:
    return MemberPreferences(platform, guild, user, **fields)  # type: ignore[arg-type]


async def test_a_member_without_saved_preferences_gets_the_defaults(store: JobStore) -> None:
    found = await store.member_preferences(ws(10), "1")
    assert found == MemberPreferences("discord", "10", "1")
    assert found.model is None and found.orientation is None and not found.dm_when_ready and not found.saved


async def test_save_returns_what_is_stored_and_overwrites(store: JobStore) -> None:
    saved = await store.save_member_preferences(prefs(model="veo3.1", orientation="9x16", dm_when_ready=True), T0)
    assert saved == prefs(model="veo3.1", orientation="9x16", dm_when_ready=True, updated_at=T0)
    assert await store.member_preferences(ws(10), "1") == saved
    again = await store.save_member_preferences(dataclasses.replace(saved, orientation=None, dm_when_ready=False),
                                                T0 + 5)
    assert again == prefs(model="veo3.1", updated_at=T0 + 5)
    assert await store.member_preferences(ws(10), "1") == again


async def test_an_unset_model_is_stored_as_null_not_as_empty_text(store: JobStore) -> None:
    saved = await store.save_member_preferences(prefs(model="", orientation="", dm_when_ready=True), T0)
    assert saved.model is None and saved.orientation is None and saved.dm_when_ready and saved.saved
    only_dm = await store.member_preferences(ws(10), "1")
    assert only_dm.model is None and only_dm.orientation is None


async def test_reset_clears_and_says_whether_there_was_anything(store: JobStore) -> None:
    await store.save_member_preferences(prefs(model="veo3.1", dm_when_ready=True), T0)
    assert await store.reset_member_preferences(ws(10), "1")
    assert await store.member_preferences(ws(10), "1") == MemberPreferences("discord", "10", "1")
    assert not await store.reset_member_preferences(ws(10), "1")


async def test_members_workspaces_and_platforms_are_kept_apart(store: JobStore) -> None:
    await store.save_member_preferences(prefs(model="a"), T0)
    await store.save_member_preferences(prefs(guild="11", model="b"), T0)
    await store.save_member_preferences(prefs(user="2", model="c"), T0)
    await store.save_member_preferences(prefs(platform="slack", model="d"), T0)
    assert (await store.member_preferences(ws(10), "1")).model == "a"
    assert (await store.member_preferences(ws(11), "1")).model == "b"
    assert (await store.member_preferences(ws(10), "2")).model == "c"
    assert (await store.member_preferences(ws(10, "slack"), "1")).model == "d"
    assert await store.reset_member_preferences(ws(10, "slack"), "1")
    assert (await store.member_preferences(ws(10), "1")).model == "a"
    assert not (await store.member_preferences(ws(10, "slack"), "1")).saved
    assert (await store.member_preferences(ws(12), "1")).model is None


async def test_forgetting_a_model_only_when_it_is_still_the_preferred_one(store: JobStore) -> None:
    await store.save_member_preferences(prefs(model="veo3", orientation="9x16", dm_when_ready=True), T0)
    assert not await store.forget_preferred_model(ws(10), "1", "veo3.1", T0 + 1)
    assert await store.forget_preferred_model(ws(10), "1", "veo3", T0 + 2)
    assert not await store.forget_preferred_model(ws(10), "1", "veo3", T0 + 3)  # the second request: already gone
    kept = await store.member_preferences(ws(10), "1")
    assert kept == prefs(orientation="9x16", dm_when_ready=True, updated_at=T0 + 2)
    assert not await store.forget_preferred_model(ws(10), "2", "veo3", T0 + 4)  # nothing saved at all
