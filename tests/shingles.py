"""Word k-shingle hashes of strings, exactly as fastscan's MinHash kernel shingles them: the test
suite's (and the benchmarks') way to compute exact Jaccard similarity. Not used by the library, so
it lives here, compiled with the library's own kernel settings and word and shingle hashes."""

from __future__ import annotations

import numpy as np
from numba import types

from fastscan.kernels._jit import kernel, rw
from fastscan.kernels.text import MAX_SHINGLE_K, _boolro, _i64ro, _next_word, _shingle_hash, _u8ro

__all__ = ["count_shingles", "hash_shingles"]


@kernel(types.void(_i64ro, _u8ro, _boolro, types.int64, rw(types.int64)))
def count_shingles(offsets, data, valid, k, out):
    """Number of word k-shingles of each string (see module doc), 0 for null.

    offsets : int64[n + 1], data : uint8[m], valid : bool[n], out : int64[n]
    """
    n = offsets.shape[0] - 1
    for r in range(n):
        if not valid[r]:
            out[r] = 0
            continue
        pos = offsets[r]
        end = offsets[r + 1]
        words = 0
        while pos < end:
            start, stop, wh, n_punct = _next_word(data, pos, end)
            if start >= end:
                break
            words += 1
            pos = stop
        if words == 0:
            out[r] = 0
        elif words < k:
            out[r] = 1
        else:
            out[r] = words - k + 1


@kernel(types.void(_i64ro, _u8ro, _boolro, types.int64, _i64ro, rw(types.uint64)))
def hash_shingles(offsets, data, valid, k, out_offsets, out):
    """Word k-shingle hashes of every string, in text order (duplicates kept).

    out_offsets : int64[n + 1] from the cumulative sum of `count_shingles`; out : uint64[total]
    """
    n = offsets.shape[0] - 1
    window = np.zeros(MAX_SHINGLE_K, dtype=np.uint64)
    for r in range(n):
        if not valid[r]:
            continue
        pos = offsets[r]
        end = offsets[r + 1]
        words = 0
        w = out_offsets[r]
        while pos < end:
            start, stop, wh, n_punct = _next_word(data, pos, end)
            if start >= end:
                break
            window[words % MAX_SHINGLE_K] = wh
            words += 1
            if words >= k:
                out[w] = _shingle_hash(window, words - 1, k)
                w += 1
            pos = stop
        if 0 < words < k:
            out[w] = _shingle_hash(window, words - 1, words)
