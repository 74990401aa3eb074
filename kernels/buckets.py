"""Grouping by 64-bit keys without a comparison sort: the LSH buckets of a band (`bucket_keys`) and
how many elements share a key pair (`key_counts`)."""

from __future__ import annotations

import numpy as np
from numba import types

from fastscan.kernels._jit import kernel, ro, rw
from fastscan.kernels.bits import prefetch
from fastscan.kernels.hashing import fmix64

_SALT = np.uint64(0xD6E8FEB86659FD93)
RADIX_SPARE_BITS = 2  # bucket_keys' radix has 2**(bits of the key count - this) digits
SMALL_RUN = 32  # runs of one digit up to this long are sorted in place, longer ones merge-sorted
COUNTS_AHEAD = 16  # rows between asking for a pair's slot and probing it (key_counts)


@kernel(types.int64(ro(types.uint64), types.int64, rw(types.int64), rw(types.int64)))
def bucket_keys(keys, min_size, out, starts):
    """The groups of at least `min_size` equal keys: returns their number g; group q is
    out[starts[q]:starts[q + 1]], the positions of one key in `keys`, increasing; groups in
    increasing order of their key. A stable sort by key that leaves out the smaller groups.

    The keys are hashes (LSH band keys), so their top bits spread them evenly: one counting pass
    over the top bits (about a quarter as many digits as keys: counters that stay in the L2
    cache) and one scatter put the positions of each digit together, in order; the few keys of a
    digit are then sorted in place (merge-sorted where a digit holds more than SMALL_RUN, as when
    many texts share a key). Digits with fewer than `min_size` keys hold no group of that size
    and are never scattered. It took 0.62x the time of the hash table it replaced (one probe a
    key into 8 MB, and the group's first key read to compare) on the bench log's 290 K texts.

    keys : uint64[m], out : int64[m], starts : int64[m + 1]
    """
    m = keys.shape[0]
    starts[0] = 0
    if m == 0:
        return 0
    bits = 1
    while (np.int64(1) << bits) < m:
        bits += 1
    bits = max(1, bits - RADIX_SPARE_BITS)
    shift = np.uint64(64 - bits)
    width = np.int64(1) << bits
    at = np.zeros(width + 1, dtype=np.int64)  # at[d]: where digit d's keys start
    for a in range(m):
        at[np.int64(keys[a] >> shift) + 1] += 1
    for d in range(width):
        c = at[d + 1]
        at[d + 1] = at[d] + (c if c >= min_size else 0)
    n = at[width]
    sk = np.empty(n, dtype=np.uint64)  # the keys, where out has their positions
    pos = at[:width].copy()
    for a in range(m):
        h = keys[a]
        d = np.int64(h >> shift)
        p = pos[d]
        if p < at[d + 1]:
            out[p] = a
            sk[p] = h
            pos[d] = p + 1
    groups = 0
    w = 0  # where the next kept group goes: never past what is still to be read
    for d in range(width):
        lo = at[d]
        hi = at[d + 1]
        if hi - lo > SMALL_RUN:
            o = np.argsort(sk[lo:hi], kind="mergesort")  # stable
            sk[lo:hi] = sk[lo:hi][o]
            out[lo:hi] = out[lo:hi][o]
        else:
            for i in range(lo + 1, hi):  # insertion sort: stable, as equal keys never pass
                h = sk[i]
                r = out[i]
                j = i - 1
                while j >= lo and sk[j] > h:
                    sk[j + 1] = sk[j]
                    out[j + 1] = out[j]
                    j -= 1
                sk[j + 1] = h
                out[j + 1] = r
        i = lo
        while i < hi:
            j = i + 1
            while j < hi and sk[j] == sk[i]:
                j += 1
            if j - i >= min_size:
                starts[groups] = w
                for x in range(i, j):
                    out[w] = out[x]
                    w += 1
                groups += 1
            i = j
    starts[groups] = w
    return groups


@kernel(types.void(ro(types.uint64), ro(types.uint64), rw(types.int64)))
def key_counts(k1, k2, out):
    """out[i] = how many j have (k1[j], k2[j]) == (k1[i], k2[i]).

    One pass through an open-addressing table of the distinct pairs (each element is probed
    once, its pair compared with its group's first element), then one to hand the counts back:
    no sort. k1, k2 : uint64[n] (n < 2**31), out : int64[n]
    """
    n = k1.shape[0]
    size = 2
    while size < 2 * n:
        size *= 2
    mask = np.uint64(size - 1)
    table = np.full(size, -1, dtype=np.int32)  # slot -> group
    group = np.empty(n, dtype=np.int32)
    first = np.empty(n, dtype=np.int32)  # group -> its first element
    count = np.zeros(n, dtype=np.int32)
    groups = 0
    # the slots of the rows up to COUNTS_AHEAD on, each hashed once, at row mod the ring's size
    ring = np.empty(2 * COUNTS_AHEAD, dtype=np.int64)
    ring_mask = 2 * COUNTS_AHEAD - 1
    for i in range(min(COUNTS_AHEAD, n)):
        ring[i & ring_mask] = np.int64(fmix64(k1[i] ^ fmix64(k2[i] ^ _SALT)) & mask)
    for i in range(n):
        # the slot of the pair COUNTS_AHEAD rows on is asked for; half that on, its group's first
        # element (the table outgrows the cache: on the bench log's 694 K prompt hashes, three
        # dependent misses a row)
        if i + COUNTS_AHEAD < n:
            j = i + COUNTS_AHEAD
            ahead = np.int64(fmix64(k1[j] ^ fmix64(k2[j] ^ _SALT)) & mask)
            ring[j & ring_mask] = ahead
            prefetch(table, ahead)
        if i + COUNTS_AHEAD // 2 < n:
            g = table[ring[(i + COUNTS_AHEAD // 2) & ring_mask]]
            if g >= 0:
                prefetch(k1, first[g])
                prefetch(k2, first[g])
        a = k1[i]
        b = k2[i]
        t = ring[i & ring_mask]
        while True:
            g = table[t]
            if g < 0:
                g = groups
                groups += 1
                table[t] = g
                first[g] = i
                break
            f = first[g]
            if k1[f] == a and k2[f] == b:
                break
            t = (t + 1) & np.int64(mask)
        group[i] = g
        count[g] += 1
    for i in range(n):
        out[i] = count[group[i]]
