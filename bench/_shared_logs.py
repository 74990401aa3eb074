"""Labelled logs from ../shared/eval/make_log.py, built once per (seed, scale, format) and scanned once.

Used by bench/fit_score.py and bench/score_quality.py. Logs and reports live in a work folder
outside the repo (default: $TMPDIR/fastscan-eval); nothing here is ever committed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from shared import MAKE_LOG, SCORE_REPORT  # tests/shared.py: FASTSCAN_SHARED or ../shared

DEFAULT_WORK = Path(os.environ.get("FASTSCAN_EVAL_DIR", Path(tempfile.gettempdir()) / "fastscan-eval"))


def shared_available() -> bool:
    return MAKE_LOG.exists() and SCORE_REPORT.exists()


def log_path(work: Path, seed: int, scale: float, fmt: str, profile: str | None = None) -> Path:
    return work / f"seed{seed}-scale{scale:g}-{fmt}{'-' + profile if profile else ''}.jsonl"


def labels_path(log: Path) -> Path:
    return log.with_suffix(".labels.csv")


def make_log(work: Path, seed: int, scale: float, fmt: str, profile: str | None = None) -> Path:
    """The log (and its labels), built unless already there; `profile`: a variant of
    bench/profiles.py instead of make_log's built-in profile."""
    work.mkdir(parents=True, exist_ok=True)
    out = log_path(work, seed, scale, fmt, profile)
    if not (out.exists() and labels_path(out).exists()):
        more: list[str] = []
        if profile:
            from profiles import write_profile

            more = ["--profile", str(write_profile(profile, work / f"profile-{profile}.json"))]
        subprocess.run(
            [
                sys.executable,
                str(MAKE_LOG),
                "--seed",
                str(seed),
                "--scale",
                str(scale),
                "--format",
                fmt,
                "--out",
                str(out),
                "--labels",
                str(labels_path(out)),
                *more,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    return out


def features(log: Path, rescan: bool = False):
    """The scanned report of `log` (features and score columns), cached as Parquet beside the log."""
    import pyarrow.parquet as pq

    import fastscan

    cached = log.with_suffix(".report.parquet")
    if rescan or not cached.exists() or cached.stat().st_mtime < log.stat().st_mtime:
        report = fastscan.scan([log])
        pq.write_table(report.accounts, cached)
    return pq.read_table(cached)


def read_labels(log: Path) -> dict:
    import csv

    with open(labels_path(log), newline="", encoding="utf-8") as fh:
        return {r["account_id"]: r for r in csv.DictReader(fh)}
