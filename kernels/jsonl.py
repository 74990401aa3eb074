"""A strict, fast decoder for the common case of JSON Lines: one flat object per line whose wanted
fields are top-level strings, integers, floats or booleans.

It reads only the wanted keys and skips the rest (validating them), straight from the chunk's
bytes. It is deliberately narrower than JSON: a line holding something whose decoding it does
not reproduce exactly as Arrow's JSON reader would is refused, and the caller decodes the
refused lines with Arrow instead. It refuses:
an escaped key, a wanted key given twice, a `\\u` escape of NUL or of a lone surrogate, a raw control
character in a string, nesting deeper than MAX_DEPTH, an integer with a fraction, exponent or
more than 18 digits, a float with more than 15 significant digits or outside 1e-22..1e22 scale
(those need full decimal rounding), a number of 1e308 or more anywhere on the line (Arrow refuses
some of those, and orjson others), a value of another type than the field's (Arrow would convert
or refuse), and anything that is not JSON.

Field types: T_STRING, T_INT, T_FLOAT, T_BOOL. Lines are data[starts[i]:ends[i]], UTF-8
already validated, without their newline.
"""

from __future__ import annotations

import numpy as np
from numba import types

from fastscan.kernels._jit import helper, kernel, ro, rw, rw2
from fastscan.kernels.bits import byte_mask64, load8, same_bytes, trailing_zeros
from fastscan.kernels.json_values import copy_string, match_literal, parse_number, skip_ws, string_end

T_STRING, T_INT, T_FLOAT, T_BOOL = 0, 1, 2, 3
MAX_DEPTH = 64
KEY_MEMORY = 64  # keys of the line before remembered by place (scan_flat)

_POW10 = np.array([10.0**k for k in range(23)], dtype=np.float64)

_u8ro = ro(types.uint8)
_i64ro = ro(types.int64)


@helper
def _skip(data, p, end, stack):
    """Skip (and validate) any JSON value at p -> position after it, or -1."""
    depth = 0
    want_key = False  # inside an object, after `{` or `,`
    while True:
        p = skip_ws(data, p, end)
        if p >= end:
            return -1
        c = data[p]
        if want_key and c != 34:
            return -1
        if c == 123 or c == 91:  # { or [
            if depth >= MAX_DEPTH:
                return -1
            stack[depth] = c
            depth += 1
            p = skip_ws(data, p + 1, end)
            if p < end and data[p] == (125 if c == 123 else 93):
                depth -= 1
                p += 1
            else:
                want_key = c == 123
                continue
        else:
            if c == 34:
                p, _ = string_end(data, p, end)
            elif c == 116:
                p = match_literal(data, p, end, 116, 114, 117, 101, 0, 4)
            elif c == 102:
                p = match_literal(data, p, end, 102, 97, 108, 115, 101, 5)
            elif c == 110:
                p = match_literal(data, p, end, 110, 117, 108, 108, 0, 4)
            else:
                p, _, mant, digits, exp10, _ = parse_number(data, p, end)
                if p >= 0 and mant != 0 and min(digits, 18) - 1 + exp10 >= 308:
                    return -1  # may be beyond a double: Arrow's reader refuses some of those
            if p < 0:
                return -1
            if want_key:  # that was a member's key: its value follows
                p = skip_ws(data, p, end)
                if p >= end or data[p] != 58:
                    return -1
                p += 1
                want_key = False
                continue
        # after a value: close containers, or go on to the next element / member
        while True:
            if depth == 0:
                return p
            p = skip_ws(data, p, end)
            if p >= end:
                return -1
            c = data[p]
            top = stack[depth - 1]
            if c == 44:  # ,
                p += 1
                want_key = top == 123
                break
            if (top == 123 and c == 125) or (top == 91 and c == 93):
                depth -= 1
                p += 1
                continue
            return -1


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


@helper
def _key_index(data, ks, ke, names_off, names_data):
    n = ke - ks
    for f in range(names_off.shape[0] - 1):
        lo = names_off[f]
        if names_off[f + 1] - lo != n:
            continue
        same = True
        for k in range(n):
            if data[ks + k] != names_data[lo + k]:
                same = False
                break
        if same:
            return f
    return -1


@helper
def _decode_line(
    data, start, end, i, names_off, names_data, ftypes, slots, valid, ivals, fvals, text, cursor, seen, stack, last
):
    """Decode one line into row i of the outputs (see scan_flat); False when it is left to Arrow.

    last : int64[3, KEY_MEMORY], the keys of the line before by place: start in data, length and
    field (-1: not wanted). A log's lines mostly have their keys in one order, so a key the same
    as the one in its place the line before has that key's field, without a search of the wanted
    names.
    """
    nf = ftypes.shape[0]
    for f in range(nf):
        seen[f] = False
        valid[i, f] = False
    p = skip_ws(data, start, end)
    if p >= end or data[p] != 123:
        return False
    p = skip_ws(data, p + 1, end)
    if p < end and data[p] == 125:
        p += 1
    else:
        j = 0  # the key's place in the line
        while True:
            if p >= end or data[p] != 34:
                return False
            ks = p + 1
            q, esc = string_end(data, p, end)
            if q < 0 or esc:
                return False
            n = q - 1 - ks
            f = -2
            if j < KEY_MEMORY and last[1, j] == n and same_bytes(data, ks, data, last[0, j], n):
                f = last[2, j]
            if f == -2:
                f = _key_index(data, ks, q - 1, names_off, names_data)
            if j < KEY_MEMORY:
                last[0, j] = ks
                last[1, j] = n
                last[2, j] = f
            j += 1
            p = skip_ws(data, q, end)
            if p >= end or data[p] != 58:
                return False
            p = skip_ws(data, p + 1, end)
            if p >= end:
                return False
            if f < 0:
                p = _skip(data, p, end, stack)
                if p < 0:
                    return False
            else:
                if seen[f]:
                    return False
                seen[f] = True
                c = data[p]
                t = ftypes[f]
                if c == 110:
                    p = match_literal(data, p, end, 110, 117, 108, 108, 0, 4)
                    if p < 0:
                        return False
                elif t == T_STRING:
                    if c != 34:
                        return False
                    q, o = copy_string(data, p, end, text, slots[f], cursor[f])
                    if q < 0:
                        return False
                    cursor[f] = o
                    valid[i, f] = True
                    p = q
                elif t == T_BOOL:
                    if c == 116:
                        p = match_literal(data, p, end, 116, 114, 117, 101, 0, 4)
                        ivals[i, f] = 1
                    elif c == 102:
                        p = match_literal(data, p, end, 102, 97, 108, 115, 101, 5)
                        ivals[i, f] = 0
                    else:
                        return False
                    if p < 0:
                        return False
                    valid[i, f] = True
                else:
                    if c != 45 and not (48 <= c <= 57):
                        return False
                    q, integer, mant, digits, exp10, neg = parse_number(data, p, end)
                    if q < 0 or (neg and mant == 0):  # -0: Arrow's reading is its own
                        return False
                    if t == T_INT:
                        if not integer or digits > 18:
                            return False
                        ivals[i, f] = -mant if neg else mant
                    else:
                        if digits > 15:
                            return False
                        if mant == 0:
                            v = 0.0
                        elif exp10 > 22 or exp10 < -22:
                            return False
                        elif exp10 >= 0:
                            v = mant * _POW10[exp10]
                        else:
                            v = mant / _POW10[-exp10]
                        fvals[i, f] = -v if neg else v
                    valid[i, f] = True
                    p = q
            p = skip_ws(data, p, end)
            if p >= end:
                return False
            if data[p] == 44:
                p = skip_ws(data, p + 1, end)
                continue
            if data[p] == 125:
                p += 1
                break
            return False
    return skip_ws(data, p, end) == end


@kernel(
    types.int64(
        _u8ro,
        _i64ro,
        _i64ro,
        _i64ro,
        _u8ro,
        ro(types.int8),
        _i64ro,
        rw2(types.boolean),
        rw2(types.int64),
        rw2(types.float64),
        rw2(types.uint8),
        rw2(types.int64),
        rw(types.boolean),
    )
)
def scan_flat(data, starts, ends, names_off, names_data, ftypes, slots, valid, ivals, fvals, text, text_end, refused):
    """Decode lines i of data[starts[i]:ends[i]] (see module doc). refused[i] is set for a line
    left to Arrow (its row is all null and it adds no text); returns how many lines are.

    names_off : int64[f + 1], names_data : uint8 (the wanted keys), ftypes : int8[f], slots :
    int64[f] (row of `text` of each T_STRING field); outputs [n, f]: valid (present and not
    null); ivals (T_INT, and T_BOOL as 0/1); fvals (T_FLOAT); text_end (T_STRING: end of line
    i's string in its text row, which holds the field's decoded strings one after another;
    text needs ends[-1] - starts[0] bytes per row).
    """
    nf = ftypes.shape[0]
    seen = np.zeros(nf, dtype=np.bool_)
    stack = np.zeros(MAX_DEPTH, dtype=np.uint8)
    cursor = np.zeros(nf, dtype=np.int64)
    saved = np.zeros(nf, dtype=np.int64)
    last = np.full((3, KEY_MEMORY), -1, dtype=np.int64)
    count = 0
    for i in range(starts.shape[0]):
        for f in range(nf):
            saved[f] = cursor[f]
        ok = _decode_line(
            data,
            starts[i],
            ends[i],
            i,
            names_off,
            names_data,
            ftypes,
            slots,
            valid,
            ivals,
            fvals,
            text,
            cursor,
            seen,
            stack,
            last,
        )
        refused[i] = not ok
        if not ok:
            count += 1
            for f in range(nf):
                valid[i, f] = False
                cursor[f] = saved[f]
        for f in range(nf):
            text_end[i, f] = cursor[f]
    return count
