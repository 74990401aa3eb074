"""Coordination across accounts, from the per-account report: rotation and cluster volume.

Clusters (`cluster_id`, `cluster_size`: accounts linked by shared templates or near-duplicate
prompts, fastscan.neardup) say which accounts belong together; this module adds what the timing
of a cluster's accounts says:

- `rotation_partners`: accounts of the same cluster (of at least ROTATION_MIN_CLUSTER accounts)
  that start within ROTATION_HOURS of this account's last request, or stop within ROTATION_HOURS
  of its first, while the two windows are clearly apart (their starts, and their stops, differ by
  more than ROTATION_HOURS). Accounts that start as others stop: a ring rotating keys.
- `cluster_requests`: requests of the whole cluster (the account's own when it is in none), so
  that accounts that are each small but together large can be flagged (fastscan.score).

Everything is computed from report columns (first_seen, last_seen, cluster_id, requests), so it
depends on nothing but the merged state. Without cluster columns every account is its own cluster.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fastscan.sketches import HOUR_MS

__all__ = ["ROTATION_HOURS", "ROTATION_MIN_CLUSTER", "cluster_labels", "coordination_columns"]

ROTATION_HOURS = 24
ROTATION_MIN_CLUSTER = 3


def _times(table: pa.Table, name: str) -> tuple[np.ndarray, np.ndarray]:
    col = table.column(name)
    valid = ~np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    ms = col.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    return ms, valid


def cluster_labels(table: pa.Table) -> np.ndarray:
    """int64[n]: each row's cluster, numbered in the order the clusters first come; rows of equal
    cluster_id (all rows without one together) share a number. Arrow's hash groups the whole ids:
    a trailing NUL keeps an id apart, where a numpy string array would drop it."""
    col = table.column("cluster_id").combine_chunks()
    if not pa.types.is_string(col.type) and not pa.types.is_large_string(col.type):
        col = col.cast(pa.string())
    encoded = pc.dictionary_encode(col, null_encoding="encode")
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)


def _count_in_window(cluster, keys, lo, hi, self_key_inside):
    """For each account: accounts of its cluster whose key lies in [lo, hi] (sorted search)."""
    big = np.int64(1) << np.int64(42)  # epoch ms < 2**42 until the year 2109
    packed = cluster * big + keys
    order = np.sort(packed)
    left = np.searchsorted(order, cluster * big + lo, side="left")
    right = np.searchsorted(order, cluster * big + hi, side="right")
    return right - left - self_key_inside


def coordination_columns(table: pa.Table) -> dict:
    """rotation_partners int64[n] and cluster_requests int64[n] for the report `table`."""
    n = table.num_rows
    req = table.column("requests").to_numpy(zero_copy_only=False).astype(np.int64)
    if "cluster_id" not in table.column_names or n == 0:
        return {"rotation_partners": np.zeros(n, dtype=np.int64), "cluster_requests": req.copy()}
    cluster = cluster_labels(table)
    size = np.bincount(cluster)
    cluster_requests = np.bincount(cluster, weights=req)[cluster].astype(np.int64)
    first, f_ok = _times(table, "first_seen")
    last, l_ok = _times(table, "last_seen")
    w = ROTATION_HOURS * HOUR_MS
    ok = f_ok & l_ok & (size[cluster] >= ROTATION_MIN_CLUSTER)
    partners = np.zeros(n, dtype=np.int64)
    if ok.sum() >= 2:
        c, f, l_ = cluster[ok], first[ok], last[ok]
        # others that start as this one stops: first in [last - w, last + w] but first > own first + w
        starts_near_stop = _count_in_window(c, f, np.maximum(l_ - w, f + w + 1), l_ + w, 0)
        # others that stopped as this one started: last in [first - w, first + w] but last < own last - w
        stops_near_start = _count_in_window(c, l_, f - w, np.minimum(f + w, l_ - w - 1), 0)
        partners[ok] = np.maximum(starts_near_stop, 0) + np.maximum(stops_near_start, 0)
    return {"rotation_partners": partners, "cluster_requests": cluster_requests}
