"""Features to an extraction score in [0, 1], a flag, and reasons in words an analyst reads.

A first, transparent score: each piece of evidence is a value in [0, 1]; the score is a weighted
mean of the strongest ones; accounts with too few requests are never flagged on ratios alone.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["score_accounts", "FLAG_THRESHOLD", "MIN_REQUESTS"]

FLAG_THRESHOLD = 0.5
MIN_REQUESTS = 50


def _col(t: pa.Table, name: str) -> np.ndarray:
    return t.column(name).to_numpy(zero_copy_only=False).astype(np.float64)


def _fmt_int(v: float) -> str:
    return f"{int(round(v)):,}"


def score_accounts(features: pa.Table, threshold: float = FLAG_THRESHOLD,
                   min_requests: int = MIN_REQUESTS) -> pa.Table:
    """features + extraction_score, flagged, reasons."""
    req = _col(features, "requests")
    ct = _col(features, "completion_tokens")
    n = len(req)
    # volume relative to the scanned population: rank of completion tokens among accounts
    rank = np.argsort(np.argsort(ct, kind="stable"), kind="stable") / max(n - 1, 1)
    evidence = {
        "volume": (rank, 1.0),
        "repetition": (np.maximum(_col(features, "near_dup_rate"), _col(features, "template_rate")), 1.0),
        "reasoning": (_col(features, "reasoning_prompt_rate"), 1.0),
        "probing": (np.maximum(_col(features, "logprobs_rate"), _col(features, "multi_sample_rate")), 1.0),
        "clock": (np.clip(_col(features, "hours_per_active_day") / 18.0, 0, 1), 1.0),
        "max_tokens": (_col(features, "hit_max_tokens_rate"), 0.5),
    }
    names = list(evidence)
    vals = np.stack([evidence[k][0] for k in names], axis=1)
    weights = np.array([evidence[k][1] for k in names])
    top3 = np.sort(vals * weights, axis=1)[:, -3:]
    score = np.clip(top3.mean(axis=1), 0.0, 1.0)
    flagged = (score >= threshold) & (req >= min_requests)
    reasons = []
    nd = _col(features, "near_dup_rate")
    tr = _col(features, "template_rate")
    rr = _col(features, "reasoning_prompt_rate")
    lp = _col(features, "logprobs_rate")
    ms = _col(features, "multi_sample_rate")
    hpd = _col(features, "hours_per_active_day")
    hm = _col(features, "hit_max_tokens_rate")
    order = np.argsort(-(vals * weights), axis=1)
    for i in range(n):
        words = []
        for j in order[i][:3]:
            if vals[i, j] * weights[j] < 0.2:
                continue
            k = names[j]
            if k == "volume":
                words.append(f"{_fmt_int(ct[i])} completion tokens over {_fmt_int(req[i])} requests "
                             f"(top {max(1, round(100 * (1 - rank[i])))}% of accounts)")
            elif k == "repetition":
                words.append(f"{100 * nd[i]:.0f}% of prompts near-duplicate, {100 * tr[i]:.0f}% share a template")
            elif k == "reasoning":
                words.append(f"{100 * rr[i]:.0f}% of {_fmt_int(req[i])} requests ask for step-by-step reasoning")
            elif k == "probing":
                words.append(f"{100 * lp[i]:.0f}% ask for logprobs, {100 * ms[i]:.0f}% for several samples")
            elif k == "clock":
                words.append(f"active {hpd[i]:.1f} h a day")
            elif k == "max_tokens":
                words.append(f"{100 * hm[i]:.0f}% of completions hit max_tokens")
        reasons.append("; ".join(words))
    return features.append_column("extraction_score", pa.array(score)) \
        .append_column("flagged", pa.array(flagged)) \
        .append_column("reasons", pa.array(reasons, pa.string()))
