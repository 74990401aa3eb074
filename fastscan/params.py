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
- system prompt: none, or one of 4,095 buckets of a hash of its text; 4,096 buckets;
- who sends, where the log says (docs/campaigns.md: entities), 4,096 buckets each: the owner (the
  level above the scored entity: the org of an account, the account of an API key, end user or
  IP address), the network (the /24 or /48 of the IP address) and the client (the user agent).
The models an account uses are part of its fingerprint too (fastscan.score.campaigns).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fastscan.buffers import bool_values, float_values, int_values, validity
from fastscan.config import ENTITY_COLUMNS

__all__ = [
    "IDENTITY_KINDS",
    "KINDS",
    "KEY_SHIFT",
    "LABEL_CHARS",
    "MODEL_KIND",
    "PARAM_BUCKETS",
    "describe",
    "entity_ids",
    "merge_labels",
    "note_label",
    "param_keys",
]

KINDS = ("max_tokens", "temperature", "n", "probing", "system_prompt", "model", "owner", "network", "client")
IDENTITY_KINDS = (6, 7, 8)  # who sends, not how: an owner above the entity, a network, a client
_BUCKETS = (128, 43, 64, 4, 4096, 0, 4096, 4096, 4096)  # models are keyed by fastscan.score.campaigns
PARAM_BUCKETS = sum(_BUCKETS)
KEY_SHIFT = 24  # a key is kind << KEY_SHIFT | bucket
MODEL_KIND = KINDS.index("model")  # keyed by fastscan.score.campaigns from the model counts
_SYSTEM_BUCKETS = 4095


def _key(kind: int, bucket: np.ndarray) -> np.ndarray:
    return (np.int64(kind) << KEY_SHIFT) | bucket.astype(np.int64)


LABEL_CHARS = 120  # the longest text kept to name an owner, network or client


def _text_buckets(col: pa.ChunkedArray | pa.Array, prepare=None, labels: dict | None = None, kind: int = 0):
    """0 for no text, else 1 + a hash of the text (after `prepare`) mod 4,095; each distinct text
    hashed once. With `labels`, each bucket's text is noted there too (see `note_label`)."""
    if col.null_count == len(col):  # no text at all (a log that does not say): every bucket 0
        return np.zeros(len(col), dtype=np.int64)
    # nulls stay null (an index past the dictionary, bucket 0): filling them with "" first
    # copied every string of the column
    enc = pc.dictionary_encode(col)
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks()

    def bucket(text: str) -> int:
        if prepare is not None:
            text = prepare(text)
        if not text:
            return 0
        digest = hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=8).digest()
        b = 1 + int.from_bytes(digest, "little") % _SYSTEM_BUCKETS
        if labels is not None:
            note_label(labels, (kind << KEY_SHIFT) | b, text[:LABEL_CHARS])
        return b

    words = [bucket(s) for s in enc.dictionary.to_pylist()] + [0]
    return np.asarray(words, dtype=np.int64)[np.asarray(enc.indices.fill_null(len(words) - 1), dtype=np.int64)]


def note_label(labels: dict, key: int, text: str) -> None:
    """labels[key] = (the smallest text seen for key, whether another text shares its bucket):
    a minimum, so any split of the input gives the same labels."""
    have = labels.get(key)
    if have is None:
        labels[key] = (text, False)
    elif have[0] != text:
        labels[key] = (min(have[0], text), True)


def merge_labels(into: dict, labels: dict) -> None:
    """Add the labels of another part of a scan to `into`, as if its texts had been noted there."""
    for key, (text, shared) in labels.items():
        note_label(into, key, text)
        if shared:
            into[key] = (into[key][0], True)


def network_prefix(ip: str) -> str:
    """The network an address is in: its /24 for IPv4 ("203.0.113"), its /48 for IPv6
    ("2001:db8:85a3"); any other text as it is (a gateway may log a host or a prefix)."""
    ip = ip.strip()
    if ip.count(".") == 3 and ":" not in ip:
        return ip.rsplit(".", 1)[0]
    if ":" in ip:
        head = ip.split("::", 1)[0].split(":")
        return ":".join(head[:3]).lower()
    return ip


# the level above each scored entity that its records name (the owner evidence)
_OWNER = {"account": "org_id", "api_key": "account_id", "end_user": "account_id", "ip": "account_id"}


def entity_ids(batch: pa.RecordBatch, entity: str) -> pa.Array:
    """The id of the entity each record is scored under: the account, or the `entity` column
    (fastscan.config.ENTITY_COLUMNS) where the record names one - else "account:" and its
    account id, so that no record is lost for lacking it."""
    account = batch.column("account_id")
    if entity == "account":
        return account
    col = batch.column(ENTITY_COLUMNS[entity])
    named = pc.and_(pc.is_valid(col), pc.greater(pc.fill_null(pc.binary_length(col), 0), 0))
    fallback = pc.binary_join_element_wise(pa.scalar("account:"), account, "")
    return pc.if_else(named, col, fallback)


def param_keys(batch: pa.RecordBatch, entity: str = "account", labels: dict | None = None) -> list[np.ndarray]:
    """One int64 key per request for each kind of KINDS but the model, from a canonical batch
    scored by `entity`; with `labels`, the text of each owner, network and client key is noted
    there (never a system prompt's: that is prompt text)."""
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
    keys = [
        _key(0, mt_bucket),
        _key(1, t_bucket),
        _key(2, n_bucket),
        _key(3, probe),
        _key(4, _text_buckets(batch.column("system_prompt"))),
    ]
    owner = _OWNER.get(entity)
    n_rows = batch.num_rows
    owned = _text_buckets(batch.column(owner), labels=labels, kind=6) if owner else np.zeros(n_rows, np.int64)
    keys.append(_key(6, owned))
    keys.append(_key(7, _text_buckets(batch.column("ip"), network_prefix, labels, 7)))
    keys.append(_key(8, _text_buckets(batch.column("user_agent"), labels=labels, kind=8)))
    return keys


def describe(key: int, labels: dict | None = None) -> str:
    """A key in words, e.g. "max_tokens ~2,048", "temperature 0.3", "system prompt #1234",
    "network 198.51.100" (from `labels`, where one text alone fell in the bucket)."""
    kind, bucket = key >> KEY_SHIFT, key & ((1 << KEY_SHIFT) - 1)
    if labels is not None and kind in IDENTITY_KINDS and key in labels and not labels[key][1]:
        what = {6: "owner", 7: "network", 8: "user agent"}[kind]
        return f"{what} {labels[key][0]}"
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
    if kind in IDENTITY_KINDS:
        what = {6: "owner", 7: "network", 8: "user agent"}[kind]
        return f"no {what}" if bucket == 0 else f"{what} #{bucket}"
    return f"parameter {key}"
