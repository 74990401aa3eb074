"""Split scans without a cluster: byte ranges tile a file, and the distributed runner's task
functions (scan_piece, merge_partials, finish_partial), run here in-process in any merge tree,
give the single-process report, statistics and reject lines. No Dask needed."""

from __future__ import annotations

import gzip
import json
import os
import pickle
import random
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from logs import COUNTS
from mixed_log import write_mixed_log

from fastscan import scan
from fastscan.config import ScanConfig
from fastscan.errors import InputError
from fastscan.partial import line_offsets
from fastscan.read import CANONICAL, ByteRange, ReadStats, RejectLog, Source, expand_sources, read_source
from fastscan.run.cluster import finish_partial, merge_partials, plan_pieces, scan_piece

SMALL = ScanConfig(sample_size=32)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    path = tmp_path_factory.mktemp("pieces") / "mixed.jsonl"
    info = write_mixed_log(path, accounts=30, records=1000, seed=5)
    return path, info


def read_whole(src, chunk_bytes):
    stats, rejects = ReadStats(), RejectLog(keep_examples=10_000)
    batches = list(read_source(src, stats=stats, rejects=rejects, chunk_bytes=chunk_bytes))
    return pa.Table.from_batches(batches, CANONICAL), stats, sorted((e["line"], e["reason"]) for e in rejects.examples)


def read_ranges(src, cuts, chunk_bytes):
    stats, got, before = ReadStats(), [], 0
    batches: list = []
    for a, b in zip(cuts, cuts[1:]):
        rng, rejects = ByteRange(a, b), RejectLog(keep_examples=10_000)
        batches += read_source(src, stats=stats, rejects=rejects, chunk_bytes=chunk_bytes, byte_range=rng)
        got += [(e["line"] + before, e["reason"]) for e in rejects.examples]
        before += rng.lines
    return pa.Table.from_batches(batches, CANONICAL), stats, sorted(got)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.floats(0, 1), max_size=12), chunk=st.sampled_from([4096, 10_000, 1 << 20]))
def test_byte_ranges_tile_a_file(mixed, cuts, chunk):
    path, info = mixed
    src = expand_sources([path])[0]
    size = src.size
    points = sorted({0, size, *(int(c * size) for c in cuts)})
    want_t, want_s, want_r = read_whole(src, chunk)
    got_t, got_s, got_r = read_ranges(src, points, chunk)
    assert got_t.equals(want_t)
    assert got_r == want_r and [line for line, _ in got_r] == info["bad_lines"]
    assert got_s == want_s  # files counted once, bytes and records add up exactly


@pytest.mark.parametrize(
    "body",
    [
        # no final newline
        b'{"account_id":"a","prompt":"x y z","ts":1}\n\n   \n{"account_id":"b","prompt":"p","ts":2}',
        b'not json\n{"bad\n'
        + b'{"account_id":"a","prompt":"'
        + b"w " * 5000
        + b'","ts":"2025-09-01T00:00:00Z"}\n'
        + b'{"account_id":"b","prompt":"q","ts":1756684800}\n' * 3,  # garbage first, a long line, mixed ts types
        b"\n\n\n",
    ],
    ids=["no-final-newline", "garbage-first-long-line-mixed-ts", "blank"],
)
def test_byte_ranges_at_every_cut(tmp_path, body):
    p = tmp_path / "x.jsonl"
    p.write_bytes(body)
    src = expand_sources([p])[0]
    want = read_whole(src, 4096)
    for cut in range(0, len(body) + 1, max(1, len(body) // 97)):
        got = read_ranges(src, sorted({0, cut, len(body) + 5}), 4096)
        assert got[0].equals(want[0]) and got[1:] == want[1:], cut


def test_plan_pieces(tmp_path, mixed):
    path, _ = mixed
    gz = tmp_path / "a.jsonl.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    srcs = expand_sources([path, gz])
    size = srcs[0].size
    pieces = plan_pieces(srcs, size // 3 + 1)
    assert [p.file_index for p in pieces] == [0, 0, 0, 1]
    assert [p.index for p in pieces] == [0, 1, 2, 3]
    assert pieces[0].start == 0 and pieces[1].start == pieces[0].end and pieces[2].start == pieces[1].end
    assert pieces[2].end is not None and pieces[2].end >= size and pieces[3].end is None  # last range reads to the end
    assert sum(p.nbytes for p in pieces[:3]) == size
    assert len(plan_pieces(srcs, size)) == 2  # not larger than split: whole
    with pytest.raises(InputError, match="standard input"):
        plan_pieces([Source("-", "jsonl", "", 0)])
    # consecutive small JSON Lines files: pieces of several, up to split_bytes in all; one alone,
    # or any other file, a piece of its own
    small = [Source(f"/logs/s{k}.jsonl", "jsonl", "gzip" if k == 3 else "", 100) for k in range(7)]
    other = [Source("/logs/t.parquet", "parquet", "", 100), Source("/logs/u.jsonl", "jsonl", "", 2000)]
    files = [*small[:5], other[0], small[5], other[1], small[6], *small[:4]]
    pieces = plan_pieces(files, 350, chunk_bytes=1200)
    # u: over a quarter chunk, cut in ranges; s0-s3 again after it: 350 bytes hold three
    assert [([s.name[6:] for s in p.group], p.file_index, p.start) for p in pieces] == [
        (["s0.jsonl", "s1.jsonl", "s2.jsonl"], 0, 0),
        (["s3.jsonl", "s4.jsonl"], 3, 0),
        ([], 5, 0),
        ([], 6, 0),  # s5 alone between the Parquet file and u: a piece of its own
        *[([], 7, 334 * k) for k in range(6)],
        (["s6.jsonl", "s0.jsonl", "s1.jsonl"], 8, 0),
        (["s2.jsonl", "s3.jsonl"], 11, 0),
    ]
    assert [p.nbytes for p in pieces][:2] == [300, 200]


def _tree_merge(parts, rng):
    """Merge adjacent partials in random groups until one is left."""
    while len(parts) > 1:
        out, i = [], 0
        while i < len(parts):
            k = rng.randint(1, 4)
            group = parts[i : i + k]
            out.append(merge_partials(SMALL, *group) if len(group) > 1 else group[0])
            i += k
        parts = out
    return parts[0] if parts else merge_partials(SMALL)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pieces_merged_in_any_tree_give_the_single_process_report(tmp_path, mixed, seed):
    path, info = mixed
    rng = random.Random(seed)
    lines = path.read_bytes().splitlines(keepends=True)
    files = []
    for k in range(3):  # three files, one of them gzip (one piece), the others cut in ranges
        f = tmp_path / (f"part{k}.jsonl" + (".gz" if k == 2 else ""))
        data = b"".join(lines[k::3][: len(lines) // 4])
        f.write_bytes(gzip.compress(data) if k == 2 else data)
        files.append(f)
    # then small files (read together, pieces of several: fastscan.read.small), one gzip cut short
    rest = b"".join(lines[3 * (len(lines) // 4) :])
    for k, lo in enumerate(range(0, len(rest), 9000)):
        f = tmp_path / (f"small{k:02d}.jsonl" + (".gz" if k == 4 else ""))
        f.write_bytes(gzip.compress(rest[lo : lo + 9000])[:-20] if k == 4 else rest[lo : lo + 9000])
        files.append(f)
    reject_file = tmp_path / "rejects.jsonl"
    chunk = rng.choice([40_000, 1 << 16])
    want = scan(files, config=SMALL, reject_file=reject_file, chunk_bytes=chunk)
    pieces = plan_pieces(expand_sources(files), rng.choice([30_000, 50_000, 120_000]), chunk)
    assert len(pieces) > 4 and sum(len(p.group) > 1 for p in pieces) >= 2
    results = [scan_piece(p, SMALL, None, chunk, keep_rejects=True) for p in pieces]
    final = _tree_merge([r[0] for r in results], rng)
    report, offsets = finish_partial(final, [p.file_index for p in pieces])
    assert report.accounts.equals(want.accounts)
    for name in COUNTS:
        assert getattr(report.stats, name) == getattr(want.stats, name), name
    key = lambda e: (e["file"], e["line"], e["reason"])  # noqa: E731
    assert sorted(report.rejected_examples, key=key) == sorted(want.rejected_examples, key=key)
    assert report.rejected_examples == sorted(
        report.rejected_examples, key=lambda e: (files.index(Path(e["file"])), e["line"])
    )  # the first rejects in file and line order
    written = sorted(
        (r["file"], r["line"], r["reason"], r["record"]) for r in map(json.loads, reject_file.read_bytes().splitlines())
    )
    rebuilt = sorted(
        (source, line + offsets[p.index], reason, raw.decode("utf-8", "backslashreplace"))
        for p, (_, rows) in zip(pieces, results)
        for line, reason, raw, source in rows
    )
    assert rebuilt == written and len(written) == want.stats.records_rejected > 0
    assert report.file_errors == want.file_errors and any("small04" in e["file"] for e in report.file_errors)


def test_merge_does_not_change_its_inputs(mixed):
    path, _ = mixed
    pieces = plan_pieces(expand_sources([path]), 200_000)
    parts = [scan_piece(p, SMALL) for p in pieces]
    before = [pickle.dumps(p) for p in parts]
    merge_partials(SMALL, *parts)
    merge_partials(SMALL, *parts)
    assert [pickle.dumps(p) for p in parts] == before  # a re-run merge sees the same inputs


def test_line_offsets():
    assert line_offsets([0, 0, 0, 1, 1, 2], {0: 10, 1: 5, 2: 7, 3: 4, 4: 1}) == [0, 10, 15, 0, 4, 0]


def test_importing_fastscan_imports_no_dask():
    code = (
        "import sys, fastscan, fastscan.run, fastscan.cli, fastscan.read, fastscan.run.cluster; "
        "print(sorted(m for m in ('dask', 'distributed', 'fsspec') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": ""}
    )
    assert out.stdout.strip() == "[]"


def test_urls_read_like_paths(tmp_path, mixed):
    pytest.importorskip("fsspec")
    import pyarrow.feather as feather
    import pyarrow.parquet as pq

    path, _ = mixed
    write_mixed_log(tmp_path / "clean.jsonl", accounts=10, records=300, seed=2, bad=False)
    table = pa.Table.from_pylist(
        [json.loads(x) for x in (tmp_path / "clean.jsonl").read_bytes().splitlines() if x.strip()]
    )
    pq.write_table(table, tmp_path / "log.parquet")
    feather.write_feather(table, tmp_path / "log.arrow")
    for name in ("log.parquet", "log.arrow"):
        want = scan([tmp_path / name], config=SMALL)
        got = scan([(tmp_path / name).as_uri()], config=SMALL)
        assert got.accounts.equals(want.accounts) and got.stats.records_read == table.num_rows
    want = scan([path], config=SMALL)
    got = scan([path.as_uri()], config=SMALL)
    assert got.accounts.equals(want.accounts)
    assert got.stats.bytes_read == want.stats.bytes_read
    assert [e["line"] for e in got.rejected_examples] == [e["line"] for e in want.rejected_examples]
    assert got.rejected_examples[0]["file"] == path.as_uri()
    src = expand_sources([tmp_path.as_uri()])  # a folder URL: its log files, sorted
    assert [s.path.rsplit("/", 1)[1] for s in src] == ["clean.jsonl", "log.arrow", "log.parquet"]
    with pytest.raises(InputError, match="no such file"):
        expand_sources([(tmp_path / "missing.jsonl").as_uri()])
    with pytest.raises(InputError, match="cannot open this URL"):
        expand_sources(["nosuchprotocol://bucket/x.jsonl"])
