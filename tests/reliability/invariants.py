"""The guarantees of a reliability run, checked from the fakes' records, the database, the files and the logs,
and the figures of the run. Each broken guarantee is one line in ``Report.problems``."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.jobs.provider import ProviderBusy, SubmissionUncertain
from bot.jobs.worker import INTERRUPTED_SUBMISSION
from cogs.render import plain
from tests.fakes.discord.models import MessageRecord
from tests.reliability.hygiene import file_problems, log_problems, mention_problems, secret_problems
from tests.reliability.plan import RunRecord
from tests.reliability.transitions import Caps, creates_outside_active, replay_caps
from tests.reliability.world import World, tag_of

TERMINAL = {"delivered", "failed", "timed_out", "cancelled"}
STATUS_TITLE = re.compile(r"job #(\d+)")
RESULT_REF = re.compile(r"job #(\d+)")
NO_LINK_NOTE = "gave no download link"


# The store keeps chat ids as text; the fake Discord's messages carry them as integers.
_SNOWFLAKE_COLUMNS = ("workspace_id", "channel_id", "user_id", "status_message_id", "delivered_message_id")


def _discord_ids(row: dict[str, Any]) -> dict[str, Any]:
    assert row["platform"] == "discord", row
    return {name: int(value) if name in _SNOWFLAKE_COLUMNS and value is not None else value
            for name, value in row.items()}


@dataclass
class RunData:
    """What a finished run left: the job rows, the transition log (in commit order), each process's log."""

    jobs: list[dict[str, Any]]
    transitions: list[dict[str, Any]]
    logs: dict[str, str]  # by process name


@dataclass
class Report:
    """What a run showed: the figures, and every guarantee it found broken."""

    figures: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def text(self) -> str:
        """The figures, one per line, for the test output and RELIABILITY.md."""
        lines = []
        for key, value in self.figures.items():
            if isinstance(value, dict):
                value = ", ".join(f"{k} {v}" for k, v in sorted(value.items())) or "none"
            lines.append(f"  {key}: {value}")
        return "\n".join(lines)


def failure_category(row: dict[str, Any]) -> str:
    """A short name for why a job produced no video."""
    error = row["error"] or ""
    if row["status"] == "timed_out":
        return "timed out"
    if error == INTERRUPTED_SUBMISSION:
        return "interrupted submission"
    if error == SubmissionUncertain.default_message:
        return "submission unconfirmed"
    if row["safety_rejection"]:
        return "safety filter"
    if error == ProviderBusy.default_message:
        return "service busy"
    return "failed at the provider"


class Checker:
    """Collects problems and figures for one finished run."""

    def __init__(self, world: World, record: RunRecord, workdir: Path, database: RunData, test_log: str) -> None:
        self.w = world
        self.record = record
        self.workdir = workdir
        self.logs = database.logs
        self.bot_log = "\n".join(database.logs.values())
        self.test_log = test_log
        self.report = Report()
        self.problems = self.report.problems
        self.rows = [_discord_ids(row) for row in database.jobs]
        self.transitions = database.transitions
        self.by_tag: dict[str, dict[str, Any]] = {}
        bot_id = world.discord.bot_user.id
        self.messages = [m for ch in world.channels for m in world.discord.messages(ch.id) if m.author.id == bot_id]
        self.results: dict[int, list[MessageRecord]] = defaultdict(list)
        self.statuses: dict[int, list[MessageRecord]] = defaultdict(list)

    def run(self) -> Report:
        """Every check, then the figures."""
        self._rows()
        self._messages()
        for row in self.rows:
            self._job(row)
        self._requests()
        self._kills()
        self._caps()
        self._probes()
        self.problems.extend(mention_problems(self.messages, self.rows))
        self.problems.extend(secret_problems(self.w, self.messages, self.bot_log, self.test_log))
        self.problems.extend(log_problems(self.logs, self.record))
        self.problems.extend(file_problems(self.workdir))
        self._figures()
        return self.report

    def _rows(self) -> None:
        for row in self.rows:
            tag = tag_of(row["prompt"])
            if tag is None:
                self.problems.append(f"job {row['id']} has no request tag")
            elif tag in self.by_tag:
                self.problems.append(f"request {tag} stored twice: jobs {self.by_tag[tag]['id']} and {row['id']}")
            else:
                self.by_tag[tag] = row

    def _messages(self) -> None:
        for m in self.messages:
            if m.ephemeral:
                continue
            title = str(m.embeds[0].get("title", "")) if m.embeds else ""
            if (found := STATUS_TITLE.search(title)) and m.embeds:
                self.statuses[int(found.group(1))].append(m)
            elif found := RESULT_REF.search(m.content):
                self.results[int(found.group(1))].append(m)
            else:
                self.problems.append(f"bot message {m.id} belongs to no job: {m.content[:80]!r}")

    def _job(self, row: dict[str, Any]) -> None:
        job, status = row["id"], row["status"]
        where = f"job {job} ({status}, {tag_of(row['prompt'])})"
        results = self.results.get(job, [])
        if status not in TERMINAL:
            self.problems.append(f"{where} is stuck")
        statuses = self.statuses.get(job, [])
        current = [m for m in statuses if m.id == row["status_message_id"]]
        if len(statuses) != 1 and (self.record.plan.nonce_window or not current):
            # Without Discord's nonce, a crash right after posting a status message can leave a stale second
            # one (only the result message is checked against the channel history); the current one must exist.
            self.problems.append(f"{where} has {len(statuses)} status messages")
        elif current and f"· {status} ·" not in str(current[0].embeds[0].get("footer", "")):
            self.problems.append(f"{where}: its status message still shows {current[0].embeds[0].get('footer')}")
        elif not current:
            self.problems.append(f"{where}: its status message {row['status_message_id']} is not in the channel")
        if status == "cancelled":
            if results:
                self.problems.append(f"{where} was cancelled but has a result message")
        elif len(results) != 1:
            self.problems.append(f"{where} has {len(results)} result messages, expected exactly one")
        else:
            self._result(row, results[0], where)
        self._submission(row, where)

    def _result(self, row: dict[str, Any], message: MessageRecord, where: str) -> None:
        if message.id != row["delivered_message_id"]:
            recorded = row["delivered_message_id"]
            self.problems.append(f"{where}: result message {message.id} is not the recorded {recorded}")
        if row["status"] == "delivered":
            if "your video is ready" not in message.content:
                self.problems.append(f"{where}: result message does not say the video is ready")
            task = self.w.api.tasks.get(row["task_id"] or "")
            expected = task.script.video if task is not None else None
            if message.attachments:
                if message.attachment_bytes != [expected]:
                    self.problems.append(f"{where}: the uploaded file is not the job's video")
            elif not (row["video_url"] and row["video_url"] in message.content) and NO_LINK_NOTE not in message.content:
                self.problems.append(f"{where}: neither the file, nor its link, nor why was posted")
            return
        what = "timed out" if row["status"] == "timed_out" else "failed"
        reason = message.content.split(f" {what}. ", 1)[-1] if f" {what}. " in message.content else ""
        if not row["error"] or len(reason) < 20:
            self.problems.append(f"{where}: the failure notice gives no reason: {message.content[:120]!r}")
        elif row["status"] == "failed" and plain(row["error"])[:40] not in message.content:
            self.problems.append(f"{where}: the failure notice does not state the recorded reason")

    def _submission(self, row: dict[str, Any], where: str) -> None:
        tag = tag_of(row["prompt"]) or ""
        tasks = self.w.api.tasks_for(tag)
        posts = [r for r in self.w.api.create_requests() if tag_of(r.fields.get("prompt", "")) == tag]
        # A 429 means the request was refused unprocessed: retrying it is allowed. Nothing else is.
        sent = [p for p in posts if self.w.comet_faults.kind_of.get(id(p)) != "429"]
        if len(tasks) > 1 or len(sent) > 1:
            self.problems.append(f"{where} was submitted more than once: {len(sent)} create requests, "
                                 f"{len(tasks)} tasks")
        if row["task_id"] and tasks != [row["task_id"]]:
            self.problems.append(f"{where}: task {row['task_id']} is not the one created for it ({tasks})")

    def _requests(self) -> None:
        kills = [k.at for k in self.record.kills]
        # Answers Discord refused because the interaction token had "expired" (an injected 401/50027).
        refused_tokens = {r.path.split("/")[3] for r in self.w.discord.requests
                          if r.status == 401 and r.path.startswith("/webhooks/")}
        for request in self.record.requests:
            row = self.by_tag.get(request.tag)
            reply = request.reply()
            excused = any(request.dispatched_at <= k <= request.dispatched_at + 5.0 for k in kills)
            if reply is None and request.interaction is not None and request.interaction.token in refused_tokens:
                excused = True  # the answer was sent, but Discord refused it: the user could not be told
            if request.outcome == "refused":
                if row is not None:
                    self.problems.append(f"request {request.tag} should have been refused but became job {row['id']}")
                elif reply is None and not excused:
                    self.problems.append(f"request {request.tag} (refused prompt) got no answer")
                elif reply is not None and "prompt" not in reply.lower():
                    self.problems.append(f"request {request.tag} was refused without saying why: {reply[:100]!r}")
            elif row is None:
                if reply is not None and "Job #" in reply:
                    self.problems.append(f"request {request.tag} was answered with a job number but no job exists")
                elif not excused:
                    self.problems.append(f"request {request.tag} got no job and no answer without a crash")
            elif reply is not None and f"Job #{row['id']}:" not in reply:
                self.problems.append(f"request {request.tag} answer does not name job {row['id']}: {reply[:100]!r}")

    def _kills(self) -> None:
        interrupted = {tag_of(r["prompt"]) for r in self.rows if r["error"] == INTERRUPTED_SUBMISSION}
        for kill in self.record.kills:
            if kill.kind in ("mid-submit", "freeze mid-submit") and kill.job_tag is not None:
                row = self.by_tag.get(kill.job_tag)
                if row is None or row["error"] != INTERRUPTED_SUBMISSION or row["status"] != "failed":
                    state = (row["id"], row["status"], row["error"]) if row is not None else "no job"
                    self.problems.append(f"the job killed mid-submit ({kill.job_tag}) is not failed as interrupted: "
                                         f"{state} ({kill.kind})")
                elif not any("not sent again" in m.content for m in self.results.get(row["id"], [])):
                    self.problems.append(f"the user of {kill.job_tag} was not told the submission was interrupted")
                interrupted.discard(kill.job_tag)
            if kill.kind in ("mid-upload", "freeze mid-upload", "freeze late upload") and kill.upload_message_id:
                owners = [r for r in self.rows if r["delivered_message_id"] == kill.upload_message_id]
                if len(owners) != 1:
                    self.problems.append(f"the upload stored during a kill ({kill.upload_message_id}) is not the "
                                         "recorded result of its job")
            late = f"posted message={kill.upload_message_id} but the job was taken over meanwhile"
            if kill.kind == "freeze mid-upload" and kill.detail == "taken over" and late not in self.logs[kill.process]:
                # The frozen process got Discord's answer when it woke: its write must have been refused.
                self.problems.append(f"{kill.process}, frozen mid-upload, did not see its late post refused")
        # Other interrupted submissions are fine only when a kill could have caused them.
        if interrupted and not self.record.kills:
            self.problems.append(f"submissions reported interrupted without any crash: {sorted(interrupted)}")

    def _probes(self) -> None:
        for probe in self.record.probes:
            original = probe.interaction.original
            text = original.content if original is not None and not original.loading else ""
            if "Only moderators" not in text and "permission" not in text.lower():
                self.problems.append(f"{probe.user.name} ran /{probe.command} without the permission: {text[:100]!r}")

    def _caps(self) -> None:
        plan = self.record.plan
        caps = Caps(plan.max_active_per_user, plan.max_active_per_guild, plan.max_active_total)
        replay = replay_caps(self.transitions, caps)
        self.problems.extend(replay.problems)
        by_request = {id(r): r for r in self.w.api.create_requests()}
        arrived = self.w.comet_faults.arrived_at
        creates = [(self.by_tag[tag]["id"], arrived[key]) for key, request in by_request.items()
                   if (tag := tag_of(request.fields.get("prompt", ""))) in self.by_tag and key in arrived]
        self.problems.extend(creates_outside_active(replay, creates))
        ids = {row["id"] for row in self.rows}
        logged = {int(t["job_id"]) for t in self.transitions}
        if ids != logged:
            self.problems.append(f"the transition log does not cover the jobs: {sorted(ids ^ logged)[:10]}")
        self.report.figures["peak active (member / workspace / total)"] = (
            f"{replay.peak_user} / {replay.peak_workspace} / {replay.peak_total} of caps "
            f"{caps.per_user} / {caps.per_workspace} / {caps.total}")
        self.report.figures["transactions replayed"] = replay.transactions
        self.peaks = (replay.peak_user, replay.peak_workspace, replay.peak_total)

    def _figures(self) -> None:
        rows, record = self.rows, self.record
        outcomes: Counter[str] = Counter()
        for row in rows:
            if row["status"] == "delivered":
                message = self.results.get(row["id"], [None])[0]
                outcomes["delivered as a file" if message is not None and message.attachments
                         else "delivered as a note: too large and no link" if message is not None
                         and NO_LINK_NOTE in message.content else "delivered as a link"] += 1
            elif row["status"] == "cancelled":
                outcomes["cancelled"] += 1
            else:
                outcomes[f"failed: {failure_category(row)}"] += 1
        stored = {r.tag for r in record.requests} & set(self.by_tag)
        faults = Counter(self.w.comet_faults.counts) + Counter(self.w.upload_faults.counts) + record.discord_faults
        kills = Counter(f"{k.kind} ({k.detail})" if k.detail else k.kind for k in record.kills)
        extra = self.report.figures
        self.report.figures = {
            "seed": record.plan.seed,
            "processes": ", ".join(f"{name} x{starts}" for name, starts in record.starts.items()),
            "duration": f"{record.duration:.1f} s",
            "requests": len(record.requests),
            "refused at the door": sum(r.outcome == "refused" for r in record.requests),
            "lost to a kill before being stored": sum(r.outcome != "refused" and r.tag not in self.by_tag
                                                      for r in record.requests),
            "jobs": len(stored),
            "outcomes": dict(outcomes),
            "kills": dict(kills),
            "restarts": record.restarts,
            "faults injected": dict(faults),
            "create requests": len(self.w.api.create_requests()),
            "tasks created": len(self.w.api.tasks),
            "status polls": len(self.w.api.requests_for("get")),
            "uploads": self.w.upload_faults.uploads,
            "repeated posts answered by nonce": len(self.w.discord.nonce_hits),
            "results found in the channel history on a retry": self.bot_log.count("was already posted"),
            # Steps of a process whose job was taken from it (killed or frozen meanwhile): the store refused their
            # write, or the step stopped itself before sending.
            "late steps refused or stopped after a takeover": sum(
                self.bot_log.count(line) for line in ("taken over meanwhile", "step stopped before sending")),
            "gateway identifies": self.w.discord.identify_count,
            "gateway resumes": self.w.discord.resume_count,
            "permission probes refused": len(record.probes),
            "stale second status messages": sum(max(0, len(m) - 1) for m in self.statuses.values()),
            **extra,
            "problems": len(self.problems),
        }


def check(world: World, record: RunRecord, workdir: Path, data: RunData, test_log: str) -> Report:
    """Check every guarantee of a finished run."""
    return Checker(world, record, workdir, data, test_log).run()
