"""The fused prompt pass (kernels/prompts.py) gives what the separate kernels give, bit for bit:
hash_prompts, match_phrases on the reasoning phrases, and minhash_signatures (the low 16 bits of
each value: what a sample stores), whatever the rows, the slicing of the array and the cutting of
the batch into parts."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from arrowgen import sliced_string_arrays, string_arrays
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastscan.buffers import string_buffers
from fastscan.kernels import hashing, prompts, reasoning, unfused
from fastscan.sketches import SIG_DTYPE

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
GARBAGE = 0x5A5A5A5A5A5A5A5A


def separate(arr, skeleton_words, rows, k, num_perm):
    off, data, valid = string_buffers(arr)
    n = len(arr)
    h, w, hh, th = (np.empty(n, np.uint64), np.empty(n, np.int32), np.empty(n, np.uint64), np.empty(n, np.uint64))
    unfused.hash_prompts(off, data, valid, skeleton_words, h, w, hh, th)
    asks = np.empty(n, dtype=np.bool_)
    unfused.asks_for_reasoning(off, data, valid, asks)
    a, b = hashing.minhash_params(num_perm, 3)
    sig = np.empty((len(rows), num_perm), dtype=np.uint32)
    unfused.minhash_signatures(off, data, valid, np.asarray(rows, dtype=np.int64), k, a, b, sig)
    return [x.tolist() for x in (h, w, hh, th, asks, sig.astype(SIG_DTYPE))]


def fused(arr, skeleton_words, rows, k, num_perm, cuts=()):
    """prompt_pass over the parts between `cuts`, as AccountState.update runs it on its threads."""
    off, data, valid = string_buffers(arr)
    n = len(arr)
    h = np.full(n, GARBAGE, np.uint64)
    w = np.full(n, -7, np.int32)
    hh, th = np.full(n, GARBAGE, np.uint64), np.full(n, GARBAGE, np.uint64)
    asks = np.ones(n, dtype=np.bool_)
    words = np.full(int(off[n] - off[0]) + n + 1, GARBAGE, dtype=np.uint64)
    word_start = np.full(n, -1, dtype=np.int64)
    pat_off, pat_data = reasoning.reasoning_table()
    bounds = [0, *sorted(cuts), n]
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        prompts.prompt_pass(
            off[lo : hi + 1],
            data,
            valid[lo:hi],
            skeleton_words,
            pat_off,
            pat_data,
            h[lo:hi],
            w[lo:hi],
            hh[lo:hi],
            th[lo:hi],
            asks[lo:hi],
            int(off[lo] - off[0]) + lo,
            word_start[lo:hi],
            words,
        )
    a, b = hashing.minhash_params(num_perm, 3)
    # into the rows of a larger array the signatures are told to go to, in reverse (a sample's store)
    store = np.zeros((2 * len(rows) + 1, num_perm), dtype=SIG_DTYPE)
    at = np.arange(2 * len(rows), -1, -2, dtype=np.int64)[: len(rows)]
    prompts.minhash_from_words(word_start, w, words, np.asarray(rows, dtype=np.int64), k, a, b, store, at)
    assert not store[np.setdiff1d(np.arange(len(store)), at)].any()  # and nowhere else
    return [x.tolist() for x in (h, w, hh, th, asks, store[at])]


@PROPERTY
@given(st.data(), string_arrays() | sliced_string_arrays(), st.integers(1, 6), st.integers(1, 5) | st.just(16))
def test_prompt_pass_equals_the_separate_kernels(data, arr, skeleton_words, k):
    n = len(arr)
    rows = data.draw(st.lists(st.integers(0, n - 1), max_size=12)) if n else []
    cuts = data.draw(st.lists(st.integers(0, n), max_size=3))
    assert fused(arr, skeleton_words, rows, k, 40, cuts) == separate(arr, skeleton_words, rows, k, 40)


def test_prompt_pass_examples():
    arr = pa.array(
        [
            "Solve this step by step: 2 + 2",
            None,
            "",
            "请一步一步地推理 and answer",
            "the quick brown fox jumps over the lazy dog " * 40,
            "Let's THINK about it",
            "x",
        ]
    )
    rows = list(range(len(arr)))
    got = fused(arr, 2, rows, 3, 32, cuts=(3,))
    assert got == separate(arr, 2, rows, 3, 32)
    assert got[4] == [True, False, False, True, False, True, False]  # reasoning phrases
    assert got[1][:3] == [7, -1, 0]  # words; null is -1
    assert got[5][1] == got[5][2] == [0xFFFF] * 32  # null and empty: no shingles (low 16 bits kept)
