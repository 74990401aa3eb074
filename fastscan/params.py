"""A request's parameters as fingerprint keys: what a client sends besides the prompt.

A script that harvests through many accounts sends every request with the same few settings
(max_tokens, temperature, n, logprobs, system prompt), whatever it asks; people, integrations and
chat front ends each send their own. `param_keys` turns each request's settings into one key per
kind; the state counts requests per (account, key) (`AccountState.params`), and
fastscan.score.campaigns groups accounts whose settings are the same (their request fingerprint).

Keys are small 32-bit integers, KIND << 24 | bucket, with a bounded number of buckets per kind, so
an account holds at most PARAM_BUCKETS keys whatever it sends:
- max_tokens: quarter octaves, 1 + round(4 * log2(max_tokens)) (1,000 and 1,024 are one value),
  0 for none or 0; at most 128 buckets;
- temperature: steps of 0.05 up to 2, one bucket above, one for none; 43 buckets;
- n: 1 to 63, one bucket for 64 or more (a missing n is 1); 64 buckets;
- logprobs / top_logprobs and logit_bias: which of the two were asked; 4 buckets;
- system prompt: none, or one of 4,095 buckets of a hash of its text; 4,096 buckets.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fastscan.buffers import bool_values, float_values, int_values, validity

__all__ = ["KINDS", "PARAM_BUCKETS", "describe", "param_keys"]

KINDS = ("max_tokens", "temperature", "n", "probing", "system_prompt")
_BUCKETS = (128, 43, 64, 4, 4096)
PARAM_BUCKETS = sum(_BUCKETS)
_SHIFT = 24
_SYSTEM_BUCKETS = 4095


def _key(kind: int, bucket: np.ndarray) -> np.ndarray:
    return (np.int64(kind) << _SHIFT) | bucket.astype(np.int64)


def _system_buckets(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """0 for no system prompt, else 1 + a hash of its text mod 4,095 (each distinct text hashed once)."""
    enc = pc.dictionary_encode(pc.fill_null(col, ""))
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks()

    def bucket(text: str) -> int:
        digest = hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=8).digest()
        return 1 + int.from_bytes(digest, "little") % _SYSTEM_BUCKETS if text else 0

    words = [bucket(s) for s in enc.dictionary.to_pylist()]
    return np.asarray(words, dtype=np.int64)[np.asarray(enc.indices, dtype=np.int64)]


def param_keys(batch: pa.RecordBatch) -> list[np.ndarray]:
    """One int64 key per request for each kind of KINDS, from a canonical batch."""
    mt = int_values(batch.column("max_tokens"))
    mt_bucket = np.where(mt > 0, np.minimum(1 + np.round(4 * np.log2(np.maximum(mt, 1))), 127), 0)
    temp = float_values(batch.column("temperature"))
    t_bucket = np.where(np.isnan(temp), 42, np.where(temp > 2.0, 41, np.round(np.clip(temp, 0.0, 2.0) * 20)))
    n = int_values(batch.column("n"), 1)
    n_bucket = np.clip(n, 1, 64) - 1
    lp = bool_values(batch.column("logprobs")) | (
        validity(batch.column("top_logprobs")) & (int_values(batch.column("top_logprobs")) > 0)
    )
    probe = lp.astype(np.int64) + 2 * bool_values(batch.column("logit_bias")).astype(np.int64)
    return [
        _key(0, mt_bucket),
        _key(1, t_bucket),
        _key(2, n_bucket),
        _key(3, probe),
        _key(4, _system_buckets(batch.column("system_prompt"))),
    ]


def describe(key: int) -> str:
    """A key in words, e.g. "max_tokens ~2,048", "temperature 0.3", "system prompt #1234"."""
    kind, bucket = key >> _SHIFT, key & ((1 << _SHIFT) - 1)
    if kind == 0:
        if bucket == 0:
            return "no max_tokens"
        value = 2 ** ((bucket - 1) / 4)
        if (bucket - 1) % 4 == 0:  # a power of two, the commonest settings: say it exactly
            return f"max_tokens ~{round(value):,}"
        return f"max_tokens ~{float(f'{value:.2g}'):,.0f}"
    if kind == 1:
        return (
            "no temperature"
            if bucket == 42
            else ("temperature > 2" if bucket == 41 else f"temperature {bucket / 20:g}")
        )
    if kind == 2:
        return f"n={bucket + 1}" if bucket < 63 else "n>=64"
    if kind == 3:
        return ("no logprobs", "logprobs", "logit_bias", "logprobs and logit_bias")[bucket]
    if kind == 4:
        return "no system prompt" if bucket == 0 else f"system prompt #{bucket}"
    return f"parameter {key}"
