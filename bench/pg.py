"""``python -m bench.pg``: the job store on SQLite (one process) and PostgreSQL (1, 2 and 4 processes), side by side.

Starts a throwaway PostgreSQL server of its own (``initdb`` must be installed; bench/postgres.py) and makes, in
alternating order, ``--rounds`` times each:

- the poll loop alone (bench/poll_loop.py) with ``--jobs`` jobs in flight, each polled every interval, on
  SQLite and on PostgreSQL, then ``--ack-count`` /veo probes with every job still in flight: ack latency, CPU
  per poll of the bot process and of the PostgreSQL server (its processes' CPU time from /proc);
- claimed rows per second (bench/claim_rate.py): SQLite with one process, PostgreSQL with 1, 2 and 4;
- the takeover (bench/takeover.py): two bot processes on PostgreSQL, the one holding the jobs SIGKILLed,
  the time until its peer holds them, against ``VEO_LEASE_SECONDS`` + ``VEO_POLL_INTERVAL``.

Every figure is printed as its median with the lowest and highest of the rounds. See docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shlex
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bench import claim_rate, takeover
from bench.__main__ import parse_args as bench_args
from bench.__main__ import runs as bench_runs
from bench.measure import spawn_json
from bench.pg_report import by_column, table, targets
from bench.postgres import server_version, start_server
from bench.report import machine
from tests.support.postgres import PostgresServer

ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.pg", description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10000,
                        help="jobs in flight in the poll loop alone (0: skip it; default %(default)s)")
    parser.add_argument("--interval", type=float, default=10.0,
                        help="VEO_POLL_INTERVAL of the poll loop (default %(default)s)")
    parser.add_argument("--ack-count", type=int, default=200, help="/veo probes after each poll-loop window")
    parser.add_argument("--rounds", type=int, default=3, help="measurements of each figure (default %(default)s)")
    parser.add_argument("--processes", default="1,2,4", help="PostgreSQL process counts of the claim rate")
    parser.add_argument("--claim-jobs", type=int, default=2000, help="due jobs in the claim-rate table")
    parser.add_argument("--claim-seconds", type=float, default=5.0, help="length of each claim-rate window")
    parser.add_argument("--takeovers", type=int, default=3, help="kill-and-takeover trials (0: skip)")
    parser.add_argument("--takeover-jobs", type=int, default=20, help="jobs the killed process holds")
    parser.add_argument("--lease", type=float, default=5.0, help="VEO_LEASE_SECONDS of the takeover (5 or more)")
    parser.add_argument("--takeover-interval", type=float, default=2.0, help="VEO_POLL_INTERVAL of the takeover")
    parser.add_argument("--small", action="store_true",
                        help="a quick smoke run: 20 jobs, 10 probes, 1 round, 1 s claim windows, 1 takeover")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args(argv)
    if args.small:
        args.jobs, args.ack_count, args.rounds = min(args.jobs, 20), min(args.ack_count, 10), 1
        args.claim_jobs, args.claim_seconds = min(args.claim_jobs, 200), min(args.claim_seconds, 1.0)
        args.takeovers, args.takeover_jobs = min(args.takeovers, 1), min(args.takeover_jobs, 3)
    return args


def poll_loop_config(args: argparse.Namespace, database_url: str | None, postmaster: int | None) -> dict[str, Any]:
    """The dense poll-loop run ``python -m bench --jobs '' --poll-loop-jobs N`` makes, on this store."""
    options = ["--jobs", "", "--poll-loop-jobs", str(args.jobs), "--interval", str(args.interval)]
    if args.small:
        options += ["--scale", "100", "--budget", "100000"]
    (config,) = bench_runs(bench_args(options))
    config.update(database_url=database_url, postmaster_pid=postmaster, probe_after_window=True,
                  ack_count=args.ack_count)
    return config


async def poll_loop(args: argparse.Namespace, server: PostgresServer, store: str) -> dict[str, Any]:
    """One poll-loop-alone measurement on ``store`` ("sqlite" or "postgres"), in fresh processes."""
    print(f"... poll loop alone, {args.jobs} jobs in flight, {store}", file=sys.stderr, flush=True)
    async with _database(server, store) as url:
        postmaster = server.local.postmaster_pid if store == "postgres" and server.local else None
        process, result = await spawn_json(["-m", "bench.bot_run"], poll_loop_config(args, url, postmaster), cwd=ROOT)
        await process.wait()
    result.update(store=store, processes=1, rss_peak_mb=result["rss_peak"] / 1e6)
    return result


@contextlib.asynccontextmanager
async def _database(server: PostgresServer, store: str) -> AsyncIterator[str | None]:
    """A fresh migrated PostgreSQL database, or None: the run's own SQLite file."""
    if store == "sqlite":
        yield None
        return
    async with server.database() as url:
        yield url


async def claims(args: argparse.Namespace, server: PostgresServer, store: str, processes: int) -> dict[str, Any]:
    """One claim-rate measurement on a fresh database."""
    print(f"... claimed rows per second, {store}, {processes} process(es)", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="veo-claims-") as tmp:
        async with _database(server, store) as pg_url:
            url = pg_url or f"sqlite:///{tmp}/claims.sqlite3"
            await claim_rate.populate(url, args.claim_jobs)
            postmaster = server.local.postmaster_pid if pg_url and server.local else None
            result = await claim_rate.measure(claim_rate.ClaimRun(url, processes, args.claim_seconds,
                                                                  args.claim_jobs, postmaster))
    result["store"] = store
    return result


async def main_async(args: argparse.Namespace) -> int:
    started = time.monotonic()
    server = start_server()
    try:
        version = server_version(server)
        loops, claimed, takeovers = [], [], []
        counts = [int(n) for n in args.processes.split(",") if n.strip()]
        for round_ in range(args.rounds):
            # Alternating order, so that a drift of the machine's load weighs on both stores alike.
            stores = ["sqlite", "postgres"] if round_ % 2 == 0 else ["postgres", "sqlite"]
            if args.jobs > 0:
                for store in stores:
                    loops.append(await poll_loop(args, server, store))
            for store in stores:
                for processes in [1] if store == "sqlite" else counts:
                    claimed.append(await claims(args, server, store, processes))
        if args.takeovers > 0:
            print(f"... {args.takeovers} takeover(s)", file=sys.stderr, flush=True)
            takeovers = await takeover.measure(server.database, args.takeovers, jobs=args.takeover_jobs,
                                               lease=args.lease, interval=args.takeover_interval)
    finally:
        server.close()
    report(args, version, loops, claimed, takeovers, time.monotonic() - started)
    if args.json:
        args.json.write_text(json.dumps({
            "machine": machine(), "postgres": version, "command": _command(),
            "poll_loop": loops, "claims": claimed, "takeovers": takeovers}, indent=1))
    return 0


def _command() -> str:
    return "python -m bench.pg " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def report(args: argparse.Namespace, version: str, loops: list[dict[str, Any]], claimed: list[dict[str, Any]],
           takeovers: list[dict[str, Any]], seconds: float) -> None:
    """Print the table and the targets."""
    info = machine()
    print(f"# veo-bot on SQLite and PostgreSQL ({seconds / 60:.1f} min)")
    print(f"command: {_command()}")
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['memory_gb']} GB, Python {info['python']},"
          f" {info['system']}; {version}")
    print(f"poll loop alone: {args.jobs} jobs in flight, each polled every {args.interval:g} s, then"
          f" {args.ack_count} /veo probes; claim rate: {args.claim_jobs} due jobs, {args.claim_seconds:g} s windows;"
          f" takeover: {args.takeover_jobs} jobs, lease {args.lease:g} s, poll interval {args.takeover_interval:g} s")
    print("median (lowest-highest, n) of the rounds\n")
    print(table(by_column(loops, lambda r: (r["store"], r["processes"])),
                by_column(claimed, lambda r: (r["store"], r["processes"])), takeovers))
    print("\n## Targets\n")
    for line in targets(by_column(loops, lambda r: (r["store"], r["processes"])), takeovers):
        print(line)


def main() -> None:
    """Run the side-by-side benchmark."""
    sys.exit(asyncio.run(main_async(parse_args(sys.argv[1:]))))


if __name__ == "__main__":
    main()
