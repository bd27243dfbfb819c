"""``python -m bench.compare --base REV``: the poll loop alone, at an older commit and now, side by side.

Checks ``REV`` out in a temporary ``git worktree`` and measures the poll loop alone (``python -m bench
--jobs ''`` measures the same thing: N jobs in flight, none finishing, each polled every interval) with
that tree's own code, and with this tree's (or with ``--head REV2``, another temporary worktree), in
alternating order, ``--rounds`` times each: base, head, then head, base, and so on, so that a drift of the
machine's load weighs on both alike. Every measurement is a fresh ``python -m bench.bot_run`` (with its
fakes) started in that tree, with that tree first on ``PYTHONPATH``, from this same Python environment.

CPU per poll is the bot process's CPU time over the polls in the measured window; commits per second are
the store's own count of transactions it committed (``store.commits()``, which ``bench/poll_loop.py``
reads at the window's start and end), over the window's simulated seconds (at 10,000 jobs the clock runs
at real speed); per 1,000 polls too, which does not move with the GETs per second the bot managed. Prints
each round and the median of each figure per side; ``--json`` writes them all.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.__main__ import parse_args as bench_args
from bench.__main__ import runs as bench_runs
from bench.report import machine

ROOT = Path(__file__).resolve().parent.parent

FIGURES = [
    # (key in the poll loop's result, title, digits)
    ("cpu_per_poll_ms", "CPU per poll (ms)", 3),
    ("db_commits_per_second", "DB commits per second", 1),
    ("db_commits_per_kpoll", "DB commits per 1,000 polls", 1),
    ("db_writes_per_commit", "writes per commit", 2),
    ("load", "bot CPU (cores)", 3),
    ("gets_per_second", "API GETs per second", 0),
    ("db_rows_per_poll", "DB rows written per poll", 2),
    ("rss_peak_mb", "peak RSS (MB)", 1),
]


@dataclass
class Side:
    name: str  # "base" or "head"
    root: Path
    commit: str
    label: str  # the commit, and whether the tree has changes of its own


def _git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()  # noqa: S603, S607


@contextmanager
def checked_out(rev: str, name: str) -> Iterator[Side]:
    """``rev`` in a temporary worktree (detached), removed afterwards."""
    commit = _git("rev-parse", "--verify", f"{rev}^{{commit}}")
    tmp = Path(tempfile.mkdtemp(prefix=f"veo-compare-{name}-"))
    tree = tmp / "tree"
    _git("worktree", "add", "--detach", "--quiet", str(tree), commit)
    try:
        yield Side(name, tree, commit, commit[:12])
    finally:
        _git("worktree", "remove", "--force", str(tree))
        tmp.rmdir()


def this_tree() -> Side:
    """The tree this module runs from, as it is (uncommitted changes included, and said so)."""
    commit = _git("rev-parse", "HEAD")
    dirty = bool(_git("status", "--porcelain"))
    return Side("head", ROOT, commit, commit[:12] + (" + uncommitted changes" if dirty else ""))


def _env(side: Side) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(side.root), *filter(None, [env.get("PYTHONPATH")])])
    return env


def check_imports(side: Side) -> None:
    """The child processes of ``side`` import its own ``bench``, ``bot`` and ``db``, not this tree's."""
    code = "import bench, bot, db, json; print(json.dumps([bench.__file__, bot.__file__, db.__file__]))"
    out = subprocess.run([sys.executable, "-c", code], cwd=side.root, env=_env(side), check=True,  # noqa: S603
                         capture_output=True, text=True).stdout
    for path in json.loads(out):
        if not Path(path).resolve().is_relative_to(side.root.resolve()):
            raise RuntimeError(f"{side.name}: {path} is not from {side.root}")


def poll_loop_config(args: argparse.Namespace) -> dict[str, Any]:
    """The configuration ``python -m bench --jobs ''`` gives its poll-loop run, with this command's options."""
    options = ["--jobs", "", "--poll-loop-jobs", str(args.jobs), "--interval", str(args.interval),
               "--scale", str(args.scale), "--budget", str(args.budget), "--seed", str(args.seed)]
    if args.sqlite_synchronous:
        options += ["--sqlite-synchronous", args.sqlite_synchronous]
    (config,) = bench_runs(bench_args(options))
    return config


def measure(side: Side, config: dict[str, Any]) -> dict[str, Any]:
    """One poll-loop measurement with ``side``'s code, in fresh processes."""
    done = subprocess.run(  # that tree's own benchmark, with this Python
        [sys.executable, "-m", "bench.bot_run"], cwd=side.root, env=_env(side), input=json.dumps(config) + "\n",
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{side.name} ({side.label}) failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[0])
    result["rss_peak_mb"] = result["rss_peak"] / 1e6
    # The same commits over the polls made rather than the seconds: not swayed by how many GETs a second the
    # bot got through in the window, which a busy machine lowers.
    commits, gets = result["db_commits_per_second"], result["gets_per_second"]
    result["db_commits_per_kpoll"] = 1000 * commits / gets if commits is not None and gets else None
    return result


def _fmt(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def median(results: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in results if r.get(key) is not None]
    return statistics.median(values) if values else None


def report(sides: list[Side], results: dict[str, list[dict[str, Any]]], config: dict[str, Any]) -> str:
    base, head = sides
    info = machine()
    lines = [
        f"# The poll loop alone, {config['jobs']} jobs in flight, each polled every {config['interval']:g} s",
        f"command: python -m bench.compare {' '.join(sys.argv[1:])}",
        f"machine: {info['cpu']}, {info['cores']} cores, Python {info['python']}, {info['system']}",
        f"base: {base.label}",
        f"head: {head.label}",
        "",
    ]
    rows = [["figure", "base (median)", "head (median)", "head / base",
             *(f"{s.name} #{i + 1}" for i in range(len(results["base"])) for s in sides)]]
    for key, title, digits in FIGURES:
        old, new = median(results["base"], key), median(results["head"], key)
        ratio = f"{new / old:.3f}" if old and new is not None else "n/a"
        per_round = [_fmt(results[s.name][i].get(key), digits) for i in range(len(results["base"])) for s in sides]
        rows.append([title, _fmt(old, digits), _fmt(new, digits), ratio, *per_round])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for index, row in enumerate(rows):
        lines.append("| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) + " |")
        if index == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the commit to compare with (any git revision)")
    parser.add_argument("--head", help="compare with this revision instead of this tree as it is")
    parser.add_argument("--rounds", type=int, default=3, help="measurements per side (default %(default)s)")
    parser.add_argument("--jobs", type=int, default=10000, help="jobs in flight (default %(default)s)")
    parser.add_argument("--interval", type=float, default=10.0, help="VEO_POLL_INTERVAL, seconds (default %(default)s)")
    parser.add_argument("--scale", type=float, default=10.0, help="as python -m bench (default %(default)s)")
    parser.add_argument("--budget", type=float, default=2000.0, help="as python -m bench (default %(default)s)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sqlite-synchronous", choices=("NORMAL", "FULL"), help="as python -m bench")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    return parser.parse_args(argv)


def compare(args: argparse.Namespace, base: Side, head: Side) -> int:
    config = poll_loop_config(args)
    sides = [base, head]
    for side in sides:
        check_imports(side)
    results: dict[str, list[dict[str, Any]]] = {"base": [], "head": []}
    for round_ in range(args.rounds):
        for side in (sides if round_ % 2 == 0 else sides[::-1]):
            print(f"... round {round_ + 1}/{args.rounds}: {side.name} ({side.label})", file=sys.stderr, flush=True)
            result = measure(side, config)
            results[side.name].append(result)
            print(f"    CPU per poll {_fmt(result['cpu_per_poll_ms'], 3)} ms, commits/s"
                  f" {_fmt(result['db_commits_per_second'], 1)}", file=sys.stderr, flush=True)
    print(report(sides, results, config))
    if args.json:
        args.json.write_text(json.dumps({
            "machine": machine(), "command": "python -m bench.compare " + " ".join(sys.argv[1:]), "config": config,
            "base": {"commit": base.commit, "label": base.label}, "head": {"commit": head.commit, "label": head.label},
            "results": results,
        }, indent=1))
    return 0


def main() -> None:
    args = parse_args(sys.argv[1:])
    with checked_out(args.base, "base") as base:
        if args.head is None:
            sys.exit(compare(args, base, this_tree()))
        with checked_out(args.head, "head") as head:
            sys.exit(compare(args, base, head))


if __name__ == "__main__":
    main()
