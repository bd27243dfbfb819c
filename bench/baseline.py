"""The naive baseline: one asyncio task per job, polling at a fixed interval, as peer bots do.

It is CometAPI's documented loop (``GET /videos/{id}``; done? stop; else sleep 10 s; repeat), with a
"generating" message first and the video posted as a reply at the end, through the same CometAPI client
and the same discord.py client the bot uses. It keeps its jobs in memory only.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

import discord

from bench.clock import SharedClock, SimTimers
from bot.jobs.provider import TaskState, VideoProvider

log = logging.getLogger("bench.baseline")


@dataclass
class BaselineJob:
    """One baseline job's times on the simulated clock."""

    index: int
    task_id: str
    channel_id: int
    seen_done_at: float | None = None
    delivered_at: float | None = None
    failed: str | None = None


class BaselinePoller:
    """Starts jobs and follows each in its own task."""

    def __init__(self, bot: discord.Client, provider: VideoProvider, clock: SharedClock, timers: SimTimers,
                 interval: float, video_dir: Path) -> None:
        self.bot = bot
        self.provider = provider
        self.clock = clock
        self.timers = timers
        self.interval = interval
        self.video_dir = video_dir
        self.jobs: list[BaselineJob] = []
        self._tasks: set[asyncio.Task[None]] = set()
        video_dir.mkdir(parents=True, exist_ok=True)

    @property
    def remaining(self) -> int:
        """Jobs not delivered (or failed) yet."""
        return sum(1 for job in self.jobs if job.delivered_at is None and job.failed is None)

    async def start_job(self, index: int, guild_id: int, channel_id: int, user_id: int) -> None:
        """Say "generating", submit, and follow the job in a task of its own."""
        channel = self.bot.get_partial_messageable(channel_id, guild_id=guild_id, type=discord.ChannelType.text)
        status = await channel.send(f"bench job {index}: generating…")
        task_id = await self.provider.create(f"bench job {index}: a red fox in snow", "veo3.1-fast", "16x9")
        job = BaselineJob(index, task_id, channel_id)
        self.jobs.append(job)
        task = asyncio.create_task(self._follow(job, channel, status, user_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _follow(self, job: BaselineJob, channel: discord.PartialMessageable, status: discord.Message,
                      user_id: int) -> None:
        try:
            while True:
                answer = await self.provider.get(job.task_id)
                if answer.state is not TaskState.RUNNING:
                    break
                await self.timers.sleep_until(self.clock.now() + self.interval)
            job.seen_done_at = self.clock.now()
            if answer.state is TaskState.FAILED:
                job.failed = answer.error or "failed"
                return
            path = self.video_dir / f"{job.index}.mp4"
            await self.provider.download(job.task_id, answer.video_url, path)
            try:
                await channel.send(
                    f"<@{user_id}> here is your video (bench job {job.index})",
                    file=discord.File(path, filename=f"veo-{job.index}.mp4"),
                    reference=status,
                    allowed_mentions=discord.AllowedMentions(users=[discord.Object(user_id)]),
                )
            finally:
                path.unlink(missing_ok=True)
            job.delivered_at = self.clock.now()
        except Exception as exc:
            log.exception("baseline job %s failed", job.index)
            job.failed = type(exc).__name__

    async def close(self) -> None:
        """Stop the jobs still followed."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
