"""The real ``python -m bot run`` as a child process: started, SIGKILLed and restarted on the same database,
with every line it writes appended to one log file."""

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
    """One bot at a time; ``generation`` counts the starts."""

    def __init__(self, fake: FakeDiscord, settings: dict[str, str], workdir: Path) -> None:
        self.fake = fake
        self.env = child_environment(settings)
        self.workdir = workdir
        self.log_path = workdir / "bot.log"
        self.generation = 0
        self.started_at: list[float] = []
        self.kills: list[float] = []
        self._proc: asyncio.subprocess.Process | None = None
        self._session: GatewaySession | None = None
        self._identifies_seen = fake.identify_count

    @property
    def alive(self) -> bool:
        """Whether a process is running."""
        return self._proc is not None and self._proc.returncode is None

    def connected(self) -> bool:
        """Whether the current process holds its gateway session's connection (interactions reach it)."""
        if self.fake.identify_count > self._identifies_seen:
            # One bot runs at a time, so the newest session is this process's (a RESUME keeps the session).
            self._identifies_seen = self.fake.identify_count
            self._session = list(self.fake.gateway.sessions.values())[-1]
        session = self._session
        return self.alive and session is not None and session.connection is not None and not session.ended

    def log_text(self) -> str:
        """Everything every process wrote so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    async def start(self, timeout: float = 30.0) -> None:
        """Start a process and wait until it has identified on the gateway."""
        assert not self.alive
        before = self.fake.identify_count
        self._session = None
        self.generation += 1
        with self.log_path.open("ab") as log:
            log.write(f"--- harness: start {self.generation} ---\n".encode())
            log.flush()
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", cwd=self.workdir, env=self.env, stdout=log,
                stderr=asyncio.subprocess.STDOUT, preexec_fn=_die_with_parent,
            )
        self.started_at.append(time.monotonic())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (self.fake.identify_count > before and self.connected()):
            if not self.alive:
                raise AssertionError(f"the bot exited during start-up:\n{self.log_text()[-3000:]}")
            if loop.time() > deadline:
                raise AssertionError(f"the bot did not connect within {timeout}s:\n{self.log_text()[-3000:]}")
            await asyncio.sleep(0.02)

    async def kill(self) -> None:
        """SIGKILL: no clean-up of any kind runs in the bot."""
        assert self._proc is not None and self.alive
        self._proc.send_signal(signal.SIGKILL)
        await self._proc.wait()
        self.kills.append(time.monotonic())

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
                raise AssertionError(f"the bot lost the gateway for {timeout}s:\n{self.log_text()[-3000:]}")
            await asyncio.sleep(0.02)
