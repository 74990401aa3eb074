"""Campaigns: accounts that harvest together, scored on their traffic taken together.

A swarm of light accounts is unremarkable one account at a time; together it is one harvest. A
campaign is found and judged in three steps:

1. **Candidates** - sets of accounts that something a campaign cannot easily hide ties together:
   - the same *request fingerprint*: the set of request settings each account uses for at least
     FP_MIN_SHARE of its requests (models, max_tokens, temperature, n, logprobs / logit_bias,
     system prompt; fastscan.params), among accounts with at least FP_MIN_REQUESTS requests. A
     script sends every request with the same few settings whatever the task; people and
     integrations each have their own. Accounts are grouped by the exact set (a hash of it), so a
     group never chains unrelated accounts together and the cost is one sort, whatever the number
     of accounts;
   - the clusters of shared templates and near-duplicate prompts (fastscan.score.neardup).
2. **Judged together** - each candidate's members pooled into one virtual account: volumes and
   token counts summed, every rate taken over the pooled requests, and the timing and
   coordination signals taken as the members' median (pooling people from many time zones would
   look like a round-the-clock script). The pooled account is scored by the same model as an
   account (fastscan.score.model). Sharing alone is no evidence: users of a client library's
   defaults or of a chat front end's system prompt share a fingerprint too, and their pooled
   traffic still reads as people's.
3. **Members** - every account belongs to at most one campaign, the candidate of its with the
   highest pooled score. A campaign is *harvesting* when it has at least CAMPAIGN_MIN_ACCOUNTS
   accounts, at least CLUSTER_VOLUME x min_requests requests together and a pooled score at the
   threshold or above, or when the candidate its members chose is all that as a whole, counting
   the members that left it for a candidate of higher score (a swarm's accounts that also share
   templates join their ring; those left are the rest of the same harvest, scored as the whole
   of it). It flags its members with at least CLUSTER_MIN_REQUESTS requests of their
   own (as many as a fingerprint needs); a member so flagged has the larger of its own score and
   the campaign's, and reasons that name the campaign. One heavy harvester on a client library's
   defaults does not drag the light accounts that share the defaults with it: in the pooled
   traffic each member counts up to the group's median requests, so that group reads as people.

Everything is computed from the merged state and the per-account table, so it does not depend on
how the input was split. Memory: the fingerprint sketch holds at most PARAM_BUCKETS keys per
account (fastscan.params); the rest is O(accounts).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fastscan.parallel import map_ordered
from fastscan.params import IDENTITY_KINDS, KEY_SHIFT, KINDS, MODEL_KIND, describe
from fastscan.score.coordination import cluster_labels
from fastscan.score.model import CLUSTER_MIN_REQUESTS, CLUSTER_VOLUME, extraction_scores, score_accounts, score_inputs
from fastscan.score.pooling import Numeric, pool
from fastscan.state import AccountState, F

__all__ = [
    "CAMPAIGN_MIN_ACCOUNTS",
    "FP_MIN_REQUESTS",
    "FP_MIN_SHARE",
    "Candidates",
    "campaign_id",
    "candidates",
    "find_campaigns",
    "fingerprints",
]

FP_MIN_SHARE = 0.1  # a setting used for this share of an account's requests is part of its fingerprint
FP_MIN_REQUESTS = 5  # accounts with fewer requests have no fingerprint: too few to say
CAMPAIGN_MIN_ACCOUNTS = 5  # a campaign that flags its members has at least this many accounts
SCORE_TIE = 0.02  # candidates whose pooled scores differ by less are as good: the larger is joined
N_KINDS = len(KINDS)  # the kinds of settings of fastscan.params (the model among them)


def _mix(x: np.ndarray) -> np.ndarray:
    """fastscan.kernels.hashing.fmix64 of each value."""
    from fastscan.kernels.hashing import fmix64_each

    x = np.ascontiguousarray(x).astype(np.uint64)
    out = np.empty(len(x), dtype=np.uint64)
    fmix64_each(x, out)
    return out


def fingerprints(state: AccountState) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(fingerprint hash per account index, 0 for none; per kind of setting, the part of the hash
    made of that kind's keys (uint64[N_KINDS, n]); the fingerprint keys as (account, key) pairs
    sorted by account). The hash is of the set of keys, so it does not depend on order; the hash
    without kind k is the hash minus its part k."""
    n = state.n_accounts
    req = state.sums[:n, F["requests"]].astype(np.float64)
    acct, key, cnt = state.params.items()
    m_acct, m_idx, m_cnt = state.model_counts.items()
    if len(m_acct):
        acct = np.concatenate([acct, m_acct])
        key = np.concatenate([key, (np.int64(MODEL_KIND) << KEY_SHIFT) | state.model_rank()[m_idx]])
        cnt = np.concatenate([cnt, m_cnt])
    r = req[acct]
    keep = (cnt >= FP_MIN_SHARE * r) & (r >= FP_MIN_REQUESTS)
    acct, key = acct[keep], key[keep]
    order = np.lexsort((key, acct))
    acct, key = acct[order], key[order]
    parts = np.zeros((N_KINDS, n), dtype=np.uint64)
    np.add.at(parts, (key >> KEY_SHIFT, acct), _mix(key + np.int64(1)))
    h = np.zeros(n, dtype=np.uint64)
    for k in range(N_KINDS):
        h += parts[k]
    return h, parts, acct, key


def campaign_id(members: list[str]) -> str:
    """A campaign's id: "campaign-" and its smallest member id (stable across splits and runs)."""
    return "campaign-" + min(members)


def _groups(keys: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Label 0..g-1 per element with a valid key (equal keys, equal labels), -1 elsewhere."""
    label = np.full(len(keys), -1, dtype=np.int64)
    if valid.any():
        _, inv = np.unique(keys[valid], return_inverse=True)
        label[valid] = inv
    return label


def _renumber(label: np.ndarray) -> np.ndarray:
    """The groups of `label` (-1: none) numbered 0..g-1 again, in their order, where some numbers
    have no member left: what _groups(label, label >= 0) gives, without its sort."""
    inside = label >= 0
    if not inside.any():
        return label
    present = np.bincount(label[inside]) > 0
    out = label.copy()
    out[inside] = (np.cumsum(present) - 1)[label[inside]]
    return out


def _agrees(label: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per element: True where its group (label >= 0) has no value held by at least half of its
    members, or where the element holds that value; True outside any group."""
    ok = np.ones(len(label), dtype=np.bool_)
    inside = np.flatnonzero(label >= 0)
    if not len(inside):
        return ok
    lab, val = label[inside], values[inside]
    order = np.lexsort((val, lab))
    lab_s, val_s = lab[order], val[order]
    run = np.r_[True, (lab_s[1:] != lab_s[:-1]) | (val_s[1:] != val_s[:-1])]
    starts = np.flatnonzero(run)
    length = np.diff(np.r_[starts, len(order)])
    size = np.bincount(lab)
    # the longest run of each group: its modal value and how many hold it
    g_of_run = lab_s[starts]
    best = np.full(len(size), -1, dtype=np.int64)
    by = np.lexsort((-length, g_of_run))
    first_of_group = np.r_[True, g_of_run[by][1:] != g_of_run[by][:-1]]
    best[g_of_run[by][first_of_group]] = by[first_of_group]
    mode_val = val_s[starts[best[lab]]]
    majority = 2 * length[best[lab]] >= size[lab]
    ok[inside] = ~majority | (val == mode_val)
    return ok


def _sizes(label: np.ndarray) -> np.ndarray:
    """For each element, the size of its group (0 for -1)."""
    out = np.zeros(len(label), dtype=np.int64)
    ok = label >= 0
    if ok.any():
        out[ok] = np.bincount(label[ok])[label[ok]]
    return out


class Candidates:
    """Step 1's candidates that come from the fingerprints alone (`candidates`): what
    find_campaigns needs of the state before the accounts are scored."""

    def __init__(self, fp: np.ndarray, labelled: list, fp_acct: np.ndarray, fp_key: np.ndarray):
        self.fp, self.fp_acct, self.fp_key = fp, fp_acct, fp_key
        self.labels = [lab for lab, _ in labelled]  # per candidate: each account's group, -1 none
        self.sizes = [size for _, size in labelled]  # and the size of that group (_sizes)


def candidates(state: AccountState, at: np.ndarray) -> Candidates:
    """The fingerprint candidates of the accounts `at` (the state's number of each row of the
    account table). They depend on the state alone, so finish() has them found while it scores."""
    n = len(at)
    fp_hash, fp_parts, fp_acct, fp_key = fingerprints(state)
    fp = fp_hash[at] if n else np.zeros(0, np.uint64)
    has_fp = fp != 0
    # candidates: accounts of the same fingerprint, or of the same fingerprint but for one kind of
    # setting (a campaign whose accounts each draw their own max_tokens, say), and link clusters
    views = [fp] + [fp - fp_parts[k][at] for k in range(N_KINDS)] if n else []
    left_out: list[np.ndarray | None] = [None] + [fp_parts[k][at] for k in range(N_KINDS)] if n else []
    if n:
        who = sum((fp_parts[k][at] for k in IDENTITY_KINDS), np.zeros(n, np.uint64))
        # without who sends them: a swarm behind rotating proxies and clients
        views.append(fp - who)
        left_out.append(who)
        # who sends them alone (the same owner, network and client whatever the settings), where
        # the log names any: a swarm behind one proxy, end users of one account
        nobody = sum(_mix(np.array([(k << KEY_SHIFT) + 1], dtype=np.int64)) for k in IDENTITY_KINDS)
        views.append(np.where(who == nobody, np.uint64(0), who))
        left_out.append(fp - who)

    def candidate(view: tuple[np.ndarray, np.ndarray | None]) -> tuple[np.ndarray, np.ndarray]:
        v, out_part = view
        lab = _groups(v, has_fp & (v != 0))
        if out_part is not None:
            # a coarser candidate leaves a kind out only where its members do not agree on it:
            # where most of them do, an account that differs there is not one of them
            lab[~_agrees(lab, out_part)] = -1
        lab[_sizes(lab) < 2] = -1
        lab = _renumber(lab)  # no empty group is pooled
        return lab, _sizes(lab)

    # each candidate's grouping is its own (numpy's sorts, on every thread)
    return Candidates(fp, map_ordered(candidate, list(zip(views, left_out))), fp_acct, fp_key)


def find_campaigns(
    state: AccountState,
    accounts: pa.Table,
    threshold: float,
    min_requests: int,
    at: np.ndarray | None = None,
    found: Candidates | None = None,
) -> tuple[pa.Table, pa.Table]:
    """(accounts with campaign_id, campaign_size, campaign_score - and flags, scores and reasons
    raised for members of harvesting campaigns -, the campaigns table: one row per campaign of
    two or more accounts, highest score first). `accounts`: the scored account table; `at`: the
    state's number of each of its rows, when the caller knows them (looked up by id if not);
    `found`: candidates(state, at), when the caller has them."""
    n = accounts.num_rows
    ids = accounts.column("account_id").to_pylist()
    numeric = Numeric(accounts)  # pooled a dozen times below
    if at is None:
        at = np.array([state.index[a] for a in ids], dtype=np.int64)
    if found is None:
        found = candidates(state, at)
    fp, fp_acct, fp_key = found.fp, found.fp_acct, found.fp_key
    labels, label_sizes = list(found.labels), list(found.sizes)
    n_views = len(labels)  # the fingerprints' candidates come first, then the link clusters'
    if "cluster_id" in accounts.column_names:
        by_link = cluster_labels(accounts)
        by_link[_sizes(by_link) < 2] = -1
        labels.append(_renumber(by_link))
        label_sizes.append(_sizes(labels[-1]))

    def pooled_scores(label: np.ndarray) -> np.ndarray:
        """Per account, the pooled score of its candidate (-1: in none)."""
        g = int(label.max()) + 1 if len(label) and label.max() >= 0 else 0
        if g == 0:
            return np.full(len(label), -1.0)
        got = extraction_scores(pool(label, g, numeric, only=score_inputs()), min_requests)
        return np.where(label >= 0, got[np.maximum(label, 0)], -1.0)

    # each candidate's pooling is independent of the others': on every thread
    scores = np.array(map_ordered(pooled_scores, labels)) if labels else np.zeros((0, n))
    # an account of a sizeable group of its exact fingerprint that is not harvesting stays there:
    # a coarser candidate must not draw people on common settings into a campaign
    if labels:
        settled = (label_sizes[0] >= CAMPAIGN_MIN_ACCOUNTS) & (scores[0] < threshold)
        scores[1:n_views, settled] = -1.0
    # each account joins its candidate of highest pooled score; among candidates scoring within
    # SCORE_TIE of the best, the largest (a swarm's fingerprint groups and the network they share
    # all score near 1: the account joins the group that holds most of the swarm), then the finer
    if labels:
        sizes = np.array(label_sizes)
        near_best = (scores >= scores.max(axis=0) - SCORE_TIE) & (scores >= 0)
        choice = np.argmax(np.where(near_best, sizes, -1), axis=0)
    else:
        choice = np.zeros(n, dtype=np.int64)
    best = scores[choice, np.arange(n)] if labels else np.full(n, -1.0)
    chosen = np.array(labels)[choice, np.arange(n)] if labels else choice
    key = np.where(best >= 0, chosen * (len(labels) + 1) + choice, -1)
    label = _groups(key, key >= 0)
    label[_sizes(label) < 2] = -1
    label = _groups(label, label >= 0)
    g = int(label.max()) + 1 if n and label.max() >= 0 else 0

    own_score = accounts.column("extraction_score").to_numpy()
    req = accounts.column("requests").to_numpy(zero_copy_only=False).astype(np.int64)
    whole, w_size, w_req = _whole_candidates(labels, label_sizes, choice, best, req, threshold, min_requests)
    inside = np.flatnonzero(label >= 0)
    # each campaign's members in account order: the accounts by campaign, then cut
    by_campaign = inside[np.argsort(label[inside], kind="stable")].tolist()
    cuts = np.cumsum(np.bincount(label[inside], minlength=g)).tolist() if g else []
    members = [[ids[i] for i in by_campaign[lo:hi]] for lo, hi in zip([0, *cuts], cuts)]
    names = [campaign_id(m) for m in members]
    pooled = score_accounts(pa.table(pool(label, g, numeric)), threshold, min_requests) if g else None
    c_score = pooled.column("extraction_score").to_numpy() if pooled is not None else np.zeros(0)
    c_req = np.bincount(label[label >= 0], weights=req[label >= 0], minlength=g) if g else np.zeros(0)
    c_size = np.array([len(m) for m in members], dtype=np.int64)
    harvesting = (c_score >= threshold) & (c_size >= CAMPAIGN_MIN_ACCOUNTS) & (c_req >= CLUSTER_VOLUME * min_requests)
    # ...or the candidate its members chose harvests as a whole, though some of its accounts left
    # it for another campaign (a swarm's accounts that also share templates join those): what is
    # left is the rest of the same harvest, scored as the whole of it
    w_score = np.zeros(g)
    if g:
        np.maximum.at(w_score, label[label >= 0], np.where(whole, best, 0.0)[label >= 0])
    by_whole = (w_score > c_score) & ~harvesting
    harvesting |= by_whole
    c_score = np.where(by_whole, w_score, c_score)

    lifted = np.zeros(n, dtype=np.bool_)
    in_c = label >= 0
    lifted[in_c] = harvesting[label[in_c]] & (req[in_c] >= CLUSTER_MIN_REQUESTS)
    score = own_score.copy()
    score[lifted] = np.maximum(own_score[lifted], c_score[label[lifted]])
    own_flag = accounts.column("flagged").to_numpy(zero_copy_only=False)
    flagged = own_flag | lifted
    evidence = _evidence(accounts, label, g, fp, at, state, fp_acct, fp_key)
    if by_whole.any():  # the whole in words, from any member of each (all chose the one candidate)
        some = np.zeros(g, dtype=np.int64)
        some[label[inside]] = inside
        for c in np.flatnonzero(by_whole).tolist():
            k = some[c]
            evidence[c] += (
                f"; the rest of a harvest: with its accounts that joined other campaigns, {int(w_size[k]):,} "
                f"accounts and {int(w_req[k]):,} requests score {c_score[c]:.2f} together"
            )
    c_reasons = pooled.column("reasons").to_pylist() if pooled is not None else []
    reasons = accounts.column("reasons").to_pylist()
    in_harvest = in_c & (harvesting[np.maximum(label, 0)] if g else False)
    told = np.flatnonzero(in_harvest & (lifted | own_flag))
    # what a campaign's members are told is the campaign's: worded once a campaign, not a member
    # (100,000 members of a swarm: 0.6 s)
    sizes, volumes = c_size.tolist(), c_req.tolist()
    tail, said = {}, {}
    for c in np.unique(label[told]).tolist():
        tail[c] = f"member of {names[c]} ({sizes[c]:,} accounts, {int(volumes[c]):,} requests together)"
        together = f" - together: {c_reasons[c]}" if c_reasons[c] else ""
        said[c] = f"member of {names[c]}: {sizes[c]:,} accounts, {int(volumes[c]):,} requests together, {evidence[c]}"
        said[c] += together
    for i, c, own in zip(told.tolist(), label[told].tolist(), own_flag[told].tolist()):
        if own:  # flagged on its own: its reasons first, then the campaign it is part of
            reasons[i] = f"{reasons[i]}; {tail[c]}" if reasons[i] else tail[c]
        else:
            reasons[i] = said[c] + (f"; own: {reasons[i]}" if reasons[i] else "")

    size_col = np.where(in_c, c_size[np.maximum(label, 0)] if g else 0, 1)
    out = accounts
    for name, values in (
        ("extraction_score", pa.array(score, pa.float64())),
        ("flagged", pa.array(flagged, pa.bool_())),
        ("reasons", pa.array(reasons, pa.string())),
    ):
        out = out.set_column(out.column_names.index(name), name, values)
    # each account's campaign name by its label, null for none (-1 reads the null after the names)
    c_names = pa.array(names + [None], pa.string())
    out = out.append_column("campaign_id", c_names.take(pa.array(np.where(label >= 0, label, g))))
    out = out.append_column("campaign_size", pa.array(size_col.astype(np.int64)))
    member_score = c_score[np.maximum(label, 0)] if g else np.zeros(n)
    out = out.append_column("campaign_score", pa.array(member_score, pa.float64(), mask=~in_c))
    return out, _campaign_table(accounts, label, names, members, c_score, harvesting, evidence, c_reasons, lifted)


def _whole_candidates(
    labels: list[np.ndarray],
    label_sizes: list[np.ndarray],
    choice: np.ndarray,
    best: np.ndarray,
    req: np.ndarray,
    threshold: float,
    min_requests: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ok bool[n], accounts int64[n], requests int64[n]) per account, of the candidate it chose
    (`choice`: which grouping, scored `best` as a whole), counting the accounts that left it for
    another: ok where it has CAMPAIGN_MIN_ACCOUNTS accounts, CLUSTER_VOLUME x min_requests
    requests together and a pooled score at the threshold or above."""
    n = len(best)
    ok = np.zeros(n, dtype=np.bool_)
    size, volume = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    for v, lab in enumerate(labels):
        mine = (choice == v) & (best >= threshold) & (lab >= 0)
        if not mine.any():
            continue
        size[mine] = label_sizes[v][mine]
        volume[mine] = np.bincount(lab[lab >= 0], weights=req[lab >= 0]).astype(np.int64)[lab[mine]]
        ok[mine] = (size[mine] >= CAMPAIGN_MIN_ACCOUNTS) & (volume[mine] >= CLUSTER_VOLUME * min_requests)
    return ok, size, volume


def _evidence(
    accounts: pa.Table,
    label: np.ndarray,
    g: int,
    fp: np.ndarray,
    at: np.ndarray,
    state: AccountState,
    fp_acct: np.ndarray,
    fp_key: np.ndarray,
) -> list[str]:
    """What links each campaign's members, in words: the request fingerprint most of them share
    (with its settings) - or, where none, the owner, network or client most of them share - and
    how many of them share templates or near-duplicate prompts."""
    models = sorted(state.models)  # by model_rank(), as fingerprints() numbers them
    cols = {
        name: accounts.column(name).to_numpy(zero_copy_only=False) if name in accounts.column_names else None
        for name in ("shared_template_accounts", "shared_near_dup_accounts")
    }
    out: list[list[str]] = [[] for _ in range(g)]
    # per account (in `accounts` order; `at`: its index in the state), its key of each identity
    # kind (0: the log does not say)
    ident = {}
    for kind in IDENTITY_KINDS:
        mine = (fp_key >> KEY_SHIFT) == kind
        by_account = np.zeros(state.n_accounts, dtype=np.int64)
        by_account[fp_acct[mine][::-1]] = fp_key[mine][::-1]  # the smallest key where several
        keys = by_account[at]
        ident[kind] = np.where(keys & ((1 << KEY_SHIFT) - 1), keys, 0)
    order = np.argsort(label, kind="stable")
    bounds = np.searchsorted(label[order], np.arange(g + 1))
    for c in range(g):
        rows = order[bounds[c] : bounds[c + 1]]
        size = len(rows)
        hashes, counts = np.unique(fp[rows], return_counts=True)
        best = int(np.argmax(np.where(hashes != 0, counts, -1)))
        if hashes[best] != 0 and 2 * counts[best] >= size:
            first = at[rows[np.flatnonzero(fp[rows] == hashes[best])[0]]]
            lo, hi = np.searchsorted(fp_acct, first), np.searchsorted(fp_acct, first, side="right")
            words = []
            for k in fp_key[lo:hi].tolist():
                kind, bucket = k >> KEY_SHIFT, k & ((1 << KEY_SHIFT) - 1)
                if kind in IDENTITY_KINDS and bucket == 0:
                    continue  # the log does not say: nothing shared
                words.append(f"model {models[bucket]}" if kind == MODEL_KIND else describe(k, state.param_labels))
            share = "" if counts[best] == size else f" for {counts[best]:,} of them"
            out[c].append(f"the same request fingerprint ({', '.join(words)}){share}")
        else:
            for kind in IDENTITY_KINDS:
                keys, counts_k = np.unique(ident[kind][rows], return_counts=True)
                top = int(np.argmax(np.where(keys != 0, counts_k, -1)))
                if keys[top] != 0 and 2 * counts_k[top] >= size:
                    share = "" if counts_k[top] == size else f" for {counts_k[top]:,} of them"
                    out[c].append(f"the same {describe(int(keys[top]), state.param_labels)}{share}")
        for name, what in (
            ("shared_template_accounts", "templates"),
            ("shared_near_dup_accounts", "near-duplicate prompts"),
        ):
            col = cols[name]
            k = int((col[rows] > 0).sum()) if col is not None else 0
            if k:
                out[c].append(f"{k:,} of them share {what} with other accounts")
    return ["; ".join(e) if e else "linked by shared templates or near-duplicate prompts" for e in out]


def _campaign_table(
    accounts: pa.Table,
    label: np.ndarray,
    names: list[str],
    members: list[list[str]],
    c_score: np.ndarray,
    harvesting: np.ndarray,
    evidence: list[str],
    c_reasons: list[str],
    lifted: np.ndarray,
) -> pa.Table:
    g = len(names)
    inside = label >= 0
    lab = label[inside]

    def total(name: str) -> np.ndarray:
        v = accounts.column(name).to_numpy(zero_copy_only=False).astype(np.int64)[inside]
        return np.bincount(lab, weights=v, minlength=g).astype(np.int64)

    def extreme(name: str, fn: np.ufunc) -> list:  # per campaign, its members' min or max; None: none has one
        col = accounts.column(name).cast(pa.int64())
        at = np.flatnonzero(inside & ~np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool))
        v, c = col.fill_null(0).to_numpy(zero_copy_only=False)[at], label[at]
        out = np.full(g, np.iinfo(np.int64).max if fn is np.minimum else np.iinfo(np.int64).min)
        fn.at(out, c, v)
        return [x if s else None for x, s in zip(out.tolist(), (np.bincount(c, minlength=g) > 0).tolist())]

    flagged = accounts.column("flagged").to_numpy(zero_copy_only=False)
    n_flagged = np.bincount(lab, weights=(flagged | lifted)[inside], minlength=g).astype(np.int64)
    table = pa.table(
        {
            "campaign_id": pa.array(names, pa.string()),
            "accounts": pa.array([len(m) for m in members], pa.int64()),
            "flagged": pa.array(n_flagged, pa.int64()),
            "harvesting": pa.array(harvesting, pa.bool_()),
            "campaign_score": pa.array(c_score, pa.float64()),
            "requests": pa.array(total("requests"), pa.int64()),
            "prompt_tokens": pa.array(total("prompt_tokens"), pa.int64()),
            "completion_tokens": pa.array(total("completion_tokens"), pa.int64()),
            "first_seen": pa.array(extreme("first_seen", np.minimum), pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
            "last_seen": pa.array(extreme("last_seen", np.maximum), pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
            "evidence": pa.array(evidence, pa.string()),
            "reasons": pa.array(c_reasons, pa.string()),
            "members": pa.array([sorted(m) for m in members], pa.list_(pa.string())),
        }
    )
    if g == 0:
        return table
    idx = pc.sort_indices(
        table, [("campaign_score", "descending"), ("accounts", "descending"), ("campaign_id", "ascending")]
    )
    return table.take(idx)
