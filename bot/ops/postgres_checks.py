"""``veo-bot doctor`` on a PostgreSQL server: the settings that decide whether acknowledged jobs survive a crash,
whether the bot's processes get their connections, and whether the server runs the bot's SQL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.config import Settings
from bot.database_url import is_postgres, redact, scrub
from bot.ops.doctor import Finding, Level

# starts_with(), in the store's stale-status query, arrived in PostgreSQL 11; the tests run on 15.
MIN_SERVER_VERSION = 110000
# Connections kept free of the bot's processes for psql, backups, migrations and this doctor.
HEADROOM = 5
CHECK = "postgresql"


@dataclass(frozen=True, slots=True)
class PostgresServerFacts:
    """What the doctor reads from the server, on a session of its own with the server's and database's defaults."""

    version: str  # server_version, e.g. "15.8 (Debian 15.8-0+deb12u1)"
    version_num: int  # server_version_num, e.g. 150008
    fsync: str
    synchronous_commit: str
    default_transaction_isolation: str
    max_connections: int
    reserved_connections: int  # superuser_reserved_connections (and reserved_connections from PostgreSQL 16)
    connections_in_use: int  # client sessions now, the doctor's own left out
    bot_connections_in_use: int  # of them, the bot's (application_name veo-bot…)
    connections_per_process: int  # the most one bot process holds: its pool and its wake-up listener
    pool_size: int


def check_server(facts: PostgresServerFacts) -> list[Finding]:
    """One finding per setting that matters, with how to fix what is wrong."""
    return [_version(facts), _fsync(facts), _synchronous_commit(facts), _connections(facts), _isolation(facts)]


def _alter(setting: str, value: str) -> str:
    return (f"as a superuser: ALTER SYSTEM SET {setting} = {value}, then reload the configuration "
            f"(pg_reload_conf() or pg_ctl reload); or set it in postgresql.conf")


def _version(facts: PostgresServerFacts) -> Finding:
    if facts.version_num < MIN_SERVER_VERSION:
        return Finding(Level.FAIL, f"{CHECK} version", f"PostgreSQL {facts.version} is too old: the bot's SQL "
                       f"needs PostgreSQL {MIN_SERVER_VERSION // 10000} or newer",
                       "upgrade the server (pg_upgrade), or point DATABASE_URL at a newer one")
    return Finding(Level.OK, f"{CHECK} version", f"PostgreSQL {facts.version} (veo-bot needs "
                   f"{MIN_SERVER_VERSION // 10000} or newer)")


def _fsync(facts: PostgresServerFacts) -> Finding:
    if facts.fsync != "on":
        return Finding(Level.FAIL, f"{CHECK} fsync", "fsync is off: a crash of the server or its machine can "
                       "corrupt the database and lose jobs members were told about", _alter("fsync", "on"))
    return Finding(Level.OK, f"{CHECK} fsync", "fsync is on: committed jobs survive a crash of the server")


def _synchronous_commit(facts: PostgresServerFacts) -> Finding:
    if facts.synchronous_commit == "off":
        return Finding(Level.WARN, f"{CHECK} synchronous_commit", "synchronous_commit is off: a crash of the "
                       "server may lose the last moments of commits, so a member told 'Job #N' may find the job "
                       "gone (and a video posted may be posted again)", _alter("synchronous_commit", "on"))
    return Finding(Level.OK, f"{CHECK} synchronous_commit",
                   f"synchronous_commit is {facts.synchronous_commit}: a job is acknowledged once it is durable")


def _connections(facts: PostgresServerFacts) -> Finding:
    usable = facts.max_connections - facts.reserved_connections
    per = facts.connections_per_process
    room = max(0, (usable - HEADROOM) // per)
    budget = (f"max_connections = {facts.max_connections} ({facts.reserved_connections} reserved for superusers): "
              f"room for {room} veo-bot process(es) of {per} connections each (a pool of {facts.pool_size} and one "
              f"wake-up listener), keeping {HEADROOM} for psql, backups and migrations; "
              f"{facts.connections_in_use} in use now, {facts.bot_connections_in_use} of them veo-bot's")
    want = f"{per} × processes + {HEADROOM} + {facts.reserved_connections}"
    fix = (f"raise max_connections to at least {want} (as a superuser: ALTER SYSTEM SET max_connections = …; then "
           "restart the server), or run fewer bot processes on it")
    if room < 1:
        return Finding(Level.FAIL, f"{CHECK} connections", budget, fix)
    if facts.connections_in_use + per > usable:
        return Finding(Level.WARN, f"{CHECK} connections", f"{budget}: fewer than {per} are free, so another "
                       "process may be refused connections", fix)
    return Finding(Level.OK, f"{CHECK} connections", budget)


def _isolation(facts: PostgresServerFacts) -> Finding:
    if facts.default_transaction_isolation != "read committed":
        return Finding(Level.OK, f"{CHECK} isolation", f"the database's default isolation is "
                       f"{facts.default_transaction_isolation}; the bot sets READ COMMITTED on each of its own "
                       "sessions, which its caps and quotas need, so nothing needs changing")
    return Finding(Level.OK, f"{CHECK} isolation", "read committed, as the bot's caps and quotas need")


async def check_postgres_server(url: str, read: Callable[[str], Awaitable[PostgresServerFacts]]) -> list[Finding]:
    """Read the server's settings on a session of its own (``read``) and check them; one warning when they cannot
    be read (the database check says why the server cannot be reached)."""
    try:
        facts = await read(url)
    except Exception as exc:
        return [Finding(Level.WARN, CHECK, f"could not read the server settings of {redact(url)}: "
                        f"{type(exc).__name__}: {scrub(str(exc), url)[:200]}",
                        "check that the role may read pg_settings and pg_stat_activity")]
    return check_server(facts)


async def postgres_server_findings(settings: Settings, findings: list[Finding],
                                   read: Callable[[str], Awaitable[PostgresServerFacts]]) -> list[Finding]:
    """The server checks of a PostgreSQL ``DATABASE_URL`` whose database check (among ``findings``) passed."""
    url = settings.database_url
    database_failed = any(f.check == "database" and f.level is Level.FAIL for f in findings)
    if not is_postgres(url) or database_failed:
        return []
    return await check_postgres_server(url, read)
