"""``Leases``: the job leases one worker holds, and whether a step may still send anything on its job's behalf.

The store keeps the lease (owner, expiry, fencing token) and refuses a stale token's writes; this is the worker's
own half, self-fencing: the requests a step sends (a create at the video service, a post in a channel) carry no
token, so a step stops before sending once its lease could not be renewed or is about to run out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping

from bot.jobs.records import Job

log = logging.getLogger(__name__)


class Leases:
    """Per job under way here: its claim's fencing token and when its lease runs out by this worker's clock."""

    def __init__(self, lease_s: float, *, clock: Callable[[], float]) -> None:
        self.lease_s = lease_s
        self.clock = clock
        self._tokens: dict[int, int] = {}
        self._until: dict[int, float] = {}
        self._lost: set[int] = set()
        self._stopped: set[int] = set()  # steps told to stop (logged once each)
        self._kept: set[int] = set()  # steps over whose lease stays held (a fit under way): ``keep``

    def claimed(self, jobs: Iterable[Job], now: float) -> None:
        """Hold the jobs just claimed (at ``now``) until their steps are done."""
        for job in jobs:
            self._tokens[job.id] = job.lease_token
            self._until[job.id] = now + self.lease_s
            self._lost.discard(job.id)
            self._stopped.discard(job.id)

    def keep(self, job_id: int) -> None:
        """The job's step is about to end, but its lease stays held (and renewed) past it: work it started goes on
        in the background (a fit) and ends with ``done`` or ``release``."""
        if job_id in self._tokens:
            self._kept.add(job_id)

    def done(self, job_id: int) -> None:
        """The job's step is over (its last write freed the lease, or the lease runs out unrenewed); a lease the
        step kept (``keep``) stays held."""
        if job_id in self._kept:
            self._kept.discard(job_id)
            return
        self.release(job_id)

    def release(self, job_id: int) -> None:
        """Hold the job no more, kept or not."""
        self._kept.discard(job_id)
        self._tokens.pop(job_id, None)
        self._until.pop(job_id, None)
        self._lost.discard(job_id)
        self._stopped.discard(job_id)

    def held(self) -> dict[int, int]:
        """The jobs to renew: job id to fencing token, without those already lost."""
        return {job_id: token for job_id, token in self._tokens.items() if job_id not in self._lost}

    def renewed(self, asked: Mapping[int, int], renewed: set[int], now: float) -> None:
        """Record a heartbeat's answer: the leases in ``renewed`` run on; the others are lost for good."""
        for job_id, token in asked.items():
            if self._tokens.get(job_id) != token:
                continue  # its step ended meanwhile
            if job_id in renewed:
                self._until[job_id] = now + self.lease_s
            else:
                # Taken over, cancelled, or simply ended by the step's last write a moment ago: said only if the
                # step then tries to send.
                self._lost.add(job_id)

    def may_send(self, job_id: int) -> bool:
        """True while the job's step may still send a request: its lease is held, with a quarter of it (one
        heartbeat period) to spare. Outside a worker step (nothing held) there is no lease to keep."""
        if job_id not in self._tokens:
            return True
        if job_id in self._lost:
            why = "its lease could not be renewed"
        elif self.clock() >= self._until[job_id] - self.lease_s / 4:
            why = "its lease runs out before a request could finish"
        else:
            return True
        if job_id not in self._stopped:
            self._stopped.add(job_id)
            log.warning("job=%s step stopped before sending: %s; another process may take the job over", job_id, why)
        return False
