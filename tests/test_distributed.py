"""A scan on a Dask cluster (two worker processes on loopback) gives the single-process report,
byte for byte, also when a worker dies in the middle of the scan. Skipped without Dask."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from typing import Any

import pytest

distributed = pytest.importorskip("distributed")

import cloudpickle  # type: ignore[import-untyped]  # noqa: E402  (comes with distributed)
import dask  # noqa: E402
from logs import COUNTS, table_rows  # noqa: E402
from mixed_log import split_interleaved, write_mixed_log  # noqa: E402
from shared import MAKE_LOG, needs_make_log  # noqa: E402

from fastscan import InputError, scan  # noqa: E402
from fastscan.config import ScanConfig  # noqa: E402
from fastscan.run.cluster import ClusterError, submit_scan  # noqa: E402

SMALL = ScanConfig(sample_size=32)

# the test module travels to the workers by value (the kill plugin below is defined here)
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def cluster(cli_env):
    # The workers load their kernels from the session's numba cache, which the CLI tests before
    # these have filled (alone, the first worker to need a kernel compiles it into the cache); the
    # worker that replaces a killed one loads them too. In a folder of this module's own, the
    # two workers compiled every kernel each: 79 s of a 644 s test run.
    cache = cli_env["NUMBA_CACHE_DIR"]
    # a task may kill one worker (and be re-run), not two: ClusterError is then quick to test
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 1}),
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",  # any free port: a second cluster at once (xdist) warned, an error here
            silence_logs=logging.CRITICAL,
            env={"FASTSCAN_NUMBA_CACHE": "1", "NUMBA_CACHE_DIR": cache},
        ) as c,
    ):
        yield c


@pytest.fixture(scope="module")
def client(cluster):
    with distributed.Client(cluster, set_as_default=False) as c:
        yield c


def assert_identical(got, want, tmp_path, names=lambda f: f):
    """The two reports, written as JSON Lines and as Parquet, are the same bytes; counts add up."""
    for ext in ("jsonl", "parquet"):
        want.write(tmp_path / f"want.{ext}")
        got.write(tmp_path / f"got.{ext}")
        assert (tmp_path / f"got.{ext}").read_bytes() == (tmp_path / f"want.{ext}").read_bytes(), ext
    for k in COUNTS:
        assert getattr(got.stats, k) == getattr(want.stats, k), k
    key = lambda e: (names(e["file"]), e["line"], e["reason"])  # noqa: E731
    assert sorted(map(key, got.rejected_examples)) == sorted(map(key, want.rejected_examples))
    assert list(map(key, got.file_errors)) == list(map(key, want.file_errors))


@pytest.fixture(scope="module")
def mixed_parts(tmp_path_factory):
    d = tmp_path_factory.mktemp("mixed")
    write_mixed_log(d / "all.log", accounts=40, records=2500, seed=7)
    return split_interleaved(d / "all.log", 3, d, "part")


def test_mixed_log_on_cluster_is_identical_with_rejects(client, mixed_parts, tmp_path):
    want_rj, got_rj = tmp_path / "want-rejects.jsonl", tmp_path / "got-rejects.jsonl"
    # submitted first, so the workers compile their kernels while this process scans
    job = submit_scan(client, mixed_parts, config=SMALL, reject_file=got_rj, split_bytes=150_000)
    want = scan(mixed_parts, config=SMALL, reject_file=want_rj)
    got = job.result()
    assert (got.stats.pieces or 0) > len(mixed_parts)  # files were cut into byte ranges
    assert want.stats.records_rejected > 5
    assert_identical(got, want, tmp_path)
    rows = lambda p: sorted(p.read_bytes().splitlines())  # noqa: E731
    assert rows(got_rj) == rows(want_rj)  # same records, files and line numbers


@needs_make_log
def test_make_log_on_cluster_is_identical(client, tmp_path):
    log = tmp_path / "flat.log"
    subprocess.run(
        [
            sys.executable,
            str(MAKE_LOG),
            "--scale",
            "0.05",
            "--seed",
            "11",
            "--format",
            "flat",
            "--out",
            str(log),
            "--labels",
            str(tmp_path / "labels.csv"),
        ],
        check=True,
        capture_output=True,
    )
    parts = split_interleaved(log, 4, tmp_path, "flat")
    want = scan(parts)
    got = scan(parts, client=client, split_bytes=400_000)
    assert (got.stats.pieces or 0) > len(parts)
    assert_identical(got, want, tmp_path)


def test_synth_logs_on_cluster_are_identical(client, tmp_path):
    from fastscan.synth import write_log

    write_log(tmp_path / "openai.jsonl", accounts=60, seed=4, fmt="openai")  # one file, cut in ranges
    write_log(tmp_path / "flat.jsonl.gz", accounts=30, seed=5, fmt="flat")  # compressed: one piece
    files = [tmp_path / "openai.jsonl"]
    gz = [tmp_path / "flat.jsonl.gz"]
    want = scan(files, config=SMALL)
    got = scan(files, config=SMALL, client=client, split_bytes=1 << 20)
    assert (got.stats.pieces or 0) > 4
    assert_identical(got, want, tmp_path)
    got = scan(gz, config=SMALL, client=client, split_bytes=1 << 16)
    assert got.stats.pieces == 1
    assert_identical(got, scan(gz, config=SMALL), tmp_path)


def test_a_scan_held_by_its_sample_budget_is_identical_on_the_cluster(client, tmp_path):
    """Each piece's sample falls to a level of its own, at least the whole log's; the merged
    states end at the whole log's level, so the report is the one process's."""
    from fastscan.synth import write_log

    write_log(tmp_path / "flat.jsonl", accounts=60, seed=6, fmt="flat")
    files = [tmp_path / "flat.jsonl"]
    held = ScanConfig(sample_size=256, sample_budget=2000)
    want = scan(files, config=held)
    assert want.stats.sample_level is not None and want.stats.sample_level < 256  # the budget binds
    got = scan(files, config=held, client=client, split_bytes=1 << 20)
    assert (got.stats.pieces or 0) > 4 and got.stats.sample_level == want.stats.sample_level
    assert_identical(got, want, tmp_path)


def test_file_urls_and_folders_on_cluster(client, mixed_parts, tmp_path):
    want = scan(mixed_parts, config=SMALL)
    urls = [p.as_uri() for p in mixed_parts]
    as_path = lambda f: f.removeprefix("file://")  # noqa: E731  (rejects name the file as given)
    got = scan(urls, config=SMALL, client=client, split_bytes=200_000)
    assert got.rejected_examples[0]["file"].startswith("file:///")
    assert_identical(got, want, tmp_path, as_path)
    got = scan(
        [mixed_parts[0].parent.as_uri() + "/part*.jsonl"], config=SMALL, client=client, split_bytes=200_000
    )  # a glob URL
    assert_identical(got, want, tmp_path, as_path)


WorkerPlugin: Any = distributed.WorkerPlugin


class KillOnce(WorkerPlugin):
    """Kills its worker process when a chosen piece starts executing, the first time only
    (or every time, with marker None)."""

    def __init__(self, marker: str | None, piece: int):
        self.marker, self.piece = marker, piece

    def transition(self, key, start, finish, **kw):
        if (
            finish == "executing"
            and isinstance(key, str)
            and key.startswith("fastscan-piece-")
            and key.endswith(f"-{self.piece}")
        ):
            if self.marker is not None:
                try:
                    os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                except FileExistsError:
                    return
            os._exit(1)


def test_worker_killed_mid_scan_gives_the_same_report(client, mixed_parts, tmp_path):
    want = scan(mixed_parts, config=SMALL)
    marker = tmp_path / "killed"
    pids = set(client.run(os.getpid).values())
    client.register_plugin(KillOnce(str(marker), piece=6), name="kill-once")
    try:
        job = submit_scan(client, mixed_parts, config=SMALL, split_bytes=100_000, fanin=2)
        assert len(job.pieces) > 12
        got = job.result()
    finally:
        client.unregister_worker_plugin("kill-once")
    assert marker.exists()  # a worker did die mid-scan
    client.wait_for_workers(2, timeout=60)
    assert len(pids & set(client.run(os.getpid).values())) == 1  # and the nanny replaced it
    assert_identical(got, want, tmp_path)


def test_a_piece_that_kills_every_worker_is_a_cluster_error(client, mixed_parts):
    client.register_plugin(KillOnce(None, piece=1), name="kill-always")
    try:
        with pytest.raises(ClusterError, match="kept killing its workers"):
            scan(mixed_parts, client=client, split_bytes=200_000)
    finally:
        client.unregister_worker_plugin("kill-always")
    client.wait_for_workers(2, timeout=60)
    assert scan(mixed_parts[:1], client=client).stats.records_read > 0  # the cluster goes on


def test_a_scan_cancelled_on_the_cluster_is_a_cluster_error(client, mixed_parts):
    job = submit_scan(client, mixed_parts, split_bytes=100_000)
    client.cancel([job.final])
    with pytest.raises(ClusterError, match="cancelled"):
        job.result()


def test_unreadable_file_on_a_worker_is_the_single_process_error(client, mixed_parts, tmp_path):
    bad = tmp_path / "broken.parquet"
    bad.write_bytes(b"PAR1 this is not parquet at all")
    with pytest.raises(InputError) as single:
        scan([mixed_parts[0], bad])
    with pytest.raises(InputError) as dist:
        scan([mixed_parts[0], bad], client=client)
    assert str(dist.value) == str(single.value) and "broken.parquet" in str(dist.value)
    with pytest.raises(InputError, match="no such file"):
        scan([tmp_path / "missing.jsonl"], client=client)
    assert scan(mixed_parts[:1], client=client).stats.records_read > 0  # the cluster goes on


def test_cli_scheduler(cluster, mixed_parts, tmp_path):
    want = scan(mixed_parts)
    want.write(tmp_path / "want.parquet")
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "fastscan.cli",
            "scan",
            "--scheduler",
            cluster.scheduler_address,
            "--split-size",
            "100K",
            *map(str, mixed_parts),
            "--out",
            str(tmp_path / "got.parquet"),
            "--stats",
            str(tmp_path / "stats.json"),
            "--top",
            "3",
        ],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "got.parquet").read_bytes() == (tmp_path / "want.parquet").read_bytes()
    assert table_rows(p.stdout) == 4 and "records" in p.stderr
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["workers"] == 2 and stats["pieces"] > 3
    assert all(stats[k] == getattr(want.stats, k) for k in COUNTS)


def test_cli_unreachable_scheduler_is_exit_2(tmp_path, mixed_parts):
    env = {**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "1s"}
    p = subprocess.run(
        [sys.executable, "-m", "fastscan.cli", "scan", "--scheduler", "tcp://127.0.0.1:9", str(mixed_parts[0])],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.strip().splitlines()[-1].startswith("fastscan: error: --scheduler tcp://127.0.0.1:9")
