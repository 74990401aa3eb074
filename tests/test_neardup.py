"""Near-duplicates, templates and cross-account links: kernels against tests/reference.py, the
accuracy bar on a slice of real text, the memory bound, and independence from how input is split."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest
import realtext
import reference as ref
from hypothesis import given, settings
from hypothesis import strategies as st
from shared import needs_raw_prompts
from states import rewritten_state

from fastscan import Scanner
from fastscan.config import ScanConfig
from fastscan.score.neardup import group_sizes, lsh_params, near_duplicate_flags
from fastscan.sketches import SIG_DTYPE as SIG
from fastscan.state import AccountState


def kernels():
    from fastscan.kernels import neardup

    return neardup


# --------------------------------------------------------------------------- kernels


def in_store(sig: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """sig's rows scattered over a larger store, as a prompt sample keeps them: (store, slot) with
    store[slot[i]] = sig[i]; the other rows hold noise a kernel must never read."""
    rng = np.random.default_rng(seed)
    n, k = sig.shape
    slot = rng.permutation(2 * n + 1)[:n].astype(np.int64)
    store = rng.integers(0, 2**16, (2 * n + 1, k), dtype=SIG)
    store[slot] = sig
    return store, slot


def small_sigs(draw, n, k, values):
    vals = [draw(st.integers(0, values - 1)) for _ in range(n * k)]
    return np.array(vals, dtype=SIG).reshape(n, k)


@st.composite
def sig_sets(draw):
    k = draw(st.sampled_from([8, 16]))
    n = draw(st.integers(0, 14))
    # few distinct values so that bands collide and pairs agree often
    sig = small_sigs(draw, n, k, draw(st.integers(1, 3)))
    account = np.array([draw(st.integers(0, 3)) for _ in range(n)], dtype=np.int64)
    return sig, account


@settings(max_examples=60, deadline=None)
@given(sig_sets(), st.sampled_from([1, 2, 4, 8]))
def test_band_keys_match_reference(data, rows):
    sig, _ = data
    nd = kernels()
    # the keys of chosen rows, in the order given (rows may repeat)
    pick = (
        np.array([(7 * i + 3) % len(sig) for i in range(2 * len(sig))], dtype=np.int64)
        if len(sig)
        else np.zeros(0, np.int64)
    )
    bands = sig.shape[1] // rows
    want = [[ref.band_key(sig[r].tolist(), band, rows) for r in pick] for band in range(bands)]
    out = np.empty((bands, len(pick)), dtype=np.uint64)
    nd.band_keys(sig, pick, rows, 0, len(pick), out)
    assert out.tolist() == want
    # a range of the rows writes its own columns and no other (threads take disjoint ranges)
    lo, hi = len(pick) // 3, 2 * len(pick) // 3
    part = np.zeros((bands, len(pick)), dtype=np.uint64)
    nd.band_keys(sig, pick, rows, lo, hi, part)
    assert part[:, lo:hi].tolist() == out[:, lo:hi].tolist()
    assert not part[:, :lo].any() and not part[:, hi:].any()


@settings(max_examples=60, deadline=None)
@given(sig_sets(), st.sampled_from([2, 4]), st.integers(1, 16), st.data())
def test_flag_account_near_dups_matches_reference(data, rows, min_agree, more):
    sig, account = data
    nd = kernels()
    n, k = sig.shape
    n_words = np.array([more.draw(st.integers(0, 3)) for _ in range(n)], dtype=np.int32)
    # values 4 apart share their low 2 bits: the low-bits check must pass them to the full one.
    # The bits come from one drawn seed: a draw per bit (up to thousands an example) took half
    # the test's time in the drawing alone.
    bump = np.random.default_rng(more.draw(st.integers(0, 2**32 - 1))).integers(0, 2, (n, k))
    sig = sig + SIG(4) * bump.astype(SIG)
    bands = k // rows
    order = np.argsort(account, kind="stable")  # the kernel takes rows in account order
    sig, account, n_words = np.ascontiguousarray(sig[order]), account[order], n_words[order]
    offsets = np.zeros(5, dtype=np.int64)
    np.cumsum(np.bincount(account, minlength=4), out=offsets[1:])
    # the signatures (and their low bits) where a sample's store keeps them: row i's at slot[i]
    store, slot = in_store(sig, more.draw(st.integers(0, 2**32)))
    bits = np.empty((len(store), -(-k // 32)), dtype=np.uint64)
    nd.low_bits(store, bits)
    want = ref.flag_near_duplicates(sig.tolist(), account.tolist(), n_words.tolist(), bands, rows, min_agree)
    # every account by its bands' buckets, pair by pair, and some each way (pairs_max between)
    for pairs_max in (0, n, more.draw(st.integers(1, max(n, 1)))):
        out = np.zeros(n, dtype=np.bool_)
        # in two account ranges, as two threads would run it
        nd.flag_account_near_dups(offsets, store, slot, bits, n_words, bands, rows, min_agree, 0, 2, pairs_max, out)
        nd.flag_account_near_dups(offsets, store, slot, bits, n_words, bands, rows, min_agree, 2, 4, pairs_max, out)
        assert out.tolist() == want, pairs_max


def test_an_account_all_flagged_stops_and_one_with_a_row_left_goes_on_to_its_last_band():
    """Account 0: three copies, all flagged in band 0 (its later bands are skipped). Account 1:
    two copies flagged in band 0, and a third row that meets one of them only in the last band,
    where it is flagged: an account stops only once every row is."""
    nd = kernels()
    k, rows, need = 8, 2, 4
    base = np.arange(1, k + 1, dtype=SIG) * SIG(3)
    third = base.copy()
    third[[1, 3, 4, 5]] += SIG(1000)  # agrees on 0, 2, 6, 7: four positions, one band (6, 7)
    sig = np.stack([base, base, base, base + SIG(7), base + SIG(7), third + SIG(7)])
    n_words = np.full(6, 5, dtype=np.int32)
    offsets = np.array([0, 3, 6], dtype=np.int64)
    slot = np.arange(6, dtype=np.int64)
    bits = np.empty((6, 1), dtype=np.uint64)
    nd.low_bits(sig, bits)
    for pairs_max in (0, 6):  # by the bands' buckets (where the early stop is), and pair by pair
        out = np.zeros(6, dtype=np.bool_)
        nd.flag_account_near_dups(offsets, sig, slot, bits, n_words, k // rows, rows, need, 0, 2, pairs_max, out)
        assert out.tolist() == [True] * 6
    want = ref.flag_near_duplicates(sig.tolist(), [0, 0, 0, 1, 1, 1], n_words.tolist(), k // rows, rows, need)
    assert want == [True] * 6


def test_a_pair_that_agrees_enough_in_no_whole_band_is_not_flagged_either_way():
    """Rows 0 and 1 agree on 4 of 8 positions (need 4) but on no whole band of 2: verified, never a
    candidate, so not flagged, by the bands' buckets or pair by pair. Rows 2 and 3 agree on the
    same 4 positions placed as two whole bands: flagged."""
    nd = kernels()
    k, rows, need = 8, 2, 4
    base = np.arange(1, k + 1, dtype=SIG) * SIG(3)
    apart, banded = base.copy(), base.copy()
    apart[[1, 3, 5, 7]] += SIG(1000)  # agrees on 0, 2, 4, 6: one position of every band
    banded[[4, 5, 6, 7]] += SIG(1000)  # agrees on bands (0, 1) and (2, 3)
    sig = np.stack([base, apart, base + SIG(11), banded + SIG(11)])
    n_words = np.full(4, 5, dtype=np.int32)
    offsets = np.array([0, 2, 4], dtype=np.int64)
    slot = np.array([3, 1, 0, 2], dtype=np.int64)  # rows where a store would keep them
    store = np.empty_like(sig)
    store[slot] = sig
    bits = np.empty((4, 1), dtype=np.uint64)
    nd.low_bits(store, bits)
    want = ref.flag_near_duplicates(sig.tolist(), [0, 0, 1, 1], n_words.tolist(), k // rows, rows, need)
    assert want == [False, False, True, True]
    for pairs_max in (0, 1, 2):
        out = np.zeros(4, dtype=np.bool_)
        nd.flag_account_near_dups(offsets, store, slot, bits, n_words, k // rows, rows, need, 0, 2, pairs_max, out)
        assert out.tolist() == want, pairs_max


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 2**64 - 1), st.integers(-(2**31), 2**31 - 1)), max_size=300),
    st.integers(0, 3),
    st.integers(0, 2),
)
def test_group_sizes_counts_equal_key_tuples(pairs, spread, kind):
    """group_sizes = how often each element's key tuple occurs, for one or two keys (the hash
    table's case, of unsigned, signed and mixed widths) and for three (the sort's)."""
    from collections import Counter

    if spread:  # many equal tuples
        pairs = [(a % (spread + 1), b % (spread + 1)) for a, b in pairs]
    a = np.array([p[0] for p in pairs], dtype=np.uint64)
    b = np.array([p[1] for p in pairs], dtype=np.int32)
    keys = [(a,), (a, b), (b, a, b.astype(np.int64))][kind]
    tuples = list(zip(*(k.tolist() for k in keys))) if pairs else []
    seen = Counter(tuples)
    assert group_sizes(*keys).tolist() == [seen[t] for t in tuples]


def test_group_sizes_tells_apart_tuples_that_share_a_first_key():
    """Two hundred tuples of one first key: in a table a quarter full, many meet in probing, and
    only the second key tells them apart."""
    second = np.r_[np.arange(200), np.arange(0, 200, 4)].astype(np.int64)
    first = np.full(len(second), 7, dtype=np.uint64)
    assert group_sizes(first, second).tolist() == [2 if x % 4 == 0 else 1 for x in second.tolist()]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1), max_size=300), st.integers(0, 3), st.integers(1, 3), st.booleans())
def test_bucket_keys_is_a_stable_sort_of_the_groups_large_enough(values, spread, min_size, low):
    """Random keys spread over the top bits; with `spread` many equal keys; with `low` all keys of
    equal top bits (their run sorted in place, or merge-sorted once it passes SMALL_RUN)."""
    from fastscan.kernels import buckets

    keys = np.array(values, dtype=np.uint64)
    if spread:  # many equal keys: a group keeps the order of its positions
        keys = keys % np.uint64(spread + 7) * np.uint64(0x9E3779B97F4A7C15)
    if low:
        keys = keys >> np.uint64(40)
    out = np.full(len(keys), -1, dtype=np.int64)
    starts = np.full(len(keys) + 1, -1, dtype=np.int64)
    groups = buckets.bucket_keys(keys, min_size, out, starts)
    want = ref.key_groups(keys.tolist(), min_size)
    assert groups == len(want)
    assert [out[starts[q] : starts[q + 1]].tolist() for q in range(groups)] == want
    assert starts[0] == 0 and starts[groups] == sum(map(len, want))


def test_bucket_keys_sorts_a_long_run_of_equal_top_bits_and_keeps_its_groups_in_order():
    """600 positions over three keys of equal top bits, interleaved: past SMALL_RUN their run is
    merge-sorted, and each key's positions stay in order; a key of fewer than min_size is left out."""
    from fastscan.kernels import buckets

    keys = np.array([5, 3, 9] * 200 + [4], dtype=np.uint64)
    out = np.empty(len(keys), dtype=np.int64)
    starts = np.empty(len(keys) + 1, dtype=np.int64)
    assert buckets.bucket_keys(keys, 2, out, starts) == 3
    assert [out[starts[q] : starts[q + 1]].tolist() for q in range(3)] == [
        list(range(1, 600, 3)),
        list(range(0, 600, 3)),
        list(range(2, 600, 3)),
    ]


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 2**64 - 1), st.integers(-5, 5)), max_size=300),
    st.integers(0, 3),
    st.booleans(),
)
def test_hash_order_is_lexsorts_order(pairs, spread, low):
    """hash_order = np.lexsort((second, keys)): random keys; with `spread` many equal keys (runs
    ordered by the second key, ties by position); with `low` all of equal top bits."""
    from fastscan.kernels import buckets

    keys = np.array([p[0] for p in pairs], dtype=np.uint64)
    second = np.array([p[1] for p in pairs], dtype=np.int64)
    if spread:
        keys = keys % np.uint64(spread + 2) * np.uint64(0x9E3779B97F4A7C15)
    if low:
        keys = keys >> np.uint64(40)
    out = np.full(len(keys), -1, dtype=np.int64)
    buckets.hash_order(keys, second, out)
    assert out.tolist() == np.lexsort((second, keys)).tolist()


def test_hash_order_of_many_rows_is_lexsorts_order():
    """300,000 rows, some texts sent by thousands of accounts (runs past SMALL_RUN)."""
    from fastscan.kernels import buckets

    rng = np.random.default_rng(9)
    keys = rng.integers(0, 2**64, size=300_000, dtype=np.uint64)
    keys[rng.integers(0, len(keys), 60_000)] = keys[rng.integers(0, 20, 60_000)]
    second = rng.integers(0, 1_000, size=len(keys)).astype(np.int64)
    out = np.empty(len(keys), dtype=np.int64)
    buckets.hash_order(keys, second, out)
    assert np.array_equal(out, np.lexsort((second, keys)))


def test_hash_order_of_long_runs_of_equal_top_bits_is_lexsorts_order():
    """Runs of equal top bits past SMALL_RUN (the keys differ in their low bits only), holding
    distinct keys and runs of one key past SMALL_RUN, short ones and single ones."""
    from fastscan.kernels import buckets

    rng = np.random.default_rng(12)
    for n, distinct in ((5_000, 40), (5_000, 4_000), (20_000, 3)):
        top = rng.integers(0, 4, size=n).astype(np.uint64) << np.uint64(60)
        keys = top | rng.integers(0, distinct, size=n).astype(np.uint64)
        second = rng.integers(-50, 50, size=n).astype(np.int64)
        out = np.empty(n, dtype=np.int64)
        buckets.hash_order(keys, second, out)
        assert np.array_equal(out, np.lexsort((second, keys)))


def test_bucket_keys_of_many_keys_agree_with_a_stable_sort():
    """200,000 keys, as a band of a large sample has: most alone, some in groups of up to
    thousands, some distinct keys of equal top bits; against numpy's stable argsort."""
    from fastscan.kernels import buckets

    rng = np.random.default_rng(5)
    keys = rng.integers(0, 2**64, size=200_000, dtype=np.uint64)
    keys[rng.integers(0, len(keys), 30_000)] = keys[rng.integers(0, 50, 30_000)]  # large groups
    near = rng.integers(0, len(keys), 2_000)
    keys[near] = (keys[near] & np.uint64(0xFFFFFFFF00000000)) | rng.integers(0, 3, 2_000, dtype=np.uint64)
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    first = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]])
    size = np.diff(np.r_[first, len(sk)])
    for min_size in (1, 2, 40):
        out = np.empty(len(keys), dtype=np.int64)
        starts = np.empty(len(keys) + 1, dtype=np.int64)
        groups = buckets.bucket_keys(keys, min_size, out, starts)
        kept = size >= min_size
        assert groups == int(kept.sum())
        assert np.array_equal(np.diff(starts[: groups + 1]), size[kept])
        assert np.array_equal(out[: starts[groups]], order[np.repeat(kept, size)])


@st.composite
def link_sig_sets(draw):
    """sig_sets, and signatures whose bands the pair search's records do not all hold (kernels.links)."""
    sig, account = draw(sig_sets())
    k = draw(st.sampled_from([sig.shape[1], 48, 136]))
    if k != sig.shape[1]:
        sig = small_sigs(draw, len(sig), k, draw(st.integers(2, 3)))
    return sig, account


@settings(max_examples=80, deadline=None)
@given(link_sig_sets(), st.sampled_from([2, 4]), st.integers(1, 16), st.integers(1, 20), st.data())
def test_link_bucket_pairs_matches_reference(data, rows, min_agree, window, more):
    sig, account = data
    n, k = sig.shape
    min_agree = max(1, min_agree * k // 16)
    # values 4 apart share their low 2 bits: the low-bits check must pass them to the full one.
    # The bits come from one drawn seed: a draw per bit (up to thousands an example) took half
    # the test's time in the drawing alone.
    bump = np.random.default_rng(more.draw(st.integers(0, 2**32 - 1))).integers(0, 2, (n, k))
    sig = sig + SIG(4) * bump.astype(SIG)
    phash = np.array([more.draw(st.integers(0, 4)) for _ in range(n)], dtype=np.uint64)
    # rows of one prompt hash are one text, so one signature (the kernel relies on it)
    first: dict[int, int] = {}
    for r in range(n):
        sig[r] = sig[first.setdefault(int(phash[r]), r)]
    tie = np.arange(n, dtype=np.int64)[::-1].copy()
    skip = [more.draw(st.booleans()) for _ in range(5)]  # per prompt hash: its copies do not pair
    assert_links_match_reference(sig, account, phash, tie, rows, min_agree, window, skip)


def assert_links_match_reference(sig, account, phash, tie, rows, min_agree, window, skip=None):
    """link_bucket_pairs over every band, fed as cross_pairs feeds it (texts, and buckets in their
    order by prompt hash, then tie), finds ref.link_pairs's pairs, each once; but for the pairs
    of two copies of a text whose prompt hash h has skip[h]."""
    from fastscan.kernels import buckets, links

    nd = kernels()
    n, k = sig.shape
    # the rows as the kernel takes them: by prompt hash, then tie, each text's copies a run
    base = np.lexsort((tie, phash)).astype(np.int64)
    ph = phash[base]
    starts = np.flatnonzero(np.r_[True, ph[1:] != ph[:-1]]) if n else np.zeros(0, np.int64)
    first = np.r_[starts, n].astype(np.int64)
    texts = np.arange(len(starts), dtype=np.int64)
    skip_copies = np.array([bool(skip and skip[int(h)]) for h in ph[starts]], dtype=np.bool_)
    bits = np.empty((n, -(-k // 32)), dtype=np.uint64)
    nd.low_bits(sig, bits)
    rec = np.empty((len(texts), links.record_width(k)), dtype=np.uint64)
    links.text_records(sig, bits, first, base[starts], 0, len(texts), rec)
    pairs: list[tuple[int, int]] = []
    keys = np.empty((k // rows, len(texts)), dtype=np.uint64)
    nd.band_keys(sig, base[starts], rows, 0, len(texts), keys)
    for band in range(k // rows):
        order = np.empty(len(texts), dtype=np.int64)
        bucket = np.empty(len(texts) + 1, dtype=np.int64)
        g = buckets.bucket_keys(keys[band], 1 if band == 0 else 2, order, bucket)  # as cross_pairs groups
        args = (order, bucket[: g + 1], rec, account[base], sig, min_agree, window, band, rows, skip_copies)
        out = np.empty(2, dtype=np.int64)  # deliberately small: the kernel reports what it needs
        c = links.link_bucket_pairs(*args, out)
        if c > 2:
            out = np.empty(c, dtype=np.int64)
            assert links.link_bucket_pairs(*args, out) == c
        # places of `base`, i * n + j
        pairs += [(int(min(base[x // n], base[x % n])), int(max(base[x // n], base[x % n]))) for x in out[:c]]
    assert len(pairs) == len(set(pairs))  # each pair once over all bands
    want = ref.link_pairs(
        sig.tolist(), account.tolist(), phash.tolist(), tie.tolist(), k // rows, rows, min_agree, window
    )
    if skip:
        want = {(i, j) for i, j in want if not (phash[i] == phash[j] and skip[int(phash[i])])}
    assert set(pairs) == want


@pytest.mark.parametrize("k, rows", [(128, 2), (128, 5), (256, 4)])
@pytest.mark.parametrize("where", ["first", "second", "last in record", "first past", "second past", "last"])
def test_link_bucket_pairs_report_a_pair_in_its_first_band_only(k, rows, where):
    """Two texts that agree on every band from one on: one pair, wherever that band is against
    the bands the records hold (kernels.links: checked there, or on the signatures)."""
    from fastscan.kernels import links

    nw = -(-k // 32)
    held = min(k, 4 * (links.record_width(k) - nw) - 6, 64) // rows  # bands a record holds
    assert 0 < held < k // rows - 1
    first_band = {"first": 0, "second": 1, "last in record": held - 1, "first past": held}.get(
        where, held + 1 if where == "second past" else k // rows - 1
    )
    rng = np.random.default_rng(first_band)
    sig = np.tile(rng.integers(0, 2**16, k, dtype=SIG), (3, 1))
    sig[1, : first_band * rows : rows] += SIG(1)  # differs from row 0 in each earlier band
    sig[2] = rng.integers(0, 2**16, k, dtype=SIG)
    account = np.array([0, 1, 2], dtype=np.int64)
    phash = np.array([0, 1, 2], dtype=np.uint64)
    tie = np.zeros(3, dtype=np.int64)
    need = k - first_band  # the two rows agree on exactly this many positions
    want = ref.link_pairs(sig.tolist(), account.tolist(), phash.tolist(), tie.tolist(), k // rows, rows, need, 4)
    assert want == {(0, 1)}
    assert_links_match_reference(sig, account, phash, tie, rows, need, 4)


def test_link_bucket_pairs_across_blocks_and_a_bucket_past_a_block():
    """More texts than one block of records holds (kernels.links.BLOCK_TEXTS), in many small
    buckets and one bucket larger than a block: the pairs found before a block's end are checked
    on that block's records, and a bucket is never split between two blocks."""
    from fastscan.kernels import links

    rng = np.random.default_rng(7)
    k, rows, n = 16, 4, 2 * links.BLOCK_TEXTS + 500
    sig = rng.integers(0, 3, (n, k)).astype(SIG)
    sig[:, :rows] = rng.integers(0, 400, (n, 1)).astype(SIG)  # band 0: buckets of a few texts
    big = rng.choice(n, links.BLOCK_TEXTS + 300, replace=False)
    sig[big, rows : 2 * rows] = 7  # band 1: one bucket past a block
    account = rng.integers(0, 50, n).astype(np.int64)
    phash = np.arange(n, dtype=np.uint64)
    phash[1::97] = phash[0::97][: len(phash[1::97])]  # some texts sent twice
    first: dict[int, int] = {}
    for r in range(n):
        sig[r] = sig[first.setdefault(int(phash[r]), r)]
    tie = rng.permutation(n).astype(np.int64)
    assert_links_match_reference(sig, account, phash, tie, rows, 11, 3)


@pytest.mark.parametrize("window", [1, 2, 3, 5])
def test_link_bucket_pairs_reach_exactly_window_places(window):
    """One bucket longer than the window, of texts with several copies: a row pairs with the
    rows up to `window` places on, across texts and within one, and none further (random drawn
    cases rarely hold a bucket longer than the window)."""
    rng = np.random.default_rng(window)
    k, rows = 8, 4
    copies = [1, 3, 1, 2, 4, 1, 1, 2, 1]
    phash = np.repeat(np.arange(len(copies), dtype=np.uint64), copies)
    n = len(phash)
    sig = np.tile(rng.integers(0, 2**16, k, dtype=SIG), (n, 1))
    sig[:, rows:] += phash[:, None].astype(SIG)  # one bucket, in band 0 only
    account = np.arange(n, dtype=np.int64) % 5
    tie = rng.permutation(n).astype(np.int64)
    want = ref.link_pairs(sig.tolist(), account.tolist(), phash.tolist(), tie.tolist(), k // rows, rows, 1, window)
    assert want
    assert_links_match_reference(sig, account, phash, tie, rows, 1, window)


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 12), st.data())
def test_label_components_matches_reference(n, data):
    edges = data.draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=15))
    rank = np.array(data.draw(st.permutations(range(n))), dtype=np.int64)
    out = np.empty(n, dtype=np.int64)
    ea = np.array([e[0] for e in edges], dtype=np.int64)
    eb = np.array([e[1] for e in edges], dtype=np.int64)
    kernels().label_components(ea, eb, rank, out)
    assert out.tolist() == ref.component_labels(n, edges, rank.tolist())


def _linked_accounts_of(n: int, items: list, big: int, shuffle=None) -> list:
    """count_linked_accounts over `items` (each a set of accounts below n); `shuffle`: a random
    generator to list each account's items in an order of its own."""
    pairs = sorted((g, a) for g, accts in enumerate(items) for a in accts)
    item_acc = np.array([a for _, a in pairs], dtype=np.int64)
    item_off = np.searchsorted([g for g, _ in pairs], np.arange(len(items) + 1)).astype(np.int64)
    by_acct = sorted((a, g) for g, a in pairs)
    acct_items = np.array([g for _, g in by_acct], dtype=np.int64)
    acct_off = np.searchsorted([a for a, _ in by_acct], np.arange(n + 1)).astype(np.int64)
    if shuffle is not None:
        for a in range(n):
            shuffle.shuffle(acct_items[acct_off[a] : acct_off[a + 1]])
    out = np.full(n, -7, dtype=np.int64)
    kernels().count_linked_accounts(item_off, item_acc, acct_off, acct_items, big, out)
    return out.tolist()


@settings(max_examples=120, deadline=None)
@given(st.integers(1, 10), st.integers(0, 4), st.data())
def test_count_linked_accounts_matches_reference(n, big, data):
    """Whatever items count as large (`big`): accounts that share their large items are counted
    from one union of them, and the counts are the reference's."""
    items = data.draw(st.lists(st.sets(st.integers(0, n - 1), min_size=1), max_size=8))
    want = ref.linked_accounts([set(x) for x in items])
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    assert _linked_accounts_of(n, items, big, rng) == [want.get(a, 0) for a in range(n)]


def test_count_linked_accounts_of_a_swarm_sharing_templates():
    """A swarm of 3,000 accounts over two shared templates (by halves and both), each account
    with a small template of its own shared with its neighbours, beside accounts with small
    templates only: the counts of every account as the reference counts them, with the large
    items unioned once per set of them and account by account."""
    rng = np.random.default_rng(3)
    n = 3200
    t1 = set(range(0, 2000))
    t2 = set(range(1000, 3000))
    small = [set(range(a, min(a + 3, n))) for a in range(0, n, 2)]
    items = [t1, t2, *small, set(rng.choice(n, 40, replace=False).tolist())]
    want = ref.linked_accounts(items)
    expect = [want.get(a, 0) for a in range(n)]
    assert min(expect[1000:2000]) >= 2999 and max(expect[3000:]) < 100  # the swarm's, the others'
    for big in (10, 50, 10**9):  # the swarm's templates large, the random one too, none large
        assert _linked_accounts_of(n, items, big) == expect


def test_lsh_params_reach_the_target_recall():
    for k, t in [(128, 0.8), (64, 0.8), (128, 0.5), (128, 0.9), (256, 0.7)]:
        b, r = lsh_params(k, t)
        assert b * r <= k
        j = t - 0.05
        assert 1 - (1 - j**r) ** b >= 0.99
        if r < k:  # the largest such r: one more row per band would miss the target
            r2 = r + 1
            assert 1 - (1 - j**r2) ** (k // r2) < 0.99
    assert lsh_params(128, 0.8) == (25, 5)
    assert lsh_params(128, 0.8, rows=8) == (16, 8)


# --------------------------------------------------------------------------- within an account


def scan_rows(rows, config=None, batch=None):
    s = Scanner(config)
    table = pa.table({"account_id": [a for a, _ in rows], "prompt": [p for _, p in rows]})
    step = batch or max(1, len(rows))
    for i in range(0, len(rows), step):
        s.update(table.slice(i, step))
    return s


def test_short_prompts_match_only_on_identical_words():
    rows = [
        ("a", "thanks"),
        ("a", "Thanks!"),
        ("a", "continue"),  # thanks == Thanks!: same words
        ("b", "thanks a lot"),
        ("b", "thanks a bunch"),
        ("b", "ok"),  # two words in common, not all
        ("c", "???"),
        ("c", "!!!"),
        ("c", ""),
    ]  # wordless: never
    r = scan_rows(rows).finish().accounts.to_pylist()
    rate = {x["account_id"]: x["near_dup_rate"] for x in r}
    assert rate == {"a": pytest.approx(2 / 3), "b": 0.0, "c": 0.0}


def test_near_duplicate_needs_the_threshold():
    base = [
        "the",
        "quick",
        "brown",
        "fox",
        "jumps",
        "over",
        "the",
        "lazy",
        "dog",
        "while",
        "the",
        "cat",
        "sleeps",
        "on",
        "the",
        "warm",
        "mat",
        "near",
        "the",
        "old",
        "red",
        "barn",
        "in",
        "the",
        "quiet",
        "valley",
    ]
    far = list(base)
    for i in range(0, len(far), 3):  # change every third word: most shingles differ
        far[i] = f"w{i}"
    near = base[:-1] + ["meadow"]  # one word at the end: J = 19/21 > 0.8
    rows = [("a", " ".join(base)), ("a", " ".join(near)), ("b", " ".join(base)), ("b", " ".join(far))]
    r = {x["account_id"]: x["near_dup_rate"] for x in scan_rows(rows).finish().accounts.to_pylist()}
    assert r == {"a": 1.0, "b": 0.0}


# --------------------------------------------------------------------------- accuracy on real text

needs_shared = needs_raw_prompts


@needs_shared
def test_near_dup_flags_match_exact_jaccard_on_real_text():
    """Small version of bench/bench_neardup.py: per-prompt flag vs brute-force exact Jaccard."""
    accounts = realtext.load_accounts(t0_accounts=8, sharegpt_accounts=3, alpaca_accounts=2, per_account=120, seed=5)
    cfg = ScanConfig()
    rows = [(name, p) for name, prompts in accounts for p in dict.fromkeys(prompts)]
    s = scan_rows(rows, cfg)
    st_ = s.state
    near = near_duplicate_flags(st_)
    got = {}
    for i in range(len(st_.sample.account)):
        got[(st_.ids[st_.sample.account[i]], int(st_.sample.prompt_hash[i]))] = bool(near[i])
    truth, flags = [], []
    from fastscan.buffers import string_buffers
    from fastscan.kernels import unfused

    for name, prompts in accounts:
        distinct = list(dict.fromkeys(prompts))
        best = realtext.max_jaccard(realtext.shingle_sets(distinct, cfg.shingle_words))
        off, data, valid = string_buffers(pa.array(distinct, pa.string()))
        n = len(distinct)
        ph, nw, hh, th = (np.empty(n, np.uint64), np.empty(n, np.int32), np.empty(n, np.uint64), np.empty(n, np.uint64))
        unfused.hash_prompts(off, data, valid, cfg.skeleton_words, ph, nw, hh, th)
        truth += list(best >= cfg.near_dup_threshold)
        flags += [got[(name, int(h))] for h in ph]
    truth_a, flags_a = np.array(truth), np.array(flags)
    assert truth_a.sum() > 50 and (~truth_a).sum() > 50  # both classes are present
    precision, recall = realtext.flag_metrics(truth_a, flags_a)
    assert precision >= 0.95 and recall >= 0.95, (precision, recall)


# --------------------------------------------------------------------------- bounded memory


def test_state_stays_within_the_bound_for_a_huge_account():
    cfg = ScanConfig(sample_size=64)
    state = AccountState(cfg)
    rng = random.Random(1)
    vocab = [f"w{i}" for i in range(5000)]
    from fastscan.run import Scanner as _S

    s = _S(cfg)
    s.state = state
    distinct = 60_000
    per_batch = 6_000
    peak = 0
    for start in range(0, distinct, per_batch):
        prompts = [" ".join(rng.choices(vocab, k=12)) + f" n{k}" for k in range(start, start + per_batch)]
        s.update(pa.table({"account_id": ["heavy"] * per_batch, "prompt": prompts}))
        peak = max(peak, state.sample.nbytes)
    state.compact()
    # signature + account, hash, count, count0, n_words, head, tail and the signature's store row
    entry = SIG().itemsize * cfg.num_perm + 60
    assert len(state.sample.account) == cfg.sample_size
    # between compactions at most max(2**15, live) entries wait: the transient bound of docs/bounds.md
    most = cfg.sample_size + (1 << 15) + per_batch
    assert peak <= most * entry + len(state.sample.threshold) * 8
    # after a compaction the signature store keeps at most 1.25 times the live entries and 4,096 more
    assert state.sample.store_rows <= cfg.sample_size * 5 // 4 + 4096
    store_row = SIG().itemsize * cfg.num_perm + 8  # a signature and a free-list entry
    kept = cfg.sample_size * entry + (cfg.sample_size // 4 + 4096) * store_row
    assert state.sample.nbytes <= kept + len(state.sample.threshold) * 8
    # a state per prompt would be 60,000 entries; this one is under 1/10 of that
    assert state.sample.nbytes < distinct * entry / 10
    # the whole account state: the sample plus fixed-size counters (accounts are allocated 1024 at a time)
    assert state.nbytes <= state.sample.nbytes + state.sums.nbytes + state.ts_min.nbytes * 2 + 4096
    r = s.finish().accounts.to_pylist()[0]
    assert abs(r["distinct_prompts"] - distinct) / distinct < 0.3  # bottom-k estimate, 64 samples
    assert r["requests"] == distinct


@given(st.lists(st.integers(0, 40), max_size=30), st.integers(1, 40), st.integers(0, 400), st.integers(1, 40))
@settings(max_examples=200, deadline=None)
def test_sample_level_is_the_highest_level_the_budget_holds(rows, size, budget, least):
    from fastscan.sketches import sample_level

    held = np.minimum(np.array(rows, dtype=np.int64), size)
    got = sample_level(held, size, budget, least)
    if budget == 0 or held.sum() <= budget or size <= least:
        assert got == size
        return
    fits = [v for v in range(size + 1) if np.minimum(held, v).sum() <= budget]
    assert got == max(least, max(fits))


@given(
    st.lists(st.tuples(st.integers(0, 7), st.integers(0, 60)), min_size=1, max_size=400),
    st.integers(4, 40),
    st.integers(0, 120),
    st.integers(1, 6),
    st.randoms(use_true_random=False),
)
@settings(max_examples=150, deadline=None)
def test_a_budgeted_sample_is_the_same_whatever_the_batches_and_merges(rows, size, budget, parts, rnd):
    """(account, prompt hash) rows fed to a PromptSample in one batch, in `parts` batches with a
    compaction after each, or as `parts` samples merged: the same rows and counts, and the level
    and rows water-filling over each account's distinct prompts gives (the least an account keeps
    here: min(size, 8))."""
    from fastscan.sketches import PromptSample, sample_level

    def spread(h: int) -> int:  # a prompt hash over all 64 bits
        return (h * 0x9E3779B97F4A7C15) % (1 << 64)

    def sample() -> PromptSample:
        s = PromptSample(size, 8, budget=budget)
        s.least = min(size, 8)
        s.ensure_accounts(8)
        return s

    def add(s: PromptSample, part: list) -> None:
        n = len(part)
        if n:
            a = np.array([r[0] for r in part], dtype=np.int64)
            h = np.array([spread(r[1]) for r in part], dtype=np.uint64)
            ones = np.ones(n, dtype=np.int64)
            s.add(a, h, ones, ones * 0, ones.astype(np.int32), h, h, np.zeros((n, 8), dtype=SIG))
        s.compact()

    rows = list(rows)
    rnd.shuffle(rows)
    cuts = sorted(rnd.randrange(len(rows) + 1) for _ in range(parts - 1))
    pieces = [rows[i:j] for i, j in zip([0, *cuts], [*cuts, len(rows)])]
    whole, batched, merged = sample(), sample(), sample()
    add(whole, rows)
    for piece in pieces:
        add(batched, piece)
    for piece in pieces:
        one = sample()
        add(one, piece)
        merged.merge(one, np.arange(8, dtype=np.int64))
    # the reference: each account's distinct hashes, the level over them, the smallest kept
    distinct: dict[int, dict[int, int]] = {}
    for a, h in rows:
        key = spread(h)
        distinct.setdefault(a, {}).setdefault(key, 0)
        distinct[a][key] += 1
    held = np.array([min(len(distinct.get(a, {})), size) for a in range(8)])
    level = sample_level(held, size, budget, min(size, 8))
    want = [(a, h, c) for a in sorted(distinct) for h, c in sorted(distinct[a].items())[:level]]
    for s in (whole, batched, merged):
        assert s.size == level
        got = list(zip(s.account.tolist(), s.prompt_hash.tolist(), s.count.tolist()))
        assert got == want


def _budget_log(seed: int) -> pa.Table:
    """Twenty light accounts (3-30 distinct prompts, some sent twice) and eight heavy ones
    (150-400), in a shuffled order."""
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(3000)]
    accounts, prompts = [], []
    for a in range(28):
        n = rng.randint(3, 30) if a < 20 else rng.randint(150, 400)
        for k in range(n):
            text = " ".join(rng.choices(vocab, k=10)) + f" q{a}-{k}"
            accounts += [f"acct{a:02d}"] * (1 + (k % 4 == 0))
            prompts += [text] * (1 + (k % 4 == 0))
    order = list(range(len(accounts)))
    rng.shuffle(order)
    return pa.table({"account_id": [accounts[i] for i in order], "prompt": [prompts[i] for i in order]})


def _scanned(cfg: ScanConfig, parts) -> Scanner:
    s = Scanner(cfg)
    for part in parts:
        s.update(part)
    return s


def test_a_sample_budget_keeps_the_smallest_hashes_at_one_level_whatever_the_split():
    """Over `sample_budget` distinct prompts in all, every account keeps at most the same number,
    the most the budget holds (never fewer than 64): the light accounts stay whole, the heavy ones
    keep their prompts of smallest hash. The sample (and the state's bytes) are the same for any
    batches, any order of them, and any states merged; the level survives a state file."""
    from fastscan.sketches import sample_level

    log = _budget_log(3)
    whole = _scanned(ScanConfig(sample_size=512, sample_budget=0), [log]).state
    whole.compact()
    hashes: dict[int, list[int]] = {}
    for a, h in zip(whole.sample.account.tolist(), whole.sample.prompt_hash.tolist()):
        hashes.setdefault(a, []).append(h)
    distinct = np.array([len(hashes[a]) for a in range(whole.n_accounts)])
    assert distinct.max() <= 512 and distinct.sum() > 2000
    cfg = ScanConfig(sample_size=256, sample_budget=1500)
    level = sample_level(np.minimum(distinct, 256), 256, 1500, 64)
    assert 64 < level < 150  # the heavy accounts give rows up; the light ones do not
    states = []
    for parts in (
        [log],
        [log.slice(i, 97) for i in range(0, len(log), 97)],
        [log.slice(i, 1000) for i in range(0, len(log), 1000)][::-1],
    ):
        states.append(_scanned(cfg, parts).state)
    halves = [_scanned(cfg, [log.slice(0, 2000)]).state, _scanned(cfg, [log.slice(2000)]).state]
    merged = AccountState(cfg).merge(halves[1]).merge(halves[0])
    states.append(merged)
    for state in states:
        state.compact()
        s = state.sample
        assert s.size == level and len(s.account) <= 1500
        ids = state.ids
        for a in range(state.n_accounts):
            got = s.prompt_hash[s.account == a].tolist()
            want = sorted(hashes[whole.ids.index(ids[a])])[:level]
            assert got == want, ids[a]
    # one report whatever the split (merged states number their accounts in another order)
    reports = []
    for state in states:
        scanner = Scanner(cfg)
        scanner.state = state
        reports.append(scanner.finish().accounts)
    assert all(r.equals(reports[0]) for r in reports[1:])
    # the level is the state file's: it reads back as the same state and report
    back = AccountState.from_bytes(states[0].to_bytes())
    assert back.sample.size == level and back.to_bytes() == states[0].to_bytes()
    # the light accounts' rates are those of a scan with no budget; the heavy ones' estimates hold
    free = Scanner(ScanConfig(sample_size=256, sample_budget=0))
    free.update(log)
    rows, want = reports[0].to_pylist(), free.finish().accounts.to_pylist()
    assert [r["account_id"] for r in rows] == [r["account_id"] for r in want]
    for got, exact in zip(rows, want):
        if exact["distinct_prompts"] <= level:
            for name in ("distinct_prompts", "exact_dup_rate", "near_dup_rate", "template_rate"):
                assert got[name] == exact[name], (got["account_id"], name)
        else:
            assert abs(got["distinct_prompts"] - exact["distinct_prompts"]) <= 0.35 * exact["distinct_prompts"]


def test_a_state_level_outside_its_bounds_or_settings_unknown_are_refused():
    import json

    cfg = ScanConfig(sample_size=256, sample_budget=1500)
    data = _scanned(cfg, [_budget_log(4)]).state.to_bytes()
    batch = pa.ipc.open_stream(pa.py_buffer(data)).read_next_batch()

    def relabelled(**meta: bytes) -> bytes:
        return rewritten_state(data, meta={k.encode(): v for k, v in meta.items()})

    for level in (b"63", b"257", b"-1", b"x", b""):
        with pytest.raises(ValueError, match="state sample level .* outside 64..256"):
            AccountState.from_bytes(relabelled(**{"fastscan.sample_level": level}))
    # a level below the rows an account holds (the budget's cut not made) is refused
    with pytest.raises(ValueError, match="holds more than its level of 64 prompts"):
        AccountState.from_bytes(relabelled(**{"fastscan.sample_level": b"64"}))
    config = json.loads(batch.schema.metadata[b"fastscan.config"])
    for bad, match in (
        ({**config, "sample_bugdet": 5}, "unknown scan settings: sample_bugdet"),
        ({**config, "sample_budget": "5"}, "scan setting sample_budget is '5', not of type int"),
        ({**config, "sample_budget": -5}, "sample_budget must be 0"),
        ([1, 2], "scan settings are not a mapping: \\[1, 2\\]"),
    ):
        with pytest.raises(ValueError, match=match):
            AccountState.from_bytes(relabelled(**{"fastscan.config": json.dumps(bad).encode()}))
    # a state of format 8 (no budget in its config, no level) reads back at the full sample size
    old = {k: v for k, v in config.items() if k != "sample_budget"}
    meta = {b"fastscan.state_format": b"8", b"fastscan.config": json.dumps(old).encode()}
    back = AccountState.from_bytes(rewritten_state(data, meta=meta, drop=[b"fastscan.sample_level"]))
    assert back.config == ScanConfig(sample_size=256) and back.sample.size == 256


# --------------------------------------------------------------------------- across accounts


def cross_log(seed=0):
    """A ring of 6 accounts sharing two wrappers around different payloads; 6 evaluation accounts
    sending 30 each of the same 40 templated benchmark prompts (identical text); 10 people saying
    thanks and continue; 20 ordinary accounts."""
    rng = random.Random(seed)
    vocab = [f"{a}{b}" for a in "bcdfghklmnprstvz" for b in ["a", "e", "i", "o", "u", "ar", "en", "ol"]]

    def sentence(k):
        return " ".join(rng.choice(vocab) for _ in range(k))

    rows = []
    wrappers = [
        "Think step by step and show your complete reasoning before the final answer. Task: {}",
        "{} Now explain your chain of thought in full detail, then state the answer.",
    ]
    for a in range(6):
        for _ in range(30):
            rows.append((f"ring{a}", rng.choice(wrappers).format(sentence(rng.randint(8, 30)))))
    # a templated benchmark: one wrapper, the same 40 questions for every harness that runs it
    bench = [
        f"The following is a multiple choice question about {rng.choice(vocab)}. Answer with the letter "
        f"of the correct option. {sentence(rng.randint(10, 40))} Answer:"
        for _ in range(40)
    ]
    for a in range(6):
        for p in rng.sample(bench, 30):
            rows.append((f"eval{a}", p))
    for a in range(10):
        for p in ["thanks", "continue", "Thanks!", "please continue", "thank you so much"]:
            rows.append((f"person{a}", p))
    for a in range(20):
        for _ in range(15):
            rows.append((f"user{a:02d}", sentence(rng.randint(5, 40))))
    rng.shuffle(rows)
    return rows


def test_a_sample_past_the_pair_search_limit_is_an_error_that_says_so(monkeypatch):
    """More sampled prompts than the pair search's records can name (uint32 places, 2^32 - 1:
    lowered here) stop the finish with one line that says what and how many, not wrong pairs."""
    import fastscan.kernels.links as kl
    from fastscan.errors import FastscanError

    scanner = scan_rows(cross_log())
    monkeypatch.setattr(kl, "MAX_ROWS", 100)
    with pytest.raises(FastscanError, match=r"^cross-account pair search: [\d,]+ sampled prompts, over its 100$"):
        scanner.finish()


def test_cross_pairs_need_two_accounts():
    """Edited copies of the same texts sent by one account pair with nothing across accounts (the
    search is not run); the same prompts sent by two accounts pair."""
    from fastscan.score import neardup as sn

    rng = random.Random(5)
    words = [f"w{i}" for i in range(400)]
    texts = [[rng.choice(words) for _ in range(40)] for _ in range(20)]
    prompts = []
    for t in texts:
        for edit in range(2):  # the text with its last word edited: a near-duplicate of the other
            prompts.append(" ".join(t[:-1] + [f"end{edit}"]))
    found = []
    for rows in ([("solo", p) for p in prompts], [(f"acct{i % 2}", p) for i, p in enumerate(prompts)]):
        state = scan_rows(rows).state
        bits = sn.low_bits(state)  # (compacts the sample)
        eligible = np.ones(len(state.sample.account), dtype=np.bool_)
        found.append(len(sn.cross_pairs(state, sn.account_ranks(state), eligible, bits)[0]))
    assert found == [0, 20]  # each text's two copies, once


def test_cross_account_ring_is_one_cluster_and_popular_content_ties_nothing():
    rep = scan_rows(cross_log()).finish()
    r = {x["account_id"]: x for x in rep.accounts.to_pylist()}
    ring = [r[f"ring{a}"] for a in range(6)]
    assert {x["cluster_id"] for x in ring} == {"ring0"}
    assert all(x["cluster_size"] == 6 and x["shared_template_accounts"] == 5 for x in ring)
    assert all(x["shared_templates"] >= 1 for x in ring)
    for name, x in r.items():
        if not name.startswith("ring"):
            assert x["cluster_size"] == 1 and x["cluster_id"] == name, name
            assert x["shared_template_accounts"] == 0 and x["shared_near_dup_accounts"] == 0, name
    t = rep.shared_templates.to_pylist()
    assert t and all(x["account_ids"] == [f"ring{a}" for a in range(6)] for x in t)


def test_account_features_alone_match_what_finish_passes_it():
    """account_features computes the flags, the cross-account links and the repetition columns
    itself when not given them (sharing one packing of the low bits): the same table as from the
    ones finish() computes and passes."""
    from fastscan.score.features import account_features
    from fastscan.score.neardup import cross_account, low_bits, repetition

    st_ = scan_rows(cross_log()).state
    bits = low_bits(st_)
    near = near_duplicate_flags(st_, bits)
    given = account_features(st_, cross_account(st_, near, bits), near, repetition(st_, near))
    assert account_features(st_).equals(given)
    assert account_features(st_, near=near).equals(given)


def test_cross_account_near_duplicates_link_accounts_that_share_edited_content():
    rng = random.Random(3)
    words = [f"x{i}" for i in range(3000)]
    items = [" ".join(rng.choices(words, k=40)) for _ in range(30)]
    rows = [("p", t) for t in items[:20]] + [("q", t + " edited") for t in items[:20]]
    rows += [("r", " ".join(rng.choices(words, k=40))) for _ in range(20)]
    rep = scan_rows(rows).finish()
    r = {x["account_id"]: x for x in rep.accounts.to_pylist()}
    assert r["p"]["shared_near_dup_accounts"] == 1 and r["q"]["shared_near_dup_accounts"] == 1
    assert r["p"]["cluster_id"] == r["q"]["cluster_id"] == "p" and r["p"]["cluster_size"] == 2
    assert r["r"]["cluster_size"] == 1 and r["r"]["shared_near_dup_accounts"] == 0
    assert rep.near_dup_links.to_pylist() == [{"account_id": "p", "other_account_id": "q", "shared_near_dups": 20}]


def test_cross_account_fields_do_not_depend_on_how_input_is_split():
    rows = cross_log(seed=4)
    cfg = ScanConfig(sample_size=16)  # small sample: the ring accounts are sampled
    want = scan_rows(rows, cfg).finish()
    for batch in (7, 100):
        got = scan_rows(rows, cfg, batch=batch).finish()
        assert got.accounts.equals(want.accounts)
        assert got.shared_templates.equals(want.shared_templates)
        assert got.near_dup_links.equals(want.near_dup_links)
    # merged scanners, fed in reverse order (accounts first seen in a different order)
    parts = [scan_rows(list(reversed(rows[k::3])), cfg) for k in range(3)]
    merged = parts[2].merge(parts[0]).merge(parts[1]).finish()
    assert merged.accounts.equals(want.accounts)
    assert merged.shared_templates.equals(want.shared_templates)
    assert merged.near_dup_links.equals(want.near_dup_links)


@pytest.mark.parametrize("popular, window", [(5, 16), (2, 16), (3, 2), (3, 3), (2, 1)])
def test_copies_left_unpaired_change_nothing(monkeypatch, popular, window):
    """cross_pairs leaves out the pairs among the copies of a text that makes each copy popular,
    and says those copies are popular: the accounts' columns, the shared templates and the links
    are what pairing every copy gives (copies sent by 2-7 accounts, edited copies from others)."""
    import fastscan.kernels.links as kl
    import fastscan.score.neardup as sn

    rng = random.Random(popular * 31 + window)
    rows = cross_log(seed=5)
    bench = sorted({p for a, p in rows if a.startswith("eval")})
    for k, text in enumerate(bench[:24]):
        senders = rng.sample(range(12), 2 + k % 6)
        rows += [(f"copy{a}", text) for a in senders]
        rows += [(f"edit{a}", text + " edited") for a in rng.sample(range(12), k % 3)]
    words = [f"x{i}" for i in range(3000)]
    items = [" ".join(rng.choices(words, k=40)) for _ in range(20)]
    rows += [("p", t) for t in items] + [("q", t + " edited") for t in items]  # a near-duplicate link
    rng.shuffle(rows)
    cfg = ScanConfig(popular_accounts=popular, bucket_window=window)
    state = scan_rows(rows, cfg).state
    skipped = []
    cross_pairs = sn.cross_pairs

    def skipping(*args):
        got = cross_pairs(*args)
        skipped.append(len(got[2]))
        return got

    monkeypatch.setattr(sn, "cross_pairs", skipping)
    got = sn.cross_account(state)
    # some copies were left unpaired, unless the window reaches fewer than popular_accounts
    assert (skipped[0] > 0) == (window >= popular)
    # every copy paired, and nothing said popular before the pairs are counted
    link = kl.link_bucket_pairs
    monkeypatch.setattr(kl, "link_bucket_pairs", lambda *a: link(*a[:-2], np.zeros_like(a[-2]), a[-1]))
    monkeypatch.setattr(sn, "cross_pairs", lambda *a: (*cross_pairs(*a)[:2], np.zeros(0, np.int64)))
    want = sn.cross_account(state)
    for name, values in want.columns.items():
        assert np.array_equal(got.columns[name], values), name
    assert got.shared_templates.equals(want.shared_templates)
    assert got.near_dup_links.equals(want.near_dup_links)
    assert ("p", "q", 20) in [tuple(x.values()) for x in want.near_dup_links.to_pylist()]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([8, 40, 128]), st.integers(1, 9), st.data())
def test_low_bits_bound_the_agreement(k, spread, data):
    """low_bits packs bit b of position p at bit 2 (p % 32) + b of word p // 32, and the positions
    agreeing on their low 2 bits are never fewer than the positions agreeing outright."""
    nd = kernels()
    vals = st.integers(0, spread)
    sig = np.array([[data.draw(vals) for _ in range(k)] for _ in range(2)], dtype=SIG)
    bits = np.full((2, -(-k // 32)), 7, dtype=np.uint64)
    nd.low_bits(sig, bits)
    for r in range(2):
        want = [
            sum(int(sig[r, p] & 3) << (2 * (p - 32 * w)) for p in range(32 * w, min(k, 32 * w + 32)))
            for w in range(bits.shape[1])
        ]
        assert bits[r].tolist() == want
    low_agree = sum(int(sig[0, p] & 3) == int(sig[1, p] & 3) for p in range(k))
    full_agree = int((sig[0] == sig[1]).sum())
    x = [int(a) ^ int(b) for a, b in zip(bits[0], bits[1])]
    differ = sum(bin((v | (v >> 1)) & 0x5555555555555555).count("1") for v in x)
    assert k - differ == low_agree >= full_agree


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 40), st.integers(0, 6)), max_size=300),
    st.lists(st.tuples(st.integers(0, 40), st.integers(0, 6)), max_size=300),
    st.booleans(),
)
def test_distinct_pairs_is_np_unique_of_the_codes(first, second, both):
    """_distinct_pairs (one array sorted in place, its distinct values moved to its front) gives
    np.unique's values and counts of a * base + b over both lists of pairs."""
    from fastscan.score.neardup import _distinct_pairs

    a, b = (np.array([p[i] for p in first], dtype=np.int64) for i in (0, 1))
    a2, b2 = (np.array([p[i] for p in second], dtype=np.int64) for i in (0, 1))
    base = 7
    code = np.concatenate([a * base + b, a2 * base + b2]) if both else a * base + b
    want, want_counts = np.unique(code, return_counts=True)
    got, counts = _distinct_pairs(a, b, base, a2, b2, counts=True) if both else _distinct_pairs(a, b, base, counts=True)
    assert got.tolist() == want.tolist() and counts.tolist() == want_counts.tolist()
    got, none = _distinct_pairs(a, b, base, a2, b2) if both else _distinct_pairs(a, b, base)
    assert got.tolist() == want.tolist() and len(none) == 0


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_template_examples_are_each_templates_prompt_of_least_hash(data):
    """Per skeleton hash: the prompt of least hash among its rows, a head before a tail, then the
    first row, whatever the order the rows come in; -1 for a hash no row has."""
    from fastscan.score.excerpts import template_examples

    rows = data.draw(st.integers(1, 12))
    prompt_hash = np.array(
        data.draw(st.lists(st.sampled_from([3, 7, 2**64 - 1]), min_size=rows, max_size=rows)), np.uint64
    )
    kinds = []
    for end in (0, 1):  # head rows, then tail rows, each a subset of the sample's rows
        picked = data.draw(st.lists(st.integers(0, rows - 1), unique=True))
        skel = data.draw(st.lists(st.sampled_from([11, 12, 13]), min_size=len(picked), max_size=len(picked)))
        kinds.append((np.array(skel, np.uint64), np.array(picked, np.int64) * 2 + end))
    keys = np.array(data.draw(st.lists(st.sampled_from([11, 12, 13, 14]), unique=True)), np.uint64)
    got = template_examples(prompt_hash, keys, [k for k, _ in kinds], [c for _, c in kinds])
    pairs = [(int(k), int(c)) for key, code in kinds for k, c in zip(key, code)]
    for k, g in zip(keys.tolist(), got.tolist()):
        mine = [c for kk, c in pairs if kk == k]
        want = min(mine, key=lambda c: (int(prompt_hash[c >> 1]), c & 1, c >> 1)) if mine else -1
        assert g == want, (k, mine)


def test_the_cli_scans_within_the_sample_budget_it_is_given(run_cli, tmp_path):
    import glob

    import orjson

    log = tmp_path / "log.jsonl"
    log.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in _budget_log(5).to_pylist()))
    st = tmp_path / "st"
    stats = tmp_path / "stats.json"
    p = run_cli("scan", log, "--sample-budget", "1500", "--state", st, "--top", "0", "--stats", stats)
    assert p.returncode == 0, p.stderr
    (path,) = glob.glob(str(st / "state-*.arrow"))
    with open(path, "rb") as f:
        state = AccountState.from_bytes(f.read())
    assert state.config.sample_budget == 1500 and 64 < state.sample.size < 512
    assert len(state.sample.account) <= 1500
    # the run says that the budget bound, and to what: on stderr and in its statistics
    level = state.sample.size
    assert f"budget held each account to {level:,} distinct prompts of 512" in p.stderr
    assert {k: v for k, v in orjson.loads(stats.read_bytes()).items() if k.startswith("sample_")} == {
        "sample_level": level,
        "sample_size": 512,
    }
    # explain says which accounts' rates come from a sample of their prompts
    heavy = run_cli("explain", "acct25", log, "--sample-budget", "1500", "--examples", "0")
    light = run_cli("explain", "acct03", log, "--sample-budget", "1500", "--examples", "0")
    assert heavy.returncode == light.returncode == 0, heavy.stderr + light.stderr
    assert "repetition rates are measured on a uniform sample of its distinct prompts" in heavy.stdout
    assert "uniform sample" not in light.stdout
    p = run_cli("scan", log, "--top", "0", "--stats", stats)  # the default budget: nothing held
    assert p.returncode == 0 and "budget held" not in p.stderr
    assert orjson.loads(stats.read_bytes())["sample_level"] == 512
    # another budget is another scan configuration: refused on that state, in one line
    p = run_cli("scan", log, "--state", st, "--top", "0")
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1
    assert "another scan configuration (sample_budget 1500, not 4000000)" in p.stderr
    # so is another log shape, in one line too (the note that files are skipped comes only when
    # the directory takes the run)
    p = run_cli("scan", log, "--state", st, "--top", "0", "--sample-budget", "1500", "--map", "openai")
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and "another log shape" in p.stderr
    p = run_cli("scan", log, "--sample-budget", "-5")
    assert p.returncode == 2 and "--sample-budget: must be 0 or more, got -5" in p.stderr
    p = run_cli("scan", log, "--sample-budget", "1.5k")
    assert p.returncode == 2 and "not a whole number of prompts (such as 4000000 or 4M): '1.5k'" in p.stderr
    from fastscan.cli_parser import build_parser

    for text, want in (("1500", 1500), ("2k", 2000), ("4M", 4_000_000), ("0", 0)):
        assert build_parser().parse_args(["scan", "x", "--sample-budget", text]).sample_budget == want
