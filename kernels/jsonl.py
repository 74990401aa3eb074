"""A strict, fast decoder for the common case of JSON Lines: one flat object per line whose wanted
fields are top-level strings, integers, floats or booleans.

It reads only the wanted keys and skips the rest (validating them), straight from the chunk's
bytes. It is deliberately narrower than JSON: a line holding something whose decoding it does
not reproduce exactly as Arrow's JSON reader would is refused, and the caller decodes the
refused lines with Arrow instead. It refuses:
an escaped key, a wanted key given twice, a `\\u` escape of NUL or of a lone surrogate, a raw control
character in a string, nesting deeper than MAX_DEPTH, an integer with a fraction, exponent or
more than 18 digits, a float with more than 15 significant digits or outside 1e-22..1e22 scale
(those need full decimal rounding), a value of another type than the field's (Arrow would
convert or refuse), and anything that is not JSON.

Field types: T_STRING, T_INT, T_FLOAT, T_BOOL. Lines are data[starts[i]:ends[i]], UTF-8
already validated, without their newline.
"""

from __future__ import annotations

import numpy as np
from numba import types

from fastscan.kernels._jit import helper, kernel, ro, rw, rw2

T_STRING, T_INT, T_FLOAT, T_BOOL = 0, 1, 2, 3
MAX_DEPTH = 64

_POW10 = np.array([10.0**k for k in range(23)], dtype=np.float64)

_u8ro = ro(types.uint8)
_i64ro = ro(types.int64)


@helper
def _ws(data, p, end):
    while p < end:
        c = data[p]
        if c != 32 and c != 9 and c != 13 and c != 10:
            break
        p += 1
    return p


@helper
def _hex(c):
    if 48 <= c <= 57:
        return c - 48
    if 97 <= c <= 102:
        return c - 87
    if 65 <= c <= 70:
        return c - 55
    return -1


@helper
def _u4(data, q, end):
    """The code unit of the `\\uXXXX` escape at q (q at the backslash), or -1."""
    if q + 6 > end or data[q] != 92 or data[q + 1] != 117:
        return -1
    cp = 0
    for k in range(2, 6):
        h = _hex(data[q + k])
        if h < 0:
            return -1
        cp = cp * 16 + h
    return cp


@helper
def _code_point(data, q, end):
    """(code point, bytes of escape) of the escape at q: a surrogate pair is one code point;
    (-1, 0) for a lone surrogate, NUL or a bad escape (left to Arrow)."""
    cp = _u4(data, q, end)
    if cp <= 0 or 0xDC00 <= cp <= 0xDFFF:
        return -1, 0
    if 0xD800 <= cp <= 0xDBFF:
        lo = _u4(data, q + 6, end)
        if lo < 0xDC00 or lo > 0xDFFF:
            return -1, 0
        return 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00), 12
    return cp, 6


_ONES = np.uint64(0x0101010101010101)
_HIGH = np.uint64(0x8080808080808080)
_QUOTES = np.uint64(0x2222222222222222)
_SLASHES = np.uint64(0x5C5C5C5C5C5C5C5C)
_SPACES = np.uint64(0x2020202020202020)


@helper
def _plain8(w):
    """True when none of the 8 bytes of w is a quote, a backslash or below 0x20 (SWAR)."""
    q = w ^ _QUOTES
    b = w ^ _SLASHES
    hit = ((q - _ONES) & ~q) | ((b - _ONES) & ~b) | ((w - _SPACES) & ~w)
    return (hit & _HIGH) == 0


@helper
def _string(data, words, p, end):
    """p at the opening quote -> (position after the closing quote, has escapes); position -1
    when the string is invalid or one this decoder leaves to Arrow. `words` is `data` seen as
    uint64: plain runs are skipped 8 bytes at a time."""
    p += 1
    esc = False
    while p < end:
        if (p & 7) == 0 and p + 8 <= end and _plain8(words[p >> 3]):
            p += 8
            continue
        c = data[p]
        if c == 34:
            return p + 1, esc
        if c < 32:
            return -1, esc
        if c != 92:
            p += 1
            continue
        esc = True
        if p + 1 >= end:
            return -1, esc
        e = data[p + 1]
        if e == 117:  # \uXXXX, or a surrogate pair of them
            cp, size = _code_point(data, p, end)
            if cp < 0:
                return -1, esc
            p += size
        elif e == 34 or e == 92 or e == 47 or e == 98 or e == 102 or e == 110 or e == 114 or e == 116:
            p += 2
        else:
            return -1, esc
    return -1, esc


@helper
def _copy_string(data, words, p, end, out, f, o):
    """Like _string, and writes the decoded UTF-8 to out[f, o:] -> (position after the closing
    quote or -1, end of what was written)."""
    p += 1
    while p < end:
        if (p & 7) == 0 and p + 8 <= end and _plain8(words[p >> 3]):
            for k in range(8):
                out[f, o + k] = data[p + k]
            p += 8
            o += 8
            continue
        c = data[p]
        if c == 34:
            return p + 1, o
        if c < 32:
            return -1, o
        if c != 92:
            out[f, o] = c
            o += 1
            p += 1
            continue
        if p + 1 >= end:
            return -1, o
        e = data[p + 1]
        if e == 117:  # \uXXXX, or a surrogate pair of them
            cp, size = _code_point(data, p, end)
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
    return -1, o


@helper
def _literal(data, p, end, word0, word1, word2, word3, word4, n):
    """Position after the literal of n (4 or 5) bytes at p, or -1."""
    if p + n > end:
        return -1
    if data[p] != word0 or data[p + 1] != word1 or data[p + 2] != word2 or data[p + 3] != word3:
        return -1
    if n == 5 and data[p + 4] != word4:
        return -1
    return p + n


@helper
def _number(data, p, end):
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
def _skip(data, words, p, end, stack):
    """Skip (and validate) any JSON value at p -> position after it, or -1."""
    depth = 0
    want_key = False  # inside an object, after `{` or `,`
    while True:
        p = _ws(data, p, end)
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
            p = _ws(data, p + 1, end)
            if p < end and data[p] == (125 if c == 123 else 93):
                depth -= 1
                p += 1
            else:
                want_key = c == 123
                continue
        else:
            if c == 34:
                p, _ = _string(data, words, p, end)
            elif c == 116:
                p = _literal(data, p, end, 116, 114, 117, 101, 0, 4)
            elif c == 102:
                p = _literal(data, p, end, 102, 97, 108, 115, 101, 5)
            elif c == 110:
                p = _literal(data, p, end, 110, 117, 108, 108, 0, 4)
            else:
                p, _, _, _, _, _ = _number(data, p, end)
            if p < 0:
                return -1
            if want_key:  # that was a member's key: its value follows
                p = _ws(data, p, end)
                if p >= end or data[p] != 58:
                    return -1
                p += 1
                want_key = False
                continue
        # after a value: close containers, or go on to the next element / member
        while True:
            if depth == 0:
                return p
            p = _ws(data, p, end)
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
    data, words, start, end, i, names_off, names_data, ftypes, slots, valid, ivals, fvals, text, cursor, seen, stack
):
    """Decode one line into row i of the outputs (see scan_flat); False when it is left to Arrow."""
    nf = ftypes.shape[0]
    for f in range(nf):
        seen[f] = False
        valid[i, f] = False
    p = _ws(data, start, end)
    if p >= end or data[p] != 123:
        return False
    p = _ws(data, p + 1, end)
    if p < end and data[p] == 125:
        p += 1
    else:
        while True:
            if p >= end or data[p] != 34:
                return False
            ks = p + 1
            q, esc = _string(data, words, p, end)
            if q < 0 or esc:
                return False
            f = _key_index(data, ks, q - 1, names_off, names_data)
            p = _ws(data, q, end)
            if p >= end or data[p] != 58:
                return False
            p = _ws(data, p + 1, end)
            if p >= end:
                return False
            if f < 0:
                p = _skip(data, words, p, end, stack)
                if p < 0:
                    return False
            else:
                if seen[f]:
                    return False
                seen[f] = True
                c = data[p]
                t = ftypes[f]
                if c == 110:
                    p = _literal(data, p, end, 110, 117, 108, 108, 0, 4)
                    if p < 0:
                        return False
                elif t == T_STRING:
                    if c != 34:
                        return False
                    q, o = _copy_string(data, words, p, end, text, slots[f], cursor[f])
                    if q < 0:
                        return False
                    cursor[f] = o
                    valid[i, f] = True
                    p = q
                elif t == T_BOOL:
                    if c == 116:
                        p = _literal(data, p, end, 116, 114, 117, 101, 0, 4)
                        ivals[i, f] = 1
                    elif c == 102:
                        p = _literal(data, p, end, 102, 97, 108, 115, 101, 5)
                        ivals[i, f] = 0
                    else:
                        return False
                    if p < 0:
                        return False
                    valid[i, f] = True
                else:
                    if c != 45 and not (48 <= c <= 57):
                        return False
                    q, integer, mant, digits, exp10, neg = _number(data, p, end)
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
            p = _ws(data, p, end)
            if p >= end:
                return False
            if data[p] == 44:
                p = _ws(data, p + 1, end)
                continue
            if data[p] == 125:
                p += 1
                break
            return False
    return _ws(data, p, end) == end


@kernel(
    types.int64(
        _u8ro,
        ro(types.uint64),
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
def scan_flat(
    data, words, starts, ends, names_off, names_data, ftypes, slots, valid, ivals, fvals, text, text_end, refused
):
    """Decode lines i of data[starts[i]:ends[i]] (see module doc); words : uint64, the first
    len(data) // 8 * 8 bytes of data (8-aligned) seen as uint64. refused[i] is set for a line
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
    count = 0
    for i in range(starts.shape[0]):
        for f in range(nf):
            saved[f] = cursor[f]
        ok = _decode_line(
            data,
            words,
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
