"""One reliability run: the real bot process against both fakes, many /veo requests, faults, SIGKILLs and
restarts on the same database, then the invariants (see ``invariants.py``)."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fakes.comet_api import TaskScript, make_mp4_bytes
from tests.fakes.discord_interactions import FakeInteraction
from tests.fakes.discord_models import FakeChannel, FakeUser, InjectedFault
from tests.reliability.faults import ISSUE_UPLOAD_RATES, CreateHold, UploadHold
from tests.reliability.process import BotProcess
from tests.reliability.prompts import hostile_prompt, refused_prompt, tag
from tests.reliability.world import World, tag_of
from tests.support.e2e import JPEG, MEMBER_PERMISSIONS, MODERATOR_PERMISSIONS, PNG, WEBP

UPLOAD_LIMIT = 8192
MAX_PROMPT = 1500
RESULT_LOCATIONS = ("video_url", "metadata.url", "url", "output.url", "data.video_url", "content_only")
PROBE_INDEX = 99999  # the liveness probe's request, after everything else
HOLD_WAIT = 60.0  # a targeted kill waits this long for its moment; longer means the bot stopped working


@dataclass
class RunPlan:
    """How big a run is and what it throws at the bot."""

    seed: int
    jobs: int = 50  # stored jobs to reach (requests refused at the door or lost to a kill do not count)
    kills: int = 0
    soak_seconds: float = 0.0  # keep issuing requests (and killing, if kills) this long
    gateway_disconnects: int = 0
    discord_chaos: bool = False  # 429s on channel messages, 401/50027 on interaction webhooks
    job_timeout: float = 15.0
    settle_timeout: float = 120.0
    # Discord's enforce_nonce window. 0 leaves the bot's own channel-history check as the only guard against a
    # second post after a crash, as after an outage longer than Discord's few minutes.
    nonce_window: float = 300.0

    def upload_rates(self) -> dict[str, float]:
        """Upload faults; a 500 after storing needs the nonce (discord.py resends at once), so not without it."""
        rates = dict(ISSUE_UPLOAD_RATES)
        if not self.nonce_window:
            rates.pop("500_after")
        return rates

    def settings(self) -> dict[str, str]:
        """Timings short enough for a test, everything else as in production."""
        return {
            "VEO_POLL_INTERVAL": "0.2",
            "VEO_JOB_TIMEOUT": str(self.job_timeout),
            "VEO_REQUEST_TIMEOUT": "1",
            "VEO_SUBMIT_GRACE": "1",
            "VEO_DELIVERY_RETRY_BASE": "0.2",
            "VEO_MAX_ACTIVE_PER_USER": "5",
            "VEO_MAX_ACTIVE_PER_GUILD": "20",
            "VEO_MAX_ACTIVE_TOTAL": "20",
            "VEO_DAILY_QUOTA_PER_USER": "0",
            "VEO_DAILY_QUOTA_PER_GUILD": "0",
            "VEO_MAX_QUEUED_PER_GUILD": "0",
            "VEO_UPLOAD_LIMIT_BYTES": str(UPLOAD_LIMIT),
            "VEO_MAX_PROMPT_CHARS": str(MAX_PROMPT),
            "VEO_ALLOW_HTTP_DOWNLOADS": "true",
            "VEO_VIDEO_RETENTION_DAYS": "0",
            "VEO_LOG_LEVEL": "INFO",
        }


@dataclass
class Request:
    """One /veo a member sends, and what is expected of it."""

    index: int
    user: FakeUser
    channel: FakeChannel
    prompt: str
    images: list[tuple[str, str, bytes]]
    outcome: str  # success | failure | safety | never | refused
    video: bytes | None = None
    cancel_by: str | None = None  # owner | moderator
    interaction: FakeInteraction | None = None
    dispatched_at: float = 0.0
    generation: int = 0
    cancel_reply: str | None = None

    @property
    def tag(self) -> str:
        """The tag tying this request to its row, create requests, tasks and messages."""
        return tag(self.index)

    def reply(self) -> str | None:
        """The private answer the member saw, if any."""
        original = self.interaction.original if self.interaction else None
        if original is None or original.loading:
            return None
        return original.content + " " + str(original.embeds)


@dataclass
class Kill:
    """One SIGKILL and what the bot was doing."""

    kind: str
    at: float
    detail: str = ""
    job_tag: str | None = None
    upload_message_id: int | None = None


@dataclass
class Probe:
    """A command a member without the needed permission tried; ``reply`` is what they were told."""

    command: str
    user: FakeUser
    interaction: FakeInteraction


@dataclass
class RunRecord:
    """Everything the invariants and the report need besides the fakes and the database."""

    plan: RunPlan
    requests: list[Request] = field(default_factory=list)
    kills: list[Kill] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)
    discord_faults: Counter[str] = field(default_factory=Counter)
    started: float = 0.0
    duration: float = 0.0
    exit_code: int | None = None
    probe_tag: str | None = None
    restarts: int = 0


class ReliabilityRun:
    """Drives one run; ``await run()`` returns the record for ``invariants.check``."""

    def __init__(self, world: World, plan: RunPlan, workdir: Path) -> None:
        self.w = world
        self.plan = plan
        self.rng = random.Random(plan.seed)
        self.db_path = workdir / "veo.sqlite3"
        settings = {
            "DISCORD_TOKEN": world.token,
            "COMETAPI_KEY": world.key,
            "COMETAPI_BASE_URL": world.api.base_url,
            "DISCORD_API_BASE_URL": world.discord.api_base,
            "DISCORD_GATEWAY_URL": world.discord.gateway_url,
            "DATABASE_URL": f"sqlite:///{self.db_path}",
            "VEO_DATA_DIR": str(workdir / "data"),
            "DISCORD_GUILD_IDS": str(world.guild.id),
            **plan.settings(),
        }
        self.bot = BotProcess(world.discord, settings, workdir)
        self.record = RunRecord(plan)
        self._tasks: list[asyncio.Task[Any]] = []
        self._injected: list[tuple[str, InjectedFault]] = []
        self._next_index = 0

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
        with sqlite3.connect(self.db_path, timeout=10) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])

    def unsettled(self) -> list[tuple[Any, ...]]:
        """Rows that still have something to do: not finished, or finished without the notice posted."""
        with sqlite3.connect(self.db_path, timeout=10) as conn:
            return conn.execute(
                "SELECT id, status, delivered_at, next_poll_at FROM jobs WHERE status NOT IN"
                " ('delivered', 'failed', 'timed_out', 'cancelled')"
                " OR (status IN ('failed', 'timed_out') AND delivered_at IS NULL)"
            ).fetchall()

    async def _drive(self) -> None:
        kills = self._kill_schedule()
        every = max(2, self.plan.jobs // (len(kills) + 1)) if kills else 0
        soak_until = self.record.started + self.plan.soak_seconds
        # Gateway disconnects at even intervals (and on through a soak).
        disconnect_every = self.plan.jobs // (self.plan.gateway_disconnects + 1) if self.plan.gateway_disconnects else 0
        while True:
            soaking = time.monotonic() < soak_until
            index = self._next_index
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
            await self._issue(self._new_request())
            await asyncio.sleep(self.rng.uniform(0.03, 0.2))

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
        self._script(request)
        await self._issue(request)
        self.record.probe_tag = request.tag
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while True:
            with sqlite3.connect(self.db_path, timeout=10) as conn:
                row = conn.execute("SELECT status FROM jobs WHERE prompt LIKE ?", (request.tag + "%",)).fetchone()
            if row is not None and row[0] == "delivered":
                return
            if loop.time() > deadline:
                raise AssertionError(f"the last request was not delivered (row {row}): the worker is not alive")
            await asyncio.sleep(0.1)

    # -- requests -------------------------------------------------------------------------------------

    def _new_request(self) -> Request:
        rng = self.rng
        index = self._next_index
        self._next_index += 1
        user = rng.choice(self.w.members)
        channel = rng.choice(self.w.channels)
        if rng.random() < 0.06:
            return Request(index, user, channel, refused_prompt(rng, index, MAX_PROMPT), [], "refused")
        prompt = hostile_prompt(rng, index, other_user=self.w.bystander.id, role=self.w.role.id, max_chars=MAX_PROMPT)
        images: list[tuple[str, str, bytes]] = []
        roll = rng.random()
        if roll < 0.2:
            images.append(("image", *rng.choice([("image/png", PNG), ("image/jpeg", JPEG), ("image/webp", WEBP)])))
            if roll < 0.07:
                images.append(("last_frame", "image/png", PNG))
        late = index > self.plan.jobs // 2 and not self.plan.soak_seconds
        outcome = rng.choices(["success", "failure", "safety", "never"], [80, 8, 8, 0 if late else 4])[0]
        size = 9000 + index if rng.random() < 0.08 else 1500 + (index * 37) % 3000
        request = Request(index, user, channel, prompt, images, outcome, make_mp4_bytes(size))
        roll = rng.random()
        request.cancel_by = "owner" if roll < 0.04 else "moderator" if roll < 0.06 else None
        self._script(request)
        return request

    def _script(self, request: Request) -> None:
        rng = self.rng
        polls = rng.randint(0, 3)
        assert request.video is not None
        location = rng.choice(RESULT_LOCATIONS if len(request.video) <= UPLOAD_LIMIT else RESULT_LOCATIONS[:-1])
        style = rng.choice(["int", "float", "fixed50", "percent_string", "missing", "null"])
        if request.outcome == "success":
            script = TaskScript(polls_until_done=polls, video=request.video, result_location=location,
                                progress_style=style, wrap_in_data=rng.random() < 0.1)
        elif request.outcome == "failure":
            script = TaskScript(polls_until_done=polls, outcome="failure",
                                failure_style=rng.choice(["error_object", "fail_reason", "error_string"]))
        elif request.outcome == "safety":
            script = TaskScript.safety_failure(polls_until_done=polls)
        else:
            script = TaskScript(polls_until_done=10**9)
        self.w.api.scripts[request.tag] = script

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
        await asyncio.sleep(self.rng.uniform(0.0, 1.0))
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
        self.rng.shuffle(kinds)
        return kinds

    async def _kill(self, kind: str) -> None:
        kill = Kill(kind, time.monotonic())
        if kind == "mid-submit":
            await self._kill_mid_submit(kill)
        elif kind == "mid-upload":
            await self._kill_mid_upload(kill)
        else:
            await asyncio.sleep(self.rng.uniform(0.05, 1.5))
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
            await self._issue(self._new_request())
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
                await self._issue(self._new_request())
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
            await asyncio.sleep(self.rng.uniform(0.3, 1.2))
            roll = self.rng.random() if len(faults) > 2 else (0.0, 0.5, 0.9)[len(faults)]  # each kind once first
            kind = "post_429" if roll < 0.45 else "edit_429" if roll < 0.8 else "webhook_401_50027"
            if any(k == kind and f.times > 0 for k, f in faults):
                continue  # one pending fault per kind: Discord does not answer 429 to every retry
            if kind == "post_429":
                fault = d.inject("POST", r"/channels/\d+/messages$", status=429,
                                 retry_after=self.rng.uniform(0.05, 0.4))
            elif kind == "edit_429":
                fault = d.inject("PATCH", r"/channels/\d+/messages/\d+$", status=429,
                                 retry_after=self.rng.uniform(0.05, 0.4))
            else:
                fault = d.inject("PATCH", r"/webhooks/\d+/[^/]+/messages/@original$", status=401, code=50027,
                                 message="Invalid Webhook Token")
            faults.append((kind, fault))
