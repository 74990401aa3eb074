"""Features to an extraction score in [0, 1], a flag, and reasons in words an analyst reads.

Each published signal (docs/score.md) is a value in [0, 1] computed from the account's row of
features. The score is a logistic model over those signals,

    extraction_score = 1 / (1 + exp(-(bias + sum_k weight_k * signal_k)))

with every weight >= 0, so each signal can only add evidence and a signal's contribution
(weight_k * signal_k) says how much it moved the score. Some terms are products of signals:
automation and coordination (templates, round-the-clock or day-and-night pace, answers cut at
max_tokens, shared templates, rotation) count only as far as the account also takes substantial
output, because integrations that run one classification template around the clock are the
commonest legitimate automation; and a template wrapped around many different tasks counts more
than one narrow task repeated. Every term with an output-harvest signal also counts only as far as
the account's answers are fresh (`fresh_answers`): a prompt sent again at temperature 0 returns
an answer the account already has, which is no harvest however long. The weights come from
`bench/fit_score.py` (fitted on make_log.py logs; the seeds are recorded in
`fastscan/score/weights.py`).

Nothing here needs labels: the signals are facts about the account's own traffic, and reasons
compare it with the scanned population. An account with fewer than `min_requests` requests is
never flagged on its ratios alone (only as part of a large cluster, see `_large_enough`).
"""

from __future__ import annotations

import functools

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fastscan.parallel import map_ordered
from fastscan.score.coordination import ROTATION_MIN_CLUSTER
from fastscan.score.signals import SIGNAL_INDEX, SIGNALS, Columns, _clip, _col, _pct, columns
from fastscan.score.weights import BIAS, WEIGHTS

__all__ = ["score_accounts", "signal_values", "SIGNALS", "TERMS", "FLAG_THRESHOLD", "MIN_REQUESTS", "explain_account"]

FLAG_THRESHOLD = 0.5
MIN_REQUESTS = 50
REASONS_SHOWN = 3  # reasons per account in the report
MIN_CONTRIBUTION = 0.5  # logit units: weaker evidence is not worth a reason


# Terms of the model: single signals, and products where one signal only counts alongside another.
# Every term with an output-harvest signal is also multiplied by FRESH (term_values): answers the
# account already has (repeats at temperature 0) are no harvest, however long.
FRESH = "fresh_answers"
OUTPUT_SIGNALS = frozenset(s.name for s in SIGNALS if s.group == "output harvest") - {FRESH}
TERMS = tuple((s.name,) for s in SIGNALS if s.name != FRESH) + (
    ("templated", "output_length"),
    ("templated", "varied_payloads", "output_length"),
    ("round_the_clock", "output_length"),
    ("uniform_clock", "output_length"),
    ("max_tokens_hits", "output_length"),
    ("shared_templates", "output_length"),
    ("rotation", "output_length"),
)


def term_name(term: tuple) -> str:
    return "*".join(term)


def signal_values(features) -> np.ndarray:
    """float64[n, len(SIGNALS)]: every signal of every account, each in [0, 1]."""
    return np.ascontiguousarray(_signals_by_signal(features).T)


def _signals_by_signal(features) -> np.ndarray:
    """signal_values transposed, float64[len(SIGNALS), n]: each signal's values side by side."""
    cols = columns(features)
    by_signal = np.zeros((len(SIGNALS), cols.num_rows), dtype=np.float64)
    for j, s in enumerate(SIGNALS):
        by_signal[j] = _clip(np.nan_to_num(s.value(cols)))
    return by_signal


def term_values(signals: np.ndarray, fresh: bool = True) -> np.ndarray:
    """float64[n, len(TERMS)]: the model's inputs (a term with an output-harvest signal counts
    only as far as the answers are fresh; `fresh=False`: as if every answer were)."""
    return np.ascontiguousarray(_terms_of(np.ascontiguousarray(signals.T), fresh).T)


def _terms_of(by_signal: np.ndarray, fresh: bool = True) -> np.ndarray:
    """term_values transposed, float64[len(TERMS), n], from the signals transposed,
    float64[len(SIGNALS), n]: each term's values side by side (the products read and write whole
    rows, not a strided column each)."""
    out = np.ones((len(TERMS), by_signal.shape[1]), dtype=np.float64)
    for j, term in enumerate(TERMS):
        for name in term:
            out[j] *= by_signal[SIGNAL_INDEX[name]]
        if fresh and OUTPUT_SIGNALS.intersection(term):
            out[j] *= by_signal[SIGNAL_INDEX[FRESH]]
    return out


def weight_vector(weights: dict | None = None) -> np.ndarray:
    weights = WEIGHTS if weights is None else weights
    return np.array([float(weights.get(term_name(t), 0.0)) for t in TERMS])


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


_BLOCK = 8192  # accounts _contributions takes at a time


def _contributions(features, weights=None, show_fresh: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(signals float64[S, n], as _signals_by_signal gives them; per-signal contributions to the
    logit float64[n, S]).

    `show_fresh`: credit the output terms as if every answer were fresh and give `fresh_answers`
    what it takes away (negative), so an analyst sees both; the sum is the same logit."""
    rows = _signals_by_signal(features)
    w = weight_vector(weights)[:, None]
    n = rows.shape[1]
    per_signal = np.empty((n, rows.shape[0]), dtype=np.float64)

    def block(lo: int, hi: int) -> None:
        # by term and by signal, rows side by side (no [n, ...] array turned over and back); the
        # results in the [n, ...] layout the callers had before (numpy sums a row of a transposed
        # array in another order)
        part = rows[:, lo:hi]
        gated = _terms_of(part)
        gated *= w
        contrib = gated
        if show_fresh:
            contrib = _terms_of(part, fresh=False)
            contrib *= w
        by_signal = np.zeros(part.shape, dtype=np.float64)
        # a product term is credited to its first signal (the automation that the output qualifies)
        for j, term in enumerate(TERMS):
            by_signal[SIGNAL_INDEX[term[0]]] += contrib[j]
        per_signal[lo:hi] = by_signal.T
        if show_fresh:
            per_signal[lo:hi, SIGNAL_INDEX[FRESH]] = np.ascontiguousarray((gated - contrib).T).sum(axis=1)

    # every value is of its own account: a block of accounts at a time, each block's [terms,
    # accounts] arrays in the cache (over 200,000 accounts, whole ones were 85 MB of fresh pages
    # each), and blocks on every thread
    map_ordered(lambda r: block(*r), [(lo, min(n, lo + _BLOCK)) for lo in range(0, n, _BLOCK)])
    return rows, per_signal


def _typical(per_signal: np.ndarray, req: np.ndarray, min_requests: int) -> np.ndarray:
    """Per signal, the median contribution among the accounts that could be flagged (among all
    accounts when none could: a small log still has a typical account)."""
    if not len(req):
        return np.zeros(per_signal.shape[1])
    eligible = _eligible(req, min_requests)
    return np.median(per_signal[eligible], axis=0)


def _eligible(req: np.ndarray, min_requests: int) -> np.ndarray:
    """The accounts the typical account is taken among: those that could be flagged, else all."""
    eligible = req >= min_requests
    return eligible if eligible.any() else np.ones(len(req), dtype=np.bool_)


CLUSTER_MIN_REQUESTS = 5  # an account of a large cluster needs this many requests of its own (a fingerprint's)
CLUSTER_VOLUME = 10  # ...and its cluster CLUSTER_VOLUME x min_requests requests together


def _large_enough(features, req: np.ndarray, min_requests: int) -> np.ndarray:
    """Accounts that may be flagged: at least `min_requests` requests, or at least
    CLUSTER_MIN_REQUESTS in a cluster of ROTATION_MIN_CLUSTER or more accounts that together sent
    CLUSTER_VOLUME x min_requests (a ring of small accounts is large together)."""
    own = req >= min_requests
    if "cluster_size" not in features.column_names or "cluster_requests" not in features.column_names:
        return own
    in_ring = (
        (_col(features, "cluster_size") >= ROTATION_MIN_CLUSTER)
        & (_col(features, "cluster_requests") >= CLUSTER_VOLUME * min_requests)
        & (req >= CLUSTER_MIN_REQUESTS)
    )
    return own | in_ring


def shrunk_logit(logit: np.ndarray, req: np.ndarray, min_requests: int) -> np.ndarray:
    """The logit of an account with fewer than `min_requests` requests, drawn towards the typical
    account's (the median logit of those that could be flagged) by sqrt(requests / min_requests):
    rates read off a handful of requests are weak evidence either way, and one request asking for
    reasoning must not score like a harvester. Accounts with `min_requests` or more keep theirs."""
    if not len(logit):
        return logit
    typical = float(np.median(logit[_eligible(req, min_requests)]))
    trust = np.sqrt(np.clip(req / max(min_requests, 1), 0.0, 1.0))
    return typical + trust * (logit - typical)


def _scores(features, min_requests: int, weights: dict | None, bias: float | None) -> tuple[np.ndarray, np.ndarray]:
    """(extraction_score float64[n], per-signal contributions float64[n, S])."""
    b = BIAS if bias is None else bias
    cols = columns(features)
    _, per_signal = _contributions(cols, weights)
    logit = shrunk_logit(b + per_signal.sum(axis=1), cols.get("requests"), min_requests)
    return _sigmoid(logit), per_signal


@functools.cache
def score_inputs() -> frozenset[str]:
    """The columns extraction_scores reads: `requests` and those the signals' values read, as
    the signals read a report of no rows (each value reads its columns whatever they hold)."""
    seen: set[str] = {"requests"}

    class Seen(Columns):
        def get(self, name: str) -> np.ndarray:
            seen.add(name)
            return super().get(name)

    signal_values(Seen({}))
    return frozenset(seen)


def extraction_scores(features, min_requests: int = MIN_REQUESTS) -> np.ndarray:
    """The extraction_score of every row of `features`, without flags or reasons (what judging
    many candidate groups needs)."""
    return _scores(features, min_requests, None, None)[0]


def score_accounts(
    features: pa.Table,
    threshold: float = FLAG_THRESHOLD,
    min_requests: int = MIN_REQUESTS,
    *,
    weights: dict | None = None,
    bias: float | None = None,
) -> pa.Table:
    """features + extraction_score, flagged, reasons.

    Reasons are the signals that lift this account's score most above the typical account of the
    same scan (the median contribution among accounts with at least `min_requests` requests, or
    among all accounts when none has that many), so a trait every account shares (say,
    single-shot requests) is not offered as a reason; an account whose score is not above the
    typical account's score gets none.
    """
    cols = columns(features)
    score, per_signal = _scores(cols, min_requests, weights, bias)
    req = cols.get("requests")
    flagged = (score >= threshold) & _large_enough(features, req, min_requests)
    excess = per_signal - _typical(per_signal, req, min_requests)
    # words only for accounts with something to say (most accounts of a big scan have nothing)
    reasons = np.full(features.num_rows, "", dtype=object)
    # and only for accounts that score above the typical account: a low score has no reason to give
    above = score > np.median(score[_eligible(req, min_requests)]) if len(req) else np.zeros(0, np.bool_)
    speak = np.flatnonzero((excess >= MIN_CONTRIBUTION).any(axis=1) & above)
    if len(speak):
        # each speaking account's signals by excess, largest first (one sort for all of them), the
        # first REASONS_SHOWN of them that lift it enough
        top = np.argsort(-excess[speak], axis=1, kind="stable")[:, :REASONS_SHOWN]
        lifts = np.take_along_axis(excess[speak], top, axis=1) >= MIN_CONTRIBUTION
        reasons[speak] = _reasons(_Lists(features, speak), top, lifts).to_numpy(zero_copy_only=False)
    return (
        features.append_column("extraction_score", pa.array(score, pa.float64()))
        .append_column("flagged", pa.array(flagged, pa.bool_()))
        .append_column("reasons", pa.array(reasons, pa.string()))
    )


class _Lists:
    """Rows `rows` of the report's columns as lists of Python values (a list of them is read
    faster than numpy scalars one at a time), converted once each, on first use: item k of a list
    is row rows[k]. Only the rows that have reasons to give: over 200,000 accounts, converting
    whole columns took a third of the reasons' time."""

    def __init__(self, table: pa.Table, rows: np.ndarray):
        self.table = table
        self.rows = rows
        self.names = frozenset(table.column_names)
        self.cache: dict = {}

    def list(self, name: str) -> list | None:
        """Column `name`'s values at the rows, None when the report lacks it."""
        if name not in self.names:
            return None
        if name not in self.cache:
            col = self.table.column(name)
            if col.null_count == 0:
                self.cache[name] = col.to_numpy(zero_copy_only=False)[self.rows].tolist()
            else:
                self.cache[name] = col.take(pa.array(self.rows)).to_pylist()
        return self.cache[name]


def _reasons(lists: _Lists, top: np.ndarray, lifts: np.ndarray) -> pa.Array:
    """The reasons in words of the rows of `lists`: row k gives the signals top[k, r] whose
    lifts[k, r] is set (largest excess first), one phrase each, worded a signal at a time for all
    the rows that give it (`Signal.phrases`: a row's values read out of the columns' lists, no
    lookup through a row object per value), and "; "-joined by Arrow. A column of phrases per
    place r (numpy's, of objects), not a list per row: tens of thousands of lists that live to
    the end would set off the collector's full passes; placed and joined a row at a time in
    Python, 0.3 s of the reasons of a 100,000-account swarm."""
    said = []
    for r in range(top.shape[1]):
        given = top[:, r]
        place = np.full(len(top), None, dtype=object)
        for j in np.unique(given[lifts[:, r]]).tolist():
            at = np.flatnonzero(lifts[:, r] & (given == j))
            place[at] = SIGNALS[j].phrases(lists.list, at.tolist())
        said.append(pa.array(place, pa.string()))
    # the reasoning tokens' share of the answer, after the signals of a row that gives any
    share_of = np.full(len(top), None, dtype=object)
    reasoning, completion = lists.list("reasoning_tokens"), lists.list("completion_tokens")
    if reasoning is not None and completion is not None:
        given_any = np.asarray(lifts.any(axis=1)).tolist()
        for k in range(len(top)):
            if given_any[k] and reasoning[k] and completion[k]:
                share = reasoning[k] / completion[k]
                if share >= 0.25:
                    share_of[k] = f"reasoning tokens are {_pct(share)} of completion tokens"
    said.append(pa.array(share_of, pa.string()))
    return pc.binary_join_element_wise(*said, "; ", null_handling="skip")


def explain_account(
    accounts: pa.Table, account_id: str, min_requests: int = MIN_REQUESTS, weights: dict | None = None
) -> list[dict]:
    """Every signal of one account of a scored report: its group, value in [0, 1], contribution
    to the score's logit, the typical account's contribution, and the signal in words. The output
    signals show what they would add were every answer fresh; `fresh_answers` shows, negative,
    what the account's stale answers take away from them."""
    ids = accounts.column("account_id").to_pylist()
    if account_id not in ids:
        raise KeyError(account_id)
    i = ids.index(account_id)
    sig, per_signal = _contributions(accounts, weights, show_fresh=True)
    typical = _typical(per_signal, _col(accounts, "requests"), min_requests)
    row = accounts.slice(i, 1).to_pylist()[0]  # a column it lacks reads as ABSENT (Signal.words)
    out = []
    for j, s in enumerate(SIGNALS):
        try:
            words = s.words(row)
        except (KeyError, TypeError):
            words = "not in this report"
        out.append(
            {
                "signal": s.name,
                "group": s.group,
                "value": float(sig[j, i]),
                "contribution": float(per_signal[i, j]),
                "typical": float(typical[j]),
                "words": words,
                "doc": s.doc,
            }
        )
    return out
