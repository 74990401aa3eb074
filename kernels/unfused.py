"""The prompt pass as separate kernels, one pass over the strings each: `hash_prompts` (exact
hash, word count, skeleton hashes), `minhash_signatures` (tokenizing again) and `match_phrases` /
`asks_for_reasoning` (the reasoning phrases), with the definitions of kernels.text and
kernels.reasoning.

`prompts.prompt_pass` and `prompts.minhash_from_words` give the same results bit for bit in one
pass (the tests hold them to these), and the benchmarks time these as the kernels issue 12
measured. The scan never calls them, so `warmup()` does not compile them: they took 19 s of its
53 s on a 2-core machine. Importing this module compiles them.
"""

from __future__ import annotations

import numpy as np
from numba import types

from fastscan.kernels._jit import inline, kernel, ro, rw, rw2
from fastscan.kernels.hashing import xxh64
from fastscan.kernels.reasoning import has_phrase, phrase_filter, reasoning_table
from fastscan.kernels.text import _minhash_rows, _shingle_keys, _word_hashes, skeleton

_i64ro = ro(types.int64)
_u8ro = ro(types.uint8)
_boolro = ro(types.boolean)


@inline
def _max_length(offsets):
    m = 0
    for r in range(offsets.shape[0] - 1):
        m = max(m, offsets[r + 1] - offsets[r])
    return m


@kernel(
    types.void(
        _i64ro, _u8ro, _boolro, types.int64, rw(types.uint64), rw(types.int32), rw(types.uint64), rw(types.uint64)
    )
)
def hash_prompts(offsets, data, valid, skeleton_words, out_prompt_hash, out_n_words, out_head_hash, out_tail_hash):
    """Exact prompt hash, word count and skeleton hashes of each string, in one pass.

    The head (tail) hash chains the first (last) `skeleton_words` word hashes from SKELETON_SEED;
    both are 0 when the text has fewer than 2 * skeleton_words + 1 words (no room for a payload).
    offsets : int64[n + 1], data : uint8[m], valid : bool[n];
    out_prompt_hash : uint64[n] (0 for null), out_n_words : int32[n] (-1 for null),
    out_head_hash, out_tail_hash : uint64[n]
    """
    n = offsets.shape[0] - 1
    buf = np.empty(_max_length(offsets) + 1, dtype=np.uint64)
    p = min(max(skeleton_words, 1), 64)
    for r in range(n):
        if not valid[r]:
            out_prompt_hash[r] = 0
            out_n_words[r] = -1
            out_head_hash[r] = 0
            out_tail_hash[r] = 0
            continue
        words = _word_hashes(data, offsets[r], offsets[r + 1], buf)
        out_prompt_hash[r] = xxh64(data, offsets[r], offsets[r + 1])
        out_n_words[r] = words
        out_head_hash[r], out_tail_hash[r] = skeleton(buf, words, p)


@kernel(types.void(_i64ro, _u8ro, _boolro, _i64ro, types.int64, ro(types.uint32), ro(types.uint32), rw2(types.uint32)))
def minhash_signatures(offsets, data, valid, rows, k, a, b, out):
    """MinHash signature of the word k-shingles of the strings at `rows`, fused in one pass.

    rows : int64[m] (indices into the string array), a, b : uint32[K] from `minhash_params`,
    out : uint32[m, K]. Null strings and texts without words get all 0xFFFFFFFF.
    """
    buf = np.empty(1, dtype=np.uint64)
    xs = np.empty(1, dtype=np.uint32)
    for i in range(rows.shape[0]):
        r = rows[i]
        m = 0
        if valid[r]:
            lo = offsets[r]
            hi = offsets[r + 1]
            if buf.shape[0] < hi - lo + 1:
                buf = np.empty(2 * (hi - lo) + 1, dtype=np.uint64)
                xs = np.empty(2 * (hi - lo) + 1, dtype=np.uint32)
            words = _word_hashes(data, lo, hi, buf)
            m = _shingle_keys(buf, words, k, xs)
        _minhash_rows(xs, m, a, b, out, i)


@kernel(
    types.void(ro(types.int64), ro(types.uint8), ro(types.boolean), ro(types.int64), ro(types.uint8), rw(types.boolean))
)
def match_phrases(offsets, data, valid, pat_offsets, pat_data, out):
    """out[i] = some phrase occurs in string i (ASCII case-insensitive).

    offsets : int64[n + 1], data : uint8[m], valid : bool[n]; pat_offsets : int64[p + 1],
    pat_data : uint8 (lower-case phrases); out : bool[n]

    Wu and Manber's search (kernels.reasoning.has_phrase): a window as long as the shortest
    phrase moves on by the shift of its last 3 folded bytes, and the phrases are compared with the
    text only where that shift is 0.
    """
    shortest, block, shift, bucket_count, by_bucket = phrase_filter(pat_offsets, pat_data)
    for r in range(offsets.shape[0] - 1):
        out[r] = valid[r] and has_phrase(
            data, offsets[r], offsets[r + 1], shortest, block, shift, bucket_count, by_bucket, pat_offsets, pat_data
        )


def asks_for_reasoning(offsets, data, valid, out) -> None:
    """out[i] = prompt i asks for step-by-step reasoning (REASONING_PHRASES)."""
    table = reasoning_table()
    match_phrases(offsets, data, valid, table[0], table[1], out)
