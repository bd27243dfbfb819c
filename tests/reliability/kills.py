"""The kills and freezes of a reliability run: SIGKILL at random moments, in the middle of a create request (held
at the fake CometAPI) and of a video upload (held at the fake Discord), and SIGSTOP of a process holding jobs
until its peers have taken them over, then SIGCONT. With several processes, a targeted kill or freeze hits the
process that holds the job's lease (the lease owner names its pid)."""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from tests.reliability.faults import CreateHold, UploadHold
from tests.reliability.group import ProcessGroup
from tests.reliability.plan import Kill, RunRecord
from tests.reliability.process import BotProcess
from tests.reliability.world import World, tag_of

HOLD_WAIT = 60.0  # a targeted kill waits this long for its moment; longer means the bot stopped working
FREEZE_TRIES = 20  # holds a freeze may let go by, waiting for a moment it may freeze at
JOB_REF = re.compile(r"job #(\d+)")
Query = Callable[..., Awaitable[list[dict[str, Any]]]]


class Killer:
    """Carries out the kill schedule of a run on its process group."""

    def __init__(self, world: World, group: ProcessGroup, record: RunRecord, query: Query,
                 issue_one: Callable[[], Awaitable[None]], rng: random.Random, lease_seconds: float) -> None:
        self.w = world
        self.group = group
        self.record = record
        self.query = query
        self.issue_one = issue_one  # sends one more request, so that a targeted moment comes
        self.rng = rng
        self.lease_seconds = lease_seconds

    def schedule(self) -> list[str]:
        """The kinds of the next round of kills, shuffled: a quarter (at least two) of the kills land mid-submit
        and mid-upload each, the rest at random moments; then the freezes, of the plan's kinds in turn."""
        plan = self.record.plan
        kinds: list[str] = []
        if plan.kills:
            targeted = max(2, plan.kills // 4)
            kinds = ["mid-submit"] * targeted + ["mid-upload"] * targeted
            kinds += ["random"] * max(0, plan.kills - len(kinds))
        kinds += [plan.freeze_kinds[i % len(plan.freeze_kinds)] for i in range(plan.freezes)]
        self.rng.shuffle(kinds)
        return kinds

    async def run(self, kind: str) -> None:
        """One kill (and the restart) or one freeze (and the thaw)."""
        kill = Kill(kind, time.monotonic())
        victim: BotProcess | None = None  # the process killed, to start again (a frozen one is thawed instead)
        if kind == "mid-submit":
            victim = await self._mid_submit(kill)
        elif kind == "mid-upload":
            victim = await self._mid_upload(kill)
        elif kind == "freeze mid-upload":
            await self._freeze_mid_upload(kill)
        elif kind == "freeze mid-submit":
            await self._freeze_mid_submit(kill)
        elif kind == "freeze late upload":
            await self._freeze_late_upload(kill)
        else:
            victim = self.rng.choice(self.group.processes)
            await asyncio.sleep(self.rng.uniform(0.05, 1.5))
            await victim.kill()
        if victim is not None:
            kill.process = victim.name
        self.record.kills.append(kill)
        if victim is not None:
            await victim.start()

    async def _owner_of(self, job_id: int) -> BotProcess:
        rows = await self.query("SELECT lease_owner FROM jobs WHERE id = ?", job_id)
        process = self.group.by_owner(rows[0]["lease_owner"] if rows else None)
        if process is None:
            raise AssertionError(f"job {job_id} is being sent, but no running process holds its lease: {rows}")
        return process

    async def _wait_for(self, arrived: asyncio.Event, what: str) -> None:
        deadline = time.monotonic() + HOLD_WAIT
        while not arrived.is_set():
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {HOLD_WAIT}s")
            try:
                await asyncio.wait_for(arrived.wait(), 3.0)
            except TimeoutError:
                await self.issue_one()  # refused prompts and failures never get there: send more

    async def _mid_submit(self, kill: Kill) -> BotProcess:
        # Alternately after the task was created (billed, unknown to the bot) and before.
        hold = CreateHold(after_processing=sum(k.kind == "mid-submit" for k in self.record.kills) % 2 == 0)
        victim = await self._held_create(hold, kill)
        await victim.kill()
        created = bool(self.w.api.tasks_for(kill.job_tag or ""))
        kill.detail = "task created" if created else "task not created"
        return victim

    async def _held_create(self, hold: CreateHold, kill: Kill) -> BotProcess:
        """Hold the next create request at CometAPI; the process that sent it (its job's lease owner), as soon as
        the fake has read the form (and, for a hold after processing, created the task): the bot gives up on the
        request after VEO_REQUEST_TIMEOUT, and the kill or freeze must come before that."""
        self.w.comet_faults.hold = hold
        await self.issue_one()
        await self._wait_for(hold.arrived, "create request reached CometAPI")
        request = hold.request
        assert request is not None
        deadline = time.monotonic() + 5.0
        while not (tag := tag_of(request.fields.get("prompt", ""))) or (
                hold.after_processing and not self.w.api.tasks_for(tag)):
            assert time.monotonic() < deadline, f"the held create was never read: {request.fields}"
            await asyncio.sleep(0.005)
        kill.job_tag = tag
        rows = await self.query("SELECT id, status, lease_owner FROM jobs WHERE prompt LIKE ?", tag + "%")
        assert rows and rows[0]["status"] == "submitting", f"the held create's job is not being sent: {rows}"
        process = self.group.by_owner(rows[0]["lease_owner"])
        assert process is not None, f"no running process holds the lease of the held create's job: {rows}"
        return process

    async def _held_upload(self, hold: UploadHold) -> BotProcess:
        self.w.upload_faults.hold = hold
        await self._wait_for(hold.arrived, "video upload reached Discord")
        found = JOB_REF.search(hold.content)
        assert found, f"the held upload names no job: {hold.content[:120]!r}"
        return await self._owner_of(int(found.group(1)))

    async def _mid_upload(self, kill: Kill) -> BotProcess:
        # Alternately with Discord keeping the message (the bot never saw the answer) and without.
        hold = UploadHold(store_after=sum(k.kind == "mid-upload" for k in self.record.kills) % 2 == 0)
        victim = await self._held_upload(hold)
        await victim.kill()
        hold.released.set()
        await asyncio.sleep(0.05)  # the handler stores the message (or not) now that the bot is gone
        kill.upload_message_id = hold.message_id
        kill.detail = "message stored" if hold.message_id is not None else "message not stored"
        return victim

    async def _freeze_mid_upload(self, kill: Kill) -> None:
        """Freeze the uploader while Discord holds its post; Discord then keeps the message and answers, but the
        answer waits in the frozen process's socket. A peer takes the job over when the lease runs out and finds
        the message in the channel; the thawed process's late success must change nothing."""
        for _ in range(FREEZE_TRIES):
            hold = UploadHold(store_after=True, answer=True)
            victim = await self._held_upload(hold)
            found = JOB_REF.search(hold.content)
            assert found is not None
            job_id = int(found.group(1))
            if await self._may_freeze(victim, job_id):
                break
            hold.released.set()  # not now: this upload goes through as usual
        else:
            raise AssertionError(f"no upload to freeze in {FREEZE_TRIES} tries")
        victim.freeze()
        hold.released.set()
        kill.process = victim.name
        await asyncio.sleep(0.05)
        kill.upload_message_id = hold.message_id
        taken = await self._wait_taken(victim, [job_id])
        kill.detail = "taken over" if taken else "not taken over"
        victim.thaw()

    async def _freeze_late_upload(self, kill: Kill) -> None:
        """The known limit, on purpose: the uploader freezes while its post is still on its way (held at Discord,
        not stored); a peer takes the job over, finds nothing in the channel and posts it; only then does the
        frozen process's post arrive (Discord stores it) and the process wake up. Outside Discord's nonce window
        that is a second result message."""
        hold = UploadHold(store_after=True, answer=True)
        victim = await self._held_upload(hold)
        found = JOB_REF.search(hold.content)
        assert found is not None
        job_id = int(found.group(1))
        victim.freeze()
        kill.process = victim.name
        taken = await self._wait_taken(victim, [job_id])
        deadline = time.monotonic() + 3 * self.lease_seconds
        while not (await self.query("SELECT id FROM jobs WHERE id = ? AND delivered_message_id IS NOT NULL",
                                    job_id)) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        hold.released.set()
        await asyncio.sleep(0.05)
        kill.upload_message_id = hold.message_id
        kill.detail = "taken over" if taken else "not taken over"
        victim.thaw()

    async def _freeze_mid_submit(self, kill: Kill) -> None:
        """Freeze the sender while CometAPI holds its create request (the task is created, so billed). Its lease
        runs out; a peer fails the job as interrupted and tells the member, never resending it; the thawed
        process's late answer (or its timeout) must change nothing."""
        for _ in range(FREEZE_TRIES):
            hold = CreateHold(after_processing=True)
            victim = await self._held_create(hold, kill)
            rows = await self.query("SELECT id FROM jobs WHERE prompt LIKE ?", f"{kill.job_tag}%")
            job_id = int(rows[0]["id"])
            if await self._may_freeze(victim, job_id):
                break
            # Not now: the bot gives up on this create at its request timeout ("not confirmed", never resent).
        else:
            raise AssertionError(f"no create to freeze in {FREEZE_TRIES} tries")
        victim.freeze()
        kill.process = victim.name
        taken = await self._wait_taken(victim, [job_id])
        kill.detail = "taken over" if taken else "not taken over"
        victim.thaw()

    async def _may_freeze(self, victim: BotProcess, job_id: int) -> bool:
        """Whether to freeze ``victim`` now: only when it holds no lease but the held job's. A request for another
        job that it sent just before it froze, still on its way, would reach the service after a peer took that
        job over: a create after the job was failed as interrupted (the task runs uncounted by the caps), a post
        after the peer posted it (a second message once Discord's nonce window is over). Those are the known limit
        of a frozen process whose requests outlive its lease (docs/RELIABILITY.md); the freezes here test what is
        promised: what a frozen process holds at the service is taken over, and its late answers change nothing."""
        rows = await self.query("SELECT id, lease_owner FROM jobs WHERE lease_owner IS NOT NULL AND id <> ?", job_id)
        return not any(self.group.by_owner(row["lease_owner"]) is victim for row in rows)

    async def _wait_taken(self, victim: BotProcess, jobs: list[int]) -> bool:
        """Wait until no job in ``jobs`` is still leased to the frozen ``victim`` (peers claimed them, or they
        ended), at least past one lease; False if that took more than three leases."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        pid = f":{victim.pid}:"
        while True:
            elapsed = loop.time() - start
            rows = await self.query("SELECT id, lease_owner FROM jobs WHERE lease_owner IS NOT NULL")
            still = [r["id"] for r in rows if r["id"] in jobs and pid in r["lease_owner"]]
            if elapsed > self.lease_seconds + 0.5 and not still:
                return True
            if elapsed > 3 * self.lease_seconds:
                return False
            await asyncio.sleep(0.1)
