#!/usr/bin/env python3
"""Measure the extraction score on labelled make_log.py logs, beside the naive baseline.

    python bench/score_quality.py                          # seeds 31 32 33, scale 1, flat and openai
    python bench/score_quality.py --seeds 21 --scale 0.5 --formats flat
    python bench/score_quality.py --seeds 8601 --formats flat --profiles mimic busy   # bench/profiles.py
    python bench/score_quality.py --seeds 8702 --formats flat --sample-budget 1   # every account's sample at 64

For every (seed, format): build the log with ../shared/eval/make_log.py (outside the repo), scan
it with fastscan, and score two reports with ../shared/eval/score_report.py:
  fastscan  - extraction_score and flagged as the scan wrote them (default threshold);
  baseline  - accounts ranked by total completion tokens; flagged: the top 5% of accounts.
The fitting seeds (fastscan/score/weights.py) are refused unless --allow-fit-seeds is given.
Exits 0 and says so when ../shared is absent. Prints one line per report and a summary table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1] / "tests"))  # tests/shared.py
from _shared_logs import DEFAULT_WORK, SCORE_REPORT, make_log, shared_available  # noqa: E402

BAR = {"auc_active": 0.99, "flagged_precision": 0.95, "flagged_recall": 0.90}
SHOW = ["auc", "auc_active", "recall@fpr1%", "flagged_precision", "flagged_recall", "campaigns_caught"]


def baseline(accounts):
    """Rank by total completion tokens (normalised to [0, 1]); flag the top 5% of accounts."""
    import numpy as np
    import pyarrow as pa

    ct = accounts.column("completion_tokens").to_numpy().astype(np.float64)
    score = ct / max(ct.max(), 1.0) if len(ct) else ct
    cut = np.quantile(ct, 0.95) if len(ct) else 0.0
    return pa.table({"account_id": accounts.column("account_id"), "extraction_score": score, "flagged": ct > cut})


def score_report(labels: Path, report: Path) -> dict:
    out = subprocess.run(
        [sys.executable, str(SCORE_REPORT), "--labels", str(labels), "--report", str(report), "--json"],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[31, 32, 33])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--formats", nargs="+", default=["flat", "openai"], choices=["flat", "openai"])
    ap.add_argument("--work", type=Path, default=DEFAULT_WORK, help="where logs are built (outside the repo)")
    ap.add_argument("--allow-fit-seeds", action="store_true")
    ap.add_argument("--by-kind", action="store_true", help="also print flagged/total per population")
    ap.add_argument("--profiles", nargs="+", default=[], metavar="NAME", help="variants of bench/profiles.py")
    ap.add_argument(
        "--sample-budget",
        type=int,
        default=None,
        metavar="PROMPTS",
        help="scan with this ScanConfig.sample_budget (1: every account's prompt sample at the least, 64)",
    )
    args = ap.parse_args(argv)
    if not shared_available():
        print("score_quality: ../shared (make_log.py, score_report.py) is absent; skipped", file=sys.stderr)
        return 0
    import pyarrow.parquet as pq

    import fastscan
    from fastscan.config import ScanConfig
    from fastscan.score.weights import FIT

    fit_seeds = set(FIT.get("seeds", []))
    if fit_seeds & set(args.seeds) and not args.allow_fit_seeds:
        print(
            f"score_quality: seeds {sorted(fit_seeds & set(args.seeds))} were used to fit the weights; "
            f"pick others (or --allow-fit-seeds)",
            file=sys.stderr,
        )
        return 2
    fastscan.kernels.warmup()
    config = None if args.sample_budget is None else ScanConfig(sample_budget=args.sample_budget)
    rows = []
    for seed, fmt, variant in [(s, f, v) for v in args.profiles or [None] for s in args.seeds for f in args.formats]:
        kind = f"{fmt}:{variant}" if variant else fmt
        t0 = time.perf_counter()
        log = make_log(args.work, seed, args.scale, fmt, variant)
        t1 = time.perf_counter()
        report = fastscan.scan([log], config=config)
        t2 = time.perf_counter()
        ours = log.with_suffix(".fastscan.parquet")
        base = log.with_suffix(".baseline.parquet")
        report.write(ours)
        pq.write_table(baseline(report.accounts), base)
        labels = log.with_suffix(".labels.csv")
        for name, path in (("fastscan", ours), ("baseline", base)):
            s = score_report(labels, path)
            rows.append((seed, kind, name, s))
            print(f"seed {seed} {kind:6s} {name:8s} " + " ".join(f"{k}={s[k]}" for k in SHOW), flush=True)
            if args.by_kind and name == "fastscan":
                print("    " + ", ".join(f"{k} {v}" for k, v in s["by_kind"].items()), flush=True)
        print(
            f"    ({report.stats.records_read:,} records, {log.stat().st_size / 1e6:,.0f} MB, "
            f"sample level {report.stats.sample_level}; "
            f"make_log {t1 - t0:.0f} s, scan {t2 - t1:.1f} s)",
            file=sys.stderr,
            flush=True,
        )
    print()
    print(f"{'seed':>4s} {'format':6s} {'report':8s} " + " ".join(f"{k:>17s}" for k in SHOW))
    ok = True
    for seed, kind, name, s in rows:
        print(f"{seed:4d} {kind:6s} {name:8s} " + " ".join(f"{str(s[k]):>17s}" for k in SHOW))
        if name == "fastscan":
            caught, total = s["campaigns_caught"].split("/")
            ok &= all(s[k] >= v for k, v in BAR.items()) and caught == total
    print(
        f"\nquality bar (auc_active >= 0.99, flagged_precision >= 0.95, flagged_recall >= 0.90, every "
        f"campaign caught) {'met' if ok else 'NOT met'} on every fastscan report above "
        f"(weights fitted on seeds {sorted(fit_seeds)}, scale {FIT.get('scale')})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
