"""One reliability run: the real bot processes against both fakes, many /veo requests, faults, SIGKILLs and
restarts (``kills.py``) on the same database, then the invariants (see ``invariants.py``). One unsharded process on
a SQLite file, or gateway shard processes and worker processes on one PostgreSQL database."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from typing import Any

from tests.fakes.comet.api import make_mp4_bytes
from tests.fakes.discord.models import FakeChannel, InjectedFault
from tests.reliability.database import RunDatabase
from tests.reliability.group import ProcessGroup
from tests.reliability.kills import Killer
from tests.reliability.plan import PROBE_INDEX, Probe, Request, RequestFactory, RunPlan, RunRecord
from tests.reliability.process import BotProcess
from tests.reliability.prompts import tag
from tests.reliability.world import World
from tests.support.e2e import IDENTIFY_WINDOW, MEMBER_PERMISSIONS, MODERATOR_PERMISSIONS

DEFAULT_LEASE_SECONDS = 60.0


class ReliabilityRun:
    """Drives one run; ``await run()`` returns the record for ``invariants.check``."""

    def __init__(self, world: World, plan: RunPlan, workdir: Path, database: RunDatabase) -> None:
        self.w = world
        self.plan = plan
        # One generator per concern: the requests (prompts, images, scripted outcomes) and the kill schedule then
        # follow from the seed alone, whatever the timing of the concurrent parts.
        self.pace_rng = random.Random(plan.seed)
        self.kill_rng = random.Random(plan.seed + 1)
        self.chaos_rng = random.Random(plan.seed + 2)
        self.cancel_rng = random.Random(plan.seed + 3)
        self.db = database
        settings = {
            "DISCORD_TOKEN": world.token,
            "COMETAPI_KEY": world.key,
            "COMETAPI_BASE_URL": world.api.base_url,
            "DISCORD_API_BASE_URL": world.discord.api_base,
            "DISCORD_GATEWAY_URL": world.discord.gateway_url,
            "DISCORD_IDENTIFY_WINDOW": str(IDENTIFY_WINDOW),
            "DATABASE_URL": database.url,
            "VEO_DATA_DIR": str(workdir / "data"),
            "DISCORD_GUILD_IDS": ",".join(str(g.id) for g in world.guilds),
            **plan.settings(),
        }
        self.group = ProcessGroup(world.discord, settings, workdir, shards=plan.shards, workers=plan.workers)
        self.record = RunRecord(plan)
        self.killer = Killer(world, self.group, self.record, database.query, self._issue_one, self.kill_rng,
                             plan.lease_seconds or DEFAULT_LEASE_SECONDS)
        self._tasks: list[asyncio.Task[Any]] = []
        self._injected: list[tuple[str, InjectedFault]] = []
        self.requests = RequestFactory(world, plan, random.Random(plan.seed + 4))

    # -- the run --------------------------------------------------------------------------------------

    async def run(self) -> RunRecord:
        """Start the bot, drive requests, kills and faults, let everything settle, probe, stop."""
        self.record.started = time.monotonic()
        try:
            await self.db.prepare()
            await self.group.start()
            chaos = asyncio.create_task(self._discord_chaos()) if self.plan.discord_chaos else None
            try:
                await self._drive()
                await self._settle()
            finally:
                if chaos is not None:
                    chaos.cancel()
                for task in self._tasks:
                    task.cancel()
            self.record.discord_faults.update(kind for kind, fault in self._injected if fault.hits)
            await self._probe_liveness()
            self.record.exit_codes = await self.group.stop()
        except BaseException:
            await self.group.kill_all()
            for process in self.group:
                print(f"=== {process.name} ===\n{process.log_text()[-4000:]}")
            raise
        self.record.duration = time.monotonic() - self.record.started
        self.record.restarts = self.group.restarts
        self.record.starts = {p.name: p.generation for p in self.group}
        return self.record

    def log_text(self) -> str:
        """What every process wrote."""
        return self.group.log_text()

    async def stored_count(self) -> int:
        """Rows in the job table."""
        return int((await self.db.query("SELECT COUNT(*) AS n FROM jobs"))[0]["n"])

    async def unsettled(self) -> list[dict[str, Any]]:
        """Rows that still have something to do: not finished, or finished without the notice posted."""
        return await self.db.query(
            "SELECT id, status, delivered_at, next_poll_at FROM jobs WHERE status NOT IN"
            " ('delivered', 'failed', 'timed_out', 'cancelled')"
            " OR (status IN ('failed', 'timed_out') AND delivered_at IS NULL)"
        )

    async def _drive(self) -> None:
        kills = self.killer.schedule()
        every = max(2, self.plan.jobs // (len(kills) + 1)) if kills else 0
        soak_until = self.record.started + self.plan.soak_seconds
        # Gateway disconnects at even intervals (and on through a soak).
        disconnect_every = self.plan.jobs // (self.plan.gateway_disconnects + 1) if self.plan.gateway_disconnects else 0
        while True:
            soaking = time.monotonic() < soak_until
            index = self.requests.issued
            # A soak ends with its time, whatever kills were still planned; a fixed run does all of them.
            killing = bool(kills) and (soaking or not self.plan.soak_seconds)
            if not soaking and not killing and await self.stored_count() >= self.plan.jobs:
                return
            if index > 4 * self.plan.jobs and not self.plan.soak_seconds:
                raise AssertionError(f"{index} requests gave only {await self.stored_count()} stored jobs")
            if killing and index >= every * (len(self.record.kills) + 1):
                await self.killer.run(kills.pop(0))
                if soaking and not kills:
                    kills = self.killer.schedule()  # soak: keep killing at the same pace
                continue
            if disconnect_every and index and index % disconnect_every == 0:
                await self._gateway_disconnect()
            if index in (7, 29):
                await self._probe_permissions()
            await self._issue(self.requests.new_request())
            await asyncio.sleep(self.pace_rng.uniform(0.03, 0.2))

    async def _settle(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.plan.settle_timeout
        while True:
            await self.group.wait_connected()
            pending = await self.unsettled() or self._unanswered()
            if not pending:
                return
            if loop.time() > deadline:
                raise AssertionError(f"not settled after {self.plan.settle_timeout}s: {pending[:10]}")
            await asyncio.sleep(0.2)

    def _unanswered(self) -> list[str]:
        """Requests the running bot received recently and has not answered (it may still)."""
        now = time.monotonic()
        generations = {p.name: p.generation for p in self.group}
        return [r.tag for r in self.record.requests
                if r.generation == generations[r.process] and r.reply() is None and now - r.dispatched_at < 5.0]

    async def _probe_liveness(self) -> None:
        """After everything: a plain request must still be delivered, so the poll loop is alive."""
        self.w.comet_faults.clear()
        self.w.upload_faults.clear()
        self.w.discord.clear_faults()
        request = Request(PROBE_INDEX, self.w.members[0], self.w.channels[0],
                          f"{tag(PROBE_INDEX)} the last light of the day",
                          [], "success", make_mp4_bytes(1999))
        self.requests.script(request)
        await self._issue(request)
        self.record.probe_tag = request.tag
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while True:
            rows = await self.db.query("SELECT status FROM jobs WHERE prompt LIKE ?", request.tag + "%")
            row = rows[0] if rows else None
            if row is not None and row["status"] == "delivered":
                return
            if loop.time() > deadline:
                raise AssertionError(f"the last request was not delivered (row {row}): the worker is not alive")
            await asyncio.sleep(0.1)

    # -- requests -------------------------------------------------------------------------------------

    def _taker(self, channel: FakeChannel) -> BotProcess:
        """The process that takes commands in ``channel``."""
        return self.group.for_guild(next(g for g in self.w.guilds if g.id == channel.guild_id))

    async def _issue_one(self) -> None:
        await self._issue(self.requests.new_request())

    async def _issue(self, request: Request) -> None:
        taker = self._taker(request.channel)
        await taker.wait_connected()
        d = self.w.discord
        attachments = {label: d.add_attachment(request.channel.id, f"{label}.bin", ctype, data)
                       for label, ctype, data in request.images}
        request.interaction = await d.invoke_command(
            "veo", channel_id=request.channel.id, user=request.user, options={"prompt": request.prompt},
            attachments=attachments, permissions=MEMBER_PERMISSIONS,
        )
        request.dispatched_at = time.monotonic()
        request.process, request.generation = taker.name, taker.generation
        self.record.requests.append(request)
        if request.cancel_by:
            self._tasks.append(asyncio.create_task(self._cancel_later(request)))

    async def _cancel_later(self, request: Request) -> None:
        assert request.interaction is not None
        try:
            reply = await request.interaction.wait_for_response(
                timeout=5, predicate=lambda m: "Job #" in m.content)
        except AssertionError:
            return  # the bot was killed before it answered: nothing to cancel by number
        number = reply.content.split("Job #", 1)[1].split(":", 1)[0]
        await asyncio.sleep(self.cancel_rng.uniform(0.0, 1.0))
        await self._taker(request.channel).wait_connected()
        by = request.user if request.cancel_by == "owner" else self.w.moderator
        perms = MEMBER_PERMISSIONS if request.cancel_by == "owner" else MODERATOR_PERMISSIONS
        interaction = await self.w.discord.invoke_command(
            "veo-cancel", channel_id=request.channel.id, user=by, options={"job": number}, permissions=perms)
        try:
            answer = await interaction.wait_for_response(timeout=10, predicate=lambda m: bool(m.content))
            request.cancel_reply = answer.content
        except AssertionError:
            return

    async def _probe_permissions(self) -> None:
        """Members try moderator and admin commands; Discord lets them through (as a server override would)."""
        d = self.w.discord
        for name, user, options in (("veo-queue", self.w.members[1], {}),
                                    ("veo-admin pause", self.w.members[2], {}),
                                    ("veo-admin pause", self.w.moderator, {})):
            await self._taker(self.w.channels[0]).wait_connected()
            perms = MODERATOR_PERMISSIONS if user is self.w.moderator else MEMBER_PERMISSIONS
            interaction = await d.invoke_command(name, channel_id=self.w.channels[0].id, user=user,
                                                 options=options, permissions=perms)
            self.record.probes.append(Probe(name, user, interaction))

    # -- Discord trouble -------------------------------------------------------------------------------

    async def _gateway_disconnect(self) -> None:
        d = self.w.discord
        resumes, identifies = d.resume_count, d.identify_count
        await d.disconnect_gateway(4000)  # resumable: discord.py should RESUME (it may also IDENTIFY afresh)
        self.record.discord_faults["gateway_disconnect"] += 1
        await d.wait_until(lambda: d.resume_count > resumes or d.identify_count > identifies, timeout=30)
        await self.group.wait_connected()

    async def _discord_chaos(self) -> None:
        d = self.w.discord
        faults = self._injected
        while True:
            await asyncio.sleep(self.chaos_rng.uniform(0.3, 1.2))
            # Each kind once first, then at random.
            roll = self.chaos_rng.random() if len(faults) > 2 else (0.0, 0.5, 0.9)[len(faults)]
            kind = "post_429" if roll < 0.45 else "edit_429" if roll < 0.8 else "webhook_401_50027"
            if any(k == kind and f.times > 0 for k, f in faults):
                continue  # one pending fault per kind: Discord does not answer 429 to every retry
            if kind == "post_429":
                fault = d.inject("POST", r"/channels/\d+/messages$", status=429,
                                 retry_after=self.chaos_rng.uniform(0.05, 0.4))
            elif kind == "edit_429":
                fault = d.inject("PATCH", r"/channels/\d+/messages/\d+$", status=429,
                                 retry_after=self.chaos_rng.uniform(0.05, 0.4))
            else:
                fault = d.inject("PATCH", r"/webhooks/\d+/[^/]+/messages/@original$", status=401, code=50027,
                                 message="Invalid Webhook Token")
            faults.append((kind, fault))
