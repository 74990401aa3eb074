"""Word k-shingle hashes of strings, exactly as fastscan's MinHash kernel shingles them: the test
suite's (and the benchmarks') way to compute exact Jaccard similarity. Not used by the library, so
it lives here, compiled with the library's own kernel settings and word and shingle hashes."""

from __future__ import annotations

import numpy as np
from numba import types

from fastscan.kernels._jit import inline, kernel, rw
from fastscan.kernels.hashing import fmix64, rotl
from fastscan.kernels.text import SHINGLE_ROTATION, SHINGLE_SEED, _boolro, _i64ro, _u8ro, _word_hashes
from fastscan.kernels.unfused import _max_length

__all__ = ["count_shingles", "hash_shingles"]


@inline
def _shingle_hash(hashes, t, k):
    """The hash of the shingle of the k word hashes hashes[t : t + k] (kernels.text's module doc),
    computed afresh, not rolled as the MinHash kernel rolls it."""
    h = np.uint64(0)
    for j in range(k):
        h ^= rotl(hashes[t + j], np.uint64((SHINGLE_ROTATION * j) & 63))
    return fmix64(h ^ SHINGLE_SEED)


@kernel(types.void(_i64ro, _u8ro, _boolro, types.int64, rw(types.int64)))
def count_shingles(offsets, data, valid, k, out):
    """Number of word k-shingles of each string (see module doc), 0 for null.

    offsets : int64[n + 1], data : uint8[m], valid : bool[n], out : int64[n]
    """
    buf = np.empty(_max_length(offsets) + 1, dtype=np.uint64)
    for r in range(offsets.shape[0] - 1):
        words = _word_hashes(data, offsets[r], offsets[r + 1], buf) if valid[r] else 0
        out[r] = 0 if words == 0 else max(words - k + 1, 1)


@kernel(types.void(_i64ro, _u8ro, _boolro, types.int64, _i64ro, rw(types.uint64)))
def hash_shingles(offsets, data, valid, k, out_offsets, out):
    """Word k-shingle hashes of every string, in text order (duplicates kept); a string of 1 to
    k - 1 words has one shingle of them all.

    out_offsets : int64[n + 1] from the cumulative sum of `count_shingles`; out : uint64[total]
    """
    buf = np.empty(_max_length(offsets) + 1, dtype=np.uint64)
    for r in range(offsets.shape[0] - 1):
        if not valid[r]:
            continue
        words = _word_hashes(data, offsets[r], offsets[r + 1], buf)
        kk = min(k, words)
        w = out_offsets[r]
        for t in range(words - kk + 1 if words else 0):
            out[w + t] = _shingle_hash(buf, t, kk)
