"""Opening the PostgreSQL store: errors and logs never carry the URL's password; migrations are numbered."""

from __future__ import annotations

import logging
import socket

import asyncpg
import pytest

from bot.jobs.ports import StoreUnavailable
from db import open_store
from db.postgres.connection import migration_scripts
from db.postgres.store import PostgresJobStore
from tests.db.contract.helpers import ROOMY, T0, new_job, policy
from tests.support.postgres import PostgresServer, with_database

PASSWORD = "never-sh0wn-pw"


def test_migrations_are_numbered_from_one_without_gaps() -> None:
    scripts = migration_scripts()
    assert [version for version, _, _ in scripts] == list(range(1, len(scripts) + 1))
    assert scripts[0][1] == "0001_schema.sql"


async def test_a_failed_open_names_the_database_without_its_password(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql://veo:{PASSWORD}@127.0.0.1:{port}/veo?password={PASSWORD}"
    with pytest.raises(StoreUnavailable) as refused:
        await open_store(url)
    message = str(refused.value)
    assert message.startswith(f"cannot open the PostgreSQL database postgresql://veo:***@127.0.0.1:{port}/veo?password=***")
    assert refused.value.__cause__ is None and refused.value.__suppress_context__
    assert PASSWORD not in message + refused.value.fix + caplog.text


@pytest.mark.postgres
async def test_opening_and_using_the_store_logs_no_password(
    postgres_server: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with postgres_server.database(migrated=False) as url:
        with_password = url.replace("postgresql://postgres@", f"postgresql://postgres:{PASSWORD}@")
        store = await open_store(with_password)
        try:
            assert await store.get_or_create_meta("k", "v") == "v"
            assert f"schema version {len(migration_scripts())}" in await store.describe()
        finally:
            await store.close()
    assert "applied migration 0001_schema.sql" in caplog.text
    assert PASSWORD not in caplog.text


@pytest.mark.postgres
async def test_a_role_that_owns_its_database_is_all_the_store_needs(postgres_server: PostgresServer) -> None:
    admin = await asyncpg.connect(postgres_server.url)
    name = "veo_owned_by_role"
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute("DROP ROLE IF EXISTS veo_owner")
        await admin.execute(f"CREATE ROLE veo_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '{PASSWORD}'")
        await admin.execute(f'CREATE DATABASE "{name}" OWNER veo_owner')
        url = with_database(postgres_server.url, name).replace("//postgres@", f"//veo_owner:{PASSWORD}@")
        store = await open_store(url)
        try:
            admission = await store.admit_job(new_job(), policy(), T0)  # the advisory locks need no privilege
            assert admission.job_id == 1
            [claimed] = await store.claim_submittable(ROOMY, T0, T0 + 120, 5)
            assert claimed.id == 1
        finally:
            await store.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute("DROP ROLE IF EXISTS veo_owner")
        await admin.close()


@pytest.mark.postgres
async def test_sessions_end_a_stalled_transaction_and_give_up_waiting_for_a_lock(
    postgres_server: PostgresServer,
) -> None:
    async with postgres_server.database() as url:
        store = await PostgresJobStore.open(url)
        try:
            async with store._pool.acquire() as conn:
                assert await conn.fetchval("SHOW idle_in_transaction_session_timeout") == "15s"
                assert await conn.fetchval("SHOW lock_timeout") == "5s"
                assert await conn.fetchval("SHOW application_name") == "veo-bot"
                assert await conn.fetchval("SHOW default_transaction_isolation") == "read committed"
        finally:
            await store.close()
