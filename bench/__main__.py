"""``python -m bench``: baseline against adaptive polling for 100, 1,000 and 10,000 jobs in flight.

Every measurement runs in fresh processes (the bot, the fake CometAPI, the fake Discord); this process
only starts them, collects their figures and prints the report. See docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from bench.big_file import BIG
from bench.measure import spawn_json
from bench.mix import DurationMix
from bench.plans import format_plans, query_plans
from bench.report import machine, poll_loop_lines, table, targets

ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", default="100,1000,10000",
                        help="job counts, comma-separated; empty for none (default %(default)s)")
    parser.add_argument("--scale", type=float, default=10.0,
                        help="at most this many simulated seconds per real second (default %(default)s)")
    parser.add_argument("--budget", type=float, default=2000.0,
                        help="and at most BUDGET / jobs, but never below 1, so the bot is not overrun by the "
                             "simulation itself (default %(default)s)")
    parser.add_argument("--mix", default="lognormal:75,40,180",
                        help="simulated Veo durations: lognormal:MEDIAN,P5,P95 or fixed:SECONDS (default %(default)s)")
    parser.add_argument("--interval", type=float, default=10.0, help="VEO_POLL_INTERVAL, seconds (default %(default)s)")
    parser.add_argument("--variants", default="baseline,adaptive,adaptive-fixed50",
                        help="what to run per job count: baseline, adaptive (the fake reports progress linear in "
                             "time), adaptive-fixed50 (it reports a useless fixed 50) (default %(default)s)")
    parser.add_argument("--fixed50-up-to", type=int, default=1000,
                        help="run adaptive-fixed50 only up to this many jobs (default %(default)s)")
    parser.add_argument("--poll-loop-jobs", type=int, default=10000,
                        help="also measure the poll loop alone with this many jobs in flight, each polled every"
                             " interval, and at the adaptive schedule's pace when an adaptive run was made (0: skip;"
                             " default %(default)s)")
    parser.add_argument("--ack-count", type=int, default=200, help="/veo probes while all jobs are in flight")
    parser.add_argument("--big-file", type=int, default=BIG, help="bytes of the large-result check (0: skip)")
    parser.add_argument("--no-plans", action="store_true", help="skip the query plans")
    parser.add_argument("--small", action="store_true",
                        help="a quick smoke run: 20 jobs, 20 probes, a 5 MB file, small query-plan database")
    parser.add_argument("--sqlite-synchronous", choices=("NORMAL", "FULL"),
                        help="an experiment: run the store with this PRAGMA synchronous instead of the shipped FULL")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args(argv)
    DurationMix.parse(args.mix)  # fail early on a bad mix
    if args.small:
        args.jobs, args.ack_count, args.big_file = "20", 20, min(args.big_file, 5_000_000) if args.big_file else 0
        args.poll_loop_jobs = min(args.poll_loop_jobs, 20)
    return args


def runs(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The measurements to make, in order."""
    planned = []
    for jobs in (int(j) for j in args.jobs.split(",") if j.strip()):
        scale = min(args.scale, max(1.0, args.budget / jobs))
        for variant in args.variants.split(","):
            if variant == "adaptive-fixed50" and jobs > args.fixed50_up_to:
                continue
            mode = "baseline" if variant == "baseline" else "adaptive"
            planned.append({
                "mode": mode, "jobs": jobs, "scale": scale, "interval": args.interval, "mix": args.mix,
                "progress": "fixed50" if variant.endswith("fixed50") else "linear", "seed": args.seed,
                "ack_count": args.ack_count, "background_probes": not args.small,
                "sqlite_synchronous": args.sqlite_synchronous,
            })
    if args.poll_loop_jobs > 0:
        jobs = args.poll_loop_jobs
        planned.append({
            "mode": "poll-loop", "jobs": jobs, "scale": min(args.scale, max(1.0, args.budget / jobs)),
            "interval": args.interval, "mix": args.mix, "progress": "fixed50", "seed": args.seed,
            "sqlite_synchronous": args.sqlite_synchronous,
        })
    return planned


def schedule_paced_run(args: argparse.Namespace, results: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The poll loop alone at the pace the adaptive schedule kept in the run with as many jobs (or the
    largest), or None when no such run was made."""
    if args.poll_loop_jobs <= 0:
        return None
    adaptive = [r for r in results if r["mode"] == "adaptive" and r["progress"] == "linear" and r["gets_per_job"]]
    if not adaptive:
        return None
    run = next((r for r in adaptive if r["jobs"] == args.poll_loop_jobs), max(adaptive, key=lambda r: r["jobs"]))
    jobs = args.poll_loop_jobs
    return {
        "mode": "poll-loop", "pace": "schedule", "schedule_gets_per_job": run["gets_per_job"], "jobs": jobs,
        "scale": min(args.scale, max(1.0, args.budget / jobs)),
        "interval": round(DurationMix.parse(args.mix).mean() / run["gets_per_job"], 1), "mix": args.mix,
        "progress": "fixed50", "seed": args.seed, "sqlite_synchronous": args.sqlite_synchronous,
    }


async def _measure(config: dict[str, Any]) -> dict[str, Any]:
    label = f"{config['mode']} ({config['progress']} progress), {config['jobs']} jobs, x{config['scale']:g}"
    if config["mode"] == "poll-loop":
        label += f", every {config['interval']:g} s"
    print(f"... {label}", file=sys.stderr, flush=True)
    process, result = await spawn_json(["-m", "bench.bot_run"], config, cwd=ROOT)
    await process.wait()
    return result


async def main_async(args: argparse.Namespace) -> int:
    started = time.monotonic()
    results: list[dict[str, Any]] = []
    for config in runs(args):
        results.append(await _measure(config))
    paced = schedule_paced_run(args, results)
    if paced is not None:
        results.append(await _measure(paced))
    big = None
    if args.big_file:
        print(f"... a {args.big_file / 1e6:g} MB result", file=sys.stderr, flush=True)
        process, big = await spawn_json(["-m", "bench.big_file", str(args.big_file)], cwd=ROOT)
        await process.wait()
    plans = None if args.no_plans else await (query_plans(300, 300) if args.small else query_plans())
    report(args, results, big, plans, time.monotonic() - started)
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "command": _command(), "results": results,
                                         "big_file": big}, indent=1))
    return 0


def _command() -> str:
    return "python -m bench " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def report(args: argparse.Namespace, results: list[dict[str, Any]], big: dict[str, Any] | None,
           plans: Any, seconds: float) -> None:
    """Print everything."""
    info = machine()
    print(f"# veo-bot benchmark ({seconds / 60:.1f} min)")
    print(f"command: {_command()}")
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['memory_gb']} GB, Python {info['python']},"
          f" {info['system']}")
    print(f"mix: {args.mix}; poll interval {args.interval:g} s; time in simulated seconds unless marked")
    by_jobs: dict[int, list[dict[str, Any]]] = {}
    loops = [r for r in results if r["mode"] == "poll-loop"]
    for result in results:
        if result["mode"] != "poll-loop":
            by_jobs.setdefault(result["jobs"], []).append(result)
    for jobs, group in sorted(by_jobs.items()):
        print(f"\n## {jobs} jobs in flight\n")
        print(table(group))
    for loop in loops:
        pace = "at the adaptive schedule's pace" if loop["pace"] == "schedule" else "each job every interval"
        print(f"\n## The poll loop alone, {loop['jobs']} jobs in flight, {pace}\n")
        print(poll_loop_lines(loop))
    if big is not None:
        print(f"\n## {big['video_bytes'] / 1e6:g} MB result\n")
        print(f"delivered: {big['delivered']}, {big['posted_bytes']} bytes posted in {big['seconds']:.1f} s;"
              f" RSS {big['rss_before'] / 1e6:.1f} MB before, growth {big['growth_sampled'] / 1e6:.1f} MB"
              f" (sampled every 5 ms), peak-RSS growth {big['growth_peak'] / 1e6:.1f} MB")
    if plans is not None:
        print("\n## Query plans of the hot statements\n")
        print(format_plans(plans))
    print("\n## Targets\n")
    for line in targets(by_jobs, big, loops):
        print(line)


def main() -> None:
    """Run the benchmark."""
    sys.exit(asyncio.run(main_async(parse_args(sys.argv[1:]))))


if __name__ == "__main__":
    main()
