"""What ``veo-bot doctor`` reads from a PostgreSQL server, on a session of its own without the bot's session
settings, so that it sees the server's and the database's defaults."""

from __future__ import annotations

import asyncpg

from bot.ops.postgres_checks import PostgresServerFacts
from db.postgres.connection import CONNECT_TIMEOUT, POOL_MAX
from db.postgres.wakeups import CONNECTIONS_PER_PROCESS

DOCTOR_NAME = "veo-bot doctor"
# reserved_connections arrived in PostgreSQL 16: current_setting(…, true) is NULL before.
_SETTINGS = (
    "SELECT current_setting('server_version'), current_setting('server_version_num')::int,"
    " current_setting('fsync'), current_setting('synchronous_commit'),"
    " current_setting('default_transaction_isolation'), current_setting('max_connections')::int,"
    " current_setting('superuser_reserved_connections')::int"
    " + COALESCE(current_setting('reserved_connections', true)::int, 0)"
)
_IN_USE = (
    "SELECT count(*), count(*) FILTER (WHERE application_name LIKE 'veo-bot%') FROM pg_stat_activity"
    " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
)


async def read_server_facts(url: str) -> PostgresServerFacts:
    """The server's settings that matter to the bot, and the connections in use now."""
    conn = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT, server_settings={"application_name": DOCTOR_NAME})
    try:
        version, version_num, fsync, synchronous_commit, isolation, max_connections, reserved = (
            await conn.fetchrow(_SETTINGS))  # type: ignore[misc]
        in_use, bot_in_use = await conn.fetchrow(_IN_USE)  # type: ignore[misc]
    finally:
        await conn.close()
    return PostgresServerFacts(
        version=str(version), version_num=int(version_num), fsync=str(fsync),
        synchronous_commit=str(synchronous_commit), default_transaction_isolation=str(isolation),
        max_connections=int(max_connections), reserved_connections=int(reserved), connections_in_use=int(in_use),
        bot_connections_in_use=int(bot_in_use), connections_per_process=CONNECTIONS_PER_PROCESS, pool_size=POOL_MAX,
    )
