"""A throwaway PostgreSQL server for the tests, and a fresh database on it per test.

The server is Debian's ``postgresql`` binaries (``initdb``, ``pg_ctl``), started once per test session in a
temporary directory, on 127.0.0.1 and a free port, with durability off (``fsync=off``: the tests kill bot
processes, never the server). PostgreSQL refuses to run as root, and CI runs the tests as root: then the
server runs as the ``postgres`` user the package creates (or ``nobody``), which owns the directory.

``VEO_TEST_POSTGRES_URL`` names an existing server to use instead (a role allowed to create databases, e.g.
``postgresql://veo:secret@localhost/postgres``). Without either, PostgreSQL tests skip with the reason; with
``VEO_REQUIRE_POSTGRES=1`` (CI) they fail instead.

Each test gets a database of its own, copied from a template migrated once per session (``CREATE DATABASE …
TEMPLATE``: some tens of milliseconds), and dropped afterwards.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

URL_VARIABLE = "VEO_TEST_POSTGRES_URL"
REQUIRE_VARIABLE = "VEO_REQUIRE_POSTGRES"
TEMPLATE = "veo_template"
# The tests' server: durability off (the tests kill bot processes, never the server), room for many stores.
TEST_SERVER_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off", "max_connections=300",
                        "shared_buffers=32MB")


class NoServer(Exception):
    """No PostgreSQL server could be found or started; the text says why."""


def required() -> bool:
    """True when PostgreSQL tests must fail rather than skip without a server (CI)."""
    return os.environ.get(REQUIRE_VARIABLE, "") == "1"


def unavailable(reason: str) -> None:
    """Skip the test for ``reason`` or, where PostgreSQL is required, fail it."""
    if required():
        pytest.fail(f"PostgreSQL is required ({REQUIRE_VARIABLE}=1) but {reason}", pytrace=False)
    pytest.skip(f"no PostgreSQL: {reason}")


def with_database(url: str, name: str) -> str:
    """``url`` naming the database ``name`` on the same server, as the same role."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def binaries() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``: the newest installed version's."""
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if not versions:
        raise NoServer("initdb is not installed (Debian: apt-get install -y postgresql)")
    return Path(versions[-1]).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LocalServer:
    """A PostgreSQL server in a temporary directory, run as a user other than root."""

    bindir: Path
    root: Path
    port: int
    user: str | None  # the account the server runs as; None: the current one

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def postmaster_pid(self) -> int:
        """The process id of the server's postmaster (the parent of every backend), from its pid file."""
        return int((self.root / "data" / "postmaster.pid").read_text().split()[0])

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, object] = {}
        if self.user is not None:
            kwargs = {"user": self.user, "group": pwd.getpwnam(self.user).pw_gid, "extra_groups": []}
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False,  # noqa: S603
                              cwd=self.root, **kwargs)  # type: ignore[call-overload]

    @classmethod
    def start(cls, settings: Sequence[str] = TEST_SERVER_SETTINGS) -> LocalServer:
        """Start a server with these ``-c`` settings (the tests' by default; the benchmark keeps the server's
        durable defaults)."""
        bindir = binaries()
        user = None
        if os.geteuid() == 0:
            for name in ("postgres", "nobody"):
                with contextlib.suppress(KeyError):
                    pwd.getpwnam(name)
                    user = name
                    break
            else:
                raise NoServer("running as root and there is no 'postgres' or 'nobody' user to run the server as")
        # The server's user must reach its directory: a root-only TMPDIR would not do, /tmp (sticky, open) does.
        shared = "/tmp" if user is not None and os.path.isdir("/tmp") else None
        root = Path(tempfile.mkdtemp(prefix="veo-pg-", dir=shared))
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        root.chmod(0o700)
        server = cls(bindir, root, _free_port(), user)
        made = server._run(str(bindir / "initdb"), "-D", str(root / "data"), "-U", "postgres", "-A", "trust",
                           "-E", "UTF8", "--no-locale", "--no-sync")
        if made.returncode != 0:
            shutil.rmtree(root, ignore_errors=True)
            raise NoServer(f"initdb failed: {made.stderr.strip()[-500:]}")
        options = " ".join([f"-c listen_addresses=127.0.0.1 -p {server.port} -k {root}",
                            *(f"-c {s}" for s in settings)])
        started = server._run(str(bindir / "pg_ctl"), "-D", str(root / "data"), "-l", str(root / "log"), "-w",
                              "-t", "60", "-o", options, "start")
        if started.returncode != 0:
            log = (root / "log").read_text(errors="replace")[-800:] if (root / "log").exists() else ""
            shutil.rmtree(root, ignore_errors=True)
            raise NoServer(f"pg_ctl start failed: {started.stderr.strip()[-400:]} {log}")
        # The session's finaliser stops it; this also covers an interpreter that exits without running it.
        atexit.register(server.stop)
        return server

    def stop(self) -> None:
        """Stop the server at once (its data is thrown away) and remove its directory; safe to call twice."""
        if not self.root.exists():
            return
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class PostgresServer:
    """A server the tests may create databases on: ``url`` names its maintenance database as a role that may."""

    url: str
    local: LocalServer | None = None
    _names: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _template_ready: bool = False

    async def _admin(self, *statements: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.url)
        try:
            for sql in statements:
                await conn.execute(sql)
        finally:
            await conn.close()

    async def _ensure_template(self) -> None:
        if self._template_ready:
            return
        from db.postgres.store import PostgresJobStore

        name = f"{TEMPLATE}_{os.getpid()}"
        await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
        store = await PostgresJobStore.open(with_database(self.url, name))
        await store.close()
        self._template_ready = True

    @contextlib.asynccontextmanager
    async def database(self, *, migrated: bool = True) -> AsyncIterator[str]:
        """A new database for one test (migrated, or empty), dropped afterwards; yields its URL."""
        name = f"veo_test_{os.getpid()}_{next(self._names)}"
        if migrated:
            await self._ensure_template()
            source = f'TEMPLATE "{TEMPLATE}_{os.getpid()}"'
        else:
            source = "TEMPLATE template0"
        await self._admin(f'CREATE DATABASE "{name}" {source}')
        try:
            yield with_database(self.url, name)
        finally:
            await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        if self.local is not None:
            self.local.stop()


def _check_reachable(url: str) -> None:
    """``NoServer`` when nothing answers at the host and port ``url`` names (a socket path is taken on trust)."""
    parts = urlsplit(url)
    if not parts.hostname:
        return
    try:
        socket.create_connection((parts.hostname, parts.port or 5432), timeout=3).close()
    except OSError as exc:
        raise NoServer(f"{URL_VARIABLE} names {parts.hostname}:{parts.port or 5432}, which does not answer "
                       f"({exc.strerror or exc})") from None


def start() -> PostgresServer:
    """The server named by ``VEO_TEST_POSTGRES_URL``, else a local one started now (``NoServer`` if neither)."""
    try:
        import asyncpg  # noqa: F401
    except ImportError as exc:
        raise NoServer("asyncpg is not installed (pip install -e '.[test]')") from exc
    url = os.environ.get(URL_VARIABLE)
    if url:
        _check_reachable(url)
        return PostgresServer(url)
    local = LocalServer.start()
    return PostgresServer(local.url, local)
