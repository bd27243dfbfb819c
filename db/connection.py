"""Opening the SQLite job store: pragmas, file mode, and numbered migrations in ``PRAGMA user_version``."""

from __future__ import annotations

import logging
import os
import sqlite3
from importlib import resources
from pathlib import Path

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000


def migration_scripts() -> list[tuple[int, str, str]]:
    """The numbered migrations shipped with the package, as (version, name, sql), in order."""
    scripts = []
    for entry in resources.files("db.migrations").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            scripts.append((int(name[:4]), name, entry.read_text(encoding="utf-8")))
    scripts.sort()
    versions = [v for v, _, _ in scripts]
    if versions != list(range(1, len(versions) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n without gaps, found {versions}")
    return scripts


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

    The connection is for the store's connection thread (aiosqlite's, driven by ``db.group_commit``), which
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
    # (group commit, ``db.group_commit``), so under load one fsync serves many writes.
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    try:
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn
