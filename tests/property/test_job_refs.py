"""Any text typed as a job reference (/veo-status job:, /veo-cancel job:) finds a job of the guild, finds
nothing, or is refused with a clear message; it never raises anything else."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.jobs.errors import UserFacingError
from bot.jobs.records import NewJob
from bot.jobs.service import JobService
from bot.jobs.worker import JobWorker
from db.sqlite.store import SqliteJobStore
from tests.property.strategies import HOSTILE_PIECES
from tests.support.core import RecordingNotifier

GUILD = 10
refs = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="0123456789²³¹١٢𝟙#", min_size=1, max_size=5),  # digits that int() may refuse
    st.lists(st.sampled_from([*HOSTILE_PIECES, "#", "1", "12", "²", "١٢", "𝟙", "task_", "-1", "1e3", "0x1"]),
             max_size=6).map("".join),
    st.integers(-10, 10**25).map(str),
)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[asyncio.AbstractEventLoop, JobService]]:
    from bot.jobs.config import CoreConfig
    from bot.jobs.records import Limits

    loop = asyncio.new_event_loop()
    store = loop.run_until_complete(SqliteJobStore.open(tmp_path / "veo.sqlite3"))
    worker = JobWorker(store, None, RecordingNotifier(), CoreConfig(limits=Limits(2, 2, 2)))  # type: ignore[arg-type]
    for guild in (GUILD, GUILD + 1):
        new = NewJob(platform="discord", workspace_id=str(guild), channel_id="2", user_id="3",
                     prompt="p", model="m", orientation="16x9")
        loop.run_until_complete(store.insert_job(new, 1.0))
    try:
        yield loop, JobService(store, worker)
    finally:
        loop.run_until_complete(store.close())
        loop.close()


def test_any_job_reference_is_found_missing_or_refused(service: tuple[asyncio.AbstractEventLoop, JobService]) -> None:
    loop, jobs = service

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(refs)
    @example("²")
    @example("#\ud800")
    def check(ref: str) -> None:
        found = loop.run_until_complete(jobs.find_job(ref, GUILD))
        assert found is None or found.guild_id == GUILD
        try:
            loop.run_until_complete(jobs.cancel(ref, GUILD, user_id=999, is_moderator=False))
        except UserFacingError as exc:
            assert exc.user_message
        else:
            raise AssertionError("a member cancelled a job that is not theirs")

    check()
