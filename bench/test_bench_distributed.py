"""Throughput of a scan on a Dask LocalCluster (two worker processes, one thread each) against the
single-process scan, on the same files, in the same run.

    python -m pytest bench/test_bench_distributed.py --benchmark-columns=min,mean,max,rounds

The log is make_log.py's (real prompts) when ../shared is there, else tests/mixed_log.py's, cut
into four files; FASTSCAN_BENCH_SCALE sets make_log's --scale (default 0.3, about 30 MB). Both
sides are warmed first (kernels compiled in every process) and must give the same report. The
figure to read is the ratio in extra_info, not the seconds: the machine may be shared.
"""

from __future__ import annotations

import logging
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

from fastscan import scan  # noqa: E402
from fastscan.kernels import warmup  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from mixed_log import split_interleaved, write_mixed_log  # noqa: E402
from shared import MAKE_LOG  # noqa: E402  (tests/shared.py: FASTSCAN_SHARED or ../shared)

ROUNDS = 3
_seen: dict = {}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bench-dist")
    log = d / "all.log"
    if MAKE_LOG.exists():
        scale = os.environ.get("FASTSCAN_BENCH_SCALE", "0.3")
        subprocess.run(
            [
                sys.executable,
                str(MAKE_LOG),
                "--scale",
                scale,
                "--seed",
                "3",
                "--out",
                str(log),
                "--labels",
                str(d / "labels.csv"),
            ],
            check=True,
            capture_output=True,
        )
    else:
        write_mixed_log(log, accounts=400, records=40_000, seed=3, bad=False)
    return split_interleaved(log, 4, d)


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",  # any free port: a second cluster at once (xdist) warned, an error here
            silence_logs=logging.CRITICAL,
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as c,
    ):
        c.run(warmup)
        yield c


def _cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _cpu_counted(fn, client=None):
    """fn wrapped to record, per call, the CPU seconds of this process (which, with a LocalCluster,
    runs the scheduler) plus those of every worker process: the scan's whole cost in CPU."""
    spent: list[float] = []

    def total():
        workers = sum(client.run(_cpu_seconds).values()) if client is not None else 0.0
        return _cpu_seconds() + workers

    def run():
        t0 = total()
        out = fn()
        spent.append(total() - t0)
        return out

    return run, spent


def _record(benchmark, name, report, files, cpu):
    size = sum(p.stat().st_size for p in files)
    secs = benchmark.stats.stats.min
    _seen[name] = (secs, report, min(cpu))
    benchmark.extra_info.update(
        mb=round(size / 1e6, 1),
        mb_per_s=round(size / 1e6 / secs, 1),
        records_per_s=round(report.stats.records_read / secs),
        cpu_seconds=round(min(cpu), 2),
        cores=os.cpu_count(),
        load_avg_1m=round(os.getloadavg()[0], 2),
    )


def test_single_process(benchmark, files):
    warmup()
    run, cpu = _cpu_counted(lambda: scan(files))
    report = benchmark.pedantic(run, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    _record(benchmark, "single", report, files, cpu)


def test_dask_local_cluster(benchmark, files, client):
    run, cpu = _cpu_counted(lambda: scan(files, client=client), client)
    report = benchmark.pedantic(run, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    _record(benchmark, "dask", report, files, cpu)
    benchmark.extra_info["pieces"] = report.stats.pieces
    if "single" in _seen:
        single_secs, single, single_cpu = _seen["single"]
        assert report.accounts.equals(single.accounts)
        benchmark.extra_info["speedup_vs_single_process"] = round(single_secs / _seen["dask"][0], 2)
        benchmark.extra_info["cpu_vs_single_process"] = round(_seen["dask"][2] / single_cpu, 2)
