"""Per-account aggregation kernels, keyed by an int32 account index."""
from __future__ import annotations

from numba import types

from ._jit import kernel, ro, ro2, rw, rw2


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


@kernel(types.void(ro2(types.uint32), ro(types.int64), rw2(types.uint32), ro(types.int64)))
def copy_rows(src, src_rows, dst, dst_rows):
    """dst[dst_rows[i]] = src[src_rows[i]] for every i (whole rows; numpy's fancy-index
    assignment of 2-d rows was most of PromptSample.compact).

    src : uint32[n, K], src_rows : int64[m], dst : uint32[p, K], dst_rows : int64[m]
    """
    k = src.shape[1]
    for i in range(src_rows.shape[0]):
        s = src_rows[i]
        d = dst_rows[i]
        for j in range(k):
            dst[d, j] = src[s, j]
