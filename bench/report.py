"""The benchmark's printout: the machine, one table per job count (baseline against adaptive), the targets."""

from __future__ import annotations

import os
import platform
from collections.abc import Callable, Sequence
from typing import Any

from bench.mix import DurationMix

MB = 1_000_000
Result = dict[str, Any]


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    memory = 0
    try:
        with open("/proc/meminfo") as f:
            memory = int(next(line.split()[1] for line in f if line.startswith("MemTotal"))) * 1024
    except (OSError, StopIteration):
        pass
    return {
        "cpu": model or platform.processor() or "unknown",
        "cores": os.cpu_count(),
        "memory_gb": round(memory / 2**30, 1),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def _num(value: float | None, digits: int = 2, unit: str = "") -> str:
    if value is None:
        return "n/a"
    return f"{value:.{digits}f}{unit}"


ROWS: list[tuple[str, Callable[[Result], str]]] = [
    ("simulated speed (x real time)", lambda r: _num(r["scale"], 1)),
    ("ack latency p50 / p99 (ms), N in flight", lambda r: f"{_num(r['ack_p50_ms'], 1)} / {_num(r['ack_p99_ms'], 1)}"
                                                          f" ({r['ack_samples']} probes)"),
    ("ack latency p99 (ms), whole run", lambda r: f"{_num(r['ack_all_p99_ms'], 1)} ({r['ack_all_samples']} probes)"),
    ("delivery lag p50 / p99 (s)", lambda r: f"{_num(r['lag_p50'])} / {_num(r['lag_p99'])}"),
    ("  of which polling p99 / transfer p99 (s)", lambda r: f"{_num(r['poll_lag_p99'])} / {_num(r['transfer_p99'])}"),
    ("API GETs per job", lambda r: _num(r["gets_per_job"])),
    ("  above the floor of 1 GET per job", lambda r: _num(r["gets_per_job"] - 1)),
    ("Discord requests per job", lambda r: _num(r["discord_per_job"])),
    ("CPU seconds per job", lambda r: _num(r["cpu_per_job"], 4)),
    ("  load while >= 90 % in flight, probes aside (cores)", lambda r: _num(r.get("load_in_flight"), 3)),
    ("  load after the ramp: mean / peak 30 s (cores)", lambda r: f"{_num(r['load_avg'], 3)} /"
                                                                   f" {_num(r['load_peak_30s'], 3)}"),
    ("peak RSS (MB)", lambda r: _num(r["rss_peak"] / MB, 1)),
    ("DB rows written per job", lambda r: _num(r["db_rows_per_job"], 1)),
    ("failed jobs", lambda r: str(r["failures"])),
    ("real seconds (ramp)", lambda r: f"{_num(r['real_seconds'], 0)} ({_num(r['ramp_real_seconds'], 0)})"),
]


def _label(result: Result) -> str:
    if result["mode"] == "baseline":
        return "baseline"
    return "adaptive" if result["progress"] == "linear" else "adaptive, no progress"


def table(results: Sequence[Result]) -> str:
    """One job count: a row per figure, a column per mode, and the ratios to the baseline."""
    names = [_label(r) for r in results]
    base = next((r for r in results if r["mode"] == "baseline"), None)
    header = ["figure", *names]
    lines = [header]
    for title, show in ROWS:
        lines.append([title, *(show(r) for r in results)])
    if base is not None:
        lines.append(["vs baseline: GETs per job, lag p99", *(
            "" if r is base else f"{_ratio(r['gets_per_job'], base['gets_per_job'])},"
                                 f" {_ratio(r['lag_p99'], base['lag_p99'])}" for r in results)])
    widths = [max(len(str(row[i])) for row in lines) for i in range(len(header))]
    out = []
    for index, row in enumerate(lines):
        out.append("| " + " | ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)) + " |")
        if index == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or not b:
        return "n/a"
    return f"{a / b:.2f}x"


def poll_loop_lines(r: Result) -> str:
    """The poll-loop-alone measurement, a figure a line."""
    rows = [
        ("simulated speed (x real time)", f"{r['scale']:g}"),
        ("jobs in flight, none finishing", f"{r['jobs']}"),
        ("measured window (simulated s)", f"{r['window_sim_seconds']:.0f}"),
        ("poll interval of every job (s)", f"{r['interval']:g}"),
        ("API GETs per second (planned: jobs / interval)",
         f"{r['gets_per_second']:.0f} ({r['planned_gets_per_second']:.0f})"),
        ("bot CPU (cores)", f"{r['load']:.3f} (of which in the kernel {r['load_system']:.3f})"),
        ("CPU per poll (ms)", f"{r['cpu_per_poll_ms']:.3f}"),
        ("DB rows written per poll", f"{r['db_rows_per_poll']:.2f}"),
        ("DB commits per second (writes per commit)",
         f"{r['db_commits_per_second']:.1f} ({r['db_writes_per_commit']:.1f})"),
        ("Discord requests in the window (progress edits)", f"{r['discord_requests']}"),
        ("peak RSS (MB)", f"{r['rss_peak'] / MB:.1f}"),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def targets(by_jobs: dict[int, list[Result]], big: Result | None, loops: Sequence[Result] = ()) -> list[str]:
    """Each target of the performance issue, met or not, with the measured figure."""
    lines = []

    def check(ok: bool, text: str) -> None:
        lines.append(f"[{'met' if ok else 'NOT MET'}] {text}")

    for jobs, results in sorted(by_jobs.items()):
        base = next((r for r in results if r["mode"] == "baseline"), None)
        for r in results:
            if r["mode"] == "baseline":
                continue
            name = f"{jobs} jobs, {_label(r)}"
            if r["ack_p99_ms"] is not None:
                check(r["ack_p99_ms"] < 100, f"{name}: ack p99 {r['ack_p99_ms']:.1f} ms < 100 ms")
            bound = r["interval"] + (r["transfer_p99"] or 0.0)
            if r["lag_p99"] is not None:
                check(r["lag_p99"] <= bound,
                      f"{name}: lag p99 {r['lag_p99']:.2f} s <= interval + transfer p99 = {bound:.2f} s")
            if base is not None and base["lag_p99"] is not None and r["lag_p99"] is not None:
                ratio = r["gets_per_job"] / base["gets_per_job"]
                check(ratio <= 0.6 and r["lag_p99"] <= base["lag_p99"] * 1.01,
                      f"{name}: GETs/job {ratio:.2f}x the baseline (<= 0.6x) at lag p99 {r['lag_p99']:.2f} s"
                      f" vs the baseline's {base['lag_p99']:.2f} s")
            if jobs >= 10_000:
                check(r["rss_peak"] < 300 * MB, f"{name}: peak RSS {r['rss_peak'] / MB:.0f} MB < 300 MB")
                load = r.get("load_in_flight")
                if load is not None:
                    # The whole bot, not the poll loop: every job's first poll, and the first deliveries (downloads,
                    # uploads, edits) and the probes' jobs, within the same half minute.
                    lines.append(f"[info] {name}: whole bot CPU while >= 90 % of the jobs are in flight (first"
                                 f" polls and first deliveries together) {load:.2f} core")
    paced = any(loop["pace"] == "schedule" for loop in loops)
    for loop in loops:
        if loop["pace"] == "schedule":
            mean = DurationMix.parse(loop["mix"]).mean()
            pace = (f"the adaptive schedule's pace: {mean:.0f} s mean duration / {loop['schedule_gets_per_job']:.2f}"
                    " GETs per job")
        else:
            pace = "as often as the schedule ever polls a job, and the naive loop's rate"
        what = f"poll loop alone, {loop['jobs']} jobs in flight, each polled every {loop['interval']:g} s ({pace})"
        load, rss = f"{loop['load']:.3f} core", f"peak RSS {loop['rss_peak'] / MB:.0f} MB"
        if loop["pace"] == "dense" and paced:
            # The target is checked at the schedule's pace; this is the worst case beside it.
            lines.append(f"[info] the densest case: {what}: {loop['gets_per_second']:.0f} GETs/s, {load}, {rss}")
        else:
            check(loop["rss_peak"] < 300 * MB and loop["load"] < 0.25,
                  f"{what}: {loop['gets_per_second']:.0f} GETs/s, {load} < 0.25 core, {rss} < 300 MB")
    if big is not None:
        growth = max(big["growth_sampled"], big["growth_peak"])
        check(big["delivered"] and big["posted_bytes"] == big["video_bytes"] and growth < 20 * MB,
              f"{big['video_bytes'] / MB:.0f} MB result delivered with {growth / MB:.1f} MB RSS growth (< 20 MB)")
    return lines
