"""``ReadyMessages``: the direct message a requester asked for (``/veo-prefer dm``), sent once their job's
result (video or failure notice) is posted in the channel.

It is recorded after it is sent. A crash between the two sends it again at the next start, under the same
nonce, so the platform hands back the first message instead of posting a second (Discord keeps nonces for a
few minutes); recording first would instead lose it to any crash in between. It never holds up the channel
post, which is recorded before it is tried, and it is given up quietly when the member does not accept direct
messages, or after ``dm_give_up_after`` seconds of errors: "your video is ready" a day late is noise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.jobs.config import CoreConfig
from bot.jobs.ports import DeliveryFailed, JobStore, Notifier
from bot.jobs.records import Job

log = logging.getLogger(__name__)


class ReadyMessages:
    """Sends each due direct message once, and reschedules or gives up on the ones that fail."""

    def __init__(self, store: JobStore, notifier: Notifier, config: CoreConfig, *, clock: Callable[[], float],
                 jitter: Callable[[float], float], may_send: Callable[[int], bool] = lambda job_id: True) -> None:
        self.store = store
        self.notifier = notifier
        self.config = config
        self.clock = clock
        self._jitter = jitter
        self._may_send = may_send

    async def send(self, job: Job, *, token: int | None = None) -> bool:
        """Send the job's direct message if it is due; return whether it was sent now. Never raises for a
        failed send: the channel post it follows must not be disturbed by it. ``token``: the worker step's
        claim (its writes are refused once the job is taken over)."""
        if not job.dm_due or not self._may_send(job.id):
            return False
        try:
            message_id = await self.notifier.send_ready_dm(job)
        except DeliveryFailed as exc:
            if exc.permanent:
                log.info("job=%s direct message not possible (%s); giving up", job.id, exc.reason)
                await self.store.mark_dm_sent(job.id, self.clock(), token=token)
            else:
                await self._retry_or_give_up(job, exc.reason, token)
            return False
        except Exception:
            log.exception("job=%s direct message failed unexpectedly", job.id)
            await self._retry_or_give_up(job, "unexpected error", token)
            return False
        await self.store.mark_dm_sent(job.id, self.clock(), token=token)
        log.info("job=%s direct message sent message=%s", job.id, message_id)
        return True

    async def _retry_or_give_up(self, job: Job, reason: str, token: int | None) -> None:
        now = self.clock()
        assert job.delivered_at is not None
        waited = now - job.delivered_at
        if waited >= self.config.dm_give_up_after:
            log.warning("job=%s direct message still failing (%s) after %.0f s; giving up", job.id, reason, waited)
            await self.store.mark_dm_sent(job.id, now, token=token)
            return
        # The wait doubles with each failure, roughly: it is as long as the time already spent, within bounds.
        delay = min(max(waited, self.config.delivery_retry_base), self.config.delivery_retry_cap)
        log.warning("job=%s direct message failed (%s); trying again in %.0f s", job.id, reason, delay)
        await self.store.postpone_dm(job.id, now + self._jitter(delay), token=token)
