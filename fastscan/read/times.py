"""Times: ISO-8601 strings, epoch seconds or milliseconds (told apart by magnitude) and Arrow
timestamps, all to int64 epoch milliseconds (UTC), one definition for every decoding path."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fastscan.buffers import as_array, int_values, validity

MS_THRESHOLD = 100_000_000_000  # epoch values above this are milliseconds (1e11 s is year 5138)

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def iso_to_ms(text: str) -> int:
    """Epoch ms of an ISO-8601 string; naive times are UTC. ValueError if it is not one."""
    s = text.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    return datetime_to_ms(dt.datetime.fromisoformat(s))


def epoch_to_ms(value) -> int:
    """Epoch seconds or milliseconds (told apart by magnitude) to ms; integers exactly, as the
    bulk path does. ValueError when it is not finite or does not fit in int64."""
    if isinstance(value, int) and not isinstance(value, bool):
        ms = value if abs(value) >= MS_THRESHOLD else value * 1000
    else:
        v = float(value)
        if not math.isfinite(v):
            raise ValueError("not a finite number")
        ms = int(v) if abs(v) >= MS_THRESHOLD else int(math.floor(v * 1000 + 0.5))
    if not _INT64_MIN <= ms <= _INT64_MAX:
        raise ValueError("out of range")
    return ms


def text_to_ms(text: str) -> int:
    """Epoch ms of a time written as text: Python's ISO-8601 reading, else Arrow's (the two agree
    where both read a string; tests check it). One definition for both decoding paths."""
    try:
        return iso_to_ms(text)
    except (ValueError, OverflowError):
        pass
    try:
        return pa.array([text], pa.string()).cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64())[0].as_py()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise ValueError(f"not a time: {text[:40]!r}") from None


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
# times a report can show (datetime's years 1..9999); anything else is rejected as not a time
TS_MIN_MS, TS_MAX_MS = -62_135_596_800_000, 253_402_300_799_999
TS_REASON = "ts: not an ISO-8601 time or epoch number"
TS_RANGE_REASON = "ts: out of range (years 1 to 9999)"


_UNIT_MS = {"s": (1000, 1), "ms": (1, 1), "us": (1, 1000), "ns": (1, 1_000_000)}


def _timestamp_ms(col: pa.Array) -> pa.Array:
    """Epoch ms of an Arrow timestamp column of any unit, with or without a time zone (the values
    are UTC either way); finer units are floored to the millisecond, as ISO strings are. A value
    whose ms overflow int64 becomes int64 max, which the range check rejects."""
    mul, div = _UNIT_MS[col.type.unit]
    raw = col.cast(pa.int64())
    v = int_values(raw)
    if mul > 1:
        over = np.abs(v) > np.iinfo(np.int64).max // mul
        v = np.where(over, np.iinfo(np.int64).max, v * mul)
    elif div > 1:
        v = v // div
    return pa.array(v, pa.int64(), mask=~validity(raw))


def datetime_to_ms(t: dt.datetime | dt.date) -> int:
    """Epoch ms of a Python datetime (naive ones are UTC) or date, floored like the columns."""
    if not isinstance(t, dt.datetime):
        t = dt.datetime(t.year, t.month, t.day)
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    d = t - _EPOCH  # integer arithmetic: sub-millisecond digits are truncated, like Arrow's cast
    return (d.days * 86_400 + d.seconds) * 1000 + d.microseconds // 1000


# the forms of time strings Arrow reads a whole column in: (unit, time zone), tried in this order
_FORMS: tuple[tuple[str, str | None], ...] = (("ms", "UTC"), ("ns", "UTC"), ("ms", None), ("ns", None))
_LAST_FORM: list[tuple[str, str | None] | None] = [None]  # the last form a column was read in


def ts_to_ms(col: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """(int64 epoch ms array, bool[n] bad) from a string or numeric time column."""
    if isinstance(col, MsArray):
        return col.arr, np.zeros(len(col), dtype=np.bool_)
    col = as_array(col)
    n = len(col)
    bad = np.zeros(n, dtype=np.bool_)
    if pa.types.is_timestamp(col.type):
        return _timestamp_ms(col), bad
    if pa.types.is_date(col.type):
        return col.cast(pa.date64()).cast(pa.int64()), bad
    if pa.types.is_null(col.type):
        return pa.nulls(n, pa.int64()), bad
    if pa.types.is_integer(col.type):
        v = col.cast(pa.int64())
        vals = v.fill_null(0).to_numpy(zero_copy_only=False)
        # not np.abs: abs(int64 min) overflows to itself and would be multiplied by 1000
        ms = np.where((vals >= MS_THRESHOLD) | (vals <= -MS_THRESHOLD), vals, vals * 1000)
        return pa.array(ms, mask=~validity(v)), bad
    if pa.types.is_floating(col.type):
        return _float_epoch_ms(col)
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        # booleans, lists, structs...: the caller reads such a column record by record
        raise TypeError(f"ts: a column of {col.type} is not a time")
    # Arrow reads a column at once when every time in it is one it reads: to ms where none has
    # finer digits, to ns where some do (Python's isoformat writes microseconds; floored to the
    # millisecond, as Python's reading below does), with a time zone or all without one (naive
    # times are UTC). Anything else (a mix, years beyond ns, other text) one value at a time.
    # A cast that fails costs Arrow about as much as one that reads the column (0.3-0.7 s for
    # 300,000 times): the forms are tried on a few values first.
    # The form the column before was read in is tried first, on the whole column (a log keeps
    # one form: the trials on a sample took a third of the 0.74 ms a batch of 8,000 times took).
    # Any form Arrow reads a string in gives the same instant, so which one reads it does not
    # change a value.
    last = _LAST_FORM[0]
    if last is not None:
        try:
            return _timestamp_ms(pc.cast(col, pa.timestamp(*last))), bad
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    sample = col.slice(0, 256).drop_null().slice(0, 64)
    for unit, tz in _FORMS:
        if (unit, tz) == last:
            continue
        try:
            pc.cast(sample, pa.timestamp(unit, tz=tz))
            ms = _timestamp_ms(pc.cast(col, pa.timestamp(unit, tz=tz)))
            _LAST_FORM[0] = (unit, tz)
            return ms, bad
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    out: list[int | None] = []
    for i, x in enumerate(col.to_pylist()):
        if x is None:
            out.append(None)
            continue
        try:
            out.append(text_to_ms(x))
        except ValueError:
            out.append(None)
            bad[i] = True
    return pa.array(out, pa.int64()), bad


def _float_epoch_ms(col: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """`epoch_to_ms` of each value of a float column, in numpy: the same float arithmetic (a
    value of 1e11 or more is milliseconds, truncated; below, seconds: floor(v * 1000 + 0.5)), the
    same rejections (not finite, or milliseconds outside int64), nulls kept null."""
    valid = validity(col)
    v = col.cast(pa.float64()).fill_null(0.0).to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore", over="ignore"):
        ms = np.where(np.abs(v) >= MS_THRESHOLD, np.trunc(v), np.floor(v * 1000 + 0.5))
        # an integer-valued float fits int64 when in [-2**63, 2**63) (2**63 - 1 is not a float)
        fits = np.isfinite(ms) & (ms >= -(2.0**63)) & (ms < 2.0**63)
    bad = valid & ~fits
    out = np.where(fits, ms, 0.0).astype(np.int64)
    return pa.array(out, pa.int64(), mask=~(valid & fits)), bad


class MsArray:
    """An int64 array already in epoch ms (the one-record path converts times itself)."""

    def __init__(self, arr):
        self.arr = arr

    def __len__(self):
        return len(self.arr)
