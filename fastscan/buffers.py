"""The one seam between Arrow and numpy: columns become (offsets, data, validity) views.

Offsets are cast once to int64 and honour `array.offset`, so they are absolute positions into the
data buffer; nothing is copied except those offsets and the validity bitmap.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = ["string_buffers", "int_values", "float_values", "bool_values", "validity"]

_EMPTY_DATA = np.zeros(0, dtype=np.uint8)
_EMPTY_DATA.flags.writeable = False


def as_array(col) -> pa.Array:
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    return col


def validity(arr: pa.Array) -> np.ndarray:
    """bool[n]: True where the value is present."""
    arr = as_array(arr)
    if arr.null_count == 0:
        return np.ones(len(arr), dtype=np.bool_)
    return np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_)


def string_buffers(arr) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(offsets int64[n + 1], data uint8[m] read-only, valid bool[n]) of a string array."""
    arr = as_array(arr)
    if pa.types.is_string(arr.type) or pa.types.is_binary(arr.type):
        off_type = np.int32
    elif pa.types.is_large_string(arr.type) or pa.types.is_large_binary(arr.type):
        off_type = np.int64
    elif pa.types.is_string_view(arr.type):
        return string_buffers(arr.cast(pa.large_string()))
    else:
        raise TypeError(f"expected a string array, got {arr.type}")
    n = len(arr)
    bufs = arr.buffers()
    if bufs[1] is None:
        offsets = np.zeros(n + 1, dtype=np.int64)
    else:
        offsets = np.frombuffer(bufs[1], dtype=off_type)[arr.offset : arr.offset + n + 1].astype(np.int64)
    if bufs[2] is None:
        data = _EMPTY_DATA
    else:
        data = np.frombuffer(bufs[2], dtype=np.uint8)
        data.flags.writeable = False  # a view of Arrow's memory: kernels only read it
    return offsets, data, validity(arr)


def int_values(arr, fill: int = 0) -> np.ndarray:
    """int64[n], nulls replaced by `fill`."""
    arr = as_array(arr)
    if arr.null_count:
        arr = arr.fill_null(fill)
    return np.ascontiguousarray(arr.to_numpy(zero_copy_only=False), dtype=np.int64)


def float_values(arr, fill: float = np.nan) -> np.ndarray:
    arr = as_array(arr)
    if arr.null_count:
        arr = arr.fill_null(fill)
    return np.ascontiguousarray(arr.to_numpy(zero_copy_only=False), dtype=np.float64)


def bool_values(arr, fill: bool = False) -> np.ndarray:
    arr = as_array(arr)
    if arr.null_count:
        arr = arr.fill_null(fill)
    return np.ascontiguousarray(arr.to_numpy(zero_copy_only=False), dtype=np.bool_)
