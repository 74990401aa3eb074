"""Repetition within an account and shared content across accounts, from the merged prompt sample.

Everything here runs at finish() on the merged `PromptSample`, whose content does not depend on
how the input was split, and every order used below is by hash or by account_id (never by the
order accounts were first seen), so the result is the same for any chunking, file split or worker
count. docs/near-duplicates.md defines every column; in short:

- within an account: LSH banding over the K-permutation MinHash signatures gives candidates;
  a candidate pair counts when the signatures agree on >= ceil(threshold * K) positions;
- across accounts: the same bands over all accounts' sampled prompts; verified pairs between
  different accounts, minus short prompts, identical copies and popular prompts, make
  near-duplicate links when two accounts share enough of them; a skeleton that is a template of
  several accounts makes template links; clusters are connected components of accounts over
  these links (a component is a set of accounts, never a chain of prompts).
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

from fastscan.config import ScanConfig
from fastscan.errors import FastscanError
from fastscan.parallel import in_background, map_ordered, row_ranges, workers
from fastscan.score.excerpts import template_examples
from fastscan.state import AccountState, F

__all__ = ["lsh_params", "low_bits", "near_duplicate_flags", "repetition", "cross_account", "CrossAccount"]

SHARED_TEXT_ACCOUNTS = 2  # text sent by more accounts than this is shared content, not a payload
LSH_TARGET_RECALL = 0.99  # chance that a pair LSH must find is a candidate...
LSH_MARGIN = 0.05  # ...for a pair this far below the threshold (verification noise)
BANDS_AT_ONCE = 4  # bands of the cross-account pair search run at once, whatever the cores (memory)


def lsh_params(num_perm: int, threshold: float, rows: int = 0) -> tuple[int, int]:
    """(bands, rows per band) for `num_perm` permutations.

    Automatic choice (rows == 0): the largest r such that, with b = num_perm // r bands, a pair
    of Jaccard similarity threshold - 0.05 is a candidate with probability 1 - (1 - J**r)**b >= 0.99;
    larger r means fewer chance candidates to verify.
    """
    if rows:
        return num_perm // rows, rows
    j = max(threshold - LSH_MARGIN, 0.01)
    for r in range(num_perm, 0, -1):
        b = num_perm // r
        if 1.0 - (1.0 - j**r) ** b >= LSH_TARGET_RECALL:
            return b, r
    return num_perm, 1


def group_sizes(*keys: np.ndarray) -> np.ndarray:
    """For each element, how many elements have the same key tuple (np.unique's counts, taken
    back to the elements). One or two integer keys: counted in a hash table (kernels/buckets.py
    key_counts), on 693 K keys 1.4x (one key) and 3.4x (two) as fast as the sort that does any
    other case."""
    n = len(keys[0])
    if len(keys) <= 2 and n < 1 << 31 and all(k.dtype.kind in "iu" and k.dtype.itemsize <= 8 for k in keys):
        from fastscan.kernels import buckets

        k1 = keys[0].astype(np.uint64, copy=False)
        k2 = keys[1].astype(np.uint64, copy=False) if len(keys) == 2 else np.zeros(n, np.uint64)
        out = np.empty(n, dtype=np.int64)
        buckets.key_counts(k1, k2, out)
        return out
    order = np.lexsort(keys[::-1]) if len(keys) > 1 else np.argsort(keys[0])
    first = np.ones(len(order), dtype=np.bool_)
    for k in keys:
        ks = k[order]
        first[1:] &= ks[1:] == ks[:-1]
    first = ~first
    first[:1] = True
    gid = np.cumsum(first) - 1
    out = np.empty(len(order), dtype=np.int64)
    out[order] = np.bincount(gid)[gid] if len(order) else gid
    return out


def min_agree(cfg: ScanConfig) -> int:
    """Signature positions two prompts must agree on to be near-duplicates."""
    return max(1, int(math.ceil(cfg.near_dup_threshold * cfg.num_perm - 1e-9)))


def _safe_div(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return np.divide(a, b, out=np.zeros_like(a), where=b > 0)


def account_ranks(state: AccountState) -> np.ndarray:
    """rank int64[n_accounts]: position of each account in account_id order."""
    n = state.n_accounts
    rank = np.empty(n, dtype=np.int64)
    rank[state.id_order()] = np.arange(n)
    return rank


def low_bits(state: AccountState) -> np.ndarray:
    """The sample's signatures reduced to the low 2 bits of each position (kernels.neardup.low_bits,
    on every thread): the cheap first check of every candidate pair, within and across accounts.
    Row r of the result is row r of the sample's signature store (sample row i's is slot[i])."""
    from fastscan.kernels import neardup

    s = state.sample
    s.compact()
    n = s.store_rows
    bits = np.empty((n, -(-state.config.num_perm // 32)), dtype=np.uint64)
    map_ordered(lambda r: neardup.low_bits(s.store[r[0] : r[1]], bits[r[0] : r[1]]), row_ranges(n))
    return bits


def near_duplicate_flags(state: AccountState, bits: np.ndarray | None = None) -> np.ndarray:
    """bool per sampled prompt: another sampled prompt of its account is a verified near-duplicate.
    `bits`: low_bits(state), computed when not given."""
    from fastscan.kernels import neardup

    cfg = state.config
    s = state.sample
    s.compact()
    out = np.zeros(len(s.account), dtype=np.bool_)
    if len(out) == 0:
        return out
    if bits is None:
        bits = low_bits(state)
    bands, rows = lsh_params(cfg.num_perm, cfg.near_dup_threshold, cfg.lsh_rows)
    need = min_agree(cfg)
    # the sample is in account order: account a's rows are offsets[a]:offsets[a + 1]
    offsets = np.zeros(state.n_accounts + 1, dtype=np.int64)
    np.cumsum(np.bincount(s.account, minlength=state.n_accounts), out=offsets[1:])
    # accounts are independent: split them into ranges of about equal rows, several per thread
    # (an account's cost is not its rows alone: with one range per thread one finished 30% late)
    parts = 8 * workers()
    cuts = np.searchsorted(offsets, np.linspace(0, offsets[-1], parts + 1)[1:-1])
    bounds = np.r_[0, cuts, state.n_accounts].astype(np.int64)

    def part(k: int) -> None:
        lo, hi = int(bounds[k]), int(bounds[k + 1])
        neardup.flag_account_near_dups(
            offsets, s.store, s.slot, bits, s.n_words, bands, rows, need, lo, hi, neardup.PAIRS_MAX, out
        )

    map_ordered(part, range(parts))
    return out


def repetition(state: AccountState, near: np.ndarray | None = None) -> dict:
    """exact_dup_rate, near_dup_rate, template_rate, stale_repeat_rate, answers_per_prompt,
    redraw_rate, distinct_prompts and sampled per account index.

    A repeat of a prompt at temperature 0 after the first request at temperature 0 returns an
    answer the account already has (stale); a repeat at a temperature above 0 draws a new one.
    answers_per_prompt counts the distinct answers drawn per distinct prompt: 1 for an account
    that never repeats itself, high for one that samples each prompt many times; redraw_rate, the
    share of requests that draw one more (n > 1's samples, spread over requests)."""
    s = state.sample
    s.compact()
    n = state.n_accounts
    if near is None:
        near = near_duplicate_flags(state)
    count = s.count
    sampled = np.bincount(s.account, weights=count, minlength=n)
    in_sample = np.bincount(s.account, minlength=n)
    near_w = np.bincount(s.account, weights=count * (((count > 1) | near) & (s.n_words > 0)), minlength=n)
    # a template: the same head or tail skeleton around at least `t` distinct prompts
    t = np.maximum(5, np.ceil(0.01 * in_sample)).astype(np.int64)
    templ = np.zeros(len(s.account), dtype=np.bool_)
    for hashes in (s.head_hash, s.tail_hash):
        has = hashes != 0
        if not has.any():
            continue
        acct = s.account[has]
        templ[np.flatnonzero(has)] |= group_sizes(acct, hashes[has]) >= t[acct]
    templ_w = np.bincount(s.account, weights=count * templ, minlength=n)
    stale = np.maximum(s.count0 - 1, 0)
    stale_w = np.bincount(s.account, weights=stale, minlength=n)
    answers = np.bincount(s.account, weights=count - stale, minlength=n)
    # distinct prompts: exact below the sample size (its level, under a budget), a bottom-k
    # estimate above it
    full = in_sample >= s.size
    thr = s.threshold[:n].astype(np.float64)
    est = np.where(full, (s.size - 1) * (2.0**64) / np.maximum(thr, 1.0), in_sample)
    prompted = state.sums[:n, F["prompted"]]
    distinct = np.minimum(np.round(est), np.maximum(prompted, in_sample)).astype(np.int64)
    return {
        "distinct_prompts": distinct,
        "exact_dup_rate": np.clip(1.0 - _safe_div(distinct, prompted), 0.0, 1.0),
        "near_dup_rate": _safe_div(near_w, sampled),
        "template_rate": _safe_div(templ_w, sampled),
        "stale_repeat_rate": _safe_div(stale_w, sampled),
        "answers_per_prompt": _safe_div(answers, in_sample),
        "redraw_rate": np.clip(_safe_div(answers - in_sample, sampled), 0.0, 1.0),
        "sampled": full,
    }


def cross_pairs(
    state: AccountState, rank: np.ndarray, eligible: np.ndarray, bits: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, popular): verified near-duplicate pairs (i < j, sample rows) between different
    accounts' eligible prompts, each once (in the first band it collides in), in no particular
    order (every use of them below is a count or a set), but for the pairs among the copies of
    a text whose copies each pair with at least `popular_accounts` others: those copies are
    `popular` (sample rows) whatever else they pair with, and their pairs among themselves would
    only have said so. `bits`: low_bits(state)."""
    from fastscan.kernels import links, neardup
    from fastscan.kernels.buckets import bucket_keys, hash_order

    cfg = state.config
    s = state.sample
    bands, rows = lsh_params(cfg.num_perm, cfg.near_dup_threshold, cfg.lsh_rows)
    need, window = min_agree(cfg), cfg.bucket_window
    idx = np.flatnonzero(eligible)
    none = np.zeros(0, np.int64)
    if len(idx) < 2 or not (s.account[idx] != s.account[idx[0]]).any():  # one account: nothing to link
        return none, none, none
    # order inside a bucket: prompt hash, then account_id rank (identical prompts of several
    # accounts) - never the order in which accounts were first seen. Sorted so once; each band
    # then only groups the texts by its key, keeping this order within a group.
    in_order = np.empty(len(idx), dtype=np.int64)
    hash_order(s.prompt_hash[idx], rank[s.account[idx]], in_order)  # np.lexsort's order (rank: int64)
    base = idx[in_order]
    # Rows of one prompt hash are one text, so one signature, and `base` puts them together: the
    # bands' keys are computed and grouped once per text (0.58 texts per eligible row on the bench
    # log), and the kernel takes each text's rows where `base` has them (in the text's record,
    # with its low bits and first values), and names a pair by its places in `base`.
    ph = s.prompt_hash[base]
    starts = np.flatnonzero(np.r_[True, ph[1:] != ph[:-1]])
    first = np.r_[starts, len(base)].astype(np.int64)
    sig = s.store[: s.store_rows]
    row = s.slot[base]
    account = s.account[base].astype(np.int64)
    text_row = row[starts]
    n_texts = len(starts)
    # The copies of a row's text within `bucket_window` places of it pair with it in band 0, all
    # of other accounts (unless an account sent the text twice): the fewest a copy has is
    # min(copies - 1, window), at either end of the run. With popular_accounts of them, every
    # copy has near-duplicates in more than popular_accounts accounts, its own counted: popular.
    copies = np.diff(first)
    twice = np.flatnonzero((account[1:] == account[:-1]) & (ph[1:] == ph[:-1]))
    skip = (np.minimum(copies - 1, window) >= cfg.popular_accounts) & (sig.shape[1] >= need)
    skip[np.searchsorted(first, twice, side="right") - 1] = False
    popular = base[np.repeat(skip, copies)]

    # every band's key of every text, each signature read once for all its bands (one band at a
    # time read a line of every text's scattered row, once per band): 58 MB on the bench log
    keys = np.empty((bands, n_texts), dtype=np.uint64)
    map_ordered(lambda r: neardup.band_keys(sig, text_row, rows, r[0], r[1], keys), row_ranges(n_texts))
    if (most := max(len(base), len(sig))) > links.MAX_ROWS:  # the records' places and rows are uint32
        raise FastscanError(f"cross-account pair search: {most:,} sampled prompts, over its {links.MAX_ROWS:,}")
    rec = np.empty((n_texts, links.record_width(sig.shape[1])), dtype=np.uint64)  # 18.6 MB on the bench log
    map_ordered(lambda r: links.text_records(sig, bits, first, text_row, r[0], r[1], rec), row_ranges(n_texts))

    def band_pairs(band: int) -> np.ndarray:
        order = np.empty(n_texts, dtype=np.int64)
        bucket_at = np.empty(n_texts + 1, dtype=np.int64)
        # a bucket's texts in `base` order; after band 0 only buckets of two texts or more (a
        # text alone in its bucket pairs only with its own copies, and they did in band 0)
        count = bucket_keys(keys[band], 1 if band == 0 else 2, order, bucket_at)
        bucket_at = bucket_at[: count + 1]
        # band 0 also reports the pairs of copies of a text that `skip` leaves paired (on the bench
        # log 0.73x the eligible rows; more where the window is shorter than popular_accounts):
        # room for them, not a second run. The pairs are copied out: a view kept all 25 bands'
        # rooms alive until the concatenation (the scan's peak, 984 -> 925 MiB)
        cap = max(4096, (4 if band == 0 else 1) * len(idx))
        while True:
            out = np.empty(cap, dtype=np.int64)  # pairs of places of `base` as i * len(base) + j
            c = links.link_bucket_pairs(order, bucket_at, rec, account, sig, need, window, band, rows, skip, out)
            if c <= cap:
                return out[:c].copy()
            cap = c

    # a pair is reported only in the first band it collides in: no duplicates to remove
    # a band's work arrays are as long as the texts (15 MB on the bench log's 290 K): no more than
    # BANDS_AT_ONCE bands at once, so that the peak is the same on any number of cores past it
    found = [f for f in map_ordered(band_pairs, range(bands), most=BANDS_AT_ONCE) if len(f)]
    if not found:
        return none, none, popular
    code = np.concatenate(found)
    a, b = base[code // len(base)], base[code % len(base)]
    return np.minimum(a, b), np.maximum(a, b), popular


class CrossAccount:
    """What accounts share: per-account columns, the shared templates and the near-duplicate links."""

    def __init__(
        self,
        columns: dict,
        shared_templates: pa.Table,
        near_dup_links: pa.Table,
        template_examples: np.ndarray | None = None,
    ):
        self.columns = columns
        self.shared_templates = shared_templates
        self.near_dup_links = near_dup_links
        # per shared template (in table order): sample row * 2 + end (0 head, 1 tail) of the
        # template's prompt of smallest hash, for showing its skeleton (fastscan.score.excerpts)
        self.template_examples = np.zeros(0, np.int64) if template_examples is None else template_examples


def _distinct_pairs(
    a: np.ndarray,
    b: np.ndarray,
    base: int,
    a2: np.ndarray | None = None,
    b2: np.ndarray | None = None,
    counts: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """The distinct codes a * base + b over the pairs (a, b) and (a2, b2), sorted, and with
    `counts` how often each came (else an empty array): np.unique's result, from one array sorted
    in place by a radix sort (np.unique of a concatenation held three copies of it, the peak of
    finish(); the sort 0.10 against numpy's 0.30 s for the 4.4 M codes of the bench log)."""
    from fastscan.kernels import aggregate, buckets

    p = len(a)
    code = np.empty(p + (len(a2) if a2 is not None else 0), dtype=np.int64)
    np.multiply(a, base, out=code[:p])
    code[:p] += b
    if a2 is not None and b2 is not None:
        np.multiply(a2, base, out=code[p:])
        code[p:] += b2
    if not buckets.radix_sort(code, np.empty_like(code), buckets.NO_PAYLOAD, buckets.NO_PAYLOAD):  # negative: numpy
        code.sort()
    cnt = np.empty(len(code) if counts else 0, dtype=np.int64)
    k = aggregate.distinct_in_place(code, cnt)
    return code[:k], cnt[:k]


def cross_account(state: AccountState, near: np.ndarray | None = None, bits: np.ndarray | None = None) -> CrossAccount:
    """Templates and near-duplicates that accounts share, and the clusters they make.

    `near`: the within-account near-duplicate flags of the sample, `bits`: low_bits(state) (each
    computed when not given).
    """
    from fastscan.kernels import neardup

    cfg = state.config
    s = state.sample
    s.compact()
    n = state.n_accounts
    ids = np.array(state.ids, dtype=object)
    rank = account_ranks(state)
    m = len(s.account)
    if bits is None:
        bits = low_bits(state)
    if near is None:
        near = near_duplicate_flags(state, bits)
    # linkable: long enough, and not repeated within its own account (an account's own
    # repetition is near_dup_rate's business; what links accounts is what each sends once)
    eligible = (s.n_words >= cfg.link_min_words) & ~near & (s.count == 1)
    n_elig = np.bincount(s.account[eligible], minlength=n)

    # the verified pairs keep both cores busy on the worker threads, but not all the time: the
    # template links, which do not need them, are found on this thread meanwhile
    verified = in_background(lambda: cross_pairs(state, rank, eligible, bits))

    # ---- template links: a skeleton that is a template of several accounts, as a wrapper around
    # payloads of their own: a prompt whose exact text more than two accounts sent (a templated
    # benchmark run by several evaluation harnesses) is shared content, not a shared wrapper
    own_text = group_sizes(s.prompt_hash) <= SHARED_TEXT_ACCOUNTS
    t_acct, t_key, t_row = [], [], []
    for kind, hashes in enumerate((s.head_hash, s.tail_hash)):
        has = eligible & own_text & (hashes != 0)
        if has.any():
            t_acct.append(s.account[has])
            t_key.append(hashes[has])
            t_row.append(np.flatnonzero(has) * 2 + kind)  # sample row and which end
    tmpl_edges_a, tmpl_edges_b = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    shared_tmpl_accounts = np.zeros(n, dtype=np.int64)
    shared_tmpl_count = np.zeros(n, dtype=np.int64)
    tmpl_rows: dict[str, list] = {"skeleton_hash": [], "accounts": [], "account_ids": []}
    if t_acct:
        acc = np.concatenate(t_acct)
        key = np.concatenate(t_key)
        # (account, skeleton) -> distinct sampled prompts; head and tail counted apart: counted
        # in a hash table, and only the rows of templates sorted
        cnt = group_sizes(key, acc)
        is_t = (cnt >= cfg.template_min_prompts) & (cnt >= cfg.template_min_share * n_elig[acc])
        acc, key = acc[is_t], key[is_t]
        order = np.lexsort((acc, key))
        acc, key = acc[order], key[order]
        first = np.r_[True, (acc[1:] != acc[:-1]) | (key[1:] != key[:-1])][: len(acc)]
        acc, key = acc[first], key[first]
        # skeletons that are a template of at least two accounts
        k_first = np.r_[True, key[1:] != key[:-1]] if len(key) else np.zeros(0, bool)
        k_starts = np.flatnonzero(k_first)
        k_size = np.diff(np.r_[k_starts, len(key)])
        group = np.repeat(np.arange(len(k_starts)), k_size)
        multi = k_size[group] >= 2
        acc, key, group = acc[multi], key[multi], group[multi]
        if len(acc):
            # star edges (to the group's account of smallest rank) are enough for components
            g_first = np.r_[True, group[1:] != group[:-1]]
            g_starts = np.flatnonzero(g_first)
            g_id = np.cumsum(g_first) - 1
            # account of smallest rank per group
            by_rank_idx = np.empty(n, dtype=np.int64)
            by_rank_idx[rank] = np.arange(n)
            lead = by_rank_idx[np.minimum.reduceat(rank[acc], g_starts)]
            tmpl_edges_a.append(acc)
            tmpl_edges_b.append(lead[g_id])
            # distinct other accounts sharing any of an account's templates
            item_off = np.r_[g_starts, len(acc)].astype(np.int64)
            by_acct = np.argsort(acc, kind="stable")
            acct_off = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(np.bincount(acc, minlength=n), out=acct_off[1:])
            items = g_id[by_acct].astype(np.int64)
            neardup.count_linked_accounts(
                item_off, acc.astype(np.int64), acct_off, items, neardup.BIG_ITEM, shared_tmpl_accounts
            )
            shared_tmpl_count = np.bincount(acc, minlength=n).astype(np.int64)
            for _gi, (lo, hi) in enumerate(zip(g_starts, np.r_[g_starts[1:], len(acc)])):
                names = sorted(str(x) for x in ids[acc[lo:hi]])
                tmpl_rows["skeleton_hash"].append(int(key[lo]))
                tmpl_rows["accounts"].append(len(names))
                tmpl_rows["account_ids"].append(names)

    # the shared templates' table, still while the verified pairs are being found
    t_order = sorted(
        range(len(tmpl_rows["accounts"])), key=lambda i: (-tmpl_rows["accounts"][i], tmpl_rows["skeleton_hash"][i])
    )
    keys = np.array([tmpl_rows["skeleton_hash"][i] for i in t_order], dtype=np.uint64)
    examples = template_examples(s.prompt_hash, keys, t_key, t_row)
    templates = pa.table(
        {
            "skeleton_hash": pa.array([tmpl_rows["skeleton_hash"][i] for i in t_order], pa.uint64()),
            "accounts": pa.array([tmpl_rows["accounts"][i] for i in t_order], pa.int64()),
            "account_ids": pa.array([tmpl_rows["account_ids"][i] for i in t_order], pa.list_(pa.string())),
        }
    )

    # ---- near-duplicate links: verified pairs of different, non-identical, non-popular prompts
    pi, pj, copied = verified.result()
    ai, aj = s.account[pi], s.account[pj]
    # (row, other account) once each; a row's account frequency counts identical copies too
    # (but for the copies cross_pairs left unpaired, which it says are popular)
    base = max(n, 1)
    df = 1 + np.bincount(_distinct_pairs(pi, aj, base, pj, ai)[0] // base, minlength=m)
    popular = df > cfg.popular_accounts
    popular[copied] = True
    differ = s.prompt_hash[pi] != s.prompt_hash[pj]
    keep = differ & ~popular[pi] & ~popular[pj]
    ri, o_u = np.divmod(_distinct_pairs(pi[keep], aj[keep], base, pj[keep], ai[keep])[0], base)
    # per ordered account pair (A, B): A's sampled prompts with a near-duplicate in B
    ab, shared = _distinct_pairs(s.account[ri], o_u, base, counts=True)
    a_src, a_dst = np.divmod(ab, base)
    # symmetric evidence: min(A's prompts matched in B, B's prompts matched in A)
    code = a_src * n + a_dst
    rev = a_dst * n + a_src
    pos = np.minimum(np.searchsorted(code, rev), max(len(code) - 1, 0))
    found = code[pos] == rev if len(code) else np.zeros(0, bool)
    both = np.where(found, np.minimum(shared, shared[pos] if len(code) else shared), 0).astype(np.int64)
    need = np.maximum(cfg.link_min_prompts, np.ceil(cfg.link_min_share * np.minimum(n_elig[a_src], n_elig[a_dst])))
    nd_link = (both >= need) & (a_src < a_dst)
    la, lb, ls = a_src[nd_link], a_dst[nd_link], both[nd_link]
    shared_near = np.bincount(np.concatenate([la, lb]), minlength=n).astype(np.int64)

    # ---- clusters: connected components of accounts over both kinds of link
    ea = np.concatenate([la, *tmpl_edges_a]).astype(np.int64)
    eb = np.concatenate([lb, *tmpl_edges_b]).astype(np.int64)
    label = np.empty(n, dtype=np.int64)
    neardup.label_components(ea, eb, rank, label)
    size = np.bincount(label, minlength=n)[label] if n else np.zeros(0, np.int64)
    by_rank = state.ids_in_order()  # a cluster's id (its lead's) is taken by the cluster's label
    columns = {
        "shared_template_accounts": shared_tmpl_accounts,
        "shared_templates": shared_tmpl_count,
        "shared_near_dup_accounts": shared_near,
        "cluster_id": by_rank.take(pa.array(label)) if n else pa.array([], pa.string()),
        "cluster_size": size.astype(np.int64),
    }
    pairs = sorted(
        (min(str(ids[a]), str(ids[b])), max(str(ids[a]), str(ids[b])), int(c)) for a, b, c in zip(la, lb, ls)
    )
    links = pa.table(
        {
            "account_id": pa.array([p[0] for p in pairs], pa.string()),
            "other_account_id": pa.array([p[1] for p in pairs], pa.string()),
            "shared_near_dups": pa.array([p[2] for p in pairs], pa.int64()),
        }
    )
    return CrossAccount(columns, templates, links, examples)
