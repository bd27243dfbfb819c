"""Opening the PostgreSQL job store: the connection pool, errors without the password, and numbered migrations
in a ``schema_version`` table, applied once however many processes start together."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from bot.database_url import redact, scrub
from bot.jobs.ports import StoreUnavailable
from db.migration_files import numbered_migrations

log = logging.getLogger(__name__)

# The two-key advisory lock the migrations run under (two-key locks never meet one-key ones). Transaction-scoped:
# it goes with the transaction, also when the process dies in the middle.
MIGRATION_LOCK = (7300, 0)
# Connections are held for one statement or one transaction, never across a network call to anything else.
POOL_MIN = 1
POOL_MAX = 8
COMMAND_TIMEOUT = 15.0
CONNECT_TIMEOUT = 10.0
# Per session, so the role needs no server settings: a session that stalls inside a transaction (a frozen
# process) is ended by the server rather than holding the claim lock for every other connection, and a wait
# for a lock fails after a few seconds instead of hanging a command. READ COMMITTED whatever the server's
# default: caps and quotas are checked after taking an advisory lock, and a REPEATABLE READ snapshot, taken
# before the lock wait, would not see what the previous holder admitted.
SESSION_SETTINGS = {
    "application_name": "veo-bot",
    "default_transaction_isolation": "read committed",
    "idle_in_transaction_session_timeout": "15s",
    "lock_timeout": "5s",
}


def migration_scripts() -> list[tuple[int, str, str]]:
    """The numbered migrations shipped with the package, as (version, name, sql), in order."""
    return numbered_migrations("db.postgres.migrations")


async def schema_version(conn: asyncpg.Connection[Any] | PoolConnectionProxy[Any]) -> int:
    """The version the database's schema is at (0: never migrated)."""
    exists = await conn.fetchval("SELECT to_regclass('schema_version') IS NOT NULL")
    if not exists:
        return 0
    value = await conn.fetchval("SELECT max(version) FROM schema_version")
    return int(value) if value is not None else 0


async def migrate(conn: asyncpg.Connection[Any] | PoolConnectionProxy[Any]) -> int:
    """Apply every migration newer than the database's ``schema_version``; return the version reached.

    All of it is one transaction under an advisory lock: a second process starting at the same moment waits,
    then finds the schema up to date; a crash leaves the database as it was (PostgreSQL's DDL is transactional).
    """
    scripts = migration_scripts()
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", *MIGRATION_LOCK)
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)")
        current = await schema_version(conn)
        if current > len(scripts):
            raise SchemaTooNew(f"the database's schema is at version {current}, newer than this veo-bot knows "
                               f"({len(scripts)}): run the newer veo-bot, or another database")
        for version, name, sql in scripts:
            if version <= current:
                continue
            await conn.execute(sql)
            log.info("applied migration %s", name)
            current = version
        await conn.execute("DELETE FROM schema_version")
        await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", current)
    return current


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer veo-bot than this one."""


def _fix(exc: BaseException, url: str) -> str:
    """What the operator can do about a failure to open or migrate the database."""
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return "create the database (createdb -O <role> <name>) or correct its name in DATABASE_URL"
    if isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError | asyncpg.InvalidPasswordError):
        return "check the role and password in DATABASE_URL, and that pg_hba.conf lets this host connect"
    if isinstance(exc, asyncpg.InsufficientPrivilegeError):
        return ("give the role the right to create tables: make it the database's owner, or "
                "GRANT CREATE ON SCHEMA public TO <role>")
    if isinstance(exc, asyncpg.TooManyConnectionsError):
        return "raise the server's max_connections, or run fewer bot processes on it"
    if isinstance(exc, SchemaTooNew):
        return "run the newer veo-bot that migrated it, or point DATABASE_URL at another database"
    if isinstance(exc, OSError | TimeoutError):
        return "check the host and port in DATABASE_URL, and that the PostgreSQL server is running and reachable"
    return "check DATABASE_URL and the PostgreSQL server's log"


def unavailable(action: str, exc: BaseException, url: str) -> StoreUnavailable:
    """The error to raise when ``action`` failed: the database named without its password, and a fix."""
    return StoreUnavailable(f"cannot {action} the PostgreSQL database {redact(url)}: "
                            f"{type(exc).__name__}: {scrub(str(exc), url)[:300]}", _fix(exc, url))


async def keep_session(conn: asyncpg.Connection[Any]) -> None:
    """The pool's reset of a connection given back: nothing beyond asyncpg's own (an open transaction rolled back,
    its in-process listeners dropped).

    asyncpg's default also sends ``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`` to the
    server on every release: a round trip and a transaction of its own after every store call, a sixth of the
    bot's CPU in the poll loop (py-spy, docs/PERFORMANCE.md). The store leaves none of that behind: its
    advisory locks are transaction-scoped, it opens no cursor outside a transaction, listens on no pool
    connection and changes no setting after connecting.
    """


async def open_pool(url: str) -> asyncpg.Pool[Any]:
    """A connection pool on the database at ``url``, migrated; ``StoreUnavailable`` (password-free) if not."""
    try:
        pool = await asyncpg.create_pool(
            url, min_size=POOL_MIN, max_size=POOL_MAX, command_timeout=COMMAND_TIMEOUT,
            max_inactive_connection_lifetime=300, timeout=CONNECT_TIMEOUT, server_settings=SESSION_SETTINGS,
            reset=keep_session)
    except Exception as exc:
        # From None: the driver's exception (and its chain) may quote the URL, password included.
        raise unavailable("open", exc, url) from None
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
    except Exception as exc:
        await pool.close()
        raise unavailable("migrate", exc, url) from None
    except BaseException:
        await pool.close()
        raise
    return pool
