"""The hour-of-day figures of each account (fastscan.score.features), from its sparse table of
requests per epoch hour, without the dense [accounts, 24] table and its numpy passes.

Every sum is taken in the order numpy's takes it over a row of that table, so the figures are
numpy's to the last bit: a row of 24 by its pairwise sum (eight running sums, then a tree), a
slice of 6 one element after another. The logarithms stay numpy's (its own vectorized `log`,
which need not agree with the C library's to the last bit): `hour_cells` hands out the shares
whose p log p is wanted, and `entropy_sums` adds the terms back up by account.
"""

from __future__ import annotations

import numpy as np
from numba import types

from fastscan.kernels._jit import inline, kernel, ro, rw

__all__ = ["DAY_HOURS", "hour_cells", "entropy_sums", "hour_sums"]

DAY_HOURS = 24
_EDGE = 6  # the hours of a night, and of an account's quietest and busiest hours of the day


@inline
def _row_sum(a):
    """numpy's pairwise sum of a row of 24 float64 (`np.sum(x, axis=1)` of C-contiguous [n, 24])."""
    r0, r1, r2, r3, r4, r5, r6, r7 = a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]
    for i in range(8, DAY_HOURS, 8):
        r0 += a[i]
        r1 += a[i + 1]
        r2 += a[i + 2]
        r3 += a[i + 3]
        r4 += a[i + 4]
        r5 += a[i + 5]
        r6 += a[i + 6]
        r7 += a[i + 7]
    return ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))


@inline
def _run_sum(a, lo, hi):
    """a[lo:hi] added one element after another (numpy's sum of a slice shorter than 8)."""
    s = 0.0
    for h in range(lo, hi):
        s += a[h]
    return s


@inline
def _day_of(hour, cnt, lo, hi, row):
    """row[:] = the account's requests per hour of the day, added up in the order of its rows (as
    np.bincount with weights adds them)."""
    for h in range(DAY_HOURS):
        row[h] = 0.0
    for i in range(lo, hi):
        row[hour[i] % DAY_HOURS] += np.float64(cnt[i])


@inline
def _sort_day(row):
    """Sort a row of 24 nonnegative numbers ascending: its zeros to the front, then its other
    hours by insertion (an account is active in a few hours of the day, most often)."""
    z = 0
    for h in range(DAY_HOURS):  # the nonzero values moved to the end, in their order
        if row[h] == 0.0:
            z += 1
    w = DAY_HOURS
    for h in range(DAY_HOURS - 1, -1, -1):
        if row[h] != 0.0:
            w -= 1
            row[w] = row[h]
    for h in range(z):
        row[h] = 0.0
    for i in range(z + 1, DAY_HOURS):
        v = row[i]
        j = i - 1
        while j >= z and row[j] > v:
            row[j + 1] = row[j]
            j -= 1
        row[j + 1] = v


@kernel(
    types.int64(
        ro(types.int64),
        ro(types.int64),
        ro(types.int64),
        rw(types.float64),
        rw(types.float64),
        rw(types.float64),
        rw(types.float64),
        rw(types.float64),
        rw(types.int64),
    )
)
def hour_cells(acct, hour, cnt, total, quiet, busy, night, share, share_at):
    """From the rows (acct, hour, cnt) sorted by account: per account (indices into the outputs,
    which start at zero), its day's total, the sum of its `_EDGE` quietest and busiest hours of
    the day (sorted ascending, each added from the lowest) and of its night hours 0-5; and each
    nonzero share of an hour of the day in its total, in account then hour order, in `share`
    (share_at: its account * 24 + hour). Returns how many shares there are (at most len(acct)).
    """
    m = acct.shape[0]
    row = np.empty(DAY_HOURS, dtype=np.float64)
    k = 0
    lo = 0
    while lo < m:
        a = acct[lo]
        hi = lo + 1
        while hi < m and acct[hi] == a:
            hi += 1
        _day_of(hour, cnt, lo, hi, row)
        tot = _row_sum(row)
        total[a] = tot
        night[a] = _run_sum(row, 0, _EDGE)
        if tot > 0:
            for h in range(DAY_HOURS):
                if row[h] > 0.0:  # else its share is 0: no term
                    share[k] = row[h] / tot
                    share_at[k] = a * DAY_HOURS + h
                    k += 1
        _sort_day(row)
        quiet[a] = _run_sum(row, 0, _EDGE)
        busy[a] = _run_sum(row, DAY_HOURS - _EDGE, DAY_HOURS)
        lo = hi
    return k


@kernel(types.void(ro(types.float64), ro(types.int64), rw(types.float64)))
def entropy_sums(terms, at, out):
    """out[a] = the sum over the 24 hours of account a of its terms p log p (zero where `at`, in
    ascending order, names none), as numpy sums a row of the dense table; accounts none names are
    left as they are."""
    row = np.zeros(DAY_HOURS, dtype=np.float64)
    m = terms.shape[0]
    lo = 0
    while lo < m:
        a = at[lo] // DAY_HOURS
        hi = lo
        while hi < m and at[hi] // DAY_HOURS == a:
            row[at[hi] % DAY_HOURS] = terms[hi]
            hi += 1
        out[a] = _row_sum(row)
        for i in range(lo, hi):
            row[at[i] % DAY_HOURS] = 0.0
        lo = hi


@kernel(
    types.void(
        ro(types.int64),
        ro(types.int64),
        ro(types.int64),
        rw(types.int64),
        rw(types.int64),
        rw(types.float64),
        rw(types.float64),
        rw(types.float64),
        rw(types.int64),
        rw(types.int64),
        rw(types.boolean),
    )
)
def hour_sums(acct, hour, cnt, hours, days, total, squares, weekend, first, last, timed):
    """From the rows (acct, hour, cnt) sorted by account, then hour (epoch hours, negative before
    1970): per account, its active hours and distinct days, its requests, their squares and those
    on a Saturday or Sunday (floats added in the order of its rows, as np.bincount with weights
    adds them), its first and last hour; timed where it has any. Accounts without rows are left
    as they are (the caller's zeros)."""
    m = acct.shape[0]
    lo = 0
    while lo < m:
        a = acct[lo]
        t, q, w = 0.0, 0.0, 0.0
        n_days = 0
        day = 0
        i = lo
        while i < m and acct[i] == a:
            c = np.float64(cnt[i])
            t += c
            q += c * c
            d = hour[i] // DAY_HOURS  # floor division, as numpy's
            if i == lo or d != day:
                n_days += 1
                day = d
            if (d + 3) % 7 >= 5:  # 1970-01-01 was a Thursday: Saturday 5, Sunday 6
                w += c
            i += 1
        hours[a] = i - lo
        days[a] = n_days
        total[a] = t
        squares[a] = q
        weekend[a] = w
        first[a] = hour[lo]
        last[a] = hour[i - 1]
        timed[a] = True
        lo = i
