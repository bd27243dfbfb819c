"""``FaceNotifiers``: the notifier of each face a process runs, as one ``Notifier`` for the job core."""

from __future__ import annotations

from pathlib import Path

from bot.jobs.ports import DeliveryFailed, Notifier, StatusView
from bot.jobs.records import Job


class FaceNotifiers:
    """Hands each job to the notifier of the chat platform it came from."""

    def __init__(self) -> None:
        self._by_platform: dict[str, Notifier] = {}

    def add(self, platform: str, notifier: Notifier) -> None:
        """Route the jobs of ``platform`` to ``notifier``."""
        if platform in self._by_platform:
            raise ValueError(f"a notifier for {platform!r} is already registered")
        self._by_platform[platform] = notifier

    @property
    def platforms(self) -> tuple[str, ...]:
        """The platforms this process posts to."""
        return tuple(self._by_platform)

    def _for(self, job: Job) -> Notifier:
        notifier = self._by_platform.get(job.platform)
        if notifier is None:
            # Not permanent: a process that runs this face may take the job later.
            raise DeliveryFailed(f"no {job.platform} face runs in this process", permanent=False)
        return notifier

    async def show_status(self, job: Job, view: StatusView) -> str | None:
        """Create or update the job's status message on its platform."""
        return await self._for(job).show_status(job, view)

    async def deliver_video(self, job: Job, video: Path | None) -> str:
        """Post the finished video on the job's platform."""
        return await self._for(job).deliver_video(job, video)

    async def deliver_failure(self, job: Job) -> str:
        """Post the job's failure on its platform."""
        return await self._for(job).deliver_failure(job)

    async def max_upload_bytes(self, job: Job) -> int:
        """The largest file the job's result may carry on its platform."""
        return await self._for(job).max_upload_bytes(job)

    async def send_ready_dm(self, job: Job) -> str:
        """Tell the job's requester by direct message on its platform that the result is posted."""
        return await self._for(job).send_ready_dm(job)
