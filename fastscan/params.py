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
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fastscan.buffers import as_array, bool_values, float_values, grown, int_values, string_buffers, validity
from fastscan.config import ENTITY_COLUMNS
from fastscan.names import NameTable

__all__ = [
    "IDENTITY_KINDS",
    "KINDS",
    "KEY_SHIFT",
    "LABEL_CHARS",
    "MODEL_KIND",
    "PARAM_BUCKETS",
    "SYSTEM_KIND",
    "TEXT_KINDS",
    "TextKeys",
    "describe",
    "entity_ids",
    "merge_labels",
    "note_label",
    "param_keys",
    "text_columns",
    "value_keys",
]

KINDS = ("max_tokens", "temperature", "n", "probing", "system_prompt", "model", "owner", "network", "client")
IDENTITY_KINDS = (6, 7, 8)  # who sends, not how: an owner above the entity, a network, a client
SYSTEM_KIND = 4
TEXT_KINDS = (SYSTEM_KIND, *IDENTITY_KINDS)  # the kinds whose keys come from texts (TextKeys)
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

    words = [_bucket(prepare(t) if prepare else t, labels, kind) for t in enc.dictionary.to_pylist()] + [0]
    return np.asarray(words, dtype=np.int64)[np.asarray(enc.indices.fill_null(len(words) - 1), dtype=np.int64)]


def _bucket(text: str, labels: dict | None, kind: int) -> int:
    """0 for no text, else 1 + a hash of the text mod 4,095, its label noted in `labels`."""
    if not text:
        return 0
    digest = hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=8).digest()
    b = 1 + int.from_bytes(digest, "little") % _SYSTEM_BUCKETS
    if labels is not None:
        note_label(labels, (kind << KEY_SHIFT) | b, text[:LABEL_CHARS])
    return b


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
    there (never a system prompt's: that is prompt text). A state computes the same keys with
    `value_keys` and a `TextKeys` of its own."""
    keys = value_keys(batch)
    for kind, col, prepare in text_columns(batch, entity):
        if col is None:
            keys.append(_key(kind, np.zeros(batch.num_rows, np.int64)))
        else:
            note = labels if kind in IDENTITY_KINDS else None
            keys.append(_key(kind, _text_buckets(col, prepare, note, kind)))
    return keys


def value_keys(batch: pa.RecordBatch) -> list[np.ndarray]:
    """The keys of the kinds that are values (max_tokens, temperature, n, probing)."""
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
    return [_key(0, mt_bucket), _key(1, t_bucket), _key(2, n_bucket), _key(3, probe)]


def text_columns(batch: pa.RecordBatch, entity: str) -> list[tuple[int, pa.Array | None, Any]]:
    """(kind, column or None, how its text is prepared) of the kinds that are texts: the system
    prompt, the owner (None where the entity has none above it), the network, the client."""
    owner = _OWNER.get(entity)
    return [
        (4, batch.column("system_prompt"), None),
        (6, batch.column(owner) if owner else None, None),
        (7, batch.column("ip"), network_prefix),
        (8, batch.column("user_agent"), None),
    ]


class TextKeys:
    """The keys of the text kinds (`text_columns`) of every batch a state folds, each distinct
    text's bucket hashed (and its label noted) once while the state runs, not once a batch.

    `_text_buckets` hashes each distinct text of a batch in Python: a log that names IP addresses
    or user agents has thousands a batch, which took 2.3 s a million records (a quarter-size bench
    log with an address, a client and an org per request: 0.57 of its scan's 1.50 s). Here each
    kind numbers its texts in a NameTable (a kernel; the network's prefixes cut from the addresses
    in one too, `kernels.text.network_prefixes`) and keeps each one's bucket; a text is hashed and
    its label noted when first met. A kind's table that holds more than MAX_TEXTS texts or
    MAX_BYTES bytes starts again empty before the next batch (noting a label again changes
    nothing): with a batch's texts on top, a few tens of MB for the four kinds at most."""

    MAX_TEXTS = 1 << 16
    MAX_BYTES = 8 << 20

    def __init__(self) -> None:
        self._kinds: dict[int, _Texts] = {}

    def keys(
        self, batch: pa.RecordBatch, entity: str, labels: dict, kinds: tuple[int, ...] = TEXT_KINDS
    ) -> list[np.ndarray]:
        """The keys of `batch` of the text kinds among `kinds`, as `param_keys` gives them; labels
        noted in `labels`. A key depends on its text alone, so a TextKeys may serve several
        states, but for the labels: a text is noted when its TextKeys first meets it."""
        out = []
        for kind, col, prepare in text_columns(batch, entity):
            if kind not in kinds:
                continue
            if col is None or col.null_count == len(col):
                out.append(_key(kind, np.zeros(batch.num_rows, np.int64)))
                continue
            texts = self._kinds.get(kind)
            if texts is None or len(texts.table) > self.MAX_TEXTS or texts.table.nbytes > self.MAX_BYTES:
                texts = self._kinds[kind] = _Texts(kind)
            note = labels if kind in IDENTITY_KINDS else None
            out.append(_key(kind, texts.network_buckets(col, note) if prepare else texts.buckets(col, note)))
        return out


class _Texts:
    """One text kind's texts met so far: numbered (NameTable, no Python strings kept) and each
    one's bucket."""

    def __init__(self, kind: int):
        self.kind = kind
        self.table = NameTable(keep_names=False)
        self._bucket = np.zeros(1 << 10, dtype=np.int64)

    def _taken(self, numbers: np.ndarray, labels: dict | None) -> np.ndarray:
        """Bucket the texts the table just met first (noting their labels), then each number's."""
        first = len(self.table) - len(self.table.new)
        self._bucket = grown(self._bucket, len(self.table))
        for k, text in enumerate(self.table.new, first):
            self._bucket[k] = _bucket(text, labels, self.kind)
        return self._bucket[numbers]

    def buckets(self, col, labels: dict | None) -> np.ndarray:
        return self._taken(self.table.number(col), labels)

    def network_buckets(self, col, labels: dict | None) -> np.ndarray:
        """buckets of each address's network_prefix."""
        from fastscan.kernels.text import network_prefixes

        off, data, valid = string_buffers(col)
        out_off = np.empty(len(off), dtype=np.int64)
        out_data = np.empty(max(int(off[-1] - off[0]), 1), dtype=np.uint8)
        other = np.empty(len(valid), dtype=np.bool_)
        network_prefixes(off, data, valid, out_off, out_data, other)
        out = self._taken(self.table.number_buffers(out_off, out_data), labels)
        if other.any():  # text beyond ASCII: Python's own rules
            rows = np.flatnonzero(other)
            texts = as_array(col).take(pa.array(rows)).to_pylist()
            out[rows] = self._taken(self.table.number_list([network_prefix(t) for t in texts]), labels)
        return out


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
