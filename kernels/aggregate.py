"""Per-account aggregation kernels, keyed by an int32 account index."""

from __future__ import annotations

import numpy as np
from numba import types

from fastscan.kernels._jit import inline, kernel, ro, ro2, rw, rw2
from fastscan.kernels.bits import copy_bytes, prefetch, same_bytes_inlined
from fastscan.kernels.hashing import fmix64, xxh64

EMPTY_KEY = np.iinfo(np.int64).min  # a free slot of accumulate's table
ACCUMULATE_AHEAD = 16  # rows between asking for a key's slot and probing it
NAMES_AHEAD = 16  # rows between asking for a name's slot and looking it up (number_names)


@kernel(types.void(ro(types.int32), ro2(types.int64), rw2(types.int64)))
def sum_by_account(account, values, out):
    """out[account[i], f] += values[i, f] for every row i and feature f.

    account : int32[n], values : int64[n, F], out : int64[n_accounts, F]
    """
    n, f = values.shape
    for i in range(n):
        a = account[i]
        for j in range(f):
            out[a, j] += values[i, j]


@kernel(types.void(ro(types.int32), ro(types.int64), ro(types.boolean), rw(types.int64), rw(types.int64)))
def minmax_by_account(account, values, valid, out_min, out_max):
    """Running min and max of `values` per account over the valid rows.

    account : int32[n], values : int64[n], valid : bool[n], out_min, out_max : int64[n_accounts]
    (the caller fills them with int64 max / min first)
    """
    for i in range(account.shape[0]):
        if not valid[i]:
            continue
        a = account[i]
        v = values[i]
        if v < out_min[a]:
            out_min[a] = v
        if v > out_max[a]:
            out_max[a] = v


POOL_SUM, POOL_MEDIAN, POOL_MEAN, POOL_NONE = 0, 1, 2, 3  # pool_groups' ways to pool a column


@kernel(
    types.void(
        ro2(types.float64),
        ro(types.int64),
        ro(types.int64),
        ro(types.int64),
        ro(types.float64),
        ro(types.int8),
        rw2(types.float64),
    )
)
def pool_groups(values, rows, label, size, weight, how, out):
    """Rows of `values` pooled by group, every column in one pass: the i-th of `rows` is in group
    label[i] with weight weight[i]; out[g, c] is, by how[c], POOL_SUM the sum of column c over
    group g, POOL_MEDIAN its median (the mean of the two middle values of an even count; 0 for an
    empty group), POOL_MEAN the weighted mean sum(v * w) / sum(w) (0 where the weights sum to 0);
    POOL_NONE leaves out[:, c] as it is. Sums add in the order of `rows`, as np.bincount does: the
    same results to the last bit as np.bincount, and the medians a sort of each group gives.

    values : float64[n, C] (no NaN: a median's selection assumes the values are ordered), rows,
    label : int64[m], size : int64[g] (rows per group), weight : float64[m], how : int8[C],
    out : float64[g, C]
    """
    g = size.shape[0]
    m = rows.shape[0]
    tot = np.zeros(g, dtype=np.float64)
    for i in range(m):
        tot[label[i]] += weight[i]
    summed = np.flatnonzero(how == POOL_SUM)
    meant = np.flatnonzero(how == POOL_MEAN)
    for k in range(g):
        for c in summed:
            out[k, c] = 0.0
        for c in meant:
            out[k, c] = 0.0
    for i in range(m):
        r, k, w = rows[i], label[i], weight[i]
        for c in summed:
            out[k, c] += values[r, c]
        for c in meant:
            out[k, c] += values[r, c] * w
    for k in range(g):
        for c in meant:
            out[k, c] = out[k, c] / tot[k] if tot[k] > 0 else 0.0
    # medians: the rows grouped by label (a counting sort), then each group's values of a column
    # gathered and selected (a selection, not a sort: linear in the group's size)
    start = np.zeros(g + 1, dtype=np.int64)
    widest = 0
    for k in range(g):
        start[k + 1] = start[k] + size[k]
        widest = max(widest, size[k])
    fill = start[:g].copy()
    grouped = np.empty(m, dtype=np.int64)
    for i in range(m):
        grouped[fill[label[i]]] = rows[i]
        fill[label[i]] += 1
    medians = np.flatnonzero(how == POOL_MEDIAN)
    scratch = np.empty((medians.shape[0], widest), dtype=np.float64)
    for k in range(g):  # each row of a group read once for all its columns, then each selected
        n_k = size[k]
        for q in range(n_k):
            r = grouped[start[k] + q]
            for j in range(medians.shape[0]):
                scratch[j, q] = values[r, medians[j]]
        for j in range(medians.shape[0]):
            out[k, medians[j]] = np.median(scratch[j, :n_k]) if n_k else 0.0


@inline
def _before(a1, h1, a2, h2):
    """(a1, h1) < (a2, h2): by a, then by h."""
    return a1 < a2 or (a1 == a2 and h1 < h2)


@kernel(types.void(ro(types.int64), ro(types.uint64), ro(types.int64), ro(types.uint64), rw(types.int64)))
def find_pairs(sorted_a, sorted_h, query_a, query_h, out):
    """out[i] = the index of (query_a[i], query_h[i]) in the rows (sorted_a, sorted_h), which are
    sorted by a then h, or -1 when it is not there.

    Queries in sorted order (as the sample's candidates come) search on from where the one before
    ended, in steps that double, then by halves (galloping): a few nearby rows each, where a
    binary search of all the rows took about 20 reads far apart. A query smaller than the one
    before searches from the start.
    sorted_a : int64[n], sorted_h : uint64[n], query_a : int64[m], query_h : uint64[m], out : int64[m]
    """
    n = sorted_a.shape[0]
    lo = 0
    for i in range(query_a.shape[0]):
        qa = query_a[i]
        qh = query_h[i]
        if i > 0 and _before(qa, qh, query_a[i - 1], query_h[i - 1]):
            lo = 0
        # every row before lo is smaller than the query; find hi, a row that is not (or n)
        hi = lo
        step = 1
        while hi < n and _before(sorted_a[hi], sorted_h[hi], qa, qh):
            lo = hi + 1
            hi = lo + step
            step *= 2
        hi = min(hi, n)
        while lo < hi:
            mid = (lo + hi) >> 1
            if _before(sorted_a[mid], sorted_h[mid], qa, qh):
                lo = mid + 1
            else:
                hi = mid
        out[i] = lo if lo < n and sorted_a[lo] == qa and sorted_h[lo] == qh else -1


_PAIRS = (ro(types.int64), ro(types.uint64))  # a table of (account, prompt hash) pairs


@kernel(types.boolean(*_PAIRS, *_PAIRS, ro(types.int64), rw(types.int64)))
def merge_order(a1, h1, a2, h2, order2, out):
    """out = the rows of two tables (a, h), the first's numbered 0 .. n1 - 1 and the second's from
    n1 on, in order of (a, h), the first's row before the second's where both hold a pair: the
    order np.lexsort((h, a)) gives the two concatenated, when the first table is sorted and
    distinct and `order2` puts the second's rows in (a, h, row) order. Returns False (out then
    undefined) when the first table is not sorted and distinct.

    a1 : int64[n1], h1 : uint64[n1], a2 : int64[n2], h2 : uint64[n2], order2 : int64[n2],
    out : int64[n1 + n2]
    """
    n1 = a1.shape[0]
    n2 = order2.shape[0]
    i = 0
    j = 0
    for k in range(n1 + n2):
        if i < n1 and (j >= n2 or not _before(a2[order2[j]], h2[order2[j]], a1[i], h1[i])):
            if i > 0 and not _before(a1[i - 1], h1[i - 1], a1[i], h1[i]):
                return False
            out[k] = i
            i += 1
        else:
            out[k] = n1 + order2[j]
            j += 1
    return True


@kernel(
    types.int64(
        *_PAIRS,
        ro(types.int64),
        types.int64,
        ro(types.int64),
        ro(types.int64),
        rw(types.int64),
        rw(types.int64),
        rw(types.uint64),
        rw(types.int64),
        rw(types.int64),
        rw(types.boolean),
        rw(types.boolean),
    )
)
def bottom_k(account, phash, order, size, count, count0, src, out_account, out_hash, out_count, out_count0, gone, full):
    """A prompt sample's compaction in one pass over its rows in `order` (by account, then hash):
    each distinct (account, hash) pair becomes one row, for the `size` pairs of smallest hash of
    each account: src, its first row in `order`; out_account and out_hash, the pair; out_count
    and out_count0, the sums of count and count0 over its rows; full, whether it is its
    account's size-th pair. gone[r] is set for every row r not taken as a src. Returns how many
    pairs are kept (src[:k], ...).

    account, phash, count, count0, gone : [n]; order : int64[n] (a permutation);
    src, out_account, out_count, out_count0 : int64[>= n], out_hash : uint64[>= n], full : bool[>= n]
    """
    k = 0
    rank = 0
    kept = False
    for q in range(order.shape[0]):
        r = order[q]
        a, h = account[r], phash[r]
        same_account = q > 0 and a == account[order[q - 1]]
        if same_account and h == phash[order[q - 1]]:  # another row of the pair before
            gone[r] = True
            if kept:
                out_count[k - 1] += count[r]
                out_count0[k - 1] += count0[r]
            continue
        rank = rank + 1 if same_account else 0
        kept = rank < size
        gone[r] = not kept
        if kept:
            src[k] = r
            out_account[k] = a
            out_hash[k] = h
            out_count[k] = count[r]
            out_count0[k] = count0[r]
            full[k] = rank == size - 1
            k += 1
    return k


@kernel(
    types.int64(
        ro(types.int64),
        ro(types.int64),
        ro(types.int64),
        ro(types.int64),
        types.boolean,
        rw(types.int64),
        rw(types.int64),
    )
)
def merge_counts(keys, values, more_keys, more_values, minimum, out_keys, out_values):
    """Merge (key, value) pairs into a sorted table of distinct keys; returns the table's new length.

    keys : int64[n] sorted and distinct, with values[n]; more_keys : int64[m] sorted (repeats
    allowed), with more_values[m]. out_keys, out_values : int64[>= n + m] get the distinct keys
    of both, sorted, each with the sum of its values (the smallest when `minimum`).
    """
    n = keys.shape[0]
    m = more_keys.shape[0]
    i = 0
    j = 0
    c = -1
    while i < n or j < m:
        if j >= m or (i < n and keys[i] <= more_keys[j]):
            k = keys[i]
            v = values[i]
            i += 1
        else:
            k = more_keys[j]
            v = more_values[j]
            j += 1
        if c >= 0 and out_keys[c] == k:
            if minimum:
                out_values[c] = min(out_values[c], v)
            else:
                out_values[c] += v
        else:
            c += 1
            out_keys[c] = k
            out_values[c] = v
    return c + 1


@inline
def _pair_key(account, key, i):
    """The table key of (account[i], key[i]): the account above the key's low 32 bits (the
    keys of fastscan.counts.SparseCounts)."""
    return (account[i] << np.int64(32)) | (key[i] & np.int64(0xFFFFFFFF))


@kernel(
    types.int64(
        ro(types.int64),
        ro(types.int64),
        ro(types.int64),
        types.boolean,
        rw(types.int64),
        rw(types.int64),
        rw(types.int64),
        types.int64,
    )
)
def accumulate(account, key, values, minimum, table_keys, table_values, used, limit):
    """Add each pair (account[i], key[i]), with values[i], into an open-addressing table of
    distinct pairs, summing the values of a pair (keeping the smallest when `minimum`), until the
    table holds `limit` pairs; returns how many rows were taken (all of them, or the row of the
    first pair it had no room for). A pair's table key (`_pair_key`) is made here: packed by
    numpy first, the keys cost four passes and as many arrays a table and batch (13 tables a
    batch: 0.04 s of the bench log's fold, on the thread that folds).

    account : int64[n] (>= 0), key : int64[n] (its low 32 bits count); values : int64[n], or
    int64[0] for 1 each; table_keys, table_values : int64[2**b] (EMPTY_KEY marks a free slot;
    limit below their length); used : int64[1], how many pairs the table holds, kept up to date.
    """
    mask = np.int64(table_keys.shape[0] - 1)
    ones = values.shape[0] == 0
    u = used[0]
    n = account.shape[0]
    for i in range(n):
        if i + ACCUMULATE_AHEAD < n:  # the slot of the pair some rows on: its cache lines are on their way
            ahead = np.int64(fmix64(_pair_key(account, key, i + ACCUMULATE_AHEAD))) & mask
            prefetch(table_keys, ahead)
            prefetch(table_values, ahead)
        k = _pair_key(account, key, i)
        v = np.int64(1) if ones else values[i]
        t = np.int64(fmix64(k)) & mask
        while True:
            s = table_keys[t]
            if s == k:
                if minimum:
                    table_values[t] = min(table_values[t], v)
                else:
                    table_values[t] += v
                break
            if s == EMPTY_KEY:
                if u >= limit:
                    used[0] = u
                    return i
                table_keys[t] = k
                table_values[t] = v
                u += 1
                break
            t = (t + 1) & mask
    used[0] = u
    return n


@kernel(types.int64(rw(types.int64), rw(types.int64)))
def distinct_in_place(values, counts):
    """Move the distinct values of the sorted `values` to its front, in order; returns how many
    there are. counts[k] gets how often the k-th one came (counts may be empty: then no counting).

    values : int64[n] sorted, counts : int64[n] or int64[0]
    """
    n = values.shape[0]
    count = counts.shape[0] > 0
    k = 0
    i = 0
    while i < n:
        j = i + 1
        while j < n and values[j] == values[i]:
            j += 1
        values[k] = values[i]
        if count:
            counts[k] = j - i
        k += 1
        i = j
    return k


@kernel(
    types.int64(
        ro(types.int64),
        ro(types.uint8),
        rw(types.int64),
        rw(types.int64),
        rw(types.uint8),
        rw(types.uint64),
        rw(types.int64),
        rw(types.int32),
    )
)
def number_names(off, data, table, known_off, known_data, known_hash, known, out):
    """Number each string data[off[i]:off[i + 1]] by its place among the distinct strings seen so
    far, giving a new one the next number (so the numbers follow first appearance), until a new
    one finds no room; returns how many rows were numbered. Byte-equal strings are one string.

    off : int64[n + 1]; data : uint8; table : int64[2**b], -1 a free slot, else a number (an
    open-addressing table of the known strings by hash, kept at most half full); known_off :
    int64, where each known string's bytes start and end in known_data; known_hash : uint64,
    each known string's hash (xxh64); known : int64[1], how many strings are known, kept up to
    date; out : int32[n], the numbers. A row is hashed and its slot asked for NAMES_AHEAD rows
    before it is numbered, its string's place and hash half that before, its bytes a quarter:
    each of the four reads a row needs missed the cache once the table outgrew it (83 K names).
    """
    mask = np.int64(table.shape[0] - 1)
    k_n = known[0]
    used = known_off[k_n]
    n_rows = off.shape[0] - 1
    hs = np.empty(n_rows, dtype=np.uint64)  # each row's hash, made as it enters the window ahead
    for i in range(min(NAMES_AHEAD, n_rows)):
        hs[i] = xxh64(data, off[i], off[i + 1])
    for i in range(n_rows):
        if i + NAMES_AHEAD < n_rows:
            hs[i + NAMES_AHEAD] = xxh64(data, off[i + NAMES_AHEAD], off[i + NAMES_AHEAD + 1])
            prefetch(table, np.int64(hs[i + NAMES_AHEAD]) & mask)
        if i + NAMES_AHEAD // 2 < n_rows:
            k = table[np.int64(hs[i + NAMES_AHEAD // 2]) & mask]
            if k >= 0:
                prefetch(known_off, k)
                prefetch(known_hash, k)
        if i + NAMES_AHEAD // 4 < n_rows:
            k = table[np.int64(hs[i + NAMES_AHEAD // 4]) & mask]
            if k >= 0:
                prefetch(known_data, known_off[k])
        lo, hi = off[i], off[i + 1]
        h = hs[i]
        t = np.int64(h) & mask
        while True:
            k = table[t]
            if k < 0:
                room = 2 * (k_n + 1) <= table.shape[0] and k_n + 2 <= known_off.shape[0]
                if not room or k_n + 1 > known_hash.shape[0] or used + hi - lo > known_data.shape[0]:
                    known[0] = k_n
                    return i
                copy_bytes(data, lo, known_data, used, hi - lo)
                used += hi - lo
                known_off[k_n + 1] = used
                known_hash[k_n] = h
                table[t] = k_n
                out[i] = k_n
                k_n += 1
                break
            n = hi - lo
            if (
                known_hash[k] == h
                and known_off[k + 1] - known_off[k] == n
                and same_bytes_inlined(data, lo, known_data, known_off[k], n)
            ):
                out[i] = k
                break
            t = (t + 1) & mask
    known[0] = k_n
    return n_rows


@kernel(types.void(rw(types.int64), ro(types.uint64), types.int64))
def place_names(table, known_hash, n_known):
    """Fill a free table (all -1) with the known strings 0..n_known-1 by their hashes."""
    mask = np.int64(table.shape[0] - 1)
    for k in range(n_known):
        t = np.int64(known_hash[k]) & mask
        while table[t] >= 0:
            t = (t + 1) & mask
        table[t] = k
