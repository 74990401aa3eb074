"""JSON values straight from the bytes, for the JSON Lines record decoder (kernels.json_records): strings
(plain runs found and copied 8 bytes at a time at any position, SWAR), escapes and code points, literals and numbers.

Each helper validates what it reads and answers -1 where the value is invalid or one the decoder
leaves to Arrow.
"""

from __future__ import annotations

import numpy as np

from fastscan.kernels._jit import helper, inline
from fastscan.kernels.bits import HIGH, ONES, copy64, copy_bytes, json_specials64, load8, trailing_zeros

T_STRING, T_INT, T_FLOAT, T_BOOL = 0, 1, 2, 3  # the types of the decoder's fields (read_value)
_POW10 = np.array([10.0**k for k in range(23)], dtype=np.float64)


@helper
def skip_ws(data, p, end):
    while p < end:
        c = data[p]
        if c != 32 and c != 9 and c != 13 and c != 10:
            break
        p += 1
    return p


@helper
def hex_value(c):
    if 48 <= c <= 57:
        return c - 48
    if 97 <= c <= 102:
        return c - 87
    if 65 <= c <= 70:
        return c - 55
    return -1


@helper
def read_u4(data, q, end):
    """The code unit of the `\\uXXXX` escape at q (q at the backslash), or -1."""
    if q + 6 > end or data[q] != 92 or data[q + 1] != 117:
        return -1
    cp = 0
    for k in range(2, 6):
        h = hex_value(data[q + k])
        if h < 0:
            return -1
        cp = cp * 16 + h
    return cp


@helper
def code_point(data, q, end):
    """(code point, bytes of escape) of the escape at q: a surrogate pair is one code point;
    (-1, 0) for a lone surrogate, NUL or a bad escape (left to Arrow)."""
    cp = read_u4(data, q, end)
    if cp <= 0 or 0xDC00 <= cp <= 0xDFFF:
        return -1, 0
    if 0xD800 <= cp <= 0xDBFF:
        lo = read_u4(data, q + 6, end)
        if lo < 0xDC00 or lo > 0xDFFF:
            return -1, 0
        return 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00), 12
    return cp, 6


_QUOTES = np.uint64(0x2222222222222222)
_SLASHES = np.uint64(0x5C5C5C5C5C5C5C5C)
_SPACES = np.uint64(0x2020202020202020)


@helper
def specials8(w):
    """The high bit of each byte of w that is a quote, a backslash or below 0x20 (SWAR). Bits
    above the lowest may be false alarms (a borrow carries up); the lowest is exact."""
    q = w ^ _QUOTES
    b = w ^ _SLASHES
    return (((q - ONES) & ~q) | ((b - ONES) & ~b) | ((w - _SPACES) & ~w)) & HIGH


@helper
def next_special(data, p, end):
    """The first position in [p, end) of a quote, a backslash or a control byte, else end:
    64 bytes at a step (one vector's compares) at any position, then 8 (SWAR), the last few
    one at a time."""
    while p + 64 <= end:
        hit64 = json_specials64(data, p)
        if hit64:
            return p + np.int64(trailing_zeros(hit64))
        p += 64
    while p + 8 <= end:
        hit = specials8(load8(data, p))
        if hit:
            return p + (trailing_zeros(hit) >> 3)
        p += 8
    while p < end:
        c = data[p]
        if c == 34 or c == 92 or c < 32:
            return p
        p += 1
    return end


@helper
def next_special_kept(data, p, end, win, mask):
    """next_special that keeps its 64-byte window between calls -> (position, win, mask): `mask`
    holds the specials of data[win:win + 64] (win -1: no window yet). A string with an escape
    every few dozen bytes then loads and compares each 64 bytes once, not once per escape."""
    while True:
        if win >= 0 and p < win + 64:
            m = mask >> np.uint64(p - win)
            if m:
                return p + np.int64(trailing_zeros(m)), win, mask
            p = win + 64
        if p + 64 > end:
            return next_special(data, p, end), -1, np.uint64(0)
        win = p
        mask = json_specials64(data, p)


@helper
def string_end(data, p, end):
    """p at the opening quote -> (position after the closing quote, has escapes); position -1
    when the string is invalid or one this decoder leaves to Arrow."""
    p += 1
    esc = False
    win, mask = -1, np.uint64(0)
    while True:
        p, win, mask = next_special_kept(data, p, end, win, mask)
        if p >= end:
            return -1, esc
        c = data[p]
        if c == 34:
            return p + 1, esc
        if c < 32:
            return -1, esc
        esc = True
        if p + 1 >= end:
            return -1, esc
        e = data[p + 1]
        if e == 117:  # \uXXXX, or a surrogate pair of them
            cp, size = code_point(data, p, end)
            if cp < 0:
                return -1, esc
            p += size
        elif e == 34 or e == 92 or e == 47 or e == 98 or e == 102 or e == 110 or e == 114 or e == 116:
            p += 2
        else:
            return -1, esc


@inline
def _short_string_quote(data, p, end):
    """p at the opening quote of a string that ends within 64 bytes without an escape (a key, a
    role, an id, a time) -> the position of its closing quote, found in one vector compare;
    -1 for any other string (or too near the array's end to look)."""
    if p + 65 <= data.shape[0]:
        hit = json_specials64(data, p + 1)
        if hit:
            q = p + 1 + np.int64(trailing_zeros(hit))
            if q < end and data[q] == 34:
                return q
    return -1


@inline
def short_string_end(data, p, end):
    """string_end, inlined for a short string without an escape (_short_string_quote), in place of
    a call; any other string goes to string_end."""
    q = _short_string_quote(data, p, end)
    if q >= 0:
        return q + 1, False
    return string_end(data, p, end)


@helper
def _copy_run(data, p, row, o, n):
    """row[o:o + n] = data[p:p + n], 64 bytes at a step and the last step whole: where both arrays
    have 64 bytes of room past the run it may write up to 63 bytes past o + n (copy_string goes on
    from o + n, and its caller reads no further than the string's end); exactly otherwise. Most
    runs between a prompt's escapes are short: they took the 8-byte and 1-byte steps."""
    if p + n + 64 <= data.shape[0] and o + n + 64 <= row.shape[0]:
        k = 0
        while k < n:
            copy64(data, p + k, row, o + k)
            k += 64
    else:
        copy_bytes(data, p, row, o, n)


@helper
def copy_string(data, p, end, out, f, o):
    """Like string_end, and writes the decoded UTF-8 to out[f, o:] -> (position after the closing
    quote or -1, end of what was written)."""
    p += 1
    win, mask = -1, np.uint64(0)
    while True:
        q, win, mask = next_special_kept(data, p, end, win, mask)
        _copy_run(data, p, out[f], o, q - p)
        o += q - p
        p = q
        if p >= end:
            return -1, o
        c = data[p]
        if c == 34:
            return p + 1, o
        if c < 32 or p + 1 >= end:
            return -1, o
        e = data[p + 1]
        if e == 117:  # \uXXXX, or a surrogate pair of them
            cp, size = code_point(data, p, end)
            if cp < 0:
                return -1, o
            if cp < 0x80:
                out[f, o] = cp
                o += 1
            elif cp < 0x800:
                out[f, o] = 0xC0 | (cp >> 6)
                out[f, o + 1] = 0x80 | (cp & 0x3F)
                o += 2
            elif cp < 0x10000:
                out[f, o] = 0xE0 | (cp >> 12)
                out[f, o + 1] = 0x80 | ((cp >> 6) & 0x3F)
                out[f, o + 2] = 0x80 | (cp & 0x3F)
                o += 3
            else:
                out[f, o] = 0xF0 | (cp >> 18)
                out[f, o + 1] = 0x80 | ((cp >> 12) & 0x3F)
                out[f, o + 2] = 0x80 | ((cp >> 6) & 0x3F)
                out[f, o + 3] = 0x80 | (cp & 0x3F)
                o += 4
            p += size
            continue
        if e == 34 or e == 92 or e == 47:
            out[f, o] = e
        elif e == 98:
            out[f, o] = 8
        elif e == 102:
            out[f, o] = 12
        elif e == 110:
            out[f, o] = 10
        elif e == 114:
            out[f, o] = 13
        elif e == 116:
            out[f, o] = 9
        else:
            return -1, o
        o += 1
        p += 2


@helper
def match_literal(data, p, end, word0, word1, word2, word3, word4, n):
    """Position after the literal of n (4 or 5) bytes at p, or -1."""
    if p + n > end:
        return -1
    if data[p] != word0 or data[p + 1] != word1 or data[p + 2] != word2 or data[p + 3] != word3:
        return -1
    if n == 5 and data[p + 4] != word4:
        return -1
    return p + n


@helper
def parse_number(data, p, end):
    """Validate a JSON number at p -> (end position or -1, is integer, mantissa, significant
    digits, decimal exponent, negative). mantissa holds at most 18 significant digits; more
    are counted in `digits` (the caller gives up then)."""
    neg = False
    if p < end and data[p] == 45:
        neg = True
        p += 1
    if p >= end or not (48 <= data[p] <= 57):
        return -1, False, 0, 0, 0, neg
    mant = 0
    digits = 0
    exp10 = 0
    if data[p] == 48:
        p += 1
        if p < end and 48 <= data[p] <= 57:  # leading zero
            return -1, False, 0, 0, 0, neg
    else:
        while p < end and 48 <= data[p] <= 57:
            if digits < 18:
                mant = mant * 10 + (data[p] - 48)
            else:
                exp10 += 1
            digits += 1
            p += 1
    integer = True
    if p < end and data[p] == 46:
        integer = False
        p += 1
        if p >= end or not (48 <= data[p] <= 57):
            return -1, False, 0, 0, 0, neg
        while p < end and 48 <= data[p] <= 57:
            d = data[p] - 48
            if mant == 0 and d == 0:
                exp10 -= 1  # leading zeros of the fraction are not significant
            else:
                if digits < 18:
                    mant = mant * 10 + d
                    exp10 -= 1
                digits += 1
            p += 1
    if p < end and (data[p] == 101 or data[p] == 69):
        integer = False
        p += 1
        eneg = False
        if p < end and (data[p] == 43 or data[p] == 45):
            eneg = data[p] == 45
            p += 1
        if p >= end or not (48 <= data[p] <= 57):
            return -1, False, 0, 0, 0, neg
        e = 0
        while p < end and 48 <= data[p] <= 57:
            if e < 100000:
                e = e * 10 + (data[p] - 48)
            p += 1
        exp10 += -e if eneg else e
    return p, integer, mant, digits, exp10, neg


@helper
def skip_value(data, p, end, stack):
    """Skip (and validate) any JSON value at p -> position after it, or -1 (also when it nests
    deeper than the stack: uint8[max depth])."""
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
            if depth >= stack.shape[0]:
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


# parse_number inlined at read_value's one call (once per number of a record): see bits.same_bytes_inlined
_parse_number_inlined = inline(parse_number.py_func)


@inline
def read_value(data, p, end, t, write, i, f, slot, valid, ivals, fvals, text, cursor):
    """Decode the value at p as a field of type t (T_STRING into out[slot] from cursor[f],
    numbers and booleans into ivals / fvals [f, i], valid[f, i] set; all only when `write`) ->
    position after it, or -1 where it is not of that type, or not one Arrow reads as this does
    (see kernels.json_records). A null leaves the field null."""
    c = data[p]
    if c == 110:
        return match_literal(data, p, end, 110, 117, 108, 108, 0, 4)
    if t == T_STRING:
        if c != 34:
            return -1
        if not write:
            q, _ = short_string_end(data, p, end)
            return q
        o = cursor[f]
        q = _short_string_quote(data, p, end) if o + 64 <= text.shape[1] else -1
        if q >= 0:  # its 64 bytes copied whole, here rather than in a call: copy_string's bytes
            copy64(data, p + 1, text[slot], o)
            cursor[f] = o + q - p - 1
            valid[f, i] = True
            return q + 1
        q, o = copy_string(data, p, end, text, slot, o)
        if q < 0:
            return -1
        cursor[f] = o
        valid[f, i] = True
        return q
    if t == T_BOOL:
        b = 0
        if c == 116:
            p = match_literal(data, p, end, 116, 114, 117, 101, 0, 4)
            b = 1
        elif c == 102:
            p = match_literal(data, p, end, 102, 97, 108, 115, 101, 5)
        else:
            return -1
        if p >= 0 and write:
            ivals[f, i] = b
            valid[f, i] = True
        return p
    if c != 45 and not (48 <= c <= 57):
        return -1
    q, integer, mant, digits, exp10, neg = _parse_number_inlined(data, p, end)
    if q < 0 or (neg and mant == 0):  # -0: Arrow's reading is its own
        return -1
    if t == T_INT:
        if not integer or digits > 18:
            return -1
        if write:
            ivals[f, i] = -mant if neg else mant
    else:
        if digits > 15:
            return -1
        if mant == 0:
            v = 0.0
        elif exp10 > 22 or exp10 < -22:
            return -1
        elif exp10 >= 0:
            v = mant * _POW10[exp10]
        else:
            v = mant / _POW10[-exp10]
        if write:
            fvals[f, i] = -v if neg else v
    if write:
        valid[f, i] = True
    return q
