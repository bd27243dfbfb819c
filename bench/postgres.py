"""The benchmark's PostgreSQL: a throwaway server started for the run, its CPU time, and a store's write counters.

The server is started the way the tests start theirs (``tests/support/postgres.py``: Debian's ``initdb`` and
``pg_ctl``, a temporary directory, 127.0.0.1, run as ``postgres`` when this runs as root), but with PostgreSQL's
durable defaults (``fsync``, ``synchronous_commit``, full-page writes), as a deployment runs it and as the
SQLite store runs (``synchronous = FULL``), so the two are measured on the same terms.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from tests.support.postgres import LocalServer, PostgresServer

# Room for 4 bot processes' pools (8 connections each) and the benchmark's own; the rest stays at the defaults.
BENCH_SERVER_SETTINGS = ("max_connections=100",)
_TICKS = os.sysconf("SC_CLK_TCK")


def start_server() -> PostgresServer:
    """A durable PostgreSQL server of the benchmark's own (``NoServer`` says why when none can start)."""
    local = LocalServer.start(BENCH_SERVER_SETTINGS)
    return PostgresServer(local.url, local)


def server_version(server: PostgresServer) -> str:
    """``postgres --version`` of the binaries the server runs."""
    assert server.local is not None
    binary = server.local.bindir / "postgres"
    done = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=False)  # noqa: S603
    return done.stdout.strip() or "unknown"


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None  # it ended meanwhile
    # The command name (field 2) is in parentheses and may hold spaces: split after its closing one.
    return text[text.rindex(")") + 2:].split()


def server_cpu_seconds(postmaster: int) -> float:
    """CPU time (user and system) of a PostgreSQL server so far: the postmaster's own, its live children's
    (backends, checkpointer, WAL writer, ...), and that of the children it has already reaped (so a backend
    that ended within a window still counts)."""
    fields = _stat_fields(postmaster)
    if fields is None:
        raise RuntimeError(f"no PostgreSQL postmaster with pid {postmaster}")
    # After the name: state (index 0), ppid (1), ...; utime, stime, cutime, cstime are fields 14 to 17 (11 to 14).
    ticks = sum(int(x) for x in fields[11:15])
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        child = _stat_fields(int(entry.name))
        if child is not None and int(child[1]) == postmaster:
            ticks += int(child[11]) + int(child[12])
    return ticks / _TICKS


async def store_counters(store: Any) -> tuple[int, int, int | None]:
    """(rows written, transactions committed, store writes) of a store so far.

    SQLite: the store's own counts (its writes are grouped into commits). PostgreSQL: the server's statistics of
    the store's database (rows inserted, updated and deleted; commits, reads included); it has no count of
    writes. The server publishes a backend's statistics within about a second, so over a short window these
    lag by up to that much.
    """
    if hasattr(store, "rows_written"):
        commits, writes = store.commits()
        return int(store.rows_written()), int(commits), int(writes)
    row = await store._pool.fetchrow(
        "SELECT tup_inserted + tup_updated + tup_deleted, xact_commit FROM pg_stat_database"
        " WHERE datname = current_database()")
    return int(row[0]), int(row[1]), None
