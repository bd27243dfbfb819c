"""One reliability run: the real bot process against both fakes, many /veo requests, faults, SIGKILLs and
restarts on the same database, then the invariants (see ``invariants.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import sqlite3
import time
from pathlib import Path
from typing import Any

from tests.fakes.comet.api import make_mp4_bytes
from tests.fakes.discord.models import InjectedFault
from tests.reliability.faults import CreateHold, UploadHold
from tests.reliability.plan import PROBE_INDEX, Kill, Probe, Request, RequestFactory, RunPlan, RunRecord
from tests.reliability.process import BotProcess
from tests.reliability.prompts import tag
from tests.reliability.world import World, tag_of
from tests.support.e2e import IDENTIFY_WINDOW, MEMBER_PERMISSIONS, MODERATOR_PERMISSIONS

HOLD_WAIT = 60.0  # a targeted kill waits this long for its moment; longer means the bot stopped working


class ReliabilityRun:
    """Drives one run; ``await run()`` returns the record for ``invariants.check``."""

    def __init__(self, world: World, plan: RunPlan, workdir: Path) -> None:
        self.w = world
        self.plan = plan
        # One generator per concern: the requests (prompts, images, scripted outcomes) and the kill schedule then
        # follow from the seed alone, whatever the timing of the concurrent parts.
        self.pace_rng = random.Random(plan.seed)
        self.kill_rng = random.Random(plan.seed + 1)
        self.chaos_rng = random.Random(plan.seed + 2)
        self.cancel_rng = random.Random(plan.seed + 3)
        self.db_path = workdir / "veo.sqlite3"
        settings = {
            "DISCORD_TOKEN": world.token,
            "COMETAPI_KEY": world.key,
            "COMETAPI_BASE_URL": world.api.base_url,
            "DISCORD_API_BASE_URL": world.discord.api_base,
            "DISCORD_GATEWAY_URL": world.discord.gateway_url,
            "DISCORD_IDENTIFY_WINDOW": str(IDENTIFY_WINDOW),
            "DATABASE_URL": f"sqlite:///{self.db_path}",
            "VEO_DATA_DIR": str(workdir / "data"),
            "DISCORD_GUILD_IDS": str(world.guild.id),
            **plan.settings(),
        }
        self.bot = BotProcess(world.discord, settings, workdir)
        self.record = RunRecord(plan)
        self._tasks: list[asyncio.Task[Any]] = []
        self._injected: list[tuple[str, InjectedFault]] = []
        self.requests = RequestFactory(world, plan, random.Random(plan.seed + 4))

    # -- the run --------------------------------------------------------------------------------------

    async def run(self) -> RunRecord:
        """Start the bot, drive requests, kills and faults, let everything settle, probe, stop."""
        self.record.started = time.monotonic()
        try:
            await self.bot.start()
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
            self.record.exit_code = await self.bot.stop()
        except BaseException:
            if self.bot.alive:
                await self.bot.kill()
            print(self.bot.log_text()[-4000:])
            raise
        self.record.duration = time.monotonic() - self.record.started
        self.record.restarts = self.bot.generation - 1
        return self.record

    def stored_count(self) -> int:
        """Rows in the job table (read while the bot runs: WAL lets readers in)."""
        if not self.db_path.exists():
            return 0
        return int(self._query("SELECT COUNT(*) FROM jobs")[0][0])

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with contextlib.closing(sqlite3.connect(self.db_path, timeout=10)) as conn:
            return conn.execute(sql, params).fetchall()

    def unsettled(self) -> list[tuple[Any, ...]]:
        """Rows that still have something to do: not finished, or finished without the notice posted."""
        return self._query(
            "SELECT id, status, delivered_at, next_poll_at FROM jobs WHERE status NOT IN"
            " ('delivered', 'failed', 'timed_out', 'cancelled')"
            " OR (status IN ('failed', 'timed_out') AND delivered_at IS NULL)"
        )

    async def _drive(self) -> None:
        kills = self._kill_schedule()
        every = max(2, self.plan.jobs // (len(kills) + 1)) if kills else 0
        soak_until = self.record.started + self.plan.soak_seconds
        # Gateway disconnects at even intervals (and on through a soak).
        disconnect_every = self.plan.jobs // (self.plan.gateway_disconnects + 1) if self.plan.gateway_disconnects else 0
        while True:
            soaking = time.monotonic() < soak_until
            index = self.requests.issued
            # A soak ends with its time, whatever kills were still planned; a fixed run does all of them.
            killing = bool(kills) and (soaking or not self.plan.soak_seconds)
            if not soaking and not killing and self.stored_count() >= self.plan.jobs:
                return
            if index > 4 * self.plan.jobs and not self.plan.soak_seconds:
                raise AssertionError(f"{index} requests gave only {self.stored_count()} stored jobs")
            if killing and index >= every * (len(self.record.kills) + 1):
                await self._kill(kills.pop(0))
                if soaking and not kills:
                    kills = self._kill_schedule()  # soak: keep killing at the same pace
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
            await self.bot.wait_connected()
            pending = self.unsettled() or self._unanswered()
            if not pending:
                return
            if loop.time() > deadline:
                raise AssertionError(f"not settled after {self.plan.settle_timeout}s: {pending[:10]}")
            await asyncio.sleep(0.2)

    def _unanswered(self) -> list[str]:
        """Requests the running bot received recently and has not answered (it may still)."""
        now = time.monotonic()
        return [r.tag for r in self.record.requests
                if r.generation == self.bot.generation and r.reply() is None and now - r.dispatched_at < 5.0]

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
            rows = self._query("SELECT status FROM jobs WHERE prompt LIKE ?", (request.tag + "%",))
            row = rows[0] if rows else None
            if row is not None and row[0] == "delivered":
                return
            if loop.time() > deadline:
                raise AssertionError(f"the last request was not delivered (row {row}): the worker is not alive")
            await asyncio.sleep(0.1)

    # -- requests -------------------------------------------------------------------------------------

    async def _issue(self, request: Request) -> None:
        await self.bot.wait_connected()
        d = self.w.discord
        attachments = {label: d.add_attachment(request.channel.id, f"{label}.bin", ctype, data)
                       for label, ctype, data in request.images}
        request.interaction = await d.invoke_command(
            "veo", channel_id=request.channel.id, user=request.user, options={"prompt": request.prompt},
            attachments=attachments, permissions=MEMBER_PERMISSIONS,
        )
        request.dispatched_at = time.monotonic()
        request.generation = self.bot.generation
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
        await self.bot.wait_connected()
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
            await self.bot.wait_connected()
            perms = MODERATOR_PERMISSIONS if user is self.w.moderator else MEMBER_PERMISSIONS
            interaction = await d.invoke_command(name, channel_id=self.w.channels[0].id, user=user,
                                                 options=options, permissions=perms)
            self.record.probes.append(Probe(name, user, interaction))

    # -- kills ------------------------------------------------------------------------------------------

    def _kill_schedule(self) -> list[str]:
        if not self.plan.kills:
            return []
        # At least a quarter of the kills land mid-submit and mid-upload each; the rest at random moments.
        targeted = max(2, self.plan.kills // 4)
        kinds = ["mid-submit"] * targeted + ["mid-upload"] * targeted
        kinds += ["random"] * max(0, self.plan.kills - len(kinds))
        self.kill_rng.shuffle(kinds)
        return kinds

    async def _kill(self, kind: str) -> None:
        kill = Kill(kind, time.monotonic())
        if kind == "mid-submit":
            await self._kill_mid_submit(kill)
        elif kind == "mid-upload":
            await self._kill_mid_upload(kill)
        else:
            await asyncio.sleep(self.kill_rng.uniform(0.05, 1.5))
            await self.bot.kill()
        self.record.kills.append(kill)
        await self.bot.start()

    async def _kill_mid_submit(self, kill: Kill) -> None:
        # Alternately after the task was created (billed, unknown to the bot) and before.
        hold = CreateHold(after_processing=sum(k.kind == "mid-submit" for k in self.record.kills) % 2 == 0)
        self.w.comet_faults.hold = hold
        deadline = time.monotonic() + HOLD_WAIT
        while not hold.arrived.is_set():
            if time.monotonic() > deadline:
                raise AssertionError(f"no create request reached CometAPI within {HOLD_WAIT}s")
            # Send requests until one reaches the create call (refused prompts never do).
            await self._issue(self.requests.new_request())
            try:
                await asyncio.wait_for(hold.arrived.wait(), 3.0)
            except TimeoutError:
                continue
        assert hold.request is not None
        # Let the fake read the form (and, for a held "after processing", create the task) first.
        await asyncio.sleep(0.3)
        await self.bot.kill()
        kill.job_tag = tag_of(hold.request.fields.get("prompt", ""))
        created = bool(kill.job_tag and self.w.api.tasks_for(kill.job_tag))
        kill.detail = "task created" if created else "task not created"

    async def _kill_mid_upload(self, kill: Kill) -> None:
        # Alternately with Discord keeping the message (the bot never saw the answer) and without.
        hold = UploadHold(store_after=sum(k.kind == "mid-upload" for k in self.record.kills) % 2 == 0)
        self.w.upload_faults.hold = hold
        deadline = time.monotonic() + HOLD_WAIT
        while not hold.arrived.is_set():
            if time.monotonic() > deadline:
                raise AssertionError(f"no video upload reached Discord within {HOLD_WAIT}s")
            try:
                await asyncio.wait_for(hold.arrived.wait(), 3.0)
            except TimeoutError:
                await self._issue(self.requests.new_request())
        await self.bot.kill()
        hold.released.set()
        await asyncio.sleep(0.05)  # the handler stores the message (or not) now that the bot is gone
        kill.upload_message_id = hold.message_id
        kill.detail = "message stored" if hold.message_id is not None else "message not stored"

    # -- Discord trouble -------------------------------------------------------------------------------

    async def _gateway_disconnect(self) -> None:
        d = self.w.discord
        resumes, identifies = d.resume_count, d.identify_count
        await d.disconnect_gateway(4000)  # resumable: discord.py should RESUME (it may also IDENTIFY afresh)
        self.record.discord_faults["gateway_disconnect"] += 1
        await d.wait_until(lambda: d.resume_count > resumes or d.identify_count > identifies, timeout=30)
        await self.bot.wait_connected()

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
