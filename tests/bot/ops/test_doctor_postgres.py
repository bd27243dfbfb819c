"""``veo-bot doctor`` on a PostgreSQL ``DATABASE_URL``: reachable, migrated, the server's version, a fix for each
problem, and never the password."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from bot.ops.doctor import Level, check_database
from db import open_store
from db.postgres.connection import migration_scripts as pg_migrations
from tests.support.postgres import PostgresServer, with_database

pytestmark = pytest.mark.postgres
PASSWORD = "doctor-pa55-word"


def with_login(url: str, user: str, password: str = PASSWORD) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, f"{user}:{password}@{host}", parts.path, parts.query, parts.fragment))


def assert_no_password(text: str) -> None:
    assert PASSWORD not in text


async def test_a_reachable_database_is_migrated_written_and_described(postgres_server: PostgresServer) -> None:
    async with postgres_server.database(migrated=False) as url:
        finding = await check_database(with_login(url, "postgres"), open_store)
        assert finding.level is Level.OK, finding
        assert ":***@" in finding.message and "opens, is up to date and takes writes (PostgreSQL 1" in finding.message
        assert finding.message.endswith(f", schema version {len(pg_migrations())})")
        assert_no_password(finding.message)
        conn = await asyncpg.connect(url)
        try:
            assert await conn.fetchval("SELECT value FROM meta WHERE key = 'doctor_checked_at'") == "ok"
        finally:
            await conn.close()


async def test_an_unreachable_server_fails_with_where_to_look() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nobody listens here once the socket closes
    finding = await check_database(f"postgresql://veo:{PASSWORD}@127.0.0.1:{port}/veo", open_store)
    assert finding.level is Level.FAIL and finding.fix is not None
    assert "cannot open the PostgreSQL database postgresql://veo:***@127.0.0.1" in finding.message
    assert "check the host and port in DATABASE_URL" in finding.fix
    assert_no_password(finding.message + finding.fix)


async def test_a_missing_database_fails_with_how_to_create_it(postgres_server: PostgresServer) -> None:
    url = with_login(with_database(postgres_server.url, "veo_no_such_database"), "postgres")
    finding = await check_database(url, open_store)
    assert finding.level is Level.FAIL and finding.fix is not None and "createdb" in finding.fix
    assert "veo_no_such_database" in finding.message
    assert_no_password(finding.message + finding.fix)


async def test_a_role_that_may_not_create_tables_fails_with_the_grant_it_needs(
    postgres_server: PostgresServer,
) -> None:
    async with postgres_server.database(migrated=False) as url:
        admin = await asyncpg.connect(url)
        try:
            await admin.execute("DROP ROLE IF EXISTS veo_reader")
            await admin.execute(f"CREATE ROLE veo_reader LOGIN PASSWORD '{PASSWORD}'")
            await admin.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
            finding = await check_database(with_login(url, "veo_reader"), open_store)
        finally:
            await admin.execute("REASSIGN OWNED BY veo_reader TO postgres")
            await admin.execute("DROP OWNED BY veo_reader")
            await admin.execute("DROP ROLE veo_reader")
            await admin.close()
    assert finding.level is Level.FAIL and finding.fix is not None
    assert "cannot migrate" in finding.message and "GRANT CREATE ON SCHEMA public" in finding.fix
    assert_no_password(finding.message + finding.fix)


async def test_a_database_migrated_by_a_newer_bot_fails_with_what_to_run(postgres_server: PostgresServer) -> None:
    async with postgres_server.database() as url:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("UPDATE schema_version SET version = 99")
        finally:
            await conn.close()
        finding = await check_database(with_login(url, "postgres"), open_store)
    assert finding.level is Level.FAIL and finding.fix is not None
    assert "schema is at version 99" in finding.message and "newer veo-bot" in finding.fix
