"""The bench log's records in files of 1 MB (an archive of rotated objects): fastscan's scan of the
folder beside its scan of the one file and DuckDB's GROUP BY over the same files, in one run.

Small files are read a chunk's bytes of them at a time (fastscan.read.small); each file read on
its own cost the reader about 3.5 ms whatever its size, and 1 MB files twice the time of one file.
"""

from __future__ import annotations

import os

import pyarrow.compute as pc
import pytest
from conftest import RESULTS, ROUNDS, cached, duckdb_group_by, in_turns, record
from logs import cut_into_files


def _bytes(folder) -> int:
    return sum(os.path.getsize(folder / n) for n in os.listdir(folder))


@pytest.fixture(scope="module")
def files(jsonl_log):
    return cut_into_files(jsonl_log)


def test_scan_files(benchmark, warm, files, jsonl_log, jsonl_report):
    import fastscan

    report = benchmark.pedantic(lambda d: fastscan.scan([d]), setup=cached(files), rounds=ROUNDS, iterations=1)
    st = report.stats.to_dict()
    assert st["files"] == len(os.listdir(files)) > 1 and st["records_rejected"] == 0
    assert report.accounts.column("account_id").equals(jsonl_report.column("account_id"))
    assert report.accounts.column("near_dup_rate").equals(jsonl_report.column("near_dup_rate"))
    total = pc.sum(report.accounts.column("requests")).as_py()
    assert total == pc.sum(jsonl_report.column("requests")).as_py()
    fig = record(benchmark, "scan jsonl, 1 MB files", _bytes(files), st["records_read"], files=st["files"])
    plain = RESULTS.get("scan jsonl", {}).get("seconds")
    fig["speed_over_scan_jsonl"] = benchmark.extra_info["speed_over_scan_jsonl"] = (
        round(plain / fig["seconds"], 3) if plain else None
    )
    # in turns with the one file: the ratio of neighbours moves less than best rounds minutes apart
    in_turns("scan jsonl, 1 MB files", files, jsonl_log, same_records=True)


def test_peer_duckdb_files(benchmark, files, jsonl_report):
    pytest.importorskip("duckdb")
    run = lambda folder: duckdb_group_by(f"{folder}/*.jsonl")  # noqa: E731

    got = benchmark.pedantic(run, setup=cached(files), rounds=ROUNDS, iterations=1)
    want = dict(zip(jsonl_report.column("account_id").to_pylist(), jsonl_report.column("requests").to_pylist()))
    assert {r[0]: r[1] for r in got} == want
    fig = record(benchmark, "duckdb group by, 1 MB files", _bytes(files), sum(want.values()))
    a = RESULTS.get("scan jsonl, 1 MB files", {}).get("mb_per_s")
    fig["fastscan_over_peer"] = benchmark.extra_info["fastscan_over_duckdb"] = (
        round(a / fig["mb_per_s"], 3) if a else None
    )
