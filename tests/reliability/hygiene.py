"""The checks of a reliability run that concern every message, log line and file rather than one job: mentions,
secrets, unhandled errors and clean stops in each process's log, file modes and leftovers. Each returns the
problems it found, one line each."""

from __future__ import annotations

import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.fakes.discord.models import MessageRecord
from tests.reliability.plan import RunRecord
from tests.reliability.world import World

JOB_REF = re.compile(r"job #(\d+)")  # in a result's text and in a status message's title
# Lines that only appear when something escaped the bot's own error handling.
UNHANDLED_MARKERS = ("step failed", "poll cycle failed", "Task exception was never retrieved", "incident=",
                     "Unhandled exception", "Ignoring exception in")
REDACTED = "***"


def mention_problems(messages: list[MessageRecord], rows: list[dict[str, Any]]) -> list[str]:
    """Every bot message pings nobody but its job's requester, and allows no more."""
    problems = []
    by_id = {row["id"]: row for row in rows}
    for m in messages:
        found = JOB_REF.search(m.content) or (JOB_REF.search(str(m.embeds[0].get("title", ""))) if m.embeds else None)
        row = by_id.get(int(found.group(1))) if found else None
        allowed_users = {row["user_id"]} if row is not None else set()
        for version in m.versions:
            pings = version.pings
            if pings.everyone or pings.role_ids or not pings.user_ids <= allowed_users:
                problems.append(f"bot message {m.id} pinged more than its requester: {pings}")
            allowed = version.allowed_mentions
            if not m.ephemeral and (allowed is None or {"everyone", "roles"} & set(allowed.get("parse", []))
                                    or not {int(u) for u in allowed.get("users", [])} <= allowed_users):
                problems.append(f"bot message {m.id} allows mentions beyond its requester: {allowed}")
    return problems


def secret_problems(world: World, messages: list[MessageRecord], bot_log: str, test_log: str) -> list[str]:
    """The token and the key appear nowhere; nothing even tried to log one; the video host gets no credentials."""
    problems = []
    texts = {"bot log": bot_log, "test log": test_log}
    texts["messages"] = "\n".join(m.content + str(m.embeds) for m in messages)
    texts["requests to Discord"] = "\n".join(str(r.json) for r in world.discord.requests)
    for name, secret in (("token", world.token), ("key", world.key)):
        for where, text in texts.items():
            if secret in text or secret[6:26] in text:
                problems.append(f"the {name} appears in the {where}")
    if REDACTED in bot_log:
        # The log filter hid a secret, so some code tried to log one.
        problems.append("the bot log contains the redaction marker: something tried to log a secret")
    if any(r.header("Authorization") for r in world.api.cdn_requests()):
        problems.append("a request to the third-party video host carried an Authorization header")
    return problems


def log_problems(logs: Mapping[str, str], record: RunRecord) -> list[str]:
    """No unhandled error in any process's log; each started its worker once per start and stopped cleanly."""
    problems = []
    for name, log in logs.items():
        for marker in UNHANDLED_MARKERS:
            lines = [line for line in log.splitlines() if marker in line]
            if lines:
                problems.append(f"{name}: {len(lines)} log line(s) with {marker!r}, e.g. {lines[0][:160]!r}")
        started, starts = log.count("job worker started"), record.starts.get(name, 0)
        if started != starts:
            problems.append(f"{name}: the worker started {started} times for {starts} processes")
        if log.count("job worker stopped") != 1 or record.exit_codes.get(name) != 0:
            problems.append(f"{name}: the final SIGTERM did not stop it cleanly (exit {record.exit_codes.get(name)})")
    return problems


def file_problems(workdir: Path) -> list[str]:
    """SQLite files are private (0600); nothing is left in the data folder once every job finished."""
    problems = []
    for path in sorted(workdir.glob("veo.sqlite3*")):
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode != 0o600:
            problems.append(f"{path.name} has mode {mode:o}, expected 600")
    data = workdir / "data"
    left = [p.relative_to(data) for p in data.rglob("*") if p.is_file()] if data.exists() else []
    if left:
        problems.append(f"{len(left)} file(s) left in the data folder after every job finished: {left[:5]}")
    return problems
