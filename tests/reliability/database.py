"""The job database of a reliability run, read the same way whichever the backend: the SQLite file of one process
or the PostgreSQL database several processes share. It also installs the transition log (``transitions.py``)
before any bot opens the database: triggers that record every change of a job's state or lease, in the order
the changes were committed."""

from __future__ import annotations

import contextlib
import re
import sqlite3
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from db.sqlite.store import SqliteJobStore

# The log is a test-only table, test_job_transitions, which the bot neither knows nor touches. A row records one
# change: ``tx`` groups one transaction's rows (SQLite: none, it has one writer), ``at`` is the wall clock.

_SQLITE_LOG = """
CREATE TABLE test_job_transitions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, tx INTEGER, job_id INTEGER NOT NULL, old_status TEXT,
    new_status TEXT NOT NULL, platform TEXT, workspace_id TEXT, user_id TEXT, old_owner TEXT, new_owner TEXT,
    lease_token INTEGER, at REAL NOT NULL);
CREATE TRIGGER test_job_inserted AFTER INSERT ON jobs BEGIN
    INSERT INTO test_job_transitions (job_id, new_status, platform, workspace_id, user_id, new_owner, lease_token, at)
    VALUES (NEW.id, NEW.status, NEW.platform, NEW.workspace_id, NEW.user_id, NEW.lease_owner, NEW.lease_token,
            (julianday('now') - 2440587.5) * 86400.0);
END;
CREATE TRIGGER test_job_changed AFTER UPDATE ON jobs
WHEN OLD.status IS NOT NEW.status OR OLD.lease_token IS NOT NEW.lease_token BEGIN
    INSERT INTO test_job_transitions (job_id, old_status, new_status, platform, workspace_id, user_id, old_owner,
                               new_owner, lease_token, at)
    VALUES (NEW.id, OLD.status, NEW.status, NEW.platform, NEW.workspace_id, NEW.user_id, OLD.lease_owner,
            NEW.lease_owner, NEW.lease_token, (julianday('now') - 2440587.5) * 86400.0);
END;
"""

# On PostgreSQL several transactions commit at once. The trigger is deferred to commit time, so a transition's
# sequence number is drawn as its transaction commits: a claim that saw a slot freed (committed) by another
# transaction draws a later number than that transaction's rows did. The old and new values are the row's
# versions of the triggering statement, not of commit time.
_POSTGRES_LOG = [
    """CREATE TABLE test_job_transitions (
        seq bigserial PRIMARY KEY, tx bigint NOT NULL, job_id bigint NOT NULL, old_status text,
        new_status text NOT NULL, platform text, workspace_id text, user_id text, old_owner text, new_owner text,
        lease_token bigint, at double precision NOT NULL)""",
    """CREATE FUNCTION test_log_job_transition() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO test_job_transitions (tx, job_id, new_status, platform, workspace_id, user_id, new_owner,
                                       lease_token, at)
            VALUES (txid_current(), NEW.id, NEW.status, NEW.platform, NEW.workspace_id, NEW.user_id,
                    NEW.lease_owner, NEW.lease_token, extract(epoch FROM clock_timestamp()));
        ELSIF OLD.status IS DISTINCT FROM NEW.status OR OLD.lease_token IS DISTINCT FROM NEW.lease_token THEN
            INSERT INTO test_job_transitions (tx, job_id, old_status, new_status, platform, workspace_id, user_id,
                                       old_owner, new_owner, lease_token, at)
            VALUES (txid_current(), NEW.id, OLD.status, NEW.status, NEW.platform, NEW.workspace_id, NEW.user_id,
                    OLD.lease_owner, NEW.lease_owner, NEW.lease_token, extract(epoch FROM clock_timestamp()));
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE CONSTRAINT TRIGGER test_job_transition AFTER INSERT OR UPDATE ON jobs
       DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_log_job_transition()""",
]


class RunDatabase(ABC):
    """The run's database as the harness and the invariants read it; SQL uses ``?`` placeholders."""

    url: str

    @abstractmethod
    async def prepare(self) -> None:
        """Create (or check) the migrated schema and install the transition log, before any bot starts."""

    @abstractmethod
    async def query(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        """The rows of one read, as dicts."""

    async def close(self) -> None:  # noqa: B027 - most backends hold no connection between reads
        """Let go of any connection."""

    async def jobs(self) -> list[dict[str, Any]]:
        """Every job row, by id."""
        return await self.query("SELECT * FROM jobs ORDER BY id")

    async def transitions(self) -> list[dict[str, Any]]:
        """The transition log, in commit order."""
        return await self.query("SELECT * FROM test_job_transitions ORDER BY seq")


class SqliteRunDatabase(RunDatabase):
    """The SQLite file of a one-process run (read while the bot runs: WAL lets readers in)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"

    async def prepare(self) -> None:
        store = await SqliteJobStore.open(self.path)
        await store.close()
        with contextlib.closing(sqlite3.connect(self.path)) as conn:
            conn.executescript(_SQLITE_LOG)

    async def query(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with contextlib.closing(sqlite3.connect(self.path, timeout=10)) as conn:
            conn.row_factory = sqlite3.Row
            return [dict(row) for row in conn.execute(sql, params)]


class PostgresRunDatabase(RunDatabase):
    """A migrated PostgreSQL database (``tests/support/postgres.py``) that several processes share."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: Any = None

    async def _connection(self) -> Any:
        import asyncpg

        if self._conn is None:
            self._conn = await asyncpg.connect(self.url)
        return self._conn

    async def prepare(self) -> None:
        conn = await self._connection()
        for statement in _POSTGRES_LOG:
            await conn.execute(statement)

    async def query(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        numbered = iter(range(1, len(params) + 1))
        conn = await self._connection()
        rows = await conn.fetch(re.sub(r"\?", lambda _: f"${next(numbered)}", sql), *params)
        return [dict(row) for row in rows]

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
