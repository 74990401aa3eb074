"""From a finished AccountState to one row of features per account (sorted by account_id).

Rates are shares of the account's requests. Repetition rates and the cross-account columns come
from the prompt sample (state.PromptSample) via fastscan.neardup: exact for accounts with at most
`sample_size` distinct prompts, estimated from a uniform sample of distinct prompts above that
(see docs/bounds.md).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from fastscan.score.neardup import CrossAccount, cross_account, low_bits, near_duplicate_flags, repetition
from fastscan.sketches import HOUR_MS, key_hour
from fastscan.state import AccountState, F

__all__ = ["account_features", "repetition"]

DAY_HOURS = 24


def _safe_div(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return np.divide(a, b, out=np.zeros_like(a), where=b > 0)


def _timing(state: AccountState) -> dict:
    from fastscan.kernels import timing

    n = state.n_accounts
    acct, key, cnt = state.hours.items()
    hour = key_hour(key)  # epoch hours, negative before 1970: floor division and modulo below
    out = {}
    # per account, from its rows in one pass (kernels.timing.hour_sums): active hours, distinct
    # days, requests, their squares and those on a weekend, first and last hour
    hours_active, days_active = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    s1, s2, weekend = np.zeros(n), np.zeros(n), np.zeros(n)
    first, last = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    timed = np.zeros(n, dtype=np.bool_)  # not first >= 0: hours before 1970 are negative
    timing.hour_sums(acct, hour, cnt, hours_active, days_active, s1, s2, weekend, first, last, timed)
    out["active_hours"] = hours_active
    out["active_days"] = days_active
    out["hours_per_active_day"] = _safe_div(hours_active, days_active)
    # how evenly the account's requests spread over the 24 hours of the day (1 = uniform), the
    # day/night uniformity (requests in the account's 6 quietest hours of the day over those in
    # its 6 busiest: about 1 for a script that runs at one pace day and night, near 0 for people,
    # even many people pooled across time zones, who leave a day-night curve) and the night's
    # share: the sums of each account's row of 24 hours, as numpy sums them (kernels.timing)
    tot, quiet, busy, night = (np.zeros(n) for _ in range(4))
    share = np.empty(len(acct))
    at = np.empty(len(acct), dtype=np.int64)
    k = timing.hour_cells(acct, hour, cnt, tot, quiet, busy, night, share, at)
    ent = np.zeros(n)
    timing.entropy_sums(share[:k] * np.log(share[:k]), at[:k], ent)
    out["hour_entropy"] = -ent / np.log(DAY_HOURS)
    out["hour_uniformity"] = _safe_div(quiet, busy)
    out["night_share"] = _safe_div(night, tot)
    out["weekend_share"] = _safe_div(weekend, s1)
    # regularity: coefficient of variation of requests per hour over the hours between the
    # account's first and last active hour (idle hours count as zero)
    span = np.where(timed, last - first + 1, 0)
    mean = _safe_div(s1, span)
    var = _safe_div(s2, span) - mean**2
    out["hourly_cv"] = np.where(span > 1, np.sqrt(np.maximum(var, 0.0)) / np.maximum(mean, 1e-12), 0.0)
    out["span_hours"] = span
    out["requests_per_active_hour"] = _safe_div(s1, hours_active)
    return out


def _models(state: AccountState) -> dict:
    n = state.n_accounts
    acct, model, cnt = state.model_counts.items()
    top = np.zeros(n, dtype=np.int64)
    top_model = np.full(n, -1, dtype=np.int64)
    if len(acct):
        # ties go to the model name that sorts first, never to the order models were first seen
        order = np.lexsort((state.model_rank()[model], -cnt, acct))
        a, m, c = acct[order], model[order], cnt[order]
        firsts = np.flatnonzero(np.r_[True, a[1:] != a[:-1]])
        top[a[firsts]] = c[firsts]
        top_model[a[firsts]] = m[firsts]
    out = {
        "top_model": _model_names(state, top_model),
        "top_model_share": _safe_div(top, state.sums[:n, F["requests"]]),
    }
    out.update(_capable_model(state, acct, model, cnt))
    out.update(_model_moves(state))
    return out


def _model_names(state: AccountState, at: np.ndarray) -> pa.Array:
    """The names of models number `at` (-1: none, ""), as an Arrow string array: taken from the
    few names, not converted from as many Python strings as there are accounts."""
    names = pa.array(state.models + [""], pa.string())
    return names.take(pa.array(np.where(at < 0, len(state.models), at).astype(np.int64)))


CAPABLE_MIN_SHARE = 0.01  # a model needs this share of the scan's requests to count as the capable one


def _capable_model(state: AccountState, acct, model, cnt) -> dict:
    """The scan's most capable model, judged from the log alone: the one that writes the longest
    answers on average (reasoning models do), among models with at least 1% of the requests; and
    each account's share of requests sent to it."""
    n = state.n_accounts
    share = np.zeros(n)
    name = ""
    n_models = len(state.models)
    if len(acct) and n_models:
        ta, tm, tc = state.model_tokens.items()
        req_m = np.bincount(model, weights=cnt, minlength=n_models)
        tok_m = np.bincount(tm, weights=tc, minlength=n_models) if len(tm) else np.zeros(n_models)
        per_req = _safe_div(tok_m, req_m)
        per_req[req_m < CAPABLE_MIN_SHARE * req_m.sum()] = -1.0
        best = int(np.argmax(per_req))
        name = state.models[best]
        share = _safe_div(np.bincount(acct, weights=cnt * (model == best), minlength=n), state.sums[:n, F["requests"]])
    return {"capable_model": pa.repeat(pa.scalar(name, pa.string()), n), "capable_model_share": share}


FAST_MOVE_HOURS = 24


def _model_moves(state: AccountState) -> dict:
    """A fast move to a newly released model. A model is new when it first appears in the log at
    least a day after the log starts; an account moved fast when it first used the model within
    FAST_MOVE_HOURS of that appearance. new_model_share: of the account's requests since the
    release, the share sent to that model (the largest over new models it moved to fast);
    new_model_delay_hours: how soon after the release it first used it (-1: no such move)."""
    n = state.n_accounts
    share = np.zeros(n)
    delay = np.full(n, -1, dtype=np.int64)
    new_model = np.full(n, -1, dtype=np.int64)
    acct, model, first_key = state.model_first.items()
    if not len(acct):
        return {"new_model": _model_names(state, new_model), "new_model_share": share, "new_model_delay_hours": delay}
    hour = key_hour(first_key)
    t_acct, t_model, t_cnt = state.model_timed.items()  # the same (account, model) pairs, same order
    start = hour.min()
    n_models = int(model.max()) + 1
    release = np.full(n_models, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(release, model, hour)
    h_acct, h_key, h_cnt = state.hours.items()
    h_hour = key_hour(h_key)
    for m in np.flatnonzero((release < np.iinfo(np.int64).max) & (release >= start + 24)):
        on_m = model == m
        first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first, acct[on_m], hour[on_m])
        used = np.bincount(t_acct[t_model == m], weights=t_cnt[t_model == m], minlength=n)
        since = np.bincount(h_acct, weights=h_cnt * (h_hour >= release[m]), minlength=n)
        fast = (first - release[m] <= FAST_MOVE_HOURS) & (used > 0)
        s = np.where(fast, _safe_div(used, since), 0.0)
        better = s > share
        share = np.where(better, s, share)
        delay = np.where(better, first - release[m], delay)
        new_model = np.where(better, m if m < len(state.models) else -1, new_model)
    return {
        "new_model": _model_names(state, new_model),
        "new_model_share": np.clip(share, 0.0, 1.0),
        "new_model_delay_hours": delay,
    }


def account_features(
    state: AccountState, cross: CrossAccount | None = None, near: np.ndarray | None = None, rep: dict | None = None
) -> pa.Table:
    """One row per account, sorted by account_id: volumes, rates, timing, repetition (`rep`) and
    what the account shares with others (`cross`), each computed here when not given."""
    n = state.n_accounts
    sums = state.sums[:n]
    req = sums[:, F["requests"]]
    cols = {
        "requests": req,
        "prompt_tokens": sums[:, F["prompt_tokens"]],
        "completion_tokens": sums[:, F["completion_tokens"]],
        "reasoning_tokens": sums[:, F["reasoning_tokens"]],
    }
    ts_min = state.ts_min[:n]
    ts_max = state.ts_max[:n]
    timed = sums[:, F["timed"]] > 0
    cols["first_seen_ms"] = np.where(timed, ts_min, 0)
    cols["last_seen_ms"] = np.where(timed, ts_max, 0)
    cols["completion_prompt_ratio"] = _safe_div(sums[:, F["completion_tokens"]], sums[:, F["prompt_tokens"]])
    cols["completion_tokens_per_request"] = _safe_div(sums[:, F["completion_tokens"]], req)
    for name in (
        "hit_max_tokens",
        "long_output",
        "logprobs",
        "multi_sample",
        "logit_bias",
        "conversation",
        "system_prompt",
        "temperature_zero",
        "reasoning_prompt",
        "tokens_estimated",
    ):
        cols[f"{name}_rate"] = _safe_div(sums[:, F[name]], req)
    cols["samples_per_request"] = _safe_div(sums[:, F["samples"]], req)
    if near is None or cross is None:  # the low bits and the flags: computed once, shared
        bits = low_bits(state)
        near = near_duplicate_flags(state, bits) if near is None else near
        cross = cross or cross_account(state, near, bits)
    cols.update(rep if rep is not None else repetition(state, near))
    cols.update(cross.columns)
    cols.update(_timing(state))
    cols.update(_models(state))
    cols["active_span_days"] = np.where(timed, (ts_max - ts_min) / (24 * HOUR_MS), 0.0)
    order = state.id_order()
    take = pa.array(order)
    arrays = {"account_id": state.ids_in_order()}
    for k, v in cols.items():
        if isinstance(v, pa.Array):  # text columns, made as Arrow arrays
            arrays[k] = v.take(take)
            continue
        v = np.asarray(v)[order]
        if k in ("first_seen_ms", "last_seen_ms"):
            arrays[k.replace("_ms", "")] = pa.array(v, pa.timestamp("ms", tz="UTC"), mask=~np.asarray(timed)[order])
        elif v.dtype == object:
            arrays[k] = pa.array(v.tolist(), pa.string())
        elif v.dtype == np.bool_:
            arrays[k] = pa.array(v)
        elif np.issubdtype(v.dtype, np.integer):
            arrays[k] = pa.array(v.astype(np.int64))
        else:
            arrays[k] = pa.array(v.astype(np.float64))
    return pa.table(arrays)
