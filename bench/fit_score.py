#!/usr/bin/env python3
"""Fit the extraction score's weights on labelled make_log.py logs; write fastscan/score/weights.py.

    python bench/fit_score.py                       # seeds 1 2, scale 0.5, flat and openai
    python bench/fit_score.py --seeds 1 2 3 --scale 1 --dry-run

The model is fastscan.score's: a logistic regression over the published signals (and the two
automation x output products), every weight >= 0, classes weighted equally, fitted on the accounts
that could be flagged (at least MIN_REQUESTS requests). The L2 penalty pulls each weight towards a
prior (PRIOR below: how strong the public reports make each signal), not towards zero, so a signal
that the training logs barely exercise (logit_bias, coordination before near-duplicate clusters
exist) keeps its prior weight instead of being fitted away. Labels are used here
only, offline; a scan never sees them. The seeds used are written into the weights file; evaluate
on other seeds (bench/score_quality.py). Needs only the project's dependencies and ../shared.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1] / "tests"))  # tests/shared.py
from _shared_logs import DEFAULT_WORK, features, make_log, read_labels, shared_available  # noqa: E402

from fastscan.score.model import MIN_REQUESTS, TERMS, signal_values, term_name, term_values  # noqa: E402

WEIGHTS_FILE = Path(__file__).resolve().parents[1] / "fastscan" / "score" / "weights.py"


def dataset(seeds, scale, formats, work, rescan=False):
    xs, ys = [], []
    for seed in seeds:
        for fmt in formats:
            log = make_log(work, seed, scale, fmt)
            table = features(log, rescan=rescan)
            labels = read_labels(log)
            ids = table.column("account_id").to_pylist()
            req = table.column("requests").to_numpy()
            keep = req >= MIN_REQUESTS
            y = np.array([labels[a]["label"] == "extractor" if a in labels else False for a in ids])
            xs.append(term_values(signal_values(table))[keep])
            ys.append(y[keep])
            print(
                f"fit_score: seed {seed} {fmt}: {keep.sum()} accounts >= {MIN_REQUESTS} requests, "
                f"{y[keep].sum()} extractors",
                file=sys.stderr,
            )
    return np.concatenate(xs), np.concatenate(ys).astype(np.float64)


# Prior weights (logit units for a signal at 1): probing and reasoning coercion are the most
# specific published signals; output volume and length are what harvesting is for; automation
# (templates, round the clock) counts mostly through its product with output length.
PRIOR = {
    "output_volume": 2.0,
    "output_length": 2.0,
    "output_ratio": 1.0,
    "long_outputs": 2.0,
    "max_tokens_hits": 1.0,
    "reasoning_prompts": 4.0,
    "probing": 6.0,
    "resampling": 2.0,
    "round_the_clock": 1.0,
    "steady_pace": 0.5,
    "sustained": 1.0,
    "templated": 0.5,
    "near_duplicates": 0.5,
    "shared_templates": 0.5,
    "single_shot": 0.5,
    "capable_model": 0.5,
    "fast_model_move": 2.0,
    "varied_payloads": 0.5,
    "templated*output_length": 1.0,
    "templated*varied_payloads*output_length": 2.0,
    "round_the_clock*output_length": 1.0,
    "max_tokens_hits*output_length": 1.0,
    "uniform_clock": 0.5,
    "uniform_clock*output_length": 2.0,
    "rotation": 0.5,
    "shared_templates*output_length": 2.0,
    "rotation*output_length": 2.0,
}


def fit(x, y, l2=0.003, steps=6000, lr=0.05, free=None):
    """Non-negative weights and a free bias minimising class-balanced logistic loss
    + l2 |w - prior|^2 (Adam). With `free` (term names, and "bias"), only those move: every other
    weight, and the bias unless named, stays as fastscan/score/weights.py has it (a new signal
    joins the fitted model without refitting the rest)."""
    n, k = x.shape
    w0 = np.array([PRIOR.get(term_name(t), 0.0) for t in TERMS])
    movable = np.ones(k, dtype=np.bool_)
    b = 0.0
    if free is not None:
        from fastscan.score.weights import BIAS, WEIGHTS

        movable = np.array([term_name(t) in free for t in TERMS])
        w0 = np.where(movable, w0, [WEIGHTS.get(term_name(t), 0.0) for t in TERMS])
        b = BIAS
    sw = np.where(y > 0, 0.5 / max(y.sum(), 1), 0.5 / max((1 - y).sum(), 1))
    w = w0.copy()
    b_free = free is None or "bias" in free
    m = np.zeros(k + 1)
    v = np.zeros(k + 1)
    for t in range(1, steps + 1):
        z = x @ w + b
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))
        g = sw * (p - y)
        grad = np.concatenate([x.T @ g + 2 * l2 * (w - w0), [g.sum()]])
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad**2
        step = lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-9)
        w = np.where(movable, np.maximum(w - step[:k], 0.0), w0)
        b -= step[k] if b_free else 0.0
    return w, b


def weights_source(w, b, seeds, scale, formats, n, n_pos, l2, date: str, free=None, others_from=None) -> str:
    """The text of fastscan/score/weights.py, as `ruff format` leaves it (the file is linted)."""
    fit: dict[str, Any] = {
        "seeds": list(seeds),
        "scale": scale,
        "formats": list(formats),
        "accounts": n,
        "extractors": n_pos,
        "l2": l2,
        "min_requests": MIN_REQUESTS,
        "date": date,
    }
    if free is not None:  # the other weights are an earlier fit's: keep its record beside
        fit["free"] = sorted(free)
        fit["others_from"] = others_from
    lines = [
        '"""Weights of the extraction score (fastscan.score), written by bench/fit_score.py; do not edit by hand."""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import Any",
        "",
        f"BIAS = {b:.4f}",
        "WEIGHTS: dict[str, float] = {",
    ]
    lines += [f'    "{term_name(t)}": {wi:.4f},' for t, wi in zip(TERMS, w)]
    lines += ["}", "FIT: dict[str, Any] = {"]
    for k, v in fit.items():
        if isinstance(v, dict):  # one entry a line, as ruff format splits a long dict
            lines += [f'    "{k}": {{'] + [f'        "{k2}": {json.dumps(v2)},' for k2, v2 in v.items()] + ["    },"]
        else:
            lines.append(f'    "{k}": {json.dumps(v)},')
    lines += ["}", ""]
    return "\n".join(lines)


def write_weights(w, b, seeds, scale, formats, n, n_pos, l2, free=None):
    from fastscan.score.weights import FIT

    # the record of the fit the held weights come from (a fit that itself held some names it)
    held = FIT.get("others_from", FIT)
    others = {k: v for k, v in held.items() if k not in ("free", "others_from")} if free is not None else None
    text = weights_source(w, b, seeds, scale, formats, n, n_pos, l2, dt.date.today().isoformat(), free, others)
    WEIGHTS_FILE.write_text(text, encoding="utf-8")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--scale", type=float, default=0.5)
    ap.add_argument("--formats", nargs="+", default=["flat", "openai"], choices=["flat", "openai"])
    ap.add_argument("--l2", type=float, default=0.003)
    ap.add_argument("--work", type=Path, default=DEFAULT_WORK, help="where logs are built (outside the repo)")
    ap.add_argument("--rescan", action="store_true", help="scan again even if a cached report exists")
    ap.add_argument(
        "--free",
        nargs="+",
        metavar="TERM",
        help='fit only these weights ("bias" for the bias); keep the others as weights.py has them',
    )
    ap.add_argument("--dry-run", action="store_true", help="print the weights, do not write them")
    args = ap.parse_args(argv)
    if not shared_available():
        print("fit_score: ../shared (make_log.py, score_report.py) is absent; nothing to fit", file=sys.stderr)
        return 0
    x, y = dataset(args.seeds, args.scale, args.formats, args.work, args.rescan)
    names = {term_name(t) for t in TERMS} | {"bias"}
    if args.free and not set(args.free) <= names:
        ap.error(f"--free: no such term {sorted(set(args.free) - names)}; terms: {sorted(names)}")
    w, b = fit(x, y, l2=args.l2, free=args.free)
    p = 1.0 / (1.0 + np.exp(-(x @ w + b)))
    print(f"bias {b:+.3f}")
    for t, wi in sorted(zip(TERMS, w), key=lambda z: -z[1]):
        print(f"  {term_name(t):32s} {wi:7.3f}")
    print(
        f"training: {int(y.sum())} extractors, {int((1 - y).sum())} benign; "
        f"flagged@0.5 precision {((p >= 0.5) & (y > 0)).sum() / max((p >= 0.5).sum(), 1):.3f} "
        f"recall {((p >= 0.5) & (y > 0)).sum() / max(y.sum(), 1):.3f}"
    )
    if not args.dry_run:
        write_weights(w, b, args.seeds, args.scale, args.formats, len(y), int(y.sum()), args.l2, args.free)
        print(f"wrote {WEIGHTS_FILE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
