"""The whole scan: the report never depends on chunk size or on how the input is split."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from logs import table_rows
from mixed_log import split_interleaved

from fastscan import Scanner, scan
from fastscan.config import ScanConfig
from fastscan.read import expand_sources, read_source

SMALL = ScanConfig(sample_size=32)  # small sample so heavy accounts exercise the bottom-k path


@pytest.fixture(scope="module")
def small_log(tmp_path_factory):
    from fastscan.synth import write_log

    d = tmp_path_factory.mktemp("log")
    path = d / "log.jsonl"
    write_log(path, accounts=60, seed=3, fmt="flat")
    return path


def test_report_has_required_columns(small_log):
    r = scan([small_log])
    need = {
        "account_id",
        "requests",
        "prompt_tokens",
        "completion_tokens",
        "first_seen",
        "last_seen",
        "near_dup_rate",
        "extraction_score",
        "flagged",
        "reasons",
    }
    assert need <= set(r.accounts.column_names)
    s = r.stats.to_dict()
    assert s["records_read"] == s["records_scored"] + s["records_rejected"] > 0
    assert s["files"] == 1 and s["bytes_read"] == os.path.getsize(small_log)
    scores = r.accounts.column("extraction_score").to_pylist()
    assert all(0.0 <= x <= 1.0 for x in scores)
    assert r.accounts.column("account_id").to_pylist() == sorted(r.accounts.column("account_id").to_pylist())


@pytest.mark.parametrize("chunk", [4096, 64 << 10, 1 << 20])
def test_chunk_size_does_not_change_the_report(small_log, chunk):
    want = scan([small_log], config=SMALL).accounts
    got = scan([small_log], config=SMALL, chunk_bytes=chunk).accounts
    assert got.equals(want)


def test_splitting_into_files_does_not_change_the_report(small_log, tmp_path):
    want = scan([small_log], config=SMALL).accounts
    parts = split_interleaved(small_log, 5, tmp_path)
    assert scan(parts, config=SMALL).accounts.equals(want)
    assert scan(list(reversed(parts)), config=SMALL).accounts.equals(want)


def test_many_small_files_give_the_report_of_one_and_their_batches_are_joined(small_log, tmp_path):
    """Files of a few records each (a log rotated every minute): decoded a chunk's bytes of them
    at a time, and their batches reach the fold joined, not one per file (each decode and each
    batch has a fixed cost); the report is the report of the same records in one file, and the
    rejects keep their own file and line."""
    from fastscan.read import ReadStats, RejectLog
    from fastscan.run.loop import COALESCE_ROWS, read_all

    lines = small_log.read_bytes().splitlines(keepends=True)
    files = [tmp_path / f"m{k:03d}.jsonl" for k in range(0, len(lines), 40)]
    for k, f in enumerate(files):
        f.write_bytes(b"".join(lines[40 * k : 40 * k + 40]) + (b"{broken\n" if k == 7 else b""))
    assert len(files) > 50
    one = tmp_path / "one.jsonl"
    one.write_bytes(b"".join(lines))
    got = scan(files, config=SMALL)
    assert got.accounts.equals(scan([one], config=SMALL).accounts)
    assert got.stats.records_rejected == 1 and got.rejected_examples[0]["file"] == str(files[7])
    assert got.rejected_examples[0]["line"] == 41

    def batches(paths, chunk):
        return list(
            read_all(expand_sources(paths), shape=None, chunk_bytes=chunk, rejects=RejectLog(), stats=ReadStats())
        )

    # decoded together (fastscan.read.small): the records before and after the broken line
    assert [b.num_rows for b in batches(files, 16 << 20)] == [320, len(lines) - 320] and len(lines) < COALESCE_ROWS
    joined = batches(files, 256 << 10)  # a chunk's bytes reached first
    assert sum(b.num_rows for b in joined) == len(lines) and 1 < len(joined) < len(files) / 10
    assert all(b.nbytes < 2 * (256 << 10) for b in joined)  # about a chunk at most


def test_joined_batches_keep_every_record_in_order_and_large_ones_whole():
    """_coalesced joins runs of small batches up to a number of records or of bytes, hands a
    large one on as it is, and never joins batches of different schemas."""
    from fastscan.run.loop import _coalesced

    def batch(lo, n, typ=None):
        return pa.record_batch([pa.array(range(lo, lo + n), typ or pa.int64())], names=["x"])

    sizes = [3, 4, 0, 2, 20, 1, 1, 9, 5, 5]  # small: fewer than 64 // 8 records
    given, lo = [], 0
    for n in sizes:
        given.append(batch(lo, n))
        lo += n
    given.insert(6, batch(lo, 2, pa.int32()))  # another schema in the middle
    got = list(_coalesced(iter(given), 64, 1 << 20))
    assert [b.num_rows for b in got] == [9, 20, 1, 2, 1, 9, 10]
    assert got[1] is given[4] and got[5] is given[8]  # a large batch passes whole
    assert [b.schema for b in got][3] == given[6].schema
    values = [v for b in got for v in b.column(0).to_pylist()]
    assert values == [v for b in given for v in b.column(0).to_pylist()]
    # no more than about max_bytes held: 8-byte values, 40 bytes a batch of 5, 5 of them to 200
    assert [b.num_rows for b in _coalesced(iter([batch(0, 5)] * 6), 64, 200)] == [25, 5]
    assert list(_coalesced(iter([]), 64, 1 << 20)) == []


def test_scanners_merge_like_one(small_log, tmp_path):
    want = scan([small_log], config=SMALL).accounts
    parts = split_interleaved(small_log, 3, tmp_path)
    scanners = []
    for p in parts:
        s = Scanner(SMALL)
        for b in read_source(expand_sources([p])[0]):
            s.update(b)
        scanners.append(s)
    merged = scanners[2].merge(scanners[0]).merge(scanners[1])
    assert merged.finish().accounts.equals(want)


def test_scanner_takes_caller_tables_in_log_shape(small_log):
    want = scan([small_log], config=SMALL).accounts
    rows = [json.loads(x) for x in small_log.read_bytes().split(b"\n") if x.strip()]
    s = Scanner(SMALL)
    for i in range(0, len(rows), 500):
        s.update(pa.Table.from_pylist(rows[i : i + 500]))
    assert s.finish().accounts.equals(want)


def test_parquet_of_the_same_records_gives_the_same_report(small_log, tmp_path):
    want = scan([small_log], config=SMALL).accounts
    rows = [json.loads(x) for x in small_log.read_bytes().split(b"\n") if x.strip()]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "log.parquet")
    assert scan([tmp_path / "log.parquet"], config=SMALL).accounts.equals(want)


def test_import_compiles_nothing():
    """No kernel module is imported, so nothing compiles; numba itself is not even imported."""
    code = (
        "import sys, fastscan; from fastscan.kernels import _MODULES; "
        "print(sorted(m for m in sys.modules if m in {f'fastscan.kernels.{k}' for k in _MODULES} or m == 'numba'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- CLI

# cli_env (tests/conftest.py): one numba cache for every CLI run of the session


def test_cli_scan_outputs_and_exit_codes(small_log, tmp_path, run_cli):
    out, stats = tmp_path / "r.jsonl", tmp_path / "s.json"
    p = run_cli("scan", small_log, "--out", out, "--stats", stats, "--top", "5")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[0].startswith("account_id")
    assert table_rows(p.stdout) == 6
    assert "records" in p.stderr and "records" not in p.stdout
    st = json.loads(stats.read_text())
    assert st["records_read"] == st["records_scored"] + st["records_rejected"]
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == st["accounts"]
    flagged = any(r["flagged"] for r in rows)
    p = run_cli("scan", small_log, "--top", "0", "--fail-on-flagged")
    assert p.returncode == (1 if flagged else 0) and p.stdout == ""
    for ext in ("csv", "parquet"):
        assert run_cli("scan", small_log, "--top", "0", "--out", tmp_path / f"r.{ext}").returncode == 0
    assert pq.read_table(tmp_path / "r.parquet").num_rows == len(rows)


def test_cli_missing_file_is_one_line_and_exit_2(tmp_path, run_cli):
    p = run_cli("scan", tmp_path / "missing.jsonl")
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == [f"fastscan: error: {tmp_path / 'missing.jsonl'}: no such file"]
    assert p.stdout == ""


def test_cli_usage_error_exit_2(run_cli):
    assert run_cli("scan").returncode == 2
    assert run_cli("frobnicate").returncode == 2


def test_cli_reads_stdin(small_log, run_cli):
    with open(small_log, "rb") as fh:
        p = run_cli("scan", "-", "--top", "3", stdin=fh)
    assert p.returncode == 0, p.stderr
    assert table_rows(p.stdout) == 4


def test_cross_account_tables_do_not_depend_on_the_split(small_log, tmp_path):
    want = scan([small_log], config=SMALL)
    got = scan(split_interleaved(small_log, 4, tmp_path), config=SMALL, chunk_bytes=1 << 16)
    assert got.accounts.equals(want.accounts)
    assert got.shared_templates is not None and got.shared_templates.equals(want.shared_templates)
    assert got.near_dup_links is not None and got.near_dup_links.equals(want.near_dup_links)
