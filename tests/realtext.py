"""Real prompts from ../shared/data/raw grouped into synthetic accounts, and the brute-force truth
for near-duplicates: exact Jaccard similarity of the same word shingles the scanner uses.

Used by tests/test_neardup.py (a small slice) and bench/bench_neardup.py (the full check).
Nothing here is copied into the repository; callers skip when ../shared is absent.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
from shared import RAW

__all__ = ["RAW", "available", "load_accounts", "shingle_sets", "max_jaccard", "flag_metrics"]


def available() -> bool:
    return (RAW / "self_instruct_t0_templated").is_dir()


def _jsonl(path: Path):
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh.read().split("\n"):
            if line.strip():
                with contextlib.suppress(json.JSONDecodeError):
                    yield json.loads(line)


def _t0_templates():
    d = RAW / "self_instruct_t0_templated" / "data_per_template"
    out = []
    for f in sorted(d.glob("*.jsonl.gz")):
        rows = [r["prompt"].strip() for r in _jsonl(f) if isinstance(r.get("prompt"), str) and r["prompt"].strip()]
        if len(rows) >= 20:
            out.append(rows)
    return out


def _sharegpt_turns(limit: int):
    p = RAW / "sharegpt_v3_pypi" / "ShareGPT_V3_unfiltered_cleaned_split.complete_records.jsonl.gz"
    out = []
    with gzip.open(p, "rt", encoding="utf-8") as fh:
        for line in fh:  # ShareGPT strings hold U+2028, so iterate bytes-level lines only
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            for t in rec.get("conversations", []):
                if t.get("from") == "human" and isinstance(t.get("value"), str) and t["value"].strip():
                    out.append(t["value"].strip())
            if len(out) >= limit:
                break
    return out[:limit]


def _alpaca():
    with gzip.open(RAW / "stanford_alpaca" / "alpaca_5000.json.gz", "rt", encoding="utf-8") as fh:
        rows = json.load(fh)
    return [
        (r["instruction"].strip() + ("\n\n" + r["input"].strip() if r.get("input", "").strip() else ""))
        for r in rows
        if r.get("instruction", "").strip()
    ]


def load_accounts(
    t0_accounts: int = 40, sharegpt_accounts: int = 20, alpaca_accounts: int = 10, per_account: int = 300, seed: int = 0
) -> list[tuple[str, list[str]]]:
    """[(account name, prompts)]: T0 accounts mix 1-3 templates' fills (the templated case),
    ShareGPT accounts are runs of consecutive human turns (real users, real re-asks), Alpaca
    accounts are runs of generated instructions (few near-duplicates: precision)."""
    rng = random.Random(seed)
    accounts = []
    templates = _t0_templates()
    rng.shuffle(templates)
    ti = 0
    for a in range(t0_accounts):
        k = rng.randint(1, 3)
        rows = [p for t in templates[ti : ti + k] for p in t]
        ti += k
        if ti >= len(templates):
            ti = 0
        rng.shuffle(rows)
        accounts.append((f"t0_{a:03d}", rows[:per_account]))
    if sharegpt_accounts:
        turns = _sharegpt_turns(sharegpt_accounts * per_account)
        for a in range(sharegpt_accounts):
            accounts.append((f"sharegpt_{a:03d}", turns[a * per_account : (a + 1) * per_account]))
    if alpaca_accounts:
        rows = _alpaca()
        for a in range(alpaca_accounts):
            accounts.append((f"alpaca_{a:03d}", rows[a * per_account : (a + 1) * per_account]))
    return [(name, rows) for name, rows in accounts if rows]


def shingle_sets(prompts: list[str], k: int) -> list[np.ndarray]:
    """Sorted distinct word k-shingle hashes of each prompt (kernels.text.hash_shingles)."""
    import shingles

    from fastscan.buffers import string_buffers

    arr = pa.array(prompts, pa.string())
    off, data, valid = string_buffers(arr)
    counts = np.empty(len(prompts), dtype=np.int64)
    shingles.count_shingles(off, data, valid, k, counts)
    out_off = np.zeros(len(prompts) + 1, dtype=np.int64)
    np.cumsum(counts, out=out_off[1:])
    flat = np.empty(out_off[-1], dtype=np.uint64)
    shingles.hash_shingles(off, data, valid, k, out_off, flat)
    return [np.unique(flat[out_off[i] : out_off[i + 1]]) for i in range(len(prompts))]


def max_jaccard(sets: list[np.ndarray]) -> np.ndarray:
    """For each set, the largest exact Jaccard similarity with any *other* set of the list
    (0 for an empty set; two identical non-empty sets have 1). Brute force over all pairs."""
    n = len(sets)
    best = np.zeros(n)
    sizes = np.array([len(s) for s in sets])
    for i in range(n):
        if sizes[i] == 0:
            continue
        si = sets[i]
        for j in range(i + 1, n):
            if sizes[j] == 0:
                continue
            # |A n B| / |A u B| <= min/max: skip pairs that cannot beat both current bests
            bound = min(sizes[i], sizes[j]) / max(sizes[i], sizes[j])
            if bound <= best[i] and bound <= best[j]:
                continue
            inter = np.intersect1d(si, sets[j], assume_unique=True).size
            jac = inter / (sizes[i] + sizes[j] - inter)
            if jac > best[i]:
                best[i] = jac
            if jac > best[j]:
                best[j] = jac
    return best


def flag_metrics(truth: np.ndarray, got: np.ndarray) -> tuple[float, float]:
    """(precision, recall) of boolean flags `got` against `truth`; 1.0 when undefined."""
    tp = int(np.sum(truth & got))
    fp = int(np.sum(~truth & got))
    fn = int(np.sum(truth & ~got))
    return (tp / (tp + fp) if tp + fp else 1.0), (tp / (tp + fn) if tp + fn else 1.0)
