"""What a reliability run does and what it records: the plan, the requests members send (prompts, images,
scripted outcomes), the kills, the permission probes."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

from tests.fakes.comet.api import TaskScript, make_mp4_bytes
from tests.fakes.discord.interactions import FakeInteraction
from tests.fakes.discord.models import FakeChannel, FakeUser
from tests.reliability.faults import ISSUE_UPLOAD_RATES
from tests.reliability.prompts import hostile_prompt, refused_prompt, tag
from tests.reliability.world import World
from tests.support.e2e import JPEG, PNG, WEBP

UPLOAD_LIMIT = 8192
MAX_PROMPT = 1500
RESULT_LOCATIONS = ("video_url", "metadata.url", "url", "output.url", "data.video_url", "content_only")
PROBE_INDEX = 99999  # the liveness probe's request, after everything else


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
    # Processes: 0 shards is one unsharded process; else one process per gateway shard, plus ``workers``
    # VEO_ROLE=worker processes, on one PostgreSQL database.
    shards: int = 0
    workers: int = 0
    freezes: int = 0  # SIGSTOP a process past its lease, let a peer take over, then SIGCONT it
    freeze_kinds: tuple[str, ...] = ("freeze mid-upload", "freeze mid-submit")  # in turn (kills.py)
    lease_seconds: float | None = None  # VEO_LEASE_SECONDS (None: the bot's default)
    max_active_per_user: int = 5
    max_active_per_guild: int = 20
    max_active_total: int = 20

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
            "VEO_DELIVERY_RETRY_BASE": "0.2",
            "VEO_MAX_ACTIVE_PER_USER": str(self.max_active_per_user),
            "VEO_MAX_ACTIVE_PER_GUILD": str(self.max_active_per_guild),
            "VEO_MAX_ACTIVE_TOTAL": str(self.max_active_total),
            "VEO_DAILY_QUOTA_PER_USER": "0",
            "VEO_DAILY_QUOTA_PER_GUILD": "0",
            "VEO_MAX_QUEUED_PER_GUILD": "0",
            "VEO_UPLOAD_LIMIT_BYTES": str(UPLOAD_LIMIT),
            "VEO_MAX_PROMPT_CHARS": str(MAX_PROMPT),
            "VEO_ALLOW_HTTP_DOWNLOADS": "true",
            "VEO_VIDEO_RETENTION_DAYS": "0",
            "VEO_LOG_LEVEL": "INFO",
            **({"VEO_LEASE_SECONDS": str(self.lease_seconds)} if self.lease_seconds is not None else {}),
        }


def several_processes(seed: int, *, nonce_window: float, jobs: int = 40, kills: int = 8, freezes: int = 2,
                      soak_seconds: float = 0.0, settle_timeout: float = 120.0,
                      freeze_kinds: tuple[str, ...] = ("freeze mid-upload", "freeze mid-submit")) -> RunPlan:
    """Two gateway shard processes and a worker on one PostgreSQL database, with leases short enough (5 s) for
    takeovers to happen within a run, and caps small enough to bind."""
    return RunPlan(seed=seed, jobs=jobs, kills=kills, freezes=freezes, nonce_window=nonce_window, shards=2,
                   workers=1, lease_seconds=5.0, max_active_per_user=1, max_active_per_guild=3,
                   max_active_total=5, soak_seconds=soak_seconds, settle_timeout=settle_timeout,
                   freeze_kinds=freeze_kinds)


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
    process: str = ""  # the process that received it, and that process's start count then
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
    """One SIGKILL (or SIGSTOP and SIGCONT: kind "freeze …") and what the bot was doing."""

    kind: str
    at: float
    detail: str = ""
    job_tag: str | None = None
    upload_message_id: int | None = None
    process: str = ""


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
    exit_codes: dict[str, int] = field(default_factory=dict)  # by process name, after the final SIGTERM
    starts: dict[str, int] = field(default_factory=dict)  # by process name
    probe_tag: str | None = None
    restarts: int = 0


class RequestFactory:
    """Makes the seeded stream of requests, and scripts each one's outcome at the fake CometAPI."""

    def __init__(self, world: World, plan: RunPlan, rng: random.Random) -> None:
        self.w = world
        self.plan = plan
        self.rng = rng
        self._next_index = 0

    @property
    def issued(self) -> int:
        """How many requests were made so far."""
        return self._next_index

    def new_request(self) -> Request:
        """The next member request: mostly valid hostile prompts, some with images, a few refused ones."""
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
        self.script(request)
        return request

    def script(self, request: Request) -> None:
        """Tell the fake CometAPI how the task of this request will behave."""
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

