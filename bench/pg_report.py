"""The printout of ``python -m bench.pg``: SQLite and PostgreSQL side by side, medians with their spread."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any

Result = dict[str, Any]
# Columns: the store and how many bot processes share it.
COLUMNS = [("sqlite", 1), ("postgres", 1), ("postgres", 2), ("postgres", 4)]


def column_title(store: str, processes: int) -> str:
    """"SQLite, 1 process", "PostgreSQL, 2 processes", ..."""
    name = "SQLite" if store == "sqlite" else "PostgreSQL"
    return f"{name}, {processes} process{'es' if processes > 1 else ''}"


def spread(values: Sequence[float | None], digits: int) -> str:
    """The median, and the lowest and highest when there is more than one: ``12.3 (11.0-14.1, n=3)``."""
    present = [v for v in values if v is not None]
    if not present:
        return "n/a"
    middle = f"{statistics.median(present):.{digits}f}"
    if len(present) == 1:
        return middle
    return f"{middle} ({min(present):.{digits}f}-{max(present):.{digits}f}, n={len(present)})"


# (title, which results, key, digits): "loop" rows come from the poll loop alone, "claims" from bench/claim_rate.py.
ROWS: list[tuple[str, str, str, int]] = [
    ("ack latency p50 (ms), N in flight", "loop", "ack_p50_ms", 1),
    ("ack latency p99 (ms), N in flight", "loop", "ack_p99_ms", 1),
    ("API GETs per second", "loop", "gets_per_second", 0),
    ("CPU per poll, bot process (ms)", "loop", "cpu_per_poll_ms", 3),
    ("CPU per poll, PostgreSQL server (ms)", "loop", "server_cpu_per_poll_ms", 3),
    ("bot CPU (cores)", "loop", "load", 3),
    ("PostgreSQL server CPU (cores)", "loop", "server_load", 3),
    ("DB commits per second", "loop", "db_commits_per_second", 1),
    ("DB rows written per poll", "loop", "db_rows_per_poll", 2),
    ("peak RSS of the bot (MB)", "loop", "rss_peak_mb", 1),
    ("claimed rows per second", "claims", "claimed_per_second", 0),
    ("  bot CPU per claimed row, all processes (ms)", "claims", "bot_cpu_per_claim_ms", 3),
    ("  PostgreSQL server CPU per claimed row (ms)", "claims", "server_cpu_per_claim_ms", 3),
]


def _cell(results: Sequence[Result], key: str, digits: int) -> str:
    if not results:
        return ""
    return spread([r.get(key) for r in results], digits)


def table(loops: dict[tuple[str, int], list[Result]], claims: dict[tuple[str, int], list[Result]],
          takeovers: Sequence[Result]) -> str:
    """One row per figure, one column per store and process count."""
    header = ["figure", *(column_title(*c) for c in COLUMNS)]
    lines = [header]
    for title, source, key, digits in ROWS:
        found = loops if source == "loop" else claims
        lines.append([title, *(_cell(found.get(c, []), key, digits) for c in COLUMNS)])
    if takeovers:
        takeover = {("postgres", 2): list(takeovers)}
        for title, key in (("SIGKILL to peer holding the jobs (s)", "takeover_seconds"),
                           ("  of which the lease left at the kill (s)", "lease_left_at_kill"),
                           ("  bound: lease + poll interval (s)", "bound_seconds")):
            lines.append([title, *(_cell(takeover.get(c, []), key, 2) for c in COLUMNS)])
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    out = []
    for index, row in enumerate(lines):
        out.append("| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) + " |")
        if index == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def targets(loops: dict[tuple[str, int], list[Result]], takeovers: Sequence[Result]) -> list[str]:
    """The issue's two targets, checked on every measurement (the worst one decides)."""
    lines = []

    def check(ok: bool, text: str) -> None:
        lines.append(f"[{'met' if ok else 'NOT MET'}] {text}")

    for column, results in sorted(loops.items()):
        acks: list[float] = [r["ack_p99_ms"] for r in results if r.get("ack_p99_ms") is not None]
        if acks:
            jobs = results[0]["jobs"]
            check(max(acks) < 100, f"{column_title(*column)}: ack p99 with {jobs} jobs in flight, worst of"
                                   f" {len(acks)}: {max(acks):.1f} ms < 100 ms")
    if takeovers:
        worst = max(takeovers, key=lambda t: t["takeover_seconds"] - t["bound_seconds"])
        check(all(t["takeover_seconds"] <= t["bound_seconds"] for t in takeovers),
              f"takeover after a SIGKILL, worst of {len(takeovers)}: {worst['takeover_seconds']:.2f} s <="
              f" lease {worst['lease']:g} s + poll interval {worst['interval']:g} s")
    return lines


Column = tuple[str, int]


def by_column(results: Sequence[Result], key: Callable[[Result], Column]) -> dict[Column, list[Result]]:
    """Group results by (store, processes)."""
    grouped: dict[Column, list[Result]] = {}
    for result in results:
        grouped.setdefault(key(result), []).append(result)
    return grouped
