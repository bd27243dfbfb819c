"""Opening the SQLite job store: pragmas, file mode, and numbered migrations in ``PRAGMA user_version``."""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
from pathlib import Path

from bot.jobs.ports import StoreInUse
from db.migration_files import numbered_migrations

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000


def in_use_message(path: Path) -> str:
    """The one line a second process on the same database is refused with."""
    return (f"another veo-bot process is using {path}; one SQLite database serves one process — "
            "use PostgreSQL (DATABASE_URL=postgresql://…) to run several")


class DatabaseLock:
    """An exclusive lock on ``<database>.lock``, held while the store is open: one process per database file.

    The worker counts on it: a job found ``submitting`` at start was claimed by a process that has died, so
    it is failed at once (``bot.jobs.worker``); two processes would also each submit the same queue. The lock
    is ``flock`` on Linux and macOS, which the kernel drops when the process dies, SIGKILL included, so a
    crash never leaves it behind; the file itself stays (removing it could let two processes lock two
    different files of the same name). Windows has no ``fcntl``: there ``msvcrt.locking`` locks the file's
    first byte, which Windows likewise releases when the process ends.
    """

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, database: Path) -> DatabaseLock:
        """Lock ``<database>.lock`` (created owner-only if needed) or raise ``StoreInUse`` at once."""
        database.parent.mkdir(parents=True, exist_ok=True)
        path = database.with_name(database.name + ".lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # not inherited by child processes (PEP 446)
        try:
            _lock(fd)
        except OSError as exc:
            os.close(fd)
            raise StoreInUse(in_use_message(database)) from exc
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd)

    def release(self) -> None:
        """Let the next process open the database (closing the file drops the lock); safe to call twice."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


if sys.platform == "win32":
    import msvcrt

    def _lock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # OSError when another process holds it
else:
    import fcntl

    def _lock(fd: int) -> None:
        # Per open file, not per process: a second open in this very process is refused too.
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError when another holds it


def migration_scripts() -> list[tuple[int, str, str]]:
    """The numbered migrations shipped with the package, as (version, name, sql), in order."""
    return numbered_migrations("db.sqlite.migrations")


def migrate(conn: sqlite3.Connection) -> int:
    """Apply every migration newer than the file's ``user_version``; return the version reached."""
    row = conn.execute("PRAGMA user_version").fetchone()
    current = int(row[0]) if row else 0
    for version, name, sql in migration_scripts():
        if version <= current:
            continue
        # One transaction per migration, the version bump included, so a crash leaves a clean state.
        conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;")
        log.info("applied migration %s", name)
        current = version
    return current


def open_database(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the database file with WAL, a busy timeout and foreign keys, migrated.

    The connection is for the store's connection thread (aiosqlite's, driven by ``db.sqlite.group_commit``), which
    opens it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Created owner-only before SQLite opens it: prompts and user ids are not for other local users.
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    # FULL: every commit is on disk before the bot acts on it. With NORMAL a process crash loses nothing, but
    # a power loss or kernel crash could roll back commits made since the last checkpoint: a job claimed for
    # submission could come back as queued and be sent (and billed) twice, a delivered one be posted again.
    # The price is one fsync per commit; the store commits the writes that queue up meanwhile together
    # (group commit, ``db.sqlite.group_commit``), so under load one fsync serves many writes.
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    try:
        migrate(conn)
        # The database is this process's alone (its file lock): a named lease found in it was held by a process
        # that has died. Freed now, so that a restart does not wait for it to run out (the token stays).
        conn.execute("UPDATE process_leases SET owner = '', expires_at = 0 WHERE owner != ''")
    except BaseException:
        conn.close()
        raise
    return conn
