"""Replaying a run's transition log: were the caps on active jobs ever exceeded, and did every create request
reach the video service while its job counted against them.

What is replayed: the rows the database triggers wrote (``database.py``), one per insert of a job and per change
of a job's status or lease token, in commit order, one transaction at a time (all of a transaction's rows become
visible together, at its last row's place). A job counts against the caps while its committed status is
``submitting``, ``submitted`` or ``running`` (``ACTIVE_STATUSES``): exactly what the claim of queued jobs counts
before it takes one. After every transaction the counts per member (platform, workspace, member), per workspace
and in total are compared with the caps the processes were started with. So "never exceeded at any instant"
means: no committed state of the database, in the order other transactions could observe them, ever had more
active jobs than the caps allow.

The video service's side is tied to the same log: every create request the fake CometAPI received (by its own
wall clock) arrived while its job was active in the log, after the claim that made it ``submitting`` committed
and before the job left the active states; so no work reached the service that the caps did not count at that
moment. (A task can run on at the service after its job left them: a submission interrupted by a kill, which is
never resent, or a job that timed out or was cancelled; the bot stops counting it then, as a member would expect.)
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.jobs.records import ACTIVE_STATUSES

ACTIVE = {str(status) for status in ACTIVE_STATUSES}


@dataclass(frozen=True)
class Caps:
    """The caps a run's processes were started with."""

    per_user: int
    per_workspace: int
    total: int


@dataclass
class Replay:
    """What the replay found: the highest counts reached, each job's active intervals, and broken caps."""

    peak_user: int = 0
    peak_workspace: int = 0
    peak_total: int = 0
    transactions: int = 0
    # job id -> [(became active at, left at or None)], by the wall-clock time of the committing transaction
    active: dict[int, list[tuple[float, float | None]]] = field(default_factory=lambda: defaultdict(list))
    problems: list[str] = field(default_factory=list)


def _transactions(rows: Iterable[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    """The rows grouped by transaction, ordered by each transaction's last row (its commit)."""
    groups: dict[Any, list[Mapping[str, Any]]] = {}
    for row in rows:
        key = row["tx"] if row["tx"] is not None else ("row", row["seq"])  # SQLite: one writer, rows in order
        groups.setdefault(key, []).append(row)
    return sorted(groups.values(), key=lambda group: max(r["seq"] for r in group))


def replay_caps(rows: Iterable[Mapping[str, Any]], caps: Caps) -> Replay:
    """Replay the log and check the caps after every committed transaction."""
    result = Replay()
    status: dict[int, str] = {}
    users: Counter[tuple[str, str, str]] = Counter()
    workspaces: Counter[tuple[str, str]] = Counter()
    total = 0
    for group in _transactions(rows):
        result.transactions += 1
        for row in group:
            job = int(row["job_id"])
            user, workspace = (row["platform"], row["workspace_id"], row["user_id"]), (row["platform"],
                                                                                     row["workspace_id"])
            before, after = status.get(job) in ACTIVE, row["new_status"] in ACTIVE
            if row["old_status"] is not None and status.get(job) not in (None, row["old_status"]):
                result.problems.append(f"the log of job {job} skips a step: {status.get(job)} then "
                                       f"{row['old_status']} -> {row['new_status']} (seq {row['seq']})")
            status[job] = row["new_status"]
            if after and not before:
                users[user] += 1
                workspaces[workspace] += 1
                total += 1
                result.active[job].append((float(row["at"]), None))
            elif before and not after:
                users[user] -= 1
                workspaces[workspace] -= 1
                total -= 1
                start, _ = result.active[job][-1]
                result.active[job][-1] = (start, float(row["at"]))
        touched_users = {(r["platform"], r["workspace_id"], r["user_id"]) for r in group}
        touched_workspaces = {(r["platform"], r["workspace_id"]) for r in group}
        peak_user = max(users[key] for key in touched_users)
        peak_workspace = max(workspaces[key] for key in touched_workspaces)
        result.peak_user = max(result.peak_user, peak_user)
        result.peak_workspace = max(result.peak_workspace, peak_workspace)
        result.peak_total = max(result.peak_total, total)
        seqs = f"seq {group[0]['seq']}..{group[-1]['seq']}"
        if peak_user > caps.per_user:
            result.problems.append(f"{peak_user} jobs of one member active at once, cap {caps.per_user} ({seqs})")
        if peak_workspace > caps.per_workspace:
            result.problems.append(f"{peak_workspace} jobs of one workspace active at once, cap "
                                   f"{caps.per_workspace} ({seqs})")
        if total > caps.total:
            result.problems.append(f"{total} jobs active at once, cap {caps.total} ({seqs})")
    return result


def creates_outside_active(replay: Replay, creates: Iterable[tuple[int, float]]) -> list[str]:
    """Problems for each create request (job id, arrival time) that reached the service while its job was not
    active in the log."""
    problems = []
    for job, arrived in creates:
        intervals = replay.active.get(job, [])
        if not any(start <= arrived and (end is None or arrived <= end) for start, end in intervals):
            problems.append(f"a create request for job {job} reached the video service at {arrived:.3f} while the "
                            f"job did not count against the caps (active {intervals})")
    return problems
