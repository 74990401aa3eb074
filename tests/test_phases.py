"""bench/phases.py: a scan's read phase and its scoring timed apart, through the progress object."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

from logs import records, write_jsonl

import fastscan

_SPEC = importlib.util.spec_from_file_location("phases", Path(__file__).resolve().parents[1] / "bench" / "phases.py")
assert _SPEC is not None and _SPEC.loader is not None
phases = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(phases)


def test_a_scan_splits_into_its_read_and_its_scoring(tmp_path):
    log = tmp_path / "log.jsonl"
    write_jsonl(log, records(n_accounts=20, per_account=60))
    p = phases.Phases()
    t0 = time.perf_counter()
    report = fastscan.scan([str(log)], progress=p)
    p.done()
    wall = time.perf_counter() - t0
    assert report.stats.records_scored == 20 * 60
    fig = p.figures()
    assert set(fig) == {"read_s", "read_cores", "finish_s", "finish_cores"}
    assert fig["read_s"] > 0 and fig["finish_s"] > 0
    assert abs(fig["read_s"] + fig["finish_s"] - wall) < 0.01  # the two phases are the whole scan
    assert all(fig[k] >= 0 for k in ("read_cores", "finish_cores"))


def test_no_figures_without_the_scoring_stage():
    p = phases.Phases()
    p(1000)
    p.stage("reading")
    p.done()
    assert p.figures() == {}
