"""``ProcessGroup``: the bot processes of one run on one database: a single unsharded process, or gateway shard
processes (``DISCORD_SHARD_IDS``) and worker processes (``VEO_ROLE=worker``), each with its own log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from tests.fakes.discord.models import FakeGuild
from tests.fakes.discord.server import FakeDiscord
from tests.reliability.process import BotProcess


class ProcessGroup:
    """The processes of a run, by name; which one takes a guild's commands, and which one holds a lease."""

    def __init__(self, fake: FakeDiscord, settings: dict[str, str], workdir: Path, *, shards: int = 0,
                 workers: int = 0) -> None:
        self.shard_count = shards
        self.processes: list[BotProcess] = []
        if not shards:
            self.processes.append(BotProcess(fake, settings, workdir))
        for shard in range(shards):
            env = {**settings, "DISCORD_SHARD_COUNT": str(shards), "DISCORD_SHARD_IDS": str(shard)}
            self.processes.append(BotProcess(fake, env, workdir, name=f"shard{shard}", shards=(shard,)))
        for index in range(workers):
            env = {**settings, "VEO_ROLE": "worker"}
            self.processes.append(BotProcess(fake, env, workdir, name=f"worker{index}", gateway=False))

    def __iter__(self) -> Iterator[BotProcess]:
        return iter(self.processes)

    def __len__(self) -> int:
        return len(self.processes)

    @property
    def restarts(self) -> int:
        """Starts beyond each process's first."""
        return sum(p.generation - 1 for p in self.processes)

    def for_guild(self, guild: FakeGuild) -> BotProcess:
        """The process whose gateway session receives the guild's interactions."""
        if not self.shard_count:
            return self.processes[0]
        shard = (guild.id >> 22) % self.shard_count
        return next(p for p in self.processes if p.shards is not None and shard in p.shards)

    def by_owner(self, owner: str | None) -> BotProcess | None:
        """The running process named by a lease owner (``host:pid:…``), if any."""
        parts = (owner or "").split(":")
        if len(parts) < 2 or not parts[1].isdigit():
            return None
        return next((p for p in self.processes if p.pid == int(parts[1])), None)

    def log_text(self) -> str:
        """Every process's log, one after the other, each headed by its name."""
        return "\n".join(f"=== {p.name} ===\n{p.log_text()}" for p in self.processes)

    async def start(self) -> None:
        """Start every process, one after the other (each waits for its identify turn)."""
        for process in self.processes:
            await process.start()

    async def stop(self) -> dict[str, int]:
        """SIGTERM every process (thawed first); their exit codes by name."""
        for process in self.processes:
            if process.frozen:
                process.thaw()
        return {process.name: await process.stop() for process in self.processes}

    async def kill_all(self) -> None:
        """SIGKILL whatever still runs (after a failed run)."""
        for process in self.processes:
            if process.alive:
                if process.frozen:
                    process.thaw()
                await process.kill()

    async def wait_connected(self) -> None:
        """Wait until every process is connected (or, for a worker, runs)."""
        for process in self.processes:
            await process.wait_connected()
