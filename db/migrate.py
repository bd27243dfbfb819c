"""Copying a SQLite job store into an empty PostgreSQL one (``veo-bot migrate-db``).

Every table of the SQLite database is copied into the table of the same name in PostgreSQL, column by column
as both sides have them, ids kept, in batches (``COPY``, binary) so that a large database never sits in memory
at once. The whole copy, the target's schema included, is one PostgreSQL transaction: an error or a killed
process half way leaves the target as it was. The identity sequences are set after, past every id SQLite ever
handed out (``sqlite_sequence``), so job numbers are never reused.

The source is read under the SQLite store's own lock (``DatabaseLock``): a bot running on it is refused, and no
bot can start on it while the copy runs. A source that is not at this veo-bot's latest SQLite migration is
refused rather than migrated, so that the copy never changes the source.

Who holds a job's lease (``lease_owner``) is process state, not data: it stays empty in the target. The job's
fencing counter (``lease_token``) is copied, so that it only ever grows.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from bot.database_url import SQLITE_PREFIX, is_postgres, is_sqlite, redact
from bot.jobs.ports import StoreInUse
from db.postgres.connection import CONNECT_TIMEOUT, SchemaTooNew, migrate, unavailable
from db.sqlite.connection import DatabaseLock
from db.sqlite.connection import migration_scripts as sqlite_migrations

BATCH_ROWS = 5000
# Rows per batch of a table whose rows are large: a job's images are up to VEO_MAX_IMAGE_BYTES each, so a batch
# holds at most this many of them in memory.
LARGE_ROW_BATCHES = {"job_images": 8}
# Columns that hold a process's claim on a job, never carried from one database to another.
# Columns of process state, left empty in the target.
PROCESS_STATE = frozenset({"lease_owner"})
# Tables of process state only (who holds which named lease): the source's holders are gone, nothing to copy.
PROCESS_TABLES = frozenset({"process_leases"})
# Bookkeeping of each backend, not the bot's data.
SQLITE_INTERNAL = ("sqlite_sequence", "sqlite_stat1", "sqlite_stat4")
POSTGRES_INTERNAL = ("schema_version",)
# Tables copied first, in this order (the rest follow by name): the jobs are the bulk of any database.
FIRST = ("jobs",)
# The names the bot's schemas use; the only text ever put into a statement (quoted, by _identifier).
PLAIN_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
SESSION_SETTINGS = {"application_name": "veo-bot migrate-db"}


class MigrationRefused(Exception):
    """The copy was not started: a source or target it must not touch. The text says why."""


class BadArguments(MigrationRefused):
    """The two URLs are not a SQLite file and another, PostgreSQL, database: a usage error."""


@dataclass
class TableCopy:
    """One table's share of the copy."""

    name: str
    rows: int = 0


@dataclass
class CopyReport:
    """What was copied, table by table, and how long it took."""

    tables: list[TableCopy] = field(default_factory=list)
    sequences: dict[str, int] = field(default_factory=dict)  # table -> the last id handed out
    seconds: float = 0.0


# Called after each batch written: the table and the rows of it copied so far.
Progress = Callable[[str, int], None]


def check_urls(source: str, target: str) -> Path:
    """The source file, or ``BadArguments`` when the two URLs are not a SQLite file and a PostgreSQL database."""
    if source.strip() == target.strip():
        raise BadArguments("the source and the target are the same database")
    if not is_sqlite(source):
        if is_postgres(source):
            raise BadArguments("the source must be a SQLite database (sqlite:///…); "
                                   "copying from PostgreSQL is not supported")
        raise BadArguments(f"the source must be a SQLite database (sqlite:///path), not {redact(source)}")
    if not is_postgres(target):
        if is_sqlite(target):
            raise BadArguments("the target must be a PostgreSQL database (postgresql://…), not SQLite")
        raise BadArguments(f"the target must be a PostgreSQL database (postgresql://…), not {redact(target)}")
    path = Path(source.removeprefix(SQLITE_PREFIX))
    if not path.is_file():
        raise BadArguments(f"the source database {path} does not exist")
    return path


def _open_source(path: Path) -> sqlite3.Connection:
    """The source, read-only, checked to be a veo-bot database at this veo-bot's latest SQLite migration."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.Error as exc:
        raise MigrationRefused(f"cannot read the source {path}: {exc}") from None
    latest = len(sqlite_migrations())
    if version != latest:
        conn.close()
        if version == 0:
            raise MigrationRefused(f"the source {path} is not a veo-bot database (no migrations applied)")
        if version > latest:
            raise MigrationRefused(f"the source {path} was migrated by a newer veo-bot (schema {version}, this "
                                   f"one knows {latest}): run migrate-db with that version")
        raise MigrationRefused(f"the source {path} is at schema version {version}, this veo-bot's is {latest}: "
                               "start this veo-bot on it once (it migrates the database as it starts), stop it, "
                               "then run migrate-db again")
    conn.execute("BEGIN")  # one read transaction: every table as of one moment
    return conn


def _source_tables(conn: sqlite3.Connection) -> dict[str, list[str]]:
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    return {name: [r[0] for r in conn.execute("SELECT name FROM pragma_table_info(?) ORDER BY cid", (name,))]
            for name in names if name not in SQLITE_INTERNAL and name not in PROCESS_TABLES}


async def _target_tables(conn: asyncpg.Connection[Any]) -> dict[str, dict[str, str]]:
    """Each table of the target's schema: its columns and their types."""
    rows = await conn.fetch(
        "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c "
        "JOIN information_schema.tables t USING (table_schema, table_name) "
        "WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' "
        "ORDER BY c.table_name, c.ordinal_position")
    tables: dict[str, dict[str, str]] = {}
    for row in rows:
        if row["table_name"] not in POSTGRES_INTERNAL:
            tables.setdefault(row["table_name"], {})[row["column_name"]] = row["data_type"]
    return tables


def _plan(source: dict[str, list[str]], target: dict[str, dict[str, str]]) -> list[tuple[str, list[str]]]:
    """Which columns of which tables to copy, in order; ``MigrationRefused`` when the target could not hold it all."""
    plan = []
    order = [t for t in FIRST if t in source] + sorted(t for t in source if t not in FIRST)
    for table in order:
        if table not in target:
            raise MigrationRefused(f"the target has no table {table}: the source was made by a veo-bot that knows "
                                   "more than this one")
        columns = [c for c in source[table] if c not in PROCESS_STATE]
        missing = [c for c in columns if c not in target[table]]
        if missing:
            raise MigrationRefused(f"the target's table {table} has no column {', '.join(missing)}: the source was "
                                   "made by a veo-bot that knows more than this one")
        plan.append((table, columns))
    return plan


def _identifier(*names: str) -> str:
    """Table or column names, quoted for SQL and comma-separated, once each is checked to be a plain lower-case
    name as the bot's schemas use (they come from the two databases' catalogues; anything else is refused,
    never put in a statement)."""
    for name in names:
        if not PLAIN_NAME.fullmatch(name):
            raise MigrationRefused(f"unexpected table or column name {name!r} in a database: not a veo-bot schema")
    return ", ".join(f'"{name}"' for name in names)


def _converter(data_type: str) -> Callable[[Any], Any]:
    """How a SQLite value becomes the value of a PostgreSQL column of ``data_type`` (NULL stays NULL)."""
    if data_type == "boolean":
        return lambda v: None if v is None else bool(v)
    if data_type in ("smallint", "integer", "bigint"):
        return lambda v: None if v is None else int(v)
    if data_type in ("double precision", "real", "numeric"):
        return lambda v: None if v is None else float(v)
    if data_type == "text":
        return lambda v: None if v is None else str(v)
    return lambda v: v


def _batches(conn: sqlite3.Connection, table: str, columns: Sequence[str],
             converters: Sequence[Callable[[Any], Any]]) -> Iterator[list[tuple[Any, ...]]]:
    cursor = conn.execute(f"SELECT {_identifier(*columns)} FROM {_identifier(table)} ORDER BY rowid")
    size = LARGE_ROW_BATCHES.get(table, BATCH_ROWS)
    while rows := cursor.fetchmany(size):
        yield [tuple(convert(v) for convert, v in zip(converters, row, strict=True)) for row in rows]


async def _nonempty(conn: asyncpg.Connection[Any], tables: Sequence[str]) -> list[str]:
    found = []
    for table in tables:
        if await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {_identifier(table)})"):
            found.append(table)
    return found


async def _identity_columns(conn: asyncpg.Connection[Any]) -> list[tuple[str, str, str]]:
    """(table, column, sequence) of every identity column of the target."""
    rows = await conn.fetch(
        "SELECT table_name, column_name, pg_get_serial_sequence(quote_ident(table_name), column_name) AS seq "
        "FROM information_schema.columns WHERE table_schema = current_schema() AND is_identity = 'YES'")
    return [(r["table_name"], r["column_name"], r["seq"]) for r in rows]


async def _set_sequences(pg: asyncpg.Connection[Any], source: sqlite3.Connection) -> dict[str, int]:
    """Each identity sequence set past the highest id SQLite handed out (even of rows since deleted)."""
    handed_out = dict(source.execute("SELECT name, seq FROM sqlite_sequence").fetchall())
    result = {}
    for table, column, sequence in await _identity_columns(pg):
        highest = await pg.fetchval(f"SELECT max({_identifier(column)}) FROM {_identifier(table)}")
        last = max(int(highest or 0), int(handed_out.get(table) or 0))
        if last > 0:
            await pg.execute("SELECT setval($1, $2, true)", sequence, last)
            result[table] = last
    return result


async def _copy(pg: asyncpg.Connection[Any], source: sqlite3.Connection, url: str,
                progress: Progress | None) -> CopyReport:
    report = CopyReport()
    async with pg.transaction():
        await migrate(pg)  # a savepoint inside this transaction: the schema goes too if the copy fails
        target = await _target_tables(pg)
        filled = await _nonempty(pg, list(target))
        if filled:
            raise MigrationRefused(f"the target {redact(url)} is not empty (rows in {', '.join(filled)}): "
                                   "migrate-db copies only into a new, empty database")
        plan = _plan(_source_tables(source), target)
        for table, columns in plan:
            copied = TableCopy(table)
            report.tables.append(copied)
            converters = [_converter(target[table][c]) for c in columns]
            for batch in _batches(source, table, columns, converters):
                await pg.copy_records_to_table(table, records=batch, columns=columns)
                copied.rows += len(batch)
                if progress is not None:
                    progress(table, copied.rows)
        report.sequences = await _set_sequences(pg, source)
    return report


async def copy_database(source_url: str, target_url: str, progress: Progress | None = None) -> CopyReport:
    """Copy the SQLite database ``source_url`` into the empty PostgreSQL database ``target_url``.

    Raises ``MigrationRefused`` (nothing written) for bad input, a bot running on the source, a source not at the
    latest migration or a non-empty target; ``StoreUnavailable`` (password-free) when the target cannot be
    reached or the copy fails there, after which the target is as it was.
    """
    started = time.monotonic()
    path = check_urls(source_url, target_url)
    try:
        lock = DatabaseLock.acquire(path)
    except StoreInUse as exc:
        raise MigrationRefused(f"a veo-bot process is running on the source {path}: stop it first") from exc
    try:
        source = _open_source(path)
        try:
            try:
                pg = await asyncpg.connect(target_url, timeout=CONNECT_TIMEOUT, server_settings=SESSION_SETTINGS)
            except Exception as exc:
                raise unavailable("open", exc, target_url) from None
            try:
                report = await _copy(pg, source, target_url, progress)
            except (asyncpg.PostgresError, OSError, SchemaTooNew) as exc:
                # From None: the driver's exception (and its chain) may quote the URL, password included.
                raise unavailable("copy into", exc, target_url) from None
            finally:
                await pg.close()
        finally:
            source.close()
    finally:
        lock.release()
    report.seconds = time.monotonic() - started
    return report
