"""The PostgreSQL test harness: without a server its tests skip with the reason, or fail where CI requires one;
its databases are independent; the server it starts runs as another user than root."""

from __future__ import annotations

import os
from pathlib import Path

import asyncpg
import pytest

from db.postgres.connection import migration_scripts
from tests.support import postgres
from tests.support.postgres import PostgresServer


def test_without_a_server_tests_skip_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(postgres.REQUIRE_VARIABLE, raising=False)
    with pytest.raises(pytest.skip.Exception, match="no PostgreSQL: initdb is not installed"):
        postgres.unavailable("initdb is not installed")


def test_where_postgresql_is_required_tests_fail_instead(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(postgres.REQUIRE_VARIABLE, "1")
    with pytest.raises(pytest.fail.Exception, match="VEO_REQUIRE_POSTGRES=1"):
        postgres.unavailable("initdb is not installed")


def test_a_database_url_names_another_database_on_the_same_server() -> None:
    assert (postgres.with_database("postgresql://veo:pw@db:5433/postgres?sslmode=require", "veo_t1")
            == "postgresql://veo:pw@db:5433/veo_t1?sslmode=require")


@pytest.mark.postgres
async def test_each_database_is_fresh_and_migrated_and_goes_afterwards(postgres_server: PostgresServer) -> None:
    async with postgres_server.database() as first, postgres_server.database() as second:
        assert first != second
        one = await asyncpg.connect(first)
        try:
            await one.execute("INSERT INTO meta (key, value) VALUES ('k', 'v')")
            other = await asyncpg.connect(second)
            try:
                assert await other.fetchval("SELECT count(*) FROM meta") == 0
                assert await other.fetchval("SELECT max(version) FROM schema_version") == len(migration_scripts())
                if postgres_server.local is not None and os.geteuid() == 0:
                    # PostgreSQL refuses root: the server the harness started runs as another user.
                    backend = await other.fetchval("SELECT pg_backend_pid()")
                    status = Path(f"/proc/{backend}/status").read_text()
                    [uid_line] = [line for line in status.splitlines() if line.startswith("Uid:")]
                    assert uid_line.split()[1] != "0"
            finally:
                await other.close()
        finally:
            await one.close()
    admin = await asyncpg.connect(postgres_server.url)
    try:
        names = {r[0] for r in await admin.fetch("SELECT datname FROM pg_database")}
    finally:
        await admin.close()
    assert first.rsplit("/", 1)[-1] not in names and second.rsplit("/", 1)[-1] not in names


def test_without_initdb_the_reason_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres.shutil, "which", lambda _name: None)
    monkeypatch.setattr(postgres.glob, "glob", lambda _pattern: [])
    with pytest.raises(postgres.NoServer, match=r"initdb is not installed \(Debian: apt-get install -y postgresql\)"):
        postgres.binaries()
