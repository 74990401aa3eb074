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


def fused(arr, skeleton_words, rows, k, num_perm, cuts=(), memo=None):
    """prompt_pass over the parts between `cuts`, as AccountState.update runs it on its threads,
    with `memo` (none when None)."""
    memo = np.zeros((0, 4), np.uint64) if memo is None else memo
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
            memo,
        )
    a, b = hashing.minhash_params(num_perm, 3)
    # into the rows of a larger array the signatures are told to go to, in reverse (a sample's store)
    store = np.zeros((2 * len(rows) + 1, num_perm), dtype=SIG_DTYPE)
    at = np.arange(2 * len(rows), -1, -2, dtype=np.int64)[: len(rows)]
    rows = np.asarray(rows, dtype=np.int64)
    prompts.minhash_from_words(word_start, w, words, rows, k, a, b, store, at, off, data)
    assert not store[np.setdiff1d(np.arange(len(store)), at)].any()  # and nowhere else
    return [x.tolist() for x in (h, w, hh, th, asks, store[at])]


@PROPERTY
@given(st.data(), string_arrays() | sliced_string_arrays(), st.integers(1, 6), st.integers(1, 5) | st.just(16))
def test_prompt_pass_equals_the_separate_kernels(data, arr, skeleton_words, k):
    n = len(arr)
    rows = data.draw(st.lists(st.integers(0, n - 1), max_size=12)) if n else []
    cuts = data.draw(st.lists(st.integers(0, n), max_size=3))
    assert fused(arr, skeleton_words, rows, k, 40, cuts) == separate(arr, skeleton_words, rows, k, 40)


@PROPERTY
@given(
    st.data(),
    st.lists(st.text(" ab.,\nStep by stepé中", max_size=90) | st.none(), min_size=1, max_size=8),
    st.sampled_from([1, 2, 4, 64, 3]),
    st.integers(1, 4),
)
def test_a_memo_changes_nothing(data, texts, slots, skeleton_words):
    """Texts sent again (a memo's hits), a memo too small for them (entries replaced) and one
    filled by calls before: the results of no memo, signatures of texts not tokenized included."""
    picks = data.draw(st.lists(st.integers(0, len(texts) - 1), min_size=1, max_size=30))
    arr = pa.array([texts[i] for i in picks], pa.string())
    n = len(arr)
    rows = data.draw(st.lists(st.integers(0, n - 1), max_size=12))
    cuts = data.draw(st.lists(st.integers(0, n), max_size=3))
    memo = np.zeros((slots, 4), np.uint64)
    want = separate(arr, skeleton_words, rows, 3, 16)
    assert fused(arr, skeleton_words, rows, 3, 16, cuts, memo) == want
    assert fused(arr, skeleton_words, rows, 3, 16, cuts, memo) == want  # the memo filled


def test_a_memo_hit_keeps_no_words_and_needs_the_length():
    """A text met before takes its facts from the memo and keeps no word hashes (word_start -1);
    an entry of the same hash and another length is no hit."""
    arr = pa.array(["think step by step about it", "think step by step about it", "other words"])
    off, data, valid = string_buffers(arr)
    n = len(arr)
    out: list[np.ndarray] = [
        np.zeros(n, np.uint64),
        np.zeros(n, np.int32),
        np.zeros(n, np.uint64),
        np.zeros(n, np.uint64),
    ]
    asks, start = np.zeros(n, np.bool_), np.zeros(n, np.int64)
    words = np.zeros(int(off[n]) + n + 1, np.uint64)
    pat_off, pat_data = reasoning.reasoning_table()
    memo = np.zeros((8, 4), np.uint64)

    def run():
        prompts.prompt_pass(off, data, valid, 2, pat_off, pat_data, *out, asks, 0, start, words, memo)

    run()
    assert start.tolist() == [0, -1, 6]  # the second is the first's text: no words kept
    assert out[1].tolist() == [6, 6, 2] and asks.tolist() == [True, True, False]
    slot = int(np.flatnonzero(memo[:, 0] == out[0][0])[0])
    memo[slot, 1] += np.uint64(1) << np.uint64(33)  # the entry says one byte longer
    run()
    assert start.tolist() == [0, -1, -1]  # the first computed again (and kept again); hits
    assert out[1].tolist() == [6, 6, 2]


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


def test_memos_are_lent_one_call_at_a_time():
    """Two calls at once get two memos; past `most` a call gets none (0 entries); a memo comes
    back to the next call, emptied when that call's skeleton size differs."""
    from fastscan.kernels.prompts import MEMO_ROWS
    from fastscan.prepared import _Memos

    memos = _Memos(most=2)
    with memos.lend(5) as a, memos.lend(5) as b, memos.lend(5) as c:
        assert a.shape == b.shape == (MEMO_ROWS, 4) and a is not b
        assert c.shape == (0, 4)
        a[7, 0] = 9
    with memos.lend(5) as again:  # (b came back, then a)
        assert again is a and again[7, 0] == 9  # the one returned last, as it was
    with memos.lend(4) as other:
        assert other is a and not other.any()  # another skeleton size: emptied


def _scan(recs, memos, monkeypatch):
    from fastscan import ScanConfig, Scanner, prepared

    monkeypatch.setattr(prepared, "_memos", memos)
    s = Scanner(ScanConfig(sample_size=16))
    for lo in range(0, len(recs), 50):  # batches one after the other: texts met again across them
        s.update(pa.Table.from_pylist(recs[lo : lo + 50]))
    return s.finish()


def test_a_scan_with_memos_equals_one_without(monkeypatch):
    """Prompts sent again and again by many accounts, with a sample of 16 prompts an account: a
    text a memo knew enters an account's sample long after it was first seen, and its signature
    is then computed from its text. The report is the same with memos as without, to the bit."""
    from fastscan.prepared import _Memos

    rng = np.random.default_rng(3)
    texts = [f"please think step by step about item {i} and list {i % 7} reasons why" for i in range(60)]
    recs = [
        {"account_id": f"a{rng.integers(12)}", "prompt": texts[rng.integers(len(texts))], "model": "m"}
        for _ in range(600)
    ]
    with_memos, without = _scan(recs, _Memos(most=3), monkeypatch), _scan(recs, _Memos(most=0), monkeypatch)
    for name in ("accounts", "near_dup_links", "shared_templates", "campaigns"):
        a, b = getattr(with_memos, name), getattr(without, name)
        assert (a is None and b is None) or a.equals(b), name
    assert with_memos.accounts.num_rows == 12
