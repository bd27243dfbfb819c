"""``veo-bot doctor``'s checks of the PostgreSQL server's settings, read from real servers: the tests' own (fast,
not durable: fsync and synchronous_commit off) and one started here durable but with too few connections and a
REPEATABLE READ default; plus the arithmetic of the connection budget on its own."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator

import asyncpg
import pytest

from bot.ops.doctor import Finding, Level
from bot.ops.postgres_checks import HEADROOM, PostgresServerFacts, check_postgres_server, check_server
from db import open_store, read_postgres_server
from db.postgres.connection import POOL_MAX
from tests.support import postgres
from tests.support.postgres import LocalServer, PostgresServer, with_database

DURABLE_BUT_SMALL = ("fsync=on", "synchronous_commit=on", "max_connections=12", "superuser_reserved_connections=3",
                     "shared_buffers=16MB")


def by_check(findings: list[Finding]) -> dict[str, Finding]:
    return {f.check.removeprefix("postgresql").strip() or "postgresql": f for f in findings}


@pytest.fixture(scope="module")
def durable_server() -> Iterator[LocalServer]:
    try:
        server = LocalServer.start(DURABLE_BUT_SMALL)
    except postgres.NoServer as exc:
        postgres.unavailable(str(exc))
        raise
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.postgres
async def test_the_tests_own_server_is_reported_not_durable_with_room_for_many_processes(
    postgres_server: PostgresServer,
) -> None:
    async with postgres_server.database() as url:
        store = await open_store(url)
        try:
            found = by_check(await check_postgres_server(url, read_postgres_server))
        finally:
            await store.close()
    assert found["version"].level is Level.OK and "PostgreSQL 1" in found["version"].message
    assert found["fsync"].level is Level.FAIL and "fsync is off" in found["fsync"].message
    assert found["fsync"].fix is not None and "ALTER SYSTEM SET fsync = on" in found["fsync"].fix
    sync = found["synchronous_commit"]
    assert sync.level is Level.WARN and "may find the job gone" in sync.message
    assert sync.fix is not None and "ALTER SYSTEM SET synchronous_commit = on" in sync.fix
    connections = found["connections"]
    per = POOL_MAX + 1
    assert connections.level is Level.OK, connections
    assert f"max_connections = 300 (3 reserved for superusers): room for {(300 - 3 - HEADROOM) // per} veo-bot " \
           f"process(es) of {per} connections each (a pool of {POOL_MAX} and one wake-up listener)" \
           in connections.message
    in_use = connections.message.rsplit(";", 1)[-1]
    assert "veo-bot's" in in_use and " 0 of them" not in in_use  # the store opened above holds one at least
    assert found["isolation"].level is Level.OK and "read committed" in found["isolation"].message


@pytest.mark.postgres
async def test_a_durable_server_with_too_few_connections_fails_with_the_numbers_and_the_fix(
    durable_server: LocalServer,
) -> None:
    admin = await asyncpg.connect(durable_server.url)
    try:
        await admin.execute("CREATE DATABASE veo")
        await admin.execute("ALTER DATABASE veo SET default_transaction_isolation = 'repeatable read'")
    finally:
        await admin.close()
    found = by_check(await check_postgres_server(with_database(durable_server.url, "veo"), read_postgres_server))
    assert found["fsync"].level is Level.OK and found["synchronous_commit"].level is Level.OK
    connections = found["connections"]
    assert connections.level is Level.FAIL
    assert connections.message.startswith("max_connections = 12 (3 reserved for superusers): room for 0 veo-bot")
    assert connections.fix is not None and f"at least {POOL_MAX + 1} × processes + {HEADROOM} + 3" in connections.fix
    isolation = found["isolation"]
    assert isolation.level is Level.OK and "repeatable read" in isolation.message
    assert "sets READ COMMITTED on each of its own sessions" in isolation.message


FACTS = PostgresServerFacts(version="15.8", version_num=150008, fsync="on", synchronous_commit="on",
                            default_transaction_isolation="read committed", max_connections=100,
                            reserved_connections=3, connections_in_use=10, bot_connections_in_use=9,
                            connections_per_process=9, pool_size=8)


def test_little_room_left_is_a_warning_and_an_old_server_fails() -> None:
    assert by_check(check_server(FACTS))["connections"].level is Level.OK
    crowded = by_check(check_server(dataclasses.replace(FACTS, connections_in_use=90)))["connections"]
    assert crowded.level is Level.WARN and "fewer than 9 are free" in crowded.message
    old = by_check(check_server(dataclasses.replace(FACTS, version="10.23", version_num=100023)))["version"]
    assert old.level is Level.FAIL and "needs PostgreSQL 11 or newer" in old.message
    assert by_check(check_server(dataclasses.replace(FACTS, synchronous_commit="local")))[
        "synchronous_commit"].level is Level.OK


async def test_settings_that_cannot_be_read_are_a_warning_without_the_password() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql://veo:settings-pa55@127.0.0.1:{port}/veo"
    [finding] = await check_postgres_server(url, read_postgres_server)
    assert finding.level is Level.WARN and "could not read the server settings of postgresql://veo:***@" in \
        finding.message
    assert "settings-pa55" not in finding.message + (finding.fix or "")
