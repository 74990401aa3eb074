"""The 64-bit hash functions every kernel uses, as numba inline helpers (and fmix64 over an array).

They are plain arithmetic modulo 2**64 so Python can reproduce them bit for bit
(`tests/reference.py` does): FNV-1a 64 over bytes, finished with the MurmurHash3 64-bit
finalizer (fmix64); splitmix64 to derive parameters from a seed.
"""

from __future__ import annotations

import numpy as np
from numba import types

from fastscan.kernels._jit import inline, kernel, ro, rw

FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)
M1 = np.uint64(0xFF51AFD7ED558CCD)
M2 = np.uint64(0xC4CEB9FE1A85EC53)
U33 = np.uint64(33)
U32 = np.uint64(32)


@inline
def fmix64(x):
    x = np.uint64(x)
    x ^= x >> U33
    x *= M1
    x ^= x >> U33
    x *= M2
    x ^= x >> U33
    return x


@inline
def rotl(x, r):
    """x rotated left by r bits (0 <= r < 64)."""
    return (x << r) | (x >> ((np.uint64(64) - r) & np.uint64(63)))


@kernel(types.void(ro(types.uint64), rw(types.uint64)))
def fmix64_each(x, out):
    """out[i] = fmix64(x[i]): the finalizer over an array, for code outside the kernels."""
    for i in range(x.shape[0]):
        out[i] = fmix64(x[i])


@inline
def fnv1a_step(h, byte):
    return (h ^ np.uint64(byte)) * FNV_PRIME


@inline
def combine(h, x):
    """Chain hash `x` into running hash `h` (used for shingles and skeletons)."""
    return fmix64(h ^ x)


def splitmix64_sequence(seed: int, count: int) -> np.ndarray:
    """`count` values of splitmix64 started at `seed` (Python ints, mod 2**64)."""
    mask = (1 << 64) - 1
    state = seed & mask
    out = np.empty(count, dtype=np.uint64)
    for i in range(count):
        state = (state + 0x9E3779B97F4A7C15) & mask
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        out[i] = z ^ (z >> 31)
    return out


def minhash_params(num_perm: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Multipliers (odd) and offsets of the 32-bit permutations x -> a x + b (mod 2**32) of
    `minhash_signatures`: the low 32 bits of splitmix64 pairs, as uint32."""
    seq = splitmix64_sequence(seed, 2 * num_perm) & np.uint64(0xFFFFFFFF)
    a = (seq[0::2] | np.uint64(1)).astype(np.uint32)
    b = seq[1::2].astype(np.uint32)
    return np.ascontiguousarray(a), np.ascontiguousarray(b)
