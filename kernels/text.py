"""Text over raw Arrow string buffers: what words, shingles, prompt hashes and MinHash are, the
helpers that compute them (the scan's kernel is kernels.prompts; the separate ones, kernels.unfused),
and `count_tokens`.

Words. A word is a maximal run of word bytes: ASCII letters and digits (A-Z folded to a-z) and the
bytes of 2-byte UTF-8 sequences (Latin, Greek, Cyrillic, Arabic, Hebrew ...). Every 3- or 4-byte
UTF-8 sequence (CJK, kana, Hangul, emoji, symbols) is a word of its own, so scripts written without
spaces still give many words. All other ASCII bytes separate words.

word_hash(w)      = h_m: w's bytes (A-Z folded to a-z; a 3/4-byte sequence's as they are) read
                    as m little-endian 8-byte chunks c_j, the last zero-padded;
                    h_0 = WORD_SEED ^ len(w), h_j+1 = rotl((h_j ^ c_j) * WORD_PRIME, 27).
                    A word of up to 8 bytes costs one multiply and no two share a hash; the
                    shingle and skeleton hashes built from word hashes end in fmix64.
shingle_hash(i)   = fmix64(SHINGLE_SEED ^ xor over j < k of rotl(word_hash[i + j], 17 j mod 64))
                    k consecutive words; one hash per shingle, rolled from the previous one
                    a text of 1..k-1 words has one shingle: all of its words; 0 words, none
prompt_hash(text) = XXH64(the text's raw bytes, seed 0)                 exact identity of a prompt
count_tokens      = sum over words of ceil(bytes / 4) (1 for a 3/4-byte code point)
                    + 1 per ASCII punctuation byte; an approximation of BPE tokens, used only
                    where the log carries no token counts.
MinHash           = per permutation j, min over shingles x of (a_j * (x >> 32) + b_j) mod 2**32,
                    uint32; a_j (odd), b_j from `hashing.minhash_params`. A text without
                    shingles gets all 0xFFFFFFFF (and n_words == 0 says so). A prompt sample
                    stores the low 16 bits of each value (b-bit MinHash, `sketches.SIG_DTYPE`).
"""

from __future__ import annotations

import numpy as np
from numba import types

from fastscan.kernels._jit import inline, kernel, ro, rw
from fastscan.kernels.bits import byte_class_masks, load8, min_affine_lanes, trailing_zeros
from fastscan.kernels.hashing import U32, combine, fmix64, rotl

SHINGLE_SEED = np.uint64(0x9E3779B97F4A7C15)
SKELETON_SEED = np.uint64(0x5851F42D4C957F2D)
EMPTY_MIN = np.uint32(0xFFFFFFFF)
WORD_SEED = np.uint64(0x2545F4914F6CDD1D)
WORD_PRIME = np.uint64(0x9E3779B185EBCA87)

_i64 = types.int64
_u8ro = ro(types.uint8)
_i64ro = ro(types.int64)
_boolro = ro(types.boolean)


@inline
def _is_word_byte(b):
    # ASCII alnum, or any byte of a 2-byte UTF-8 sequence (lead C0-DF, continuation 80-BF)
    return (48 <= b <= 57) or (65 <= b <= 90) or (97 <= b <= 122) or (128 <= b < 224)


_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)
_FOLD = np.uint64(0x2020202020202020)
_U2 = np.uint64(2)
_U1 = np.uint64(1)
_U27 = np.uint64(27)


@inline
def _chunk_step(h, c):
    return rotl((h ^ c) * WORD_PRIME, _U27)


@inline
def _next_word(data, pos, end):
    """(start, stop, n_punct) of the next word at or after `pos`; start == end if none.

    n_punct counts the ASCII punctuation bytes skipped before the word. One byte at a time, for
    counting tokens; the scan's tokenizer is `_word_hashes`.
    """
    n_punct = 0
    i = pos
    while i < end:
        b = data[i]
        if b >= 224 or _is_word_byte(b):
            break
        if b > 32 and b != 127:
            n_punct += 1
        i += 1
    if i >= end:
        return end, end, n_punct
    start = i
    b = data[i]
    if b >= 224:
        return start, min(end, i + (3 if b < 240 else 4)), n_punct
    while i < end and _is_word_byte(data[i]):
        i += 1
    return start, i, n_punct


@inline
def _word_hash(data, s, e, fold):
    """word_hash of data[s:e] 8 bytes at a step, A-Z folded if `fold` (only for a run of word
    bytes: the fold sets bit 5 of every ASCII byte, which lowers letters and keeps digits, in three
    operations; reasoning._fold8 folds any bytes). Reads up to 7 bytes past e."""
    n = e - s
    h = WORD_SEED ^ np.uint64(n)
    while n > 8:
        c = load8(data, s)
        if fold:
            c |= (~c >> _U2) & _FOLD
        h = _chunk_step(h, c)
        s += 8
        n -= 8
    c = load8(data, s)
    if fold:
        c |= (~c >> _U2) & _FOLD
    return _chunk_step(h, c & (_ALL >> np.uint64(64 - 8 * n)))


TOKENIZER_PAD = 64  # bytes the tokenizer may read past a text's end


@inline
def _word_hashes_padded(data, lo, hi, buf):
    """_word_hashes where data[hi : hi + TOKENIZER_PAD] may be read.

    A window of 64 bytes at a time: `byte_class_masks` gives its word bytes and lead bytes, cut
    at the text's end and at the first lead byte. In the window, S marks where words start and E
    where they end (their last byte), and the k-th set bit of S pairs with the k-th of E, so each
    word costs two bit scans and its hash, with nothing carried from one word to the next. A word
    that reaches the window's end stays open (ws) into the next window. A lead byte ends the
    window; its 3/4-byte sequence is a word of its own.
    """
    n = np.uint64(0)
    i = lo
    ws = -1
    while i < hi:
        wm, lm = byte_class_masks(data, i)
        lim = 64
        if hi - i < 64:
            lim = hi - i
            keep = (_U1 << np.uint64(lim)) - _U1
            wm &= keep
            lm &= keep
        lead = lm != 0
        if lead:
            lim = np.int64(trailing_zeros(lm))
            wm &= (_U1 << np.uint64(lim)) - _U1
        starts = wm & ~(wm << _U1)
        ends = wm & ~(wm >> _U1)
        if lim == 64:
            ends &= _ALL >> _U1  # a word at the window's end may go on
        if ws >= 0:
            if wm & _U1:
                starts &= ~_U1
                if ends == 0:  # all 64 bytes are word bytes: the word goes on
                    i += 64
                    continue
                e = np.int64(trailing_zeros(ends)) + 1
                ends &= ends - _U1
                buf[n] = _word_hash(data, ws, i + e, True)
            else:
                buf[n] = _word_hash(data, ws, i, True)
            n += _U1
            ws = -1
        while ends:
            s = np.int64(trailing_zeros(starts))
            starts &= starts - _U1
            e = np.int64(trailing_zeros(ends)) + 1
            ends &= ends - _U1
            buf[n] = _word_hash(data, i + s, i + e, True)
            n += _U1
        if starts:
            ws = i + np.int64(trailing_zeros(starts))
        if lead:
            p = i + lim
            stop = min(hi, p + (3 if data[p] < 240 else 4))
            buf[n] = _word_hash(data, p, stop, False)
            n += _U1
            i = stop
        else:
            i += lim
    if ws >= 0:
        buf[n] = _word_hash(data, ws, hi, True)
        n += _U1
    return np.int64(n)


@inline
def _word_hashes(data, lo, hi, buf):
    """Number of words of data[lo:hi], their hashes written to buf[:words] (see module doc).

    A text that ends less than TOKENIZER_PAD bytes before the buffer's end (the last of a batch)
    is tokenized from a zero-padded copy, as zero bytes separate words.
    """
    if hi + TOKENIZER_PAD <= data.shape[0]:
        return _word_hashes_padded(data, lo, hi, buf)
    copy = np.zeros(hi - lo + TOKENIZER_PAD, dtype=np.uint8)
    copy[: hi - lo] = data[lo:hi]
    return _word_hashes_padded(copy, 0, hi - lo, buf)


@inline
def _word_hashes_in(data, lo, hi, buf, pad):
    """_word_hashes with the zero-padded copy made in `pad` (at least hi - lo + TOKENIZER_PAD
    bytes when the text ends less than TOKENIZER_PAD bytes before data's end), for a caller that
    allocates nothing (a helper without reference counting)."""
    if hi + TOKENIZER_PAD <= data.shape[0]:
        return _word_hashes_padded(data, lo, hi, buf)
    n = hi - lo
    for j in range(n):
        pad[j] = data[lo + j]
    for j in range(n, n + TOKENIZER_PAD):
        pad[j] = 0
    return _word_hashes_padded(pad, 0, n, buf)


@inline
def skeleton(buf, words, p):
    """(head, tail) hashes of the word hashes buf[:words]: the first and the last p chained from
    SKELETON_SEED; (0, 0) when the text has fewer than 2 p + 1 words (no room for a payload)."""
    if words < 2 * p + 1:
        return np.uint64(0), np.uint64(0)
    head = SKELETON_SEED
    for j in range(p):
        head = combine(head, buf[j])
    tail = SKELETON_SEED
    for j in range(words - p, words):
        tail = combine(tail, buf[j])
    return head, tail


@kernel(types.void(_i64ro, _u8ro, _boolro, rw(types.int64)))
def count_tokens(offsets, data, valid, out):
    """Approximate token count of each string (see module doc); 0 for null.

    offsets : int64[n + 1], data : uint8[m], valid : bool[n], out : int64[n]
    """
    n = offsets.shape[0] - 1
    for r in range(n):
        if not valid[r]:
            out[r] = 0
            continue
        pos = offsets[r]
        end = offsets[r + 1]
        total = 0
        while pos < end:
            start, stop, n_punct = _next_word(data, pos, end)
            total += n_punct
            if start >= end:
                break
            width = stop - start
            if data[start] >= 224:
                total += 1
            else:
                total += (width + 3) // 4
            pos = stop
        out[r] = total


SHINGLE_ROTATION = 17  # word j of a shingle is rotated by 17 j bits (distinct for j < 16)
_ROLL = np.uint64(64 - SHINGLE_ROTATION)  # rotl by this undoes one step of rotation


MINHASH_LANES = 32  # lanes per pass over a text's shingles (bits.min_affine_lanes); then 8 at a time


@inline
def _shingle_keys(buf, words, k, xs):
    """xs[:m] = the high 32 bits of the hash of each k-shingle of the word hashes buf[:words]
    (see module doc); returns m. The rotated xor of a shingle's words rolls to the next shingle in
    two rotations and two xors, so each shingle costs one fmix64 whatever k is."""
    if words <= 0:
        return 0
    kk = min(k, words)
    h = np.uint64(0)
    for j in range(kk):
        h ^= rotl(buf[j], np.uint64((SHINGLE_ROTATION * j) & 63))
    top = np.uint64((SHINGLE_ROTATION * (kk - 1)) & 63)
    t = 0
    while True:
        xs[t] = np.uint32(fmix64(h ^ SHINGLE_SEED) >> U32)
        if t + kk >= words:
            return t + 1
        h = rotl(h ^ buf[t], _ROLL) ^ rotl(buf[t + kk], top)
        t += 1


@inline
def _minhash_rows(xs, m, a, b, out, i):
    """out[i] = the MinHash signature of the shingle keys xs[:m] (all 0xFFFFFFFF when m == 0):
    MINHASH_LANES permutations per pass over xs, held in vector registers, then 8 at a time
    (num_perm is a multiple of 8)."""
    num_perm = a.shape[0]
    base = i * num_perm
    lo = 0
    while lo + MINHASH_LANES <= num_perm:
        min_affine_lanes(xs, m, a, b, lo, out, base + lo, MINHASH_LANES)
        lo += MINHASH_LANES
    while lo + 8 <= num_perm:
        min_affine_lanes(xs, m, a, b, lo, out, base + lo, 8)
        lo += 8
    while lo < num_perm:  # only if num_perm is not a multiple of 8 (ScanConfig refuses that)
        v = EMPTY_MIN
        for s in range(m):
            v = min(v, np.uint32(a[lo] * xs[s] + b[lo]))
        out[i, lo] = v
        lo += 1


@inline
def _is_space(c):
    """str.isspace() of an ASCII byte: tab to carriage return, the four separators 0x1c-0x1f, space."""
    return (9 <= c <= 13) or (28 <= c <= 32)


@kernel(types.void(_i64ro, _u8ro, _boolro, rw(types.int64), rw(types.uint8), rw(types.boolean)))
def network_prefixes(offsets, data, valid, out_off, out_data, other):
    """fastscan.params.network_prefix of each ASCII string, written one after the other to
    out_data (out_off[i]:out_off[i + 1]): the text without the whitespace around it; an IPv4
    address (three dots, no colon) up to its last dot; text with a colon: the part before its
    first "::", up to its third colon, in lower case; other text as it is. A null is empty; a
    string with a byte >= 0x80 is left empty and marked in `other` (Python's rules for it).

    offsets : int64[n + 1]; data : uint8; valid : bool[n]; out_off : int64[n + 1];
    out_data : uint8[>= the strings' bytes]; other : bool[n]
    """
    n = offsets.shape[0] - 1
    q = np.int64(0)
    out_off[0] = 0
    for i in range(n):
        other[i] = False
        lo, hi = offsets[i], offsets[i + 1]
        ascii_only = True
        for p in range(lo, hi):
            if data[p] >= 128:
                ascii_only = False
                break
        if not valid[i] or not ascii_only:
            other[i] = valid[i] and not ascii_only
            out_off[i + 1] = q
            continue
        while lo < hi and _is_space(data[lo]):
            lo += 1
        while hi > lo and _is_space(data[hi - 1]):
            hi -= 1
        dots = 0
        colon = False
        last_dot = hi
        for p in range(lo, hi):
            if data[p] == 46:
                dots += 1
                last_dot = p
            elif data[p] == 58:
                colon = True
        end = hi
        lower = False
        if dots == 3 and not colon:
            end = last_dot
        elif colon:
            lower = True
            colons = 0
            for p in range(lo, hi):
                if data[p] == 58:
                    if p + 1 < hi and data[p + 1] == 58:  # the first "::" ends the part kept
                        end = p
                        break
                    colons += 1
                    if colons == 3:
                        end = p
                        break
        for p in range(lo, end):
            c = data[p]
            if lower and 65 <= c <= 90:
                c += 32
            out_data[q] = c
            q += 1
        out_off[i + 1] = q
