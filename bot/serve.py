"""One bot process serving every chosen chat face: the store opened once, one ``Runtime``, each face attached to
it, the job worker started once; runs until SIGINT/SIGTERM or a face fails, then closes in order.

The faces and the store are loaded by name (``FACE_MODULES``, ``STORE_MODULE``), as the command line loads them:
the runtime and the job core stay free of any one platform and of the store's backends.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from bot.comet.types import RetryPolicy
from bot.config import Settings
from bot.jobs.ports import JobStore
from bot.mock.provider import mock_available
from bot.ops.doctor import Finding, common_findings, exit_code, report
from bot.ops.event_loop import loop_name
from bot.ops.postgres_checks import PostgresServerFacts, postgres_server_findings
from bot.runtime import Runtime

log = logging.getLogger(__name__)

FACE_MODULES = {"discord": "cogs.runner", "slack": "slack.runner"}
STORE_MODULE = "db"
# The library each optional face needs, and the extra that installs it.
FACE_EXTRAS = {"slack": ("slack_bolt", "slack")}


def missing_face_extra(faces: Sequence[str]) -> str | None:
    """The line saying what to install when a chosen face's library is missing; else None."""
    for face in faces:
        module, extra = FACE_EXTRAS.get(face, ("", ""))
        if module and importlib.util.find_spec(module) is None:
            return (f"the {face} face needs the {extra} extra: pip install 'veo-bot[{extra}]' "
                    f"(from a checkout: pip install '.[{extra}]')")
    return None


class FaceFailed(Exception):
    """A face stopped by itself for a reason it cannot recover from (a refused token); ``exit_code`` says how
    the process ends, the message (never a secret) what to fix."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class RunningFace(Protocol):
    """A chat face attached to the process's runtime."""

    async def start(self) -> None:
        """Connect (log in, open its socket); returns once the face can post, its connection running on."""

    async def wait_stopped(self) -> None:
        """Return, or raise ``FaceFailed``, when the face's connection ends by itself; never while it runs."""

    async def close(self) -> None:
        """Close the face's own connections (not the runtime's)."""

    async def kill(self) -> None:
        """Drop the face's connections abruptly, as a crash would."""


class FaceModule(Protocol):
    """What a face's module offers: attaching itself to a runtime, command registration, doctor checks."""

    async def attach(self, runtime: Runtime) -> RunningFace: ...
    async def sync_commands(self, settings: Settings) -> int: ...
    async def doctor_findings(self, settings: Settings) -> tuple[list[Finding], list[str]]: ...


def face_module(name: str) -> FaceModule:
    """The module of the face named ``name`` in ``VEO_FRONTENDS``."""
    module: FaceModule = importlib.import_module(FACE_MODULES[name])
    return module


async def open_store(url: str) -> JobStore:
    """The job store at ``url``, through the store package's own opener."""
    opener: Callable[[str], Awaitable[JobStore]] = importlib.import_module(STORE_MODULE).open_store
    return await opener(url)


async def read_postgres_server(url: str) -> PostgresServerFacts:
    """The settings of the PostgreSQL server at ``url``, through the store package's own reader."""
    reader: Callable[[str], Awaitable[PostgresServerFacts]] = importlib.import_module(
        STORE_MODULE).read_postgres_server
    return await reader(url)


class Process:
    """The runtime and the faces attached to it, started and closed in order."""

    def __init__(self, runtime: Runtime, faces: Sequence[RunningFace]) -> None:
        self.runtime = runtime
        self.faces = list(faces)

    @classmethod
    async def open(cls, settings: Settings, names: Sequence[str] | None = None, *, retry: RetryPolicy | None = None,
                   **core_overrides: Any) -> Process:
        """Open the store, build the runtime, attach each face (``VEO_FRONTENDS`` unless ``names``); ``retry``
        and ``core_overrides`` shorten timings in tests."""
        store = await open_store(settings.database_url)
        try:
            runtime = await Runtime.open(settings, store, retry=retry, **core_overrides)
        except BaseException:
            await store.close()
            raise
        faces: list[RunningFace] = []
        try:
            for name in names if names is not None else settings.frontends:
                faces.append(await face_module(name).attach(runtime))
        except BaseException:
            for face in reversed(faces):
                await face.close()
            await runtime.close()
            raise
        return cls(runtime, faces)

    async def start(self) -> None:
        """Serve operations, connect every face, then start the worker (it posts through the faces)."""
        await self.runtime.start()
        for face in self.faces:
            await face.start()
        self.runtime.start_worker()

    async def serve(self, stopping: asyncio.Event) -> None:
        """Start, then run until ``stopping`` is set or a face stops by itself (``FaceFailed`` propagates)."""
        await self.start()
        watched = [asyncio.create_task(face.wait_stopped()) for face in self.faces]
        stop_wait = asyncio.create_task(stopping.wait())
        try:
            done, _ = await asyncio.wait({*watched, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (*watched, stop_wait):
                task.cancel()
        for task in done:
            if task is not stop_wait and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
            if task is not stop_wait:
                log.warning("a chat face stopped by itself; shutting down")

    async def close(self) -> None:
        """Stop the worker, close every face, then the runtime (HTTP server, session, store), in that order."""
        await self.runtime.stop_worker()
        for face in reversed(self.faces):
            with contextlib.suppress(Exception):
                await face.close()
        await self.runtime.close()

    async def kill(self) -> None:
        """Stop abruptly, as a crash would (for crash tests)."""
        for face in self.faces:
            with contextlib.suppress(Exception):
                await face.kill()
        await self.runtime.kill()


async def run(settings: Settings) -> int:
    """Run the bot until SIGINT or SIGTERM, then shut down cleanly; return the exit code."""
    try:
        process = await Process.open(settings)
    except FaceFailed as exc:  # a token refused as the face was attached
        log.error("%s", exc)
        return exc.exit_code
    loop = asyncio.get_running_loop()
    log.info("event loop: %s; faces: %s", loop_name(loop), ", ".join(settings.frontends))
    stopping = asyncio.Event()

    def stop() -> None:
        log.info("shutting down")
        stopping.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    try:
        await process.serve(stopping)
    except FaceFailed as exc:
        log.error("%s", exc)
        return exc.exit_code
    finally:
        await process.close()
    return 0


async def sync_commands(settings: Settings) -> int:
    """``veo-bot sync``: register every chosen face's commands now; the first failure's code, else 0."""
    codes = [await face_module(name).sync_commands(settings) for name in settings.frontends]
    return next((code for code in codes if code), 0)


async def doctor(settings: Settings, *, out: Callable[[str], None] = print) -> int:
    """``veo-bot doctor``: the shared checks and every chosen face's, one report; 0 when nothing failed."""
    findings = await common_findings(settings, open_store, mock_ready=mock_available())
    findings += await postgres_server_findings(settings, findings, read_postgres_server)
    notes: list[str] = []
    for name in settings.frontends:
        face_findings, face_notes = await face_module(name).doctor_findings(settings)
        findings += face_findings
        notes += face_notes
    out(report(findings))
    for note in notes:
        out(note)
    return exit_code(findings)
