"""What a canonical batch says on its own, worked out before it is folded into a state.

Folding a batch (`AccountState.update`) is two stages. `prepare` reads the batch alone: each
prompt's hash, words and reasoning phrases (one pass over the text, `kernels.prompts.prompt_pass`),
the per-record feature values, the keys of the request parameters that are values or system
prompts (each system prompt hashed once a preparing thread, `_system_keys`), and hours.
`AccountState.fold` then adds a `Prepared` batch to what the state holds: numbering the accounts
and models (fastscan.names), keying the identity texts (owner, network, client: params.TextKeys,
each text hashed once a state, its label noted), the sums and sparse tables, the prompt sample.
`prepare` depends on the scan's configuration and nothing else, so it can run on another thread
while the state folds the batch before (the scan loop's reading thread does, when the fold is the
slower stage: see fastscan.run.loop); the state is the same whichever thread prepared its batches.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from fastscan.buffers import (
    Scratch,
    bool_values,
    equals_bytes,
    float_values,
    int_values,
    string_buffers,
    string_lengths,
    validity,
)
from fastscan.config import ScanConfig
from fastscan.parallel import map_ordered, row_ranges
from fastscan.params import SYSTEM_KIND, TextKeys, entity_ids, value_keys
from fastscan.sketches import hour_key

__all__ = ["FEATURES", "F", "LONG_OUTPUT_TOKENS", "Prepared", "prepare"]

FEATURES = (
    "requests",
    "prompt_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "tokens_estimated",  # requests whose token counts fastscan had to estimate
    "hit_max_tokens",  # finish_reason == length, or completion reached max_tokens * n
    "long_output",  # completion tokens per sample >= LONG_OUTPUT_TOKENS
    "logprobs",  # requests asking for logprobs / top_logprobs
    "multi_sample",  # n > 1
    "samples",  # sum of n
    "logit_bias",
    "conversation",  # requests that continue a conversation (earlier messages re-sent)
    "system_prompt",
    "temperature_zero",
    "reasoning_prompt",  # prompts that ask for step-by-step reasoning (kernels.reasoning)
    "timed",  # requests with a usable timestamp
    "empty_prompt",  # null or wordless prompt text
    "prompted",  # requests with prompt text (null prompts are not)
    "max_tokens_sum",
)
F = {name: i for i, name in enumerate(FEATURES)}
LONG_OUTPUT_TOKENS = 1000


@dataclass
class Prepared:
    """A canonical batch and what `prepare` found in it, row for row."""

    batch: pa.RecordBatch
    ids: pa.Array  # each row's entity id (string; the state numbers them: fastscan.names)
    models: pa.Array  # each row's model name (null for none)
    p_off: np.ndarray  # the prompt column's buffers (fastscan.buffers.string_buffers)
    p_data: np.ndarray
    p_valid: np.ndarray
    phash: np.ndarray  # uint64: each prompt's exact hash (kernels.prompts.prompt_pass)
    n_words: np.ndarray  # int32
    head: np.ndarray  # uint64 skeleton hashes
    tail: np.ndarray
    word_start: np.ndarray  # int64: where each prompt's word hashes start in `words`
    words: np.ndarray  # uint64 word hashes, for the MinHash of prompts that enter the sample
    values: np.ndarray  # int64[n, len(FEATURES)]: each record's feature values
    param_keys: list  # int64 per row for each value kind (params.value_keys) and the system prompt's
    ts_ms: np.ndarray  # int64 per row (fastscan.buffers.int_values)
    ts_valid: np.ndarray  # bool per row: a usable timestamp
    hours: np.ndarray  # hour_key of the rows with one

    @property
    def num_rows(self) -> int:
        return self.batch.num_rows


_local = threading.local()  # each preparing thread's word buffer, used again for every batch


def prepare(batch: pa.RecordBatch, config: ScanConfig, scratch: Scratch | None = None) -> Prepared:
    """What `batch` says on its own (see the module doc). The word hashes are written to a buffer
    used again for every batch: `scratch`'s, and then the result holds views of it, valid until
    its next use (a state that folds the batch before it prepares another); without `scratch`,
    this thread's, and the result holds a copy of the words written, so that it stays valid while
    this thread prepares other batches (the scan loop's reading thread)."""
    from fastscan.kernels import prompts, reasoning

    n = batch.num_rows
    prompt = batch.column("prompt")
    p_off, p_data, p_valid = string_buffers(prompt)
    phash = np.empty(n, dtype=np.uint64)
    n_words = np.empty(n, dtype=np.int32)
    head = np.empty(n, dtype=np.uint64)
    tail = np.empty(n, dtype=np.uint64)
    asks = np.empty(n, dtype=np.bool_)
    # every prompt's word hashes, for the MinHash of those that enter the sample: a word is at
    # least a byte, so rows lo.. have room from (their first byte + lo): parts never overlap
    room = int(p_off[n] - p_off[0]) + n + 1
    own = scratch is None
    if scratch is None:
        scratch = _local.scratch = getattr(_local, "scratch", None) or Scratch()
    words = scratch.flat("words", room, np.uint64)
    word_start = np.empty(n, dtype=np.int64)
    pat_off, pat_data = reasoning.reasoning_table()
    ranges = row_ranges(n)

    def text_pass(part: tuple[int, int]) -> None:
        lo, hi = part
        with _memos.lend(config.skeleton_words) as memo:
            prompts.prompt_pass(
                p_off[lo : hi + 1],
                p_data,
                p_valid[lo:hi],
                config.skeleton_words,
                pat_off,
                pat_data,
                phash[lo:hi],
                n_words[lo:hi],
                head[lo:hi],
                tail[lo:hi],
                asks[lo:hi],
                int(p_off[lo] - p_off[0]) + lo,
                word_start[lo:hi],
                words,
                memo,
            )

    map_ordered(text_pass, ranges)
    if own:
        words, word_start = _packed(words, word_start, n_words, ranges)
    ts = batch.column("ts_ms")
    ts_ms, ts_valid = int_values(ts), validity(ts)
    return Prepared(
        batch=batch,
        ids=entity_ids(batch, config.entity),
        models=batch.column("model"),
        p_off=p_off,
        p_data=p_data,
        p_valid=p_valid,
        phash=phash,
        n_words=n_words,
        head=head,
        tail=tail,
        word_start=word_start,
        words=words,
        values=record_features(batch, n_words, p_off, p_data, p_valid, asks),
        param_keys=value_keys(batch) + _system_keys().keys(batch, config.entity, {}, (SYSTEM_KIND,)),
        ts_ms=ts_ms,
        ts_valid=ts_valid,
        hours=hour_key(ts_ms[ts_valid]),
    )


def _system_keys() -> TextKeys:
    """This thread's TextKeys of system prompts: a key depends on the text alone, so one serves
    every state this thread prepares batches for (no label is noted for a system prompt). Keyed
    here, the system prompts' hashing is done by the scan loop's reading thread, not by the
    thread that folds (on the bench log 0.05 s of that thread's 0.8 s, where it is the slower)."""
    keys = getattr(_local, "system_keys", None)
    if keys is None:
        keys = _local.system_keys = TextKeys()
    return keys


class _Memos:
    """The memos of prompt facts (kernels.prompts.prompt_pass), each lent to one call at a time
    (two calls writing one memo could leave an entry half written). At most `most` are made, so
    their memory does not grow with the threads: a call that finds none free runs without one
    (the results are the same). The one returned last is lent first: an unsplit scan keeps using
    one memo, which then holds the texts of the batches before."""

    def __init__(self, most: int) -> None:
        self.most = most
        self._free: list[tuple[np.ndarray, int]] = []
        self._made = 0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def lend(self, skeleton_words: int) -> Iterator[np.ndarray]:
        """A memo for `skeleton_words` (emptied if it served another: the skeleton hashes depend
        on it), or one of no entries."""
        from fastscan.kernels.prompts import MEMO_ROWS

        memo, words = None, skeleton_words
        with self._lock:
            if self._free:
                memo, words = self._free.pop()
            elif self._made < self.most:
                self._made += 1
                memo = np.zeros((MEMO_ROWS, 4), dtype=np.uint64)
        if memo is None:
            yield np.zeros((0, 4), dtype=np.uint64)
            return
        if words != skeleton_words:
            memo.fill(0)
        try:
            yield memo
        finally:
            with self._lock:
                self._free.append((memo, skeleton_words))


_memos = _Memos(most=3)


def _packed(words, word_start, n_words, ranges) -> tuple[np.ndarray, np.ndarray]:
    """The word hashes that `prompt_pass` wrote, each part's run after the one before (a part
    starts where its room starts; the room is a byte's slot per byte of its text), in an array of
    their own, and where each prompt's now start (-1 stays: a text whose words were not kept): a
    word buffer kept while other batches are prepared holds the words, not the room."""
    runs = []
    for lo, hi in ranges:
        kept = np.flatnonzero(word_start[lo:hi] >= 0)
        if len(kept):
            at, last = int(word_start[lo + kept[0]]), lo + int(kept[-1])
            runs.append((lo, hi, at, int(word_start[last]) + max(int(n_words[last]), 0) - at))
    out = np.empty(sum(r[3] for r in runs), dtype=np.uint64)
    start = word_start.copy()
    to = 0
    for lo, hi, at, used in runs:
        out[to : to + used] = words[at : at + used]
        part = start[lo:hi]
        part[part >= 0] += to - at
        to += used
    return out, start


def record_features(
    batch: pa.RecordBatch,
    n_words: np.ndarray,
    p_off: np.ndarray,
    p_data: np.ndarray,
    p_valid: np.ndarray,
    asks: np.ndarray,
) -> np.ndarray:
    """int64[n, len(FEATURES)]: each record's value of each feature (summed per account)."""
    from fastscan.kernels import text

    n = batch.num_rows
    vals = np.zeros((n, len(FEATURES)), dtype=np.int64)
    vals[:, F["requests"]] = 1
    pt = batch.column("prompt_tokens")
    ct = batch.column("completion_tokens")
    pt_valid, ct_valid = validity(pt), validity(ct)
    pt_v, ct_v = int_values(pt), int_values(ct)
    estimated = ~pt_valid | ~ct_valid
    if (~pt_valid).any():
        # estimate only the rows that lack a count (count_tokens gives 0 for the others)
        est = np.empty(n, dtype=np.int64)
        text.count_tokens(p_off, p_data, p_valid & ~pt_valid, est)
        s_off, s_data, s_valid = string_buffers(batch.column("system_prompt"))
        est_sys = np.empty(n, dtype=np.int64)
        text.count_tokens(s_off, s_data, s_valid & ~pt_valid, est_sys)
        pt_v = np.where(pt_valid, pt_v, est + est_sys)
    samples = np.maximum(int_values(batch.column("n"), 1), 1)
    if (~ct_valid).any():
        c_off, c_data, c_valid = string_buffers(batch.column("completion"))
        est = np.empty(n, dtype=np.int64)
        text.count_tokens(c_off, c_data, c_valid & ~ct_valid, est)
        ct_v = np.where(ct_valid, ct_v, est * samples)
    max_tokens = batch.column("max_tokens")
    mt_valid, mt = validity(max_tokens), int_values(max_tokens)
    finish = batch.column("finish_reason")
    by_finish = equals_bytes(finish, b"length")
    hit = by_finish | (mt_valid & (mt > 0) & (ct_v >= mt * samples))
    temp = float_values(batch.column("temperature"))
    vals[:, F["prompt_tokens"]] = pt_v
    vals[:, F["completion_tokens"]] = ct_v
    vals[:, F["reasoning_tokens"]] = int_values(batch.column("reasoning_tokens"))
    vals[:, F["tokens_estimated"]] = estimated
    vals[:, F["hit_max_tokens"]] = hit
    vals[:, F["long_output"]] = ct_v // samples >= LONG_OUTPUT_TOKENS
    vals[:, F["logprobs"]] = bool_values(batch.column("logprobs"))
    vals[:, F["multi_sample"]] = samples > 1
    vals[:, F["samples"]] = samples
    vals[:, F["logit_bias"]] = bool_values(batch.column("logit_bias"))
    vals[:, F["conversation"]] = int_values(batch.column("n_prior_messages")) > 0
    vals[:, F["system_prompt"]] = string_lengths(batch.column("system_prompt")) > 0
    vals[:, F["temperature_zero"]] = temp == 0.0
    vals[:, F["reasoning_prompt"]] = asks
    vals[:, F["timed"]] = validity(batch.column("ts_ms"))
    vals[:, F["empty_prompt"]] = n_words <= 0
    vals[:, F["prompted"]] = p_valid
    vals[:, F["max_tokens_sum"]] = mt
    return vals
