"""Any prompt or provider text: refused with a clear message, or stored intact and shown within Discord's
limits, pinging nobody but the requester even if a message went out without ``allowed_mentions``."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings

from bot.comet.parse import parse_task_status
from bot.jobs.errors import InvalidInput
from bot.jobs.ports import JobStore, StatusView
from bot.jobs.records import Job, JobStatus, NewJob
from bot.jobs.requests import clean_prompt
from cogs.render import failure_text, result_text, status_embed
from db import open_store
from tests.fakes.discord.mentions import resolve_pings
from tests.property.strategies import prompts, provider_texts
from tests.support.postgres import PostgresServer

MAX_PROMPT = 1500
USER = 123456789012345679
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _job(prompt: str, status: JobStatus = JobStatus.RUNNING, error: str | None = None) -> Job:
    return Job(id=42, platform="discord", workspace_id="1", channel_id="2", user_id=str(USER),
               prompt=prompt, model="veo3.1-fast", orientation="16x9",
               image_count=1, input_dir=None, locale="en-US", status=status, progress=37, task_id="task_x",
               error=error, safety_rejection=False, video_url=None, attempts=0, polls=3, next_poll_at=None,
               created_at=1.0, submitted_at=2.0, completed_at=None, finished_at=None, status_message_id="7",
               status_rendered=None, status_edited_at=None, delivery_attempts=0, delivered_at=None,
               delivered_message_id=None)


def _accepted(prompt: str) -> str | None:
    try:
        text = clean_prompt(prompt, MAX_PROMPT)
    except InvalidInput as exc:
        assert exc.user_message and "prompt" in exc.user_message.lower()
        return None
    assert text == prompt.strip() and 0 < len(text) <= MAX_PROMPT
    return text


def _within_embed_limits(embed: dict[str, object]) -> None:
    title, description = str(embed.get("title", "")), str(embed.get("description", ""))
    fields = embed.get("fields", [])
    footer = str((embed.get("footer") or {}).get("text", ""))  # type: ignore[attr-defined]
    assert len(title) <= 256 and len(description) <= 4096 and len(footer) <= 2048
    assert isinstance(fields, list) and len(fields) <= 25
    for f in fields:
        assert 0 < len(f["name"]) <= 256 and 0 < len(f["value"]) <= 1024
    total = len(title) + len(description) + len(footer) + sum(len(f["name"]) + len(f["value"]) for f in fields)
    assert total <= 6000


def _pings_only_the_requester(content: str) -> None:
    assert len(content) <= 2000
    pings = resolve_pings(content, None, None)  # as if allowed_mentions were missing: Discord's defaults
    assert not pings.everyone and not pings.role_ids and pings.user_ids == {USER}


@SETTINGS
@given(prompts)
@example("\ud800 a fox")
@example("@everyone <@&223456789012345678> " * 200)
def test_any_prompt_is_refused_clearly_or_rendered_safely(prompt: str) -> None:
    text = _accepted(prompt)
    if text is None:
        return
    for status in (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.DELIVERED):
        _within_embed_limits(status_embed(_job(text, status), StatusView(position=3)).to_dict())
    _pings_only_the_requester(result_text(_job(text, JobStatus.DELIVERED), link="https://cdn.example/v.mp4"))


@SETTINGS
@given(provider_texts)
def test_any_failure_reason_is_shown_within_limits_without_pings(text: str) -> None:
    # The reason as the job core stores it: what the client makes of the provider's failure message.
    failed = parse_task_status({"status": "failed", "error": {"message": text, "code": "x"}}, "task_x")
    reason = failed.error
    assert reason and reason.strip()
    for status in (JobStatus.FAILED, JobStatus.TIMED_OUT):
        for safety in (False, True):
            job = dataclasses.replace(_job("a fox", status, reason), safety_rejection=safety)
            _within_embed_limits(status_embed(job, StatusView()).to_dict())
            _pings_only_the_requester(failure_text(job))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_loop(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[asyncio.AbstractEventLoop, JobStore]]:
    """A store on each backend, with the event loop the (synchronous) property test drives it on."""
    loop = asyncio.new_event_loop()
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(loop.close)
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'veo.sqlite3'}"
        else:
            server: PostgresServer = request.getfixturevalue("postgres_server")
            database = server.database()
            url = loop.run_until_complete(database.__aenter__())
            cleanup.callback(lambda: loop.run_until_complete(database.__aexit__(None, None, None)))
        store = loop.run_until_complete(open_store(url))
        cleanup.callback(lambda: loop.run_until_complete(store.close()))
        yield loop, store


def test_any_accepted_prompt_is_stored_exactly(store_loop: tuple[asyncio.AbstractEventLoop, JobStore]) -> None:
    loop, store = store_loop

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(prompts)
    @example("\ud800 a fox")
    @example("a\x00b '); DROP TABLE jobs; --")
    def check(prompt: str) -> None:
        text = _accepted(prompt)
        if text is None:
            return
        new = NewJob(platform="discord", workspace_id="1", channel_id="2", user_id=str(USER),
                     prompt=text, model="veo3.1-fast", orientation="16x9")
        job = loop.run_until_complete(store.insert_job(new, 1.0))
        again = loop.run_until_complete(store.get_job(job.id))
        assert again is not None and again.prompt == text

    check()
