"""The same make_log.py log in every form gives the same per-account report.

Needs ../shared (the evaluation tools and real prompts); skipped where it is absent.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from mixed_log import split_interleaved
from shared import MAKE_LOG, needs_make_log

from fastscan import scan

pytestmark = needs_make_log

# Facts only one of the two shapes carries: the OpenAI shape logs reasoning tokens and times in
# whole seconds; the flat shape has no reasoning tokens and times in milliseconds. Reasons may
# mention reasoning tokens; the score and the flag never use them, so they match exactly.
SHAPE_SPECIFIC = {"reasoning_tokens", "first_seen", "last_seen", "active_span_days", "reasons"}


def make_log(out: Path, fmt: str, seed: int = 11, scale: float = 0.05) -> Path:
    subprocess.run(
        [
            sys.executable,
            str(MAKE_LOG),
            "--scale",
            str(scale),
            "--seed",
            str(seed),
            "--format",
            fmt,
            "--out",
            str(out),
            "--labels",
            str(out.with_suffix(".labels.csv")),
        ],
        check=True,
        capture_output=True,
    )
    return out


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    d = tmp_path_factory.mktemp("shared")
    return {fmt: make_log(d / f"{fmt}.jsonl", fmt) for fmt in ("flat", "openai")}


def _same(a: pa.Table, b: pa.Table, skip=()):
    assert a.column_names == b.column_names
    for c in a.column_names:
        if c not in skip:
            assert a.column(c).equals(b.column(c)), c


def secs(t: pa.Table, column: str) -> pa.Array:
    """A time column in whole seconds."""
    return pc.divide(t.column(column).cast(pa.int64()), 1000)


def test_gzip_and_parquet_forms_match_plain(logs, tmp_path):
    for fmt, path in logs.items():
        want = scan([path]).accounts
        gz = tmp_path / f"{fmt}.jsonl.gz"
        with open(path, "rb") as src, gzip.open(gz, "wb") as dst:
            shutil.copyfileobj(src, dst)
        _same(scan([gz]).accounts, want)
        rows = [json.loads(x) for x in path.read_bytes().split(b"\n") if x.strip()]
        pq.write_table(pa.Table.from_pylist(rows), tmp_path / f"{fmt}.parquet")
        _same(scan([tmp_path / f"{fmt}.parquet"]).accounts, want)


def test_flat_and_openai_forms_match(logs):
    flat = scan([logs["flat"]]).accounts
    openai = scan([logs["openai"]]).accounts
    _same(flat, openai, skip=SHAPE_SPECIFIC)
    # the times agree to the second
    for c in ("first_seen", "last_seen"):
        assert secs(flat, c).equals(secs(openai, c))
    assert pc.sum(openai.column("reasoning_tokens")).as_py() > 0


def test_cross_account_fields_survive_splitting_the_log(logs, tmp_path):
    """Clusters and shared templates of a real-prompt log do not depend on how it is split."""
    path = logs["flat"]
    want = scan([path])
    sizes = want.accounts.column("cluster_size").to_pylist()
    assert max(sizes) > 1  # the log has a ring: the check is not vacuous
    parts = split_interleaved(path, 3, tmp_path)
    got = scan(list(reversed(parts)), chunk_bytes=1 << 16)
    _same(got.accounts, want.accounts)
    assert got.shared_templates is not None and got.shared_templates.equals(want.shared_templates)
    assert got.near_dup_links is not None and got.near_dup_links.equals(want.near_dup_links)
