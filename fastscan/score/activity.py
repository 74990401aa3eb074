"""What the analyst's report draws besides the scores: the hourly activity of the accounts worth a
look, and the models the log's traffic went to. Both are small, bounded tables."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from fastscan.report.report import NEAR_THRESHOLD
from fastscan.sketches import HOUR_MS, key_hour
from fastscan.state import AccountState

__all__ = ["MAX_ACTIVITY_ACCOUNTS", "account_activity", "hour_of_day", "model_usage"]

MAX_ACTIVITY_ACCOUNTS = 200  # the activity table holds at most this many accounts, highest scores first


def account_activity(state: AccountState, accounts: pa.Table, threshold: float) -> pa.Table:
    """account_id, hour (UTC), requests: per active hour, for the accounts scoring at least
    NEAR_THRESHOLD x threshold (at most MAX_ACTIVITY_ACCOUNTS of them, highest scores first)."""
    ids = accounts.column("account_id").to_pylist()
    score = np.asarray(accounts.column("extraction_score").to_numpy(zero_copy_only=False), dtype=np.float64)
    order = np.argsort(-score, kind="stable")
    chosen = [ids[i] for i in order[:MAX_ACTIVITY_ACCOUNTS] if score[i] >= NEAR_THRESHOLD * threshold]
    index = np.array([state.index[a] for a in chosen], dtype=np.int64)
    acct, key, cnt = state.hours.items()
    keep = np.isin(acct, index)
    name_of = dict(zip(index.tolist(), chosen))
    return pa.table(
        {
            "account_id": pa.array([name_of[a] for a in acct[keep].tolist()], pa.string()),
            "hour": pa.array(key_hour(key[keep]) * HOUR_MS, pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
            "requests": pa.array(cnt[keep], pa.int64()),
        }
    )


def model_usage(state: AccountState) -> pa.Table:
    """model, requests, accounts, completion_tokens: every model of the log, busiest first."""
    n = len(state.models)
    acct, model, cnt = state.model_counts.items()
    _, t_model, tokens = state.model_tokens.items()
    requests = np.bincount(model, weights=cnt, minlength=n).astype(np.int64)
    users = np.bincount(model, minlength=n).astype(np.int64)
    completion = np.bincount(t_model, weights=tokens, minlength=n).astype(np.int64)
    order = np.lexsort((np.arange(n), -requests))
    return pa.table(
        {
            "model": pa.array([state.models[i] or "(none)" for i in order], pa.string()),
            "requests": pa.array(requests[order], pa.int64()),
            "accounts": pa.array(users[order], pa.int64()),
            "completion_tokens": pa.array(completion[order], pa.int64()),
        }
    )


def hour_of_day(state: AccountState) -> pa.Table:
    """hour (0-23, UTC), requests: the whole log's requests by hour of day (the typical rhythm)."""
    _, key, cnt = state.hours.items()
    counts = np.bincount(key_hour(key) % 24, weights=cnt, minlength=24).astype(np.int64)
    return pa.table({"hour": pa.array(np.arange(24), pa.int64()), "requests": pa.array(counts, pa.int64())})
