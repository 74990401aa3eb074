"""Shared fixtures of the benchmark suites (`pytest bench`, outside the default test run).

FASTSCAN_BENCH_BYTES   size of the JSON Lines bench log (default 200 MB; the targets are for ~2 GB)
FASTSCAN_BENCH_ROUNDS  timed rounds per benchmark (default 3; the best round is compared)
FASTSCAN_BENCH_DIR     where generated logs are cached (default /tmp/fastscan-bench)

Every figure lands in the benchmark's `extra_info`; the terminal summary prints throughputs and
the fastscan / peer ratios measured in this run.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1] / "tests"))  # tests/shingles.py

from logs import bench_log, converted  # noqa: E402
from phases import FIGURES, Phases  # noqa: E402

BENCH_BYTES = int(float(os.environ.get("FASTSCAN_BENCH_BYTES", 200e6)))
ROUNDS = int(os.environ.get("FASTSCAN_BENCH_ROUNDS", 3))

# name -> dict of figures (MB/s, records/s, RSS, ...) filled by the benchmarks of this run
RESULTS: dict[str, dict] = {}


def record(benchmark, name: str, nbytes: int | None = None, records: int | None = None, **extra) -> dict:
    """Throughput of the best round of `benchmark`, into its extra_info and the run's summary."""
    best = benchmark.stats.stats.min
    fig = {"seconds": round(best, 4)}
    if nbytes is not None:
        fig["mb_per_s"] = round(nbytes / 1e6 / best, 1)
        fig["bytes"] = nbytes
    if records is not None:
        fig["records_per_s"] = round(records / best, 1)
    fig.update({k: benchmark.extra_info[k] for k in FIGURES if k in benchmark.extra_info})  # timed_scan's
    fig.update(extra)
    benchmark.extra_info.update(fig)
    RESULTS[name] = fig
    return fig


def ratio(name: str, peer: str) -> float | None:
    a, b = RESULTS.get(name, {}).get("mb_per_s"), RESULTS.get(peer, {}).get("mb_per_s")
    return round(a / b, 3) if a and b else None


def cached(*args):
    """A pedantic round's setup: reads each path of `args` through (untimed), every file of it for
    a folder, so that every round times a scan of files in the page cache, then gives `args` to
    the timed call. The machine drops files nobody has read for a while from its cache, free
    memory or not: a round that read the log from the disk timed the disk (a bench run's JSON
    Lines rounds took 7.7-8.9 s, against 4.3 s for the same records in a file read just before)."""

    def setup():
        for a in args:
            if isinstance(a, Path):
                for f in sorted(a.iterdir()) if a.is_dir() else [a]:
                    with open(f, "rb", buffering=0) as fh:
                        while fh.read(1 << 23):
                            pass
        return args, {}

    return setup


def in_turns(name: str, path, jsonl_log, same_records: bool) -> None:
    """The scan of `path` and the bench log's taken in turns, ROUNDS pairs, each of its file in
    the page cache: per pair the shape's speed over the bench log's, in records when they hold the
    same records, else in MB/s; their median into RESULTS[name + " / scan jsonl, in turns"]."""
    import fastscan

    ratios = []
    for _ in range(ROUNDS):
        seconds = []
        for p in (jsonl_log, path):
            cached(p)()
            t = time.perf_counter()
            fastscan.scan([p])
            seconds.append(time.perf_counter() - t)
        r = seconds[0] / seconds[1]
        ratios.append(r if same_records else r * os.path.getsize(path) / os.path.getsize(jsonl_log))
    assert len(ratios) == ROUNDS and all(x > 0 for x in ratios)
    RESULTS[f"{name} / scan jsonl, in turns"] = {
        "median_ratio": round(float(np.median(ratios)), 3),
        "min_ratio": round(min(ratios), 3),
        "max_ratio": round(max(ratios), 3),
        "pairs": len(ratios),
    }


def timed_scan(benchmark, path: Path):
    """The report of `path`, its scan timed over ROUNDS rounds, each of the file in the page cache;
    the best round's read phase and finish() apart into extra_info (see Phases)."""
    import fastscan

    rounds: list[tuple[float, Phases]] = []

    def scan(p):
        phases = Phases()
        report = fastscan.scan([p], progress=phases)
        phases.done()
        rounds.append((time.perf_counter() - phases.start[0], phases))
        return report

    report = benchmark.pedantic(scan, setup=cached(path), rounds=ROUNDS, iterations=1)
    benchmark.extra_info.update(min(rounds, key=lambda r: r[0])[1].figures())
    return report


@pytest.fixture(scope="session")
def warm():
    """Every kernel compiled and every reader path imported before anything is timed."""
    import fastscan
    import fastscan.kernels

    fastscan.kernels.warmup()
    tiny = bench_log(2_000_000, seed=2, fmt="flat")
    for kind in ("gz", "zst", "parquet", "arrow"):
        fastscan.scan([converted(tiny, kind)])
    fastscan.scan([tiny])


@pytest.fixture(scope="session")
def jsonl_report(warm, jsonl_log):
    """The report of the JSON Lines bench log, which every other format and peer is checked against."""
    import fastscan

    return fastscan.scan([jsonl_log]).accounts


@pytest.fixture(scope="session")
def jsonl_log() -> Path:
    return bench_log(BENCH_BYTES, seed=0, fmt="flat")


@pytest.fixture(scope="session")
def small_log() -> Path:
    """A quarter-size log of the same generator (memory must not grow with the file)."""
    return bench_log(max(BENCH_BYTES // 4, 5_000_000), seed=1, fmt="flat")


@pytest.fixture(scope="session")
def log_formats(jsonl_log) -> dict:
    return {
        "jsonl": jsonl_log,
        "gz": converted(jsonl_log, "gz"),
        "zst": converted(jsonl_log, "zst"),
        "parquet": converted(jsonl_log, "parquet"),
        "arrow": converted(jsonl_log, "arrow"),
    }


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not RESULTS:
        return
    tr = terminalreporter
    tr.section(f"fastscan benchmark figures (log {BENCH_BYTES / 1e6:.0f} MB of JSONL, best of {ROUNDS})")
    for name, fig in RESULTS.items():
        parts = [f"{k}={v}" for k, v in fig.items() if k not in ("bytes",)]
        tr.write_line(f"{name:<34} " + "  ".join(parts))
    pairs = [
        ("scan jsonl", "duckdb group by"),
        ("scan jsonl", "polars group by"),
        ("scan arrow", "duckdb group by"),
        ("scan jsonl", "msgspec decode"),
        ("scan jsonl, 1 MB files", "duckdb group by, 1 MB files"),
        ("scan openai-shape jsonl", "scan jsonl"),
        ("scan gz", "zcat"),
        ("scan zst", "zstd -dc"),
        ("minhash fastscan", "minhash datasketch"),
    ]
    lines = [f"{a} / {b}: {ratio(a, b)}" for a, b in pairs if ratio(a, b) is not None]
    in_turns = [("scan jsonl / duckdb group by", RESULTS.get("scan jsonl / duckdb, interleaved"))]
    in_turns += [(n.removesuffix(", in turns"), f) for n, f in RESULTS.items() if n.endswith("/ scan jsonl, in turns")]
    for name, turns in in_turns:
        if turns:
            lines.append(
                f"{name}, in turns: median {turns['median_ratio']} of {turns['pairs']} pairs "
                f"({turns['min_ratio']}-{turns['max_ratio']})"
            )
    if lines:
        tr.section("fastscan / peer (same file, same run)")
        for line in lines:
            tr.write_line(line)


def duckdb_group_by(path):
    """DuckDB's GROUP BY account (counts and token sums) over `path`: a file, or a glob of files."""
    import duckdb

    con = duckdb.connect()
    try:
        return con.sql(
            f"SELECT account_id, count(*) AS requests, sum(prompt_tokens) AS pt, "
            f"sum(completion_tokens) AS ct FROM read_ndjson('{path}') GROUP BY account_id"
        ).fetchall()
    finally:
        con.close()
