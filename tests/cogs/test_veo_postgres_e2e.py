"""/veo end to end with ``DATABASE_URL=postgresql://…``: the real bot against the fakes, its jobs in PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from bot.jobs.records import JobStatus
from tests.fakes.comet.api import TaskScript, make_mp4_bytes
from tests.support.e2e import PNG, running_bot, world
from tests.support.postgres import PostgresServer

pytestmark = pytest.mark.postgres


async def test_a_job_is_acknowledged_then_delivered_once_with_its_row_in_postgresql(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    video = make_mp4_bytes(40_000)
    async with postgres_server.database(migrated=False) as url, world(tmp_path) as w:
        async with running_bot(w, {"DATABASE_URL": url}) as app:
            w.api.script_next_task(TaskScript(polls_until_done=2, video=video))
            image = w.attach("cat.png", "image/png", PNG)
            interaction = await w.veo(prompt="a red fox running through snow", image=image)
            await interaction.wait_for_response(predicate=lambda m: "Job #1" in m.content)
            [result] = await w.discord.wait_until(lambda: w.results() or None, timeout=10)
            assert result.attachments[0].filename == "veo-1.mp4" and result.attachment_bytes == [video]
            await w.discord.wait_until(lambda: "Delivered" in str(w.status_messages()[0].embeds), timeout=10)
            [create] = w.api.create_requests()
            assert [f.data for f in create.files] == [PNG]
            assert not (tmp_path / "veo.sqlite3").exists()  # the store is PostgreSQL's, not a file
            salt = app.notifier.nonce_salt
        conn = await asyncpg.connect(url)
        try:
            row = await conn.fetchrow("SELECT status, workspace_id, user_id, delivered_message_id, image_count"
                                      " FROM jobs WHERE id = 1")
            assert row is not None and row["status"] == JobStatus.DELIVERED
            assert (row["workspace_id"], row["user_id"]) == (str(w.guild.id), str(w.member.id))
            assert row["delivered_message_id"] == str(result.id) and row["image_count"] == 1
            assert await conn.fetchval("SELECT value FROM meta WHERE key = 'nonce_salt'") == salt
        finally:
            await conn.close()
        assert len(w.results()) == 1


async def test_a_restarted_bot_on_the_same_database_numbers_on_and_keeps_its_nonce_salt(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    async with postgres_server.database() as url, world(tmp_path) as w:
        async with running_bot(w, {"DATABASE_URL": url}) as first:
            interaction = await w.veo(prompt="first")
            await interaction.wait_for_response(predicate=lambda m: "Job #1" in m.content)
            await w.discord.wait_until(lambda: w.results() or None, timeout=10)
            salt = first.notifier.nonce_salt
        async with running_bot(w, {"DATABASE_URL": url}) as second:
            assert second.notifier.nonce_salt == salt
            interaction = await w.veo(prompt="second")
            await interaction.wait_for_response(predicate=lambda m: "Job #2" in m.content)
            await w.discord.wait_until(lambda: len(w.results()) == 2 or None, timeout=10)
            job = await second.store.get_job(2)
            assert job is not None and job.prompt == "second"
