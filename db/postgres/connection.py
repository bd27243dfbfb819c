"""Opening the PostgreSQL job store: the connection pool, URLs without their password, and numbered migrations
in a ``schema_version`` table, applied once however many processes start together."""

from __future__ import annotations

import logging
import re
from importlib import resources
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

log = logging.getLogger(__name__)

SCHEMES = ("postgresql://", "postgres://")
# The two-key advisory lock the migrations run under (two-key locks never meet one-key ones). Transaction-scoped:
# it goes with the transaction, also when the process dies in the middle.
MIGRATION_LOCK = (7300, 0)
# Connections are held for one statement or one transaction, never across a network call to anything else.
POOL_MIN = 1
POOL_MAX = 8
COMMAND_TIMEOUT = 15.0

_PASSWORD_IN_AUTHORITY = re.compile(r"(?P<head>^[a-z]+://[^/@:?#]*:)(?P<password>[^/@?#]*)(?=@)", re.IGNORECASE)
_PASSWORD_IN_QUERY = re.compile(r"(?P<head>[?&]password=)(?P<password>[^&#]*)", re.IGNORECASE)


class StoreUnavailable(RuntimeError):
    """The PostgreSQL database could not be opened; the text names it without its password."""


def is_postgres_url(url: str) -> bool:
    """True for the URLs the PostgreSQL store serves (``postgresql://…`` and ``postgres://…``)."""
    return url.lower().startswith(SCHEMES)


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***``, for logs and messages."""
    url = _PASSWORD_IN_AUTHORITY.sub(lambda m: m["head"] + "***", url)
    return _PASSWORD_IN_QUERY.sub(lambda m: m["head"] + "***", url)


def _passwords(url: str) -> list[str]:
    found = [m["password"] for m in (*_PASSWORD_IN_AUTHORITY.finditer(url), *_PASSWORD_IN_QUERY.finditer(url))]
    return [p for p in found if p]


def scrub(text: str, url: str) -> str:
    """``text`` (an error from the driver or the server) with the URL's password taken out wherever it appears."""
    for password in _passwords(url):
        text = text.replace(password, "***")
    return text.replace(url, redact(url))


def migration_scripts() -> list[tuple[int, str, str]]:
    """The numbered migrations shipped with the package, as (version, name, sql), in order."""
    scripts = []
    for entry in resources.files("db.postgres.migrations").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            scripts.append((int(name[:4]), name, entry.read_text(encoding="utf-8")))
    scripts.sort()
    versions = [v for v, _, _ in scripts]
    if versions != list(range(1, len(versions) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n without gaps, found {versions}")
    return scripts


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
            raise RuntimeError(f"the database's schema is at version {current}, newer than this veo-bot knows "
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


async def open_pool(url: str) -> asyncpg.Pool[Any]:
    """A connection pool on the database at ``url``, migrated; ``StoreUnavailable`` (password-free) if not."""
    try:
        pool = await asyncpg.create_pool(
            url, min_size=POOL_MIN, max_size=POOL_MAX, command_timeout=COMMAND_TIMEOUT,
            max_inactive_connection_lifetime=300, server_settings={"application_name": "veo-bot"})
    except Exception as exc:
        raise StoreUnavailable(f"cannot open the PostgreSQL database {redact(url)}: "
                               f"{type(exc).__name__}: {scrub(str(exc), url)}") from None
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
    except BaseException as exc:
        await pool.close()
        if isinstance(exc, Exception):
            raise StoreUnavailable(f"cannot migrate the PostgreSQL database {redact(url)}: "
                                   f"{type(exc).__name__}: {scrub(str(exc), url)}") from None
        raise
    return pool
