"""Lines of a JSON Lines chunk: where its newlines are (the records themselves are decoded by
kernels.json_records, and by Arrow where that one refuses)."""

from __future__ import annotations

import numpy as np
from numba import types

from fastscan.kernels._jit import kernel, ro, rw
from fastscan.kernels.bits import byte_mask64, load8, trailing_zeros

_u8ro = ro(types.uint8)

_LOW7 = np.uint64(0x7F7F7F7F7F7F7F7F)
_NEWLINES = np.uint64(0x0A0A0A0A0A0A0A0A)


@kernel(types.int64(_u8ro, rw(types.int64)))
def newline_positions(data, out):
    """How many newlines data has; out[k] = the position of the k-th, for the first len(out) of
    them (a caller that guessed too few calls again with room for all: one pass, where counting
    first took a second). 64 bytes at a step (one vector compare), then 8, each newline found from
    its exact bit."""
    end = data.shape[0]
    cap = out.shape[0]
    k = 0
    p = 0
    while p + 64 <= end:
        hit64 = byte_mask64(data, p, 10)
        while hit64:
            if k < cap:
                out[k] = p + np.int64(trailing_zeros(hit64))
            k += 1
            hit64 &= hit64 - np.uint64(1)
        p += 64
    while p + 8 <= end:
        x = load8(data, p) ^ _NEWLINES  # a newline is a zero byte of x
        hit = ~(((x & _LOW7) + _LOW7) | x | _LOW7)  # the high bit of each zero byte, exactly
        while hit:
            if k < cap:
                out[k] = p + (trailing_zeros(hit) >> 3)
            k += 1
            hit &= hit - np.uint64(1)  # the next one
        p += 8
    while p < end:
        if data[p] == 10:
            if k < cap:
                out[k] = p
            k += 1
        p += 1
    return k
