"""The cross-account pair search: verified near-duplicate pairs among one LSH band's buckets
(`link_bucket_pairs`), over records of the texts (`text_records`) that hold what the search
reads of each text in one place.

A band's buckets put the texts in an order of their band key, unrelated to where their
signatures are: every text the search looks at is a cache miss. Most candidate pairs (on the
bench log 19.4 M of 23 M over the 25 bands) fail on their low bits, and most of the rest (3.2 M)
collided in an earlier band, which the first values of the signatures often say. A text's
record holds both, with where its rows are: the search gathers a block of buckets' records in
bucket order (one read of 64 bytes a text for K = 128, asked for ahead), and reads a signature
only for a pair that passes both checks. On the bench log's sample, one thread, against reading
the low bits, the places and the signatures where each is kept: the 25 bands 0.32-0.37 s against
0.47-0.52 (the records built in 0.02 s more).
"""

from __future__ import annotations

import numpy as np
from numba import types

from fastscan.kernels._jit import inline, kernel, ro, ro2, rw, rw2
from fastscan.kernels.bits import prefetch
from fastscan.kernels.neardup import _agree, _band_agrees, _may_agree

PREFIX_WORDS = 2  # at least this many words of a record hold the signature's first values
BLOCK_TEXTS = 4096  # texts whose records are gathered at a time (more when one bucket has more)
GATHER_AHEAD = 16  # texts between asking for a record and copying it
PAIRS_BLOCK = 2048  # candidate pairs collected before their signatures are read
PAIRS_AHEAD = 8  # candidate pairs between asking for a signature and comparing it
MAX_ROWS = 2**32 - 1  # places and signature rows a record can name (uint32)

_i64ro = ro(types.int64)
_sigro2 = ro2(types.uint16)


def record_width(k: int) -> int:
    """Words (uint64) of a text's record for signatures of k values: the low bits' ceil(k / 32)
    words, three uint32 of places, and at least PREFIX_WORDS of signature values, in whole
    64-byte lines."""
    return -(-((k + 31) // 32 + 2 + PREFIX_WORDS) // 8) * 8


@inline
def _prefix(k, width):
    """(first uint16 position of the signature's values in a record, how many it holds)."""
    nw = (k + 31) // 32
    return 4 * nw + 6, min(k, 4 * (width - nw) - 6)


@kernel(types.void(_sigro2, ro2(types.uint64), _i64ro, _i64ro, types.int64, types.int64, rw2(types.uint64)))
def text_records(sig, bits, first, rows, lo, hi, rec):
    """The records of texts lo..hi-1: text t's rows are places first[t]:first[t + 1] and its
    signature sig[rows[t]]; rec[t] holds bits[rows[t]] (low_bits), first[t], its copies, rows[t],
    then the signature's first values, 4 a word (little-endian), the rest 0. Disjoint ranges can
    run on several threads.
    sig : uint16[n, K], bits : uint64[n, ceil(K / 32)], first : int64[t + 1], rows : int64[t],
    rec : uint64[t, record_width(K)]"""
    k = sig.shape[1]
    nw = bits.shape[1]
    width = rec.shape[1]
    p0, pn = _prefix(k, width)
    r16 = rec.view(np.uint16)
    r32 = rec.view(np.uint32)
    for t in range(lo, hi):
        if t + 8 < hi:
            prefetch(sig, rows[t + 8] * k)
            prefetch(bits, rows[t + 8] * nw)
        r = rows[t]
        for w in range(nw):
            rec[t, w] = bits[r, w]
        for w in range(nw, width):
            rec[t, w] = 0
        r32[t, 2 * nw] = first[t]
        r32[t, 2 * nw + 1] = first[t + 1] - first[t]
        r32[t, 2 * nw + 2] = r
        for p in range(pn):
            r16[t, p0 + p] = sig[r, p]


@inline
def _verify(pa, pb, n_pairs, blk, place, account, sig, min_agree, window, band, rows_per_band, in_rec, out, count):
    """link_bucket_pairs' candidate pairs pa[z], pb[z] (places in blk) on their signatures: the
    pairs of their rows it reports, counted from `count`; returns the new count."""
    m = account.shape[0]
    k = sig.shape[1]
    nw = (k + 31) // 32
    b32 = blk.view(np.uint32)
    for z in range(-PAIRS_AHEAD, n_pairs):
        ahead = z + PAIRS_AHEAD
        if ahead < n_pairs:  # every line of the signatures PAIRS_AHEAD pairs on
            j = np.int64(b32[pb[ahead], 2 * nw + 2]) * k
            for x in range(0, k, 32):
                prefetch(sig, j + x)
            if ahead == 0 or pa[ahead] != pa[ahead - 1]:
                i = np.int64(b32[pa[ahead], 2 * nw + 2]) * k
                for x in range(0, k, 32):
                    prefetch(sig, i + x)
        if z < 0:
            continue
        a1, a2 = pa[z], pb[z]
        i, j = np.int64(b32[a1, 2 * nw + 2]), np.int64(b32[a2, 2 * nw + 2])
        if _band_agrees(sig, i, j, in_rec, band, rows_per_band, 0) or not _agree(sig, i, j, min_agree):
            continue
        f1, p1, e1 = np.int64(b32[a1, 2 * nw]), place[a1], place[a1] + np.int64(b32[a1, 2 * nw + 1])
        f2, p2, c2 = np.int64(b32[a2, 2 * nw]), place[a2], np.int64(b32[a2, 2 * nw + 1])
        for x in range(max(p1, p2 - window), e1):
            for y in range(p2, min(p2 + c2, x + 1 + window)):
                if account[f1 + x - p1] != account[f2 + y - p2]:
                    if count < out.shape[0]:
                        u, v = f1 + x - p1, f2 + y - p2
                        out[count] = min(u, v) * m + max(u, v)
                    count += 1
    return count


@kernel(
    types.int64(
        _i64ro,
        _i64ro,
        ro2(types.uint64),
        _i64ro,
        _sigro2,
        types.int64,
        types.int64,
        types.int64,
        types.int64,
        ro(types.boolean),
        rw(types.int64),
    )
)
def link_bucket_pairs(order, starts, rec, account, sig, min_agree, window, band, rows_per_band, skip_copies, out):
    """Verified cross-account pairs among the candidates of one band; returns how many there are.

    The rows come as texts: text t is the run of places its record rec[t] names (text_records:
    copies of one prompt, sent by the accounts at the same places of `account`), and its
    signature is the row of `sig` the record names.
    A bucket is a run order[starts[q]:starts[q + 1]] of texts of one band key (buckets.bucket_keys'
    groups): its rows are its texts' runs one after the other. Each row is paired with the next
    `window` rows of its bucket (every pair when the bucket has at most window + 1 rows), so a
    bucket of m rows holds at most m * window candidate pairs. Pairs of one account are skipped,
    and so are pairs that already collided in an earlier band: a pair belongs to the first band it
    collides in, so over all bands each pair is reported at most once and needs no deduplication.
    The first min(count, len(out)) pairs are written as smaller place * m + larger place, places
    (m = len(account); one array, where two took twice the memory at the peak of finish());
    a caller whose buffer was too small calls again with one of the returned size.

    A candidate pair of texts is verified once, not once per two rows: their first rows are
    checked, and when they pass, every pair of their rows within `window` places of each other
    and of different accounts is reported. Copies of one text pair up in band 0 without a check
    (they agree everywhere), except those of a text t with skip_copies[t] set, whose caller has
    no use for them; they are skipped in later bands (they collided in 0).
    The checks, in order: the low bits (fewer than min_agree positions agree there: the pair
    fails), then the bands the records' first values cover (the pair collided before), both on
    the gathered records; then, on the two signatures, read with PAIRS_AHEAD pairs' signatures
    asked for ahead, the bands the records do not cover, then every position.
    order : int64[<= t] (texts, none twice), starts : int64[buckets + 1], rec : uint64[t, width],
    account : int64[m], sig : uint16[n, K], skip_copies : bool[t], out : int64[cap]
    """
    m = account.shape[0]
    k = sig.shape[1]
    nw = (k + 31) // 32
    width = rec.shape[1]
    p0, pn = _prefix(k, width)
    in_rec = min(band, pn // rows_per_band)  # earlier bands the records cover
    # where a record holds each of those bands' values: their 16-bit lanes of its words, so that a
    # pair's check compares whole words without a branch (a value at a time, it stopped at the
    # first that differed: the 25 bands on one thread 0.33-0.36 -> 0.29-0.32 s)
    lanes = np.zeros((max(in_rec, 1), width), dtype=np.uint64)
    lane_lo = width  # the first word that holds any
    for b in range(in_rec):
        for p in range(p0 + b * rows_per_band, p0 + (b + 1) * rows_per_band):
            lanes[b, p // 4] |= np.uint64(0xFFFF) << np.uint64(16 * (p % 4))
            lane_lo = min(lane_lo, p // 4)
    count = 0
    nb = starts.shape[0] - 1
    size = BLOCK_TEXTS
    for q in range(nb):
        size = max(size, starts[q + 1] - starts[q])
    blk = np.empty((size, width), dtype=np.uint64)  # the block's records, in bucket order
    b32 = blk.view(np.uint32)
    place = np.empty(size, dtype=np.int64)  # a text's first row's place in its bucket
    near = np.empty(window + 1, dtype=np.int64)
    pa = np.empty(PAIRS_BLOCK, dtype=np.int64)  # candidate pairs (places in the block)
    pb = np.empty(PAIRS_BLOCK, dtype=np.int64)
    n_pairs = 0
    texts = starts[nb]
    q0 = 0
    while q0 < nb:
        # a block of whole buckets, at least one
        q1 = q0 + 1
        while q1 < nb and starts[q1 + 1] - starts[q0] <= size:
            q1 += 1
        base = starts[q0]
        for a in range(base, starts[q1]):
            if a + GATHER_AHEAD < texts:
                ahead = order[a + GATHER_AHEAD] * width
                for w in range(0, width, 8):
                    prefetch(rec, ahead + w)
            t = np.uint64(order[a])  # read once, and unsigned: no wrap-around of a negative index
            for w in range(width):
                blk[a - base, w] = rec[t, w]
        for q in range(q0, q1):
            lo, hi = starts[q] - base, starts[q + 1] - base
            p = 0
            for a in range(lo, hi):
                place[a] = p
                p += np.int64(b32[a, 2 * nw + 1])
            for a1 in range(lo, hi):
                f1 = np.int64(b32[a1, 2 * nw])
                c1 = np.int64(b32[a1, 2 * nw + 1])
                e1 = place[a1] + c1
                if band == 0 and k >= min_agree and not skip_copies[order[base + a1]]:  # copies agree everywhere
                    for x in range(c1 - 1):
                        for y in range(x + 1, min(c1, x + 1 + window)):
                            if account[f1 + x] != account[f1 + y]:
                                if count < out.shape[0]:
                                    out[count] = (f1 + x) * m + f1 + y
                                count += 1
                end = a1 + 1  # later texts a row of this one can reach
                while end < hi and place[end] - (e1 - 1) <= window:
                    end += 1
                n_near = 0  # those whose low bits let min_agree positions agree, without a branch
                for a2 in range(a1 + 1, end):
                    near[n_near] = a2
                    n_near += 1 if _may_agree(blk, a1, a2, min_agree, k) else 0
                for z in range(n_near):  # kept unless they collided in a band the records cover
                    a2 = near[z]
                    fresh = 1
                    for b in range(in_rec):
                        x = np.uint64(0)
                        for w in range(lane_lo, width):
                            x |= (blk[a1, w] ^ blk[a2, w]) & lanes[b, w]
                        fresh &= 1 if x != 0 else 0
                    pa[n_pairs] = a1
                    pb[n_pairs] = a2
                    n_pairs += fresh
                # the pairs' signatures, when the room for them may not hold the next text's, and
                # at the block's end (its records are overwritten next)
                if n_pairs > PAIRS_BLOCK - window - 1 or (n_pairs and q == q1 - 1 and a1 == hi - 1):
                    count = _verify(
                        pa,
                        pb,
                        n_pairs,
                        blk,
                        place,
                        account,
                        sig,
                        min_agree,
                        window,
                        band,
                        rows_per_band,
                        in_rec,
                        out,
                        count,
                    )
                    n_pairs = 0
        q0 = q1
    return count
