"""Grouping and sorting by 64-bit keys without a comparison sort: the LSH buckets of a band
(`bucket_keys`), how many elements share a key pair (`key_counts`), and non-negative integers in
order with a payload alongside (`radix_sort`)."""

from __future__ import annotations

import numpy as np
from numba import types

from fastscan.kernels._jit import inline, kernel, ro, rw
from fastscan.kernels.bits import prefetch
from fastscan.kernels.hashing import fmix64

_SALT = np.uint64(0xD6E8FEB86659FD93)
_SIGN = np.uint64(1 << 63)  # flipped, an int64's order is its uint64 view's order
RADIX_DIGIT_SPARE = 4  # bucket_keys sorts by the top (bits of the key count + this) bits
SMALL_RUN = 32  # runs of distinct keys of equal top bits up to this long are sorted in place
COUNTS_AHEAD = 16  # rows between asking for a pair's slot and probing it (key_counts)


@inline
def _sort_run(sk, out, lo, hi):
    """Sort sk[lo:hi] stably, out[lo:hi] alongside: in place up to SMALL_RUN keys, else merge-sorted."""
    if hi - lo > SMALL_RUN:
        o = np.argsort(sk[lo:hi], kind="mergesort")  # stable
        sk[lo:hi] = sk[lo:hi][o]
        out[lo:hi] = out[lo:hi][o]
        return
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


@inline
def _key_run_end(sk, x, j):
    """The end of the run of keys equal to sk[x] in sk[x:j]."""
    y = x + 1
    while y < j and sk[y] == sk[x]:
        y += 1
    return y


@inline
def _by_top_bits(keys, out, sk):
    """out[:m] = the positions of `keys` stably sorted by their top 2 d bits, sk[:m] their keys
    (see bucket_keys); returns 64 - 2 d, the shift that leaves a key's top 2 d bits."""
    m = keys.shape[0]
    bits = 1
    while (np.int64(1) << bits) < m:
        bits += 1
    d = min(max((bits + RADIX_DIGIT_SPARE + 1) // 2, 4), 16)
    width = np.int64(1) << d
    low_shift, high_shift = np.uint64(64 - 2 * d), np.uint64(64 - d)
    digit = np.uint64(width - 1)
    at_low = np.zeros(width + 1, dtype=np.int64)  # at_low[x + 1]: keys whose low digit is x
    at_high = np.zeros(width + 1, dtype=np.int64)
    for a in range(m):
        h = keys[a]
        at_low[np.int64((h >> low_shift) & digit) + 1] += 1
        at_high[np.int64(h >> high_shift) + 1] += 1
    for x in range(width):
        at_low[x + 1] += at_low[x]
        at_high[x + 1] += at_high[x]
    by_low = np.empty(m, dtype=np.uint64)  # the keys in order of their low digit, stably
    by_low_at = np.empty(m, dtype=np.int64)  # and their positions
    for a in range(m):
        h = keys[a]
        x = np.int64((h >> low_shift) & digit)
        q = at_low[x]
        by_low[q] = h
        by_low_at[q] = a
        at_low[x] = q + 1
    for a in range(m):
        h = by_low[a]
        x = np.int64(h >> high_shift)
        q = at_high[x]
        sk[q] = h
        out[q] = by_low_at[a]
        at_high[x] = q + 1
    return low_shift


_RADIX_BITS = 11  # a digit of radix_sort: 2,048 counters, 16 KB, stay in the L1 cache
NO_PAYLOAD = np.zeros(0, dtype=np.int64)  # radix_sort's payload (and its scratch) when nothing moves along


@kernel(types.boolean(rw(types.int64), rw(types.int64), rw(types.int64), rw(types.int64)))
def radix_sort(values, tmp, payload, payload_tmp):
    """Sort `values` in place when none is negative (LSD radix sort, 11-bit digits, as many as
    the largest value has; a digit all values share is skipped), `payload` moved alongside (when
    it is not empty: then as long as `values`); returns False, both untouched, when a value is
    negative. Stable: equal values keep their payloads' order. About 3x numpy's sort for the pair
    codes of finish(); for the 1 M waiting pairs of a sparse table and their counts, 5-6x numpy's
    argsort and the two gathers by its order (counts.SparseCounts).

    values : int64[n]; tmp : int64[>= n], scratch; payload : int64[n] or int64[0];
    payload_tmp : int64[>= len(payload)], scratch
    """
    n = values.shape[0]
    carry = payload.shape[0] > 0
    top = np.int64(0)
    for i in range(n):
        v = values[i]
        if v < 0:
            return False
        top |= v
    digits = 0
    while digits * _RADIX_BITS < 63 and (top >> (digits * _RADIX_BITS)) > 0:  # a shift stays below 64
        digits += 1
    width = 1 << _RADIX_BITS
    mask = np.int64(width - 1)
    count = np.zeros((max(digits, 1), width), dtype=np.int64)
    for i in range(n):
        v = values[i]
        for d in range(digits):
            count[d, (v >> (d * _RADIX_BITS)) & mask] += 1
    src, dst = values, tmp[:n]
    src_p, dst_p = payload, payload_tmp[: payload.shape[0]]
    for d in range(digits):
        shift = d * _RADIX_BITS
        if count[d, (src[0] >> shift) & mask] == n:
            continue  # every value has this digit
        total = np.int64(0)
        for k in range(width):
            c = count[d, k]
            count[d, k] = total
            total += c
        for i in range(n):
            v = src[i]
            k = (v >> shift) & mask
            at = count[d, k]
            dst[at] = v
            if carry:
                dst_p[at] = src_p[i]
            count[d, k] = at + 1
        src, dst = dst, src
        src_p, dst_p = dst_p, src_p
    if src.ctypes.data != values.ctypes.data:
        values[:] = src
        if carry:
            payload[:] = src_p
    return True


@kernel(types.int64(ro(types.uint64), types.int64, rw(types.int64), rw(types.int64)))
def bucket_keys(keys, min_size, out, starts):
    """The groups of at least `min_size` equal keys: returns their number g; group q is
    out[starts[q]:starts[q + 1]], the positions of one key in `keys`, increasing; groups in
    increasing order of their key. A stable sort by key that leaves out the smaller groups.

    The keys are hashes (LSH band keys), so their top bits spread them evenly: a radix sort of
    the top 2 d bits (d = RADIX_DIGIT_SPARE bits more than it takes to count the keys, halved),
    least significant digit first, puts them in order there, each digit's 2^d counters (32 KB
    for 290 K keys) close to the core; both digits are counted in one pass, then two scatters.
    Keys then meet distinct keys of the same top bits only by chance, and such a run is sorted
    in place (merge-sorted past SMALL_RUN). On the bench log's 290 K texts a band took 0.55-0.7x
    the time of the radix over the top bits alone it replaced, whose 2^17 counters sat in the
    second-level cache and whose 2^17 digits each needed a sort.

    keys : uint64[m], out : int64[m], starts : int64[m + 1]
    """
    m = keys.shape[0]
    starts[0] = 0
    if m == 0:
        return 0
    sk = np.empty(m, dtype=np.uint64)  # the keys, where out has their positions
    low_shift = _by_top_bits(keys, out, sk)
    groups = 0
    w = 0  # where the next kept group goes: never past what is still to be read
    i = 0
    while i < m:
        top = sk[i] >> low_shift
        j = i + 1
        mixed = False  # distinct keys of the same top bits
        while j < m and sk[j] >> low_shift == top:
            mixed |= sk[j] != sk[i]
            j += 1
        if mixed:
            _sort_run(sk, out, i, j)
        x = i
        while x < j:
            y = _key_run_end(sk, x, j)
            if y - x >= min_size:
                starts[groups] = w
                for z in range(x, y):
                    out[w] = out[z]
                    w += 1
                groups += 1
            x = y
        i = j
    starts[groups] = w
    return groups


@inline
def _by_second(sk, out, second, lo, hi):
    """Sort out[lo:hi], a run of one key, stably by second[out] with _sort_run, through sk[lo:hi]
    (the run's key is not read again): second's values as uint64 keys in their int64 order."""
    for z in range(lo, hi):
        sk[z] = np.uint64(second[out[z]]) ^ _SIGN
    _sort_run(sk, out, lo, hi)


@kernel(types.void(ro(types.uint64), ro(types.int64), rw(types.int64)))
def hash_order(keys, second, out):
    """out = np.lexsort((second, keys)): the positions in order of key, then of `second`, then
    of position. The keys are hashes: sorted by their top bits as in bucket_keys, then a run of
    equal top bits (one key's copies, or keys that meet there by chance) by key, then each run of
    one key by second: in place, or merge-sorted past SMALL_RUN.
    Where the cross-account search orders its 500-770 K rows (fastscan.score.neardup.cross_pairs),
    it and its gathers took 0.04-0.08 s against np.lexsort's 0.07-0.15; the prompt sample orders
    its rows by account and prompt hash with it (fastscan.sketches.order_by_account_hash).

    keys : uint64[m], second : int64[m], out : int64[m]
    """
    m = keys.shape[0]
    if m == 0:
        return
    sk = np.empty(m, dtype=np.uint64)
    low_shift = _by_top_bits(keys, out, sk)
    i = 0
    while i < m:
        top = sk[i] >> low_shift
        j = i + 1
        while j < m and sk[j] >> low_shift == top:
            j += 1
        if j - i > 1:
            # by key (stable), then each run of one key by second (runs of equal top bits are
            # short where keys are hashes, but a text's copies, or the sample's packed keys of a
            # few accounts far apart, make long ones)
            _sort_run(sk, out, i, j)
            x = i
            while x < j:
                y = _key_run_end(sk, x, j)
                if y - x > 1:
                    _by_second(sk, out, second, x, y)
                x = y
        i = j


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
