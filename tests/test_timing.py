"""The hour-of-day features (fastscan.score.features._timing through kernels.timing): the same
figures, to the last bit, as the dense [accounts, 24] table summed by numpy, and the right ones
for accounts whose hours are known."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

import numpy as np
import pytest

from fastscan.score.features import _timing
from fastscan.sketches import HOUR_OFFSET
from fastscan.state import AccountState

DAY = 24


def _div(a, b) -> np.ndarray:
    """a / b as floats, 0 where b is 0 (the reference's division)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.divide(a, b, out=np.zeros_like(a), where=b > 0)


def _dense(acct: np.ndarray, hour: np.ndarray, cnt: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """The figures from the dense table, as numpy sums its rows (the reference)."""
    hod = np.bincount(acct * DAY + hour % DAY, weights=cnt, minlength=n * DAY).reshape(n, DAY)
    tot = hod.sum(axis=1, keepdims=True)
    p = np.divide(hod, tot, out=np.zeros_like(hod), where=tot > 0)
    terms = np.zeros_like(p)
    nz = p > 0
    terms[nz] = p[nz] * np.log(p[nz])
    hod_sorted = np.sort(hod, axis=1)
    return {
        "hour_entropy": -np.sum(terms, axis=1) / np.log(DAY),
        "hour_uniformity": _div(hod_sorted[:, :6].sum(axis=1), hod_sorted[:, -6:].sum(axis=1)),
        "night_share": _div(hod[:, 0:6].sum(axis=1), tot[:, 0]),
    }


def _state(acct: np.ndarray, hour: np.ndarray, cnt: np.ndarray, n: int) -> AccountState:
    """What _timing reads of a state: its accounts and its (account, hour key, requests) rows."""
    order = np.lexsort((hour, acct))
    acct, hour, cnt = acct[order], hour[order], cnt[order]
    keys = (hour + HOUR_OFFSET).astype(np.int64)
    return cast(AccountState, SimpleNamespace(n_accounts=n, hours=SimpleNamespace(items=lambda: (acct, keys, cnt))))


def _random_hours(seed: int, n: int, rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    acct = rng.integers(0, n, rows)
    hour = rng.integers(-30 * DAY, 400_000, rows)  # some before 1970
    pairs = np.unique(acct * 10**7 + hour + 30 * DAY)  # one row per (account, hour), as the table
    acct, hour = pairs // 10**7, pairs % 10**7 - 30 * DAY
    cnt = rng.integers(1, rng.choice([3, 50, 10**6]), len(acct))
    return acct.astype(np.int64), hour.astype(np.int64), cnt.astype(np.int64)


def _by_bincount(acct: np.ndarray, hour: np.ndarray, cnt: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """The other figures of the hours table as numpy's bincounts over it give them (the
    reference: what _timing computed before kernels.timing.hour_sums)."""
    hours_active = np.bincount(acct, minlength=n).astype(np.int64)
    day = hour // DAY
    new_day = np.ones(len(acct), dtype=np.bool_)
    new_day[1:] = (acct[1:] != acct[:-1]) | (day[1:] != day[:-1])
    days_active = np.bincount(acct[new_day], minlength=n).astype(np.int64)
    weekend = np.bincount(acct, weights=cnt * ((day + 3) % 7 >= 5), minlength=n)
    first, last, timed = np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n, np.bool_)
    if len(acct):
        starts = np.flatnonzero(np.r_[True, acct[1:] != acct[:-1]])
        ends = np.r_[starts[1:], len(acct)] - 1
        first[acct[starts]], last[acct[ends]], timed[acct[starts]] = hour[starts], hour[ends], True
    span = np.where(timed, last - first + 1, 0)
    s1 = np.bincount(acct, weights=cnt, minlength=n)
    s2 = np.bincount(acct, weights=cnt.astype(np.float64) ** 2, minlength=n)
    mean = _div(s1, span)
    var = _div(s2, span) - mean**2
    return {
        "active_hours": hours_active,
        "active_days": days_active,
        "hours_per_active_day": _div(hours_active, days_active),
        "weekend_share": _div(weekend, np.bincount(acct, weights=cnt, minlength=n)),
        "hourly_cv": np.where(span > 1, np.sqrt(np.maximum(var, 0.0)) / np.maximum(mean, 1e-12), 0.0),
        "span_hours": span,
        "requests_per_active_hour": _div(s1, hours_active),
    }


@pytest.mark.parametrize("seed,n,rows", [(1, 1, 3), (2, 2, 40), (3, 17, 200), (4, 300, 20_000), (5, 5000, 9000)])
def test_hour_figures_are_numpys_to_the_last_bit(seed, n, rows):
    acct, hour, cnt = _random_hours(seed, n, rows)
    order = np.lexsort((hour, acct))  # the table's order, which the sums follow
    got = _timing(_state(acct, hour, cnt, n))
    want = _dense(acct, hour, cnt, n) | _by_bincount(acct[order], hour[order], cnt[order], n)
    assert set(got) == set(want)
    for name, values in want.items():
        assert got[name].dtype == values.dtype, name
        assert np.array_equal(got[name].view(np.uint64), values.view(np.uint64)), name


def test_hour_figures_of_known_days():
    # a: the same requests every hour of a day; b: one hour only (03:00); c: 09-17 weighted;
    # d: no timed request at all
    day0 = 20_000 * DAY
    acct = np.r_[np.zeros(DAY), np.ones(1), np.full(9, 2)].astype(np.int64)
    hour = np.r_[day0 + np.arange(DAY), day0 + 3, day0 + np.arange(9, 18)].astype(np.int64)
    cnt = np.r_[np.full(DAY, 5), [7], np.arange(1, 10)].astype(np.int64)
    got = _timing(_state(acct, hour, cnt, 4))
    assert got["hour_entropy"][0] == pytest.approx(1.0) and got["hour_uniformity"][0] == 1.0
    assert got["night_share"][0] == 6 / 24
    assert got["hour_entropy"][1] == 0.0 and got["hour_uniformity"][1] == 0.0 and got["night_share"][1] == 1.0
    p = np.arange(1, 10) / 45
    assert got["hour_entropy"][2] == pytest.approx(-(p * np.log(p)).sum() / np.log(DAY))
    assert got["hour_uniformity"][2] == 0.0 and got["night_share"][2] == 0.0
    assert got["hour_entropy"][3] == 0.0 and got["hour_uniformity"][3] == 0.0
    assert got["active_hours"].tolist() == [24, 1, 9, 0]
