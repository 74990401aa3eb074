"""Near-duplicate kernels over MinHash signatures: LSH band keys, verified candidate pairs within
accounts, and connected components of account links (the pairs across accounts: `links`).

band_key(i, band) = fold(combine, fmix64(BAND_SEED ^ band), sig[i, band*r : band*r + r])
    (each 16-bit signature value widened to uint64; `combine` and `fmix64` from `hashing`).
Two rows are *candidates* when some band key is equal; a candidate pair is *verified* when the
two signatures agree on at least `min_agree` of their K positions (estimated Jaccard >= min_agree / K).
Only verified pairs count; nothing is chained: a prompt is a near-duplicate because of a pair it
is in, never because of a pair its neighbour is in.

Before a candidate pair's two signatures are read (two rows of 256 bytes far apart in memory:
cache misses, in bucket order), the pair is checked on the low 2 bits of every position (`low_bits`, 32
bytes a row): positions whose values are equal have equal low bits, so fewer than `min_agree`
positions agreeing there proves the pair fails, and most failing pairs stop at that one cache
line. The check drops no pair the full comparison would keep.
"""

from __future__ import annotations

import numpy as np
from numba import types

from fastscan.kernels._jit import inline, kernel, ro, ro2, rw, rw2
from fastscan.kernels.bits import popcount, prefetch
from fastscan.kernels.hashing import combine, fmix64

BAND_SEED = np.uint64(0xD6E8FEB86659FD93)
PAIRS_MAX = 256  # flag_account_near_dups' pairs_max: the accounts it checks pair by pair

_sigro2 = ro2(types.uint16)
_i64ro = ro(types.int64)


@inline
def _agree(sig, i, j, min_agree):
    """True when rows i and j of `sig` agree on at least `min_agree` positions.

    Every position is compared, without a branch: the compiler turns the loop into SIMD
    compares, about 5x faster than stopping early (measured on 128 positions).
    """
    agree = 0
    for p in range(sig.shape[1]):
        agree += sig[i, p] == sig[j, p]
    return agree >= min_agree


_LOW = np.uint64(0x5555555555555555)


@kernel(types.void(_sigro2, rw2(types.uint64)))
def low_bits(sig, out):
    """The low 2 bits of every signature value, 32 positions a word: out[i, w] bit 2 q + b is bit b
    of sig[i, 32 w + q]. out : uint64[n, ceil(K / 32)] (positions past K are 0 in every row)."""
    k = sig.shape[1]
    for i in range(sig.shape[0]):
        for w in range(out.shape[1]):
            x = np.uint64(0)
            for q in range(32):
                p = 32 * w + q
                if p < k:
                    x |= np.uint64(sig[i, p] & 3) << np.uint64(2 * q)
            out[i, w] = x


@inline
def _may_agree(bits, i, j, min_agree, k):
    """False when rows i and j cannot agree on min_agree of their k positions: fewer agree on
    their low 2 bits (equal values have equal low bits), the first ceil(k / 32) words of each
    row (low_bits' rows, or records that begin with them: kernels.links)."""
    differ = 0
    for w in range((k + 31) // 32):
        x = bits[i, w] ^ bits[j, w]
        differ += popcount((x | (x >> np.uint64(1))) & _LOW)
    return k - np.int64(differ) >= min_agree


@inline
def _row_band_keys(sig, r, rows_per_band, seeds, lanes, chain, out, col):
    """out[band, col] = the band key of sig row r (see module doc), for every band: the values
    laid out band by band in lanes[p, band], the bands' hash chains advance side by side (one
    step is the same arithmetic on consecutive lanes, not one chain waiting on its multiplies).
    seeds : uint64[bands] (_band_seeds), lanes : uint64[rows_per_band, bands], chain : uint64[bands]
    """
    bands = seeds.shape[0]
    for band in range(bands):
        for p in range(rows_per_band):
            lanes[p, band] = np.uint64(sig[r, band * rows_per_band + p])
    for band in range(bands):
        chain[band] = seeds[band]
    for p in range(rows_per_band):
        for band in range(bands):
            chain[band] = combine(chain[band], lanes[p, band])
    for band in range(bands):
        out[band, col] = chain[band]


@inline
def _band_seeds(bands):
    seeds = np.empty(bands, dtype=np.uint64)
    for band in range(bands):
        seeds[band] = fmix64(BAND_SEED ^ np.uint64(band))
    return seeds


@kernel(types.void(_sigro2, _i64ro, types.int64, types.int64, types.int64, rw2(types.uint64)))
def band_keys(sig, rows, rows_per_band, first, last, out):
    """Every LSH band key (see module doc) of rows[first:last]: out[band, i] is row rows[i]'s.
    Each signature is read once for all its bands; disjoint ranges can run on several threads.
    sig : uint16[n, K], rows : int64[m] (< n), out : uint64[K // rows_per_band, m]"""
    bands = out.shape[0]
    k = sig.shape[1]
    seeds = _band_seeds(bands)
    lanes = np.empty((rows_per_band, bands), dtype=np.uint64)
    chain = np.empty(bands, dtype=np.uint64)
    for i in range(first, last):
        if i + 4 < last:  # the row 4 on, every line of it (a line: 32 values of 16 bits)
            for q in range(0, k, 32):
                prefetch(sig, rows[i + 4] * k + q)
        _row_band_keys(sig, rows[i], rows_per_band, seeds, lanes, chain, out, i)


@inline
def _band_agrees(sig, i, j, first, last, rows_per_band, at):
    """True when rows i and j agree on every position of one of bands first..last-1, their
    values from column `at` of `sig` on (0 for signatures; a record's first values: kernels.links)."""
    for b in range(first, last):
        same = True
        for p in range(at + b * rows_per_band, at + (b + 1) * rows_per_band):
            if sig[i, p] != sig[j, p]:
                same = False
                break
        if same:
            return True
    return False


@inline
def _flag_pairs(sig, slot, bits, rows, m, bands, rows_per_band, min_agree, near, out):
    """flag_account_near_dups of one account of m rows (rows[:m]), every pair once."""
    k = sig.shape[1]
    for x in range(m):
        for w in range(bits.shape[1]):
            near[x, w] = bits[slot[rows[x]], w]
    for x in range(m - 1):
        i = rows[x]
        for y in range(x + 1, m):
            j = rows[y]
            if (
                not (out[i] and out[j])
                and _may_agree(near, x, y, min_agree, k)
                and _agree(sig, slot[i], slot[j], min_agree)
                and _band_agrees(sig, slot[i], slot[j], 0, bands, rows_per_band, 0)
            ):
                out[i] = True
                out[j] = True


@kernel(
    types.void(
        _i64ro,
        _sigro2,
        _i64ro,
        ro2(types.uint64),
        ro(types.int32),
        types.int64,
        types.int64,
        types.int64,
        types.int64,
        types.int64,
        types.int64,
        rw(types.boolean),
    )
)
def flag_account_near_dups(
    offsets, sig, slot, bits, n_words, bands, rows_per_band, min_agree, first, last, pairs_max, out
):
    """Within-account near-duplicates, every band at once, for accounts first..last-1.

    Rows of account a are offsets[a]:offsets[a + 1] (the sample is in account order). out[i] is
    set when row i and another row of its account share a band key (see module doc) and are
    verified. An account of at most `pairs_max` worded rows (PAIRS_MAX) is done pair by pair:
    every pair once (not when both rows are flagged), the low-bits check (`bits`, see `low_bits`)
    first, on a copy of the account's rows of bits side by side, then the full comparison, then
    whether they agree on every position of some band (their band keys are then equal; equal
    keys of different values, a 64-bit collision, are not looked for, as in links.link_bucket_pairs).
    That costs m^2 / 2 checks of a few ns against 25 band keys and 25 hash tables a row: the
    flags of the bench log took 0.71-0.73x the time, and 0.36x over the same records as 8x the
    accounts.
    A larger account's signatures stay in cache while all its bands are done: its band keys are
    computed first, all bands of a row at once (`_row_band_keys`: the bands' hash chains side by
    side, where one band after the other waited on each chain's multiplies), then a band's
    buckets come from a hash table of its keys (no sort). Each pair of a bucket is looked at
    once, and not at all when both rows are already flagged; the low-bits check turns most pairs
    away before the full comparison. An account whose rows are all flagged skips its remaining
    bands (a templated account's often are after its first band).
    Accounts are independent, so disjoint ranges can run on several threads.
    Row i's signature is sig[slot[i]] and its low bits bits[slot[i]] (a prompt sample keeps the
    signatures where they were written, fastscan.sketches.PromptSample).
    offsets : int64[n_accounts + 1], sig : uint16[store rows, K], slot : int64[n], bits :
    low_bits(sig), n_words : int32[n] (rows with n_words <= 0 never match), out : bool[n]
    """
    k = sig.shape[1]
    width = 0
    for a in range(first, last):
        width = max(width, offsets[a + 1] - offsets[a])
    rows = np.empty(width, dtype=np.int64)
    keys = np.empty((bands, width), dtype=np.uint64)  # keys[band, r]: band key of rows[r]
    chain = np.empty(bands, dtype=np.uint64)
    lanes = np.empty((rows_per_band, bands), dtype=np.uint64)
    seeds = _band_seeds(bands)
    # one band's buckets: an open-addressing table of 2^b >= 2 m slots, each holding the first
    # row of its key; the rows of a bucket are chained through `nxt` (no sort)
    size = 1
    while size < 2 * max(width, 1):
        size *= 2
    slot_row = np.empty(size, dtype=np.int64)
    nxt = np.empty(width, dtype=np.int64)  # per row: the next row of its bucket, -1 at the end
    tail = np.empty(width, dtype=np.int64)  # per bucket's first row: its last row
    near = np.empty((min(width, max(pairs_max, 0)), bits.shape[1]), dtype=np.uint64)  # a small account's bits
    for a in range(first, last):
        m = 0
        for i in range(offsets[a], offsets[a + 1]):
            if n_words[i] > 0:
                rows[m] = i
                m += 1
        if m < 2:
            continue
        if m <= pairs_max:
            _flag_pairs(sig, slot, bits, rows, m, bands, rows_per_band, min_agree, near, out)
            continue
        mask = 1
        while mask < 2 * m:
            mask *= 2
        mask -= 1
        for r in range(m):
            _row_band_keys(sig, slot[rows[r]], rows_per_band, seeds, lanes, chain, keys, r)
        flagged_rows = 0
        for band in range(bands):
            if flagged_rows == m:  # every row flagged: no later band can add one
                break
            for t in range(mask + 1):
                slot_row[t] = -1
            for r in range(m):
                h = keys[band, r]
                nxt[r] = -1
                t = np.int64(h >> np.uint64(40)) & mask
                while slot_row[t] >= 0 and keys[band, slot_row[t]] != h:
                    t = (t + 1) & mask
                if slot_row[t] < 0:
                    slot_row[t] = r
                    tail[r] = r
                else:
                    f = slot_row[t]
                    nxt[tail[f]] = r
                    tail[f] = r
            # each pair of a bucket once, from its earlier row: a row is flagged when some pair
            # it is in passes, whichever of its two rows looks
            for x in range(m):
                y = nxt[x]
                if y < 0:
                    continue
                i = rows[x]
                flagged = out[i]
                while y >= 0:
                    j = rows[y]
                    if (
                        not (flagged and out[j])
                        and _may_agree(bits, slot[i], slot[j], min_agree, k)
                        and _agree(sig, slot[i], slot[j], min_agree)
                    ):
                        flagged_rows += (0 if flagged else 1) + (0 if out[j] else 1)
                        out[i] = True
                        out[j] = True
                        flagged = True
                    y = nxt[y]


@inline
def _find(parent, x):
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:
        nxt = parent[x]
        parent[x] = root
        x = nxt
    return root


@kernel(types.void(_i64ro, _i64ro, _i64ro, rw(types.int64)))
def label_components(edge_a, edge_b, rank, out):
    """Connected components of an undirected graph: out[v] = the smallest rank[u] over the
    vertices u of v's component (so labels do not depend on vertex numbering, only on rank).

    edge_a, edge_b : int64[e] (vertex indices < n), rank : int64[n], out : int64[n]
    """
    n = rank.shape[0]
    parent = np.arange(n)
    for e in range(edge_a.shape[0]):
        ra = _find(parent, edge_a[e])
        rb = _find(parent, edge_b[e])
        if ra != rb:
            if rank[ra] < rank[rb]:
                parent[rb] = ra
            else:
                parent[ra] = rb
    for v in range(n):
        out[v] = rank[_find(parent, v)]


BIG_ITEM = 64  # count_linked_accounts' `big`: items of more accounts are unioned once per set of them


@inline
def _same_items(items, offsets, count, a, b):
    """Whether accounts a and b list the same `count` items (items[offsets[x]:][:count])."""
    if count[a] != count[b]:
        return False
    for i in range(count[a]):
        if items[offsets[a] + i] != items[offsets[b] + i]:
            return False
    return True


@kernel(types.void(_i64ro, _i64ro, _i64ro, _i64ro, types.int64, rw(types.int64)))
def count_linked_accounts(item_offsets, item_accounts, account_offsets, account_items, big, out):
    """out[a] = number of distinct accounts other than a that hold at least one of a's items.

    Account by account over its items' accounts, that is the sum over items of their accounts
    squared: a template of a swarm of S accounts took S^2 steps (two templates over a swarm of
    50,000 accounts: 8 s). Here the accounts that hold the same items of more than `big`
    accounts (BIG_ITEM; a swarm's shared templates) have the union of those counted once, and
    each account then adds the accounts of its other items that are not in it: the steps are the
    large items' accounts once per distinct set of them, and the small items' accounts once per
    account that holds them.
    item_offsets : int64[g + 1], item_accounts : int64[e] (accounts of item k are
    item_accounts[item_offsets[k]:item_offsets[k + 1]]); account_offsets : int64[n + 1],
    account_items : int64[e] (items of account a likewise); out : int64[n]
    """
    n = account_offsets.shape[0] - 1
    # each account's large items, in order, where its items are listed, and their hash
    large = np.empty(account_items.shape[0], dtype=np.int64)
    n_large = np.zeros(n, dtype=np.int64)
    key = np.zeros(n, dtype=np.uint64)
    for a in range(n):
        lo = account_offsets[a]
        k = 0
        for t in range(lo, account_offsets[a + 1]):
            g = account_items[t]
            if item_offsets[g + 1] - item_offsets[g] > big:
                at = lo + k  # insertion in order: an account's items are few
                while at > lo and large[at - 1] > g:
                    large[at] = large[at - 1]
                    at -= 1
                large[at] = g
                k += 1
        n_large[a] = k
        h = np.uint64(k)
        for i in range(k):
            h = combine(h, np.uint64(large[lo + i]))
        key[a] = h
    # the distinct sets of large items (an open-addressing table of their first accounts)
    size = 1
    while size < 2 * max(n, 1):
        size *= 2
    table = np.full(size, -1, dtype=np.int64)
    set_of = np.full(n, -1, dtype=np.int64)
    n_sets = 0
    for a in range(n):
        if n_large[a] == 0:
            continue
        t = np.int64(key[a] >> np.uint64(40)) & (size - 1)
        while True:
            r = table[t]
            if r < 0:
                table[t] = a
                set_of[a] = n_sets
                n_sets += 1
                break
            if key[r] == key[a] and _same_items(large, account_offsets, n_large, r, a):
                set_of[a] = set_of[r]
                break
            t = (t + 1) & (size - 1)
    # the accounts of each set side by side (-1, no large item: a set of its own)
    start = np.zeros(n_sets + 2, dtype=np.int64)
    for a in range(n):
        start[set_of[a] + 2] += 1
    for s in range(1, n_sets + 2):
        start[s] += start[s - 1]
    by_set = np.empty(n, dtype=np.int64)
    for a in range(n):
        s = set_of[a] + 1
        by_set[start[s]] = a
        start[s] += 1
    # (start[s] is now where set s - 1 ends)
    # = s: in set s's union of large items (never -1: accounts without one have no union)
    in_union = np.full(n, -2, dtype=np.int64)
    stamp = np.full(n, -1, dtype=np.int64)  # = a: counted for account a
    lo = 0
    for s in range(-1, n_sets):
        hi = start[s + 1]
        union = 0
        if s >= 0:
            r = by_set[lo]
            for i in range(n_large[r]):
                g = large[account_offsets[r] + i]
                for u in range(item_offsets[g], item_offsets[g + 1]):
                    b = item_accounts[u]
                    if in_union[b] != s:
                        in_union[b] = s
                        union += 1
        for x in range(lo, hi):
            a = by_set[x]
            c = union - (1 if in_union[a] == s else 0)
            for t in range(account_offsets[a], account_offsets[a + 1]):
                g = account_items[t]
                if item_offsets[g + 1] - item_offsets[g] > big:
                    continue  # in the union (an account of set -1 holds no such item)
                for u in range(item_offsets[g], item_offsets[g + 1]):
                    b = item_accounts[u]
                    if b != a and stamp[b] != a and in_union[b] != s:
                        stamp[b] = a
                        c += 1
            out[a] = c
        lo = hi
