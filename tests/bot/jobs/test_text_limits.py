"""Text from members that a store could not keep: a NUL in a prompt is refused clearly, one in a pause reason is
dropped; both stores keep every other text exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.jobs.admin import WorkspaceAdmin
from bot.jobs.errors import InvalidInput
from bot.jobs.records import Workspace
from bot.jobs.requests import clean_prompt
from tests.conftest import FakeClock
from tests.fakes.comet.api import FakeCometAPI
from tests.support.core import job_core


def test_a_prompt_with_a_nul_is_refused_as_not_valid_text() -> None:
    with pytest.raises(InvalidInput) as refused:
        clean_prompt("a fox\x00 in snow", 1500)
    assert refused.value.user_message == "The prompt contains characters that are not valid text. Please type it again."
    assert clean_prompt("  a fox\tin snow\n ", 1500) == "a fox\tin snow"


async def test_an_accepted_prompt_is_sent_and_stored_exactly_on_either_store(
    tmp_path: Path, clock: FakeClock, core_database_url: str
) -> None:
    hostile = clean_prompt(" ab '); DROP TABLE jobs; -- ✨ \"q\" \\ %_ \u202e\n$1 ", 1500)
    async with FakeCometAPI() as api, job_core(tmp_path, api, clock, database_url=core_database_url) as core:
        job = await core.service.create_job(core.request(prompt=hostile))
        stored = await core.store.get_job(job.id)
        assert stored is not None and stored.prompt == hostile
        assert api.create_requests()[0].fields["prompt"] == hostile


async def test_a_nul_in_a_pause_reason_is_dropped(tmp_path: Path, clock: FakeClock, core_database_url: str) -> None:
    async with FakeCometAPI() as api, job_core(tmp_path, api, clock, database_url=core_database_url) as core:
        admin = WorkspaceAdmin(core.store, core.worker, prices={}, video_seconds=8.0, clock=clock)
        settings = await admin.pause(Workspace("discord", "10"), "1", "budget\x00 reached")
        assert settings.pause_reason == "budget reached"
        assert (await core.store.workspace_settings(Workspace("discord", "10"))).pause_reason == "budget reached"
