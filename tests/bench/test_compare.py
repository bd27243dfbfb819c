"""``python -m bench.compare``: the poll-loop run it makes is the benchmark's own, and its table reads right."""

from __future__ import annotations

from pathlib import Path

from bench.compare import Side, parse_args, poll_loop_config, report


def test_it_measures_what_python_m_bench_measures_of_the_poll_loop_alone() -> None:
    config = poll_loop_config(parse_args(["--base", "HEAD~1"]))
    assert config["mode"] == "poll-loop" and config["jobs"] == 10000 and config["interval"] == 10
    assert config["scale"] == 1 and config["progress"] == "fixed50" and "pace" not in config  # "dense"


def test_the_table_has_both_medians_their_ratio_and_every_round() -> None:
    def result(cpu: float, commits: float) -> dict[str, float]:
        return {"cpu_per_poll_ms": cpu, "db_commits_per_second": commits, "db_commits_per_kpoll": commits,
                "db_writes_per_commit": 7.0, "load": 0.3, "gets_per_second": 1000.0, "db_rows_per_poll": 1.0,
                "rss_peak_mb": 69.0}

    sides = [Side("base", Path("/a"), "a" * 40, "aaaaaaaaaaaa"), Side("head", Path("/b"), "b" * 40, "bbbbbbbbbbbb")]
    text = report(sides, {"base": [result(0.30, 140), result(0.40, 150), result(0.50, 160)],
                          "head": [result(0.33, 150), result(0.30, 150), result(0.36, 150)]},
                  {"jobs": 10000, "interval": 10.0})
    row = next(line for line in text.splitlines() if line.startswith("| CPU per poll"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[1:5] == ["0.400", "0.330", "0.825", "0.300"]
    assert "base: aaaaaaaaaaaa" in text and "head: bbbbbbbbbbbb" in text
