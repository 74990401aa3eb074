"""The 64-bit hash functions every kernel uses, as numba inline helpers (and fmix64 over an array).

They are plain arithmetic modulo 2**64 so Python can reproduce them bit for bit
(`tests/reference.py` does): XXH64 (xxHash's 64-bit hash, seed 0) over a text's bytes, the
MurmurHash3 64-bit finalizer (fmix64) to finish the others, and splitmix64 to derive parameters
from a seed. XXH64 reads 32 bytes a step in four independent lanes; a byte-at-a-time hash (FNV-1a,
which fastscan used up to state format 6) costs a multiply's latency per byte.
"""

from __future__ import annotations

import numpy as np
from numba import types

from fastscan.kernels._jit import inline, kernel, ro, rw
from fastscan.kernels.bits import load8

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


XP1 = np.uint64(0x9E3779B185EBCA87)  # XXH64's five primes
XP2 = np.uint64(0xC2B2AE3D27D4EB4F)
XP3 = np.uint64(0x165667B19E3779F9)
XP4 = np.uint64(0x85EBCA77C2B2AE63)
XP5 = np.uint64(0x27D4EB2F165667C5)
_R = tuple(np.uint64(r) for r in range(64))  # rotation counts as uint64 (rotl's r)


@inline
def _xxh_round(acc, x):
    return rotl(acc + x * XP2, _R[31]) * XP1


@inline
def _xxh_merge(h, v):
    return (h ^ _xxh_round(np.uint64(0), v)) * XP1 + XP4


@inline
def xxh64(data, lo, hi):
    """XXH64 of data[lo:hi] with seed 0 (xxHash's XXH64 specification), reading no byte outside
    it; data: C-contiguous uint8."""
    p = lo
    if hi - lo >= 32:
        v1 = XP1 + XP2
        v2 = XP2
        v3 = np.uint64(0)
        v4 = np.uint64(0) - XP1
        while p + 32 <= hi:
            v1 = _xxh_round(v1, load8(data, p))
            v2 = _xxh_round(v2, load8(data, p + 8))
            v3 = _xxh_round(v3, load8(data, p + 16))
            v4 = _xxh_round(v4, load8(data, p + 24))
            p += 32
        h = rotl(v1, _R[1]) + rotl(v2, _R[7]) + rotl(v3, _R[12]) + rotl(v4, _R[18])
        h = _xxh_merge(_xxh_merge(_xxh_merge(_xxh_merge(h, v1), v2), v3), v4)
    else:
        h = XP5
    h += np.uint64(hi - lo)
    while p + 8 <= hi:
        h = rotl(h ^ _xxh_round(np.uint64(0), load8(data, p)), _R[27]) * XP1 + XP4
        p += 8
    if p + 4 <= hi:
        x = np.uint64(data[p]) | np.uint64(data[p + 1]) << _R[8]
        x |= np.uint64(data[p + 2]) << _R[16] | np.uint64(data[p + 3]) << _R[24]
        h = rotl(h ^ x * XP1, _R[23]) * XP2 + XP3
        p += 4
    while p < hi:
        h = rotl(h ^ np.uint64(data[p]) * XP5, _R[11]) * XP1
        p += 1
    h ^= h >> U33
    h *= XP2
    h ^= h >> _R[29]
    h *= XP3
    return h ^ (h >> U32)


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
