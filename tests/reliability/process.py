"""The real ``python -m bot run`` as a child process: started, SIGKILLed (or frozen and resumed) and restarted on
the same database, with every line it writes appended to one log file of its own."""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import sys
import time
from pathlib import Path

from tests.fakes.discord.gateway import GatewaySession
from tests.fakes.discord.server import FakeDiscord

SETTING_PREFIXES = ("VEO_", "DISCORD_", "COMETAPI_", "DATABASE_")


def _die_with_parent() -> None:
    """In the child, before exec: get SIGKILL when the test process dies, so no bot outlives a killed run."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG


def child_environment(settings: dict[str, str]) -> dict[str, str]:
    """The test's environment without any bot setting of its own, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SETTING_PREFIXES)}
    env.update(settings)
    return env


class BotProcess:
    """One bot process at a time under one name; ``generation`` counts its starts.

    ``shards``: the gateway shards it runs (None: one unsharded session); ``gateway=False``: a ``VEO_ROLE=worker``
    process, which opens no gateway and counts as connected while it runs.
    """

    def __init__(self, fake: FakeDiscord, settings: dict[str, str], workdir: Path, *, name: str = "bot",
                 shards: tuple[int, ...] | None = None, gateway: bool = True) -> None:
        self.fake = fake
        self.env = child_environment(settings)
        self.workdir = workdir
        self.name = name
        self.shards = shards
        self.gateway = gateway
        self.log_path = workdir / f"{name}.log"
        self.generation = 0
        self.started_at: list[float] = []
        self.kills: list[float] = []
        self.pids: list[int] = []  # of every start, in order: lease owners name the process by its pid
        self.frozen = False
        self._proc: asyncio.subprocess.Process | None = None
        self._sessions_before: set[str] = set()

    @property
    def alive(self) -> bool:
        """Whether a process is running (frozen or not)."""
        return self._proc is not None and self._proc.returncode is None

    @property
    def pid(self) -> int | None:
        """The running process's id."""
        return self._proc.pid if self.alive and self._proc is not None else None

    def _my_sessions(self) -> list[GatewaySession]:
        # Sessions identified since this process started, for its shards: one process runs a shard at a time,
        # and a RESUME keeps its session.
        return [s for s in self.fake.gateway.sessions.values()
                if s.session_id not in self._sessions_before
                and (s.shard is None if self.shards is None else s.shard is not None and s.shard[0] in self.shards)]

    def connected(self) -> bool:
        """Whether the current process holds a connected gateway session for each of its shards (interactions
        reach it); a worker process, whether it runs."""
        if not self.alive or self.frozen:
            return False
        if not self.gateway:
            return True
        sessions = self._my_sessions()
        wanted = {None} if self.shards is None else set(self.shards)
        up = {s.shard[0] if s.shard is not None else None for s in sessions
              if s.connection is not None and not s.ended}
        return wanted <= up

    def log_text(self) -> str:
        """Everything every process of this name wrote so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    async def start(self, timeout: float = 30.0) -> None:
        """Start a process and wait until it has identified on the gateway (a worker: until its worker runs)."""
        assert not self.alive
        self._sessions_before = set(self.fake.gateway.sessions)
        self.generation += 1
        self.frozen = False
        marker = f"--- harness: start {self.generation} ---\n"
        with self.log_path.open("ab") as log:
            log.write(marker.encode())
            log.flush()
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", cwd=self.workdir, env=self.env, stdout=log,
                stderr=asyncio.subprocess.STDOUT, preexec_fn=_die_with_parent,
            )
        self.pids.append(self._proc.pid)
        self.started_at.append(time.monotonic())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (self.connected() if self.gateway else "job worker started" in self.log_text().rsplit(marker)[-1]):
            if not self.alive:
                raise AssertionError(f"{self.name} exited during start-up:\n{self.log_text()[-3000:]}")
            if loop.time() > deadline:
                raise AssertionError(f"{self.name} did not connect within {timeout}s:\n{self.log_text()[-3000:]}")
            await asyncio.sleep(0.02)

    async def kill(self) -> None:
        """SIGKILL: no clean-up of any kind runs in the bot."""
        assert self._proc is not None and self.alive
        self._proc.send_signal(signal.SIGKILL)
        await self._proc.wait()
        self.frozen = False
        self.kills.append(time.monotonic())

    def freeze(self) -> None:
        """SIGSTOP: the process stops where it is, holding its connections, until ``thaw``."""
        assert self._proc is not None and self.alive and not self.frozen
        self._proc.send_signal(signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        """SIGCONT: the frozen process carries on from where it stopped."""
        assert self._proc is not None and self.frozen
        self._proc.send_signal(signal.SIGCONT)
        self.frozen = False

    async def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait for a clean exit; return the exit code."""
        assert self._proc is not None
        if self.alive:
            self._proc.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self._proc.wait(), timeout)

    async def wait_connected(self, timeout: float = 30.0) -> None:
        """Wait until interactions reach the bot (after a start, or while the gateway resumes)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.connected():
            if loop.time() > deadline:
                raise AssertionError(f"{self.name} lost the gateway for {timeout}s:\n{self.log_text()[-3000:]}")
            await asyncio.sleep(0.02)
