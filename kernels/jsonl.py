"""Lines of a JSON Lines chunk: where its newlines are, and whether its bytes are UTF-8, in one
pass, then which lines are not blank (the records themselves are decoded by
kernels.json_records, and by Arrow where that one refuses)."""

from __future__ import annotations

import numpy as np
from numba import types

from fastscan.kernels._jit import helper, inline, kernel, ro, rw
from fastscan.kernels.bits import byte_mask64, high_bytes64, trailing_zeros

_u8ro = ro(types.uint8)
_ONE = np.uint64(1)


@helper
def utf8_sequence(data, j, end):
    """The length of the UTF-8 sequence that starts with the byte data[j] (0x80 or above) and
    ends before `end`, or 0 when it is not one Python's codec accepts: a lead byte of 0xC2-0xF4,
    as many continuation bytes (0x80-0xBF) as it says, no overlong form (0xE0 then 0xA0 at least,
    0xF0 then 0x90 at least), no surrogate (0xED then 0x9F at most), nothing past U+10FFFF (0xF4
    then 0x8F at most)."""
    c = data[j]
    lo, hi = 0x80, 0xBF  # the range of the byte after the lead
    if c < 0xC2:
        return 0
    if c < 0xE0:
        n = 2
    elif c < 0xF0:
        n = 3
        if c == 0xE0:
            lo = 0xA0
        elif c == 0xED:
            hi = 0x9F
    elif c < 0xF5:
        n = 4
        if c == 0xF0:
            lo = 0x90
        elif c == 0xF4:
            hi = 0x8F
    else:
        return 0
    if j + n > end:
        return 0
    d = data[j + 1]
    if d < lo or d > hi:
        return 0
    for t in range(2, n):
        if data[j + t] & 0xC0 != 0x80:
            return 0
    return n


@kernel(types.int64(_u8ro, rw(types.int64), rw(types.boolean)))
def newline_positions(data, out, utf8):
    """How many newlines data has; out[k] = the position of the k-th, for the first len(out) of
    them (a caller that guessed too few calls again with room for all: one pass, where counting
    first took a second). utf8[0] = whether data is valid UTF-8 by Python's rules.

    64 bytes at a step: one vector compare finds the newlines (each from its exact bit), a second
    the bytes of 0x80 and above, and only those are looked at one by one, each sequence once (a
    request log's text is mostly ASCII: on the bench log 1% of the 64-byte steps hold one). On a
    16 MiB chunk of the bench log: half the time of the newline pass and Arrow's validator."""
    end = data.shape[0]
    cap = out.shape[0]
    k = 0
    p = 0
    checked = 0  # the bytes before it are known UTF-8
    ok = True
    while p + 64 <= end:
        high = high_bytes64(data, p)
        while high and ok:
            j = p + np.int64(trailing_zeros(high))
            high &= high - _ONE
            if j >= checked:  # a lead byte (the bytes a sequence holds after its lead are skipped)
                n = utf8_sequence(data, j, end)
                ok = n > 0
                checked = j + n
        hit64 = byte_mask64(data, p, 10)
        while hit64:
            if k < cap:
                out[k] = p + np.int64(trailing_zeros(hit64))
            k += 1
            hit64 &= hit64 - _ONE
        p += 64
    while p < end:
        c = data[p]
        if c == 10:
            if k < cap:
                out[k] = p
            k += 1
        elif c >= 0x80 and p >= checked and ok:
            n = utf8_sequence(data, p, end)
            ok = n > 0
            checked = p + n
        p += 1
    utf8[0] = ok
    return k


@inline
def _is_space(c):
    """What Python's bytes.strip() takes away: space, \\t, \\n, \\v, \\f, \\r."""
    return c == 32 or 9 <= c <= 13


@kernel(types.int64(_u8ro, ro(types.int64), rw(types.int64), rw(types.int64), rw(types.int64)))
def line_spans(data, nl, starts, ends, index):
    """The non-blank lines among those that end at the newlines nl (newline_positions' result):
    line k runs from the byte after newline k - 1 (0 for the first) to newline k. Returns how
    many there are, m: starts[:m], ends[:m] and index[:m] (their k) of each.
    A line is blank when it is empty or all whitespace (bytes.strip() leaves nothing), looked for
    in a line of at most 16 bytes, or in a longer one whose first byte is a space, \\t or \\r.
    data : uint8, nl : int64[n], starts, ends, index : int64[>= n]"""
    m = 0
    s = 0
    for k in range(nl.shape[0]):
        e = nl[k]
        blank = e == s
        if not blank and (e - s <= 16 or data[s] == 32 or data[s] == 9 or data[s] == 13):
            blank = True
            for j in range(s, e):
                if not _is_space(data[j]):
                    blank = False
                    break
        if not blank:
            starts[m] = s
            ends[m] = e
            index[m] = k
            m += 1
        s = e + 1
    return m
