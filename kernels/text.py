"""Text kernels over raw Arrow string buffers: tokens, words, shingles, prompt hashes, MinHash.

Words. A word is a maximal run of word bytes: ASCII letters and digits (A-Z folded to a-z) and the
bytes of 2-byte UTF-8 sequences (Latin, Greek, Cyrillic, Arabic, Hebrew ...). Every 3- or 4-byte
UTF-8 sequence (CJK, kana, Hangul, emoji, symbols) is a word of its own, so scripts written without
spaces still give many words. All other ASCII bytes separate words.

word_hash(w)      = fmix64(FNV-1a-64(w's bytes, A-Z folded to a-z))
shingle_hash(i)   = fmix64(SHINGLE_SEED ^ xor over j < k of rotl(word_hash[i + j], 17 j mod 64))
                    k consecutive words; one hash per shingle, rolled from the previous one
                    a text of 1..k-1 words has one shingle: all of its words; 0 words, none
prompt_hash(text) = fmix64(FNV-1a-64(the text's raw bytes))          exact identity of a prompt
count_tokens      = sum over words of ceil(bytes / 4) (1 for a 3/4-byte code point)
                    + 1 per ASCII punctuation byte; an approximation of BPE tokens, used only
                    where the log carries no token counts.
MinHash           = per permutation j, min over shingles x of (a_j * (x >> 32) + b_j) mod 2**32,
                    uint32; a_j (odd), b_j from `hashing.minhash_params`. A text without
                    shingles gets all 0xFFFFFFFF (and n_words == 0 says so).
"""

from __future__ import annotations

import numpy as np
from numba import types

from fastscan.kernels._jit import inline, kernel, ro, rw, rw2
from fastscan.kernels.bits import min_affine_lanes
from fastscan.kernels.hashing import FNV_OFFSET, U32, combine, fmix64, fnv1a_step, rotl

SHINGLE_SEED = np.uint64(0x9E3779B97F4A7C15)
SKELETON_SEED = np.uint64(0x5851F42D4C957F2D)
EMPTY_MIN = np.uint32(0xFFFFFFFF)
MAX_SHINGLE_K = 16

_i64 = types.int64
_u8ro = ro(types.uint8)
_i64ro = ro(types.int64)
_boolro = ro(types.boolean)


@inline
def _is_word_byte(b):
    # ASCII alnum, or any byte of a 2-byte UTF-8 sequence (lead C0-DF, continuation 80-BF)
    return (48 <= b <= 57) or (65 <= b <= 90) or (97 <= b <= 122) or (128 <= b < 224)


@inline
def _next_word(data, pos, end):
    """(start, stop, word_hash, n_punct) of the next word at or after `pos`; start == end if none.

    n_punct counts the ASCII punctuation bytes skipped before the word.
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
        return end, end, np.uint64(0), n_punct
    start = i
    h = FNV_OFFSET
    b = data[i]
    if b >= 224:
        width = 3 if b < 240 else 4
        stop = min(end, i + width)
        for j in range(i, stop):
            h = fnv1a_step(h, data[j])
        return start, stop, fmix64(h), n_punct
    while i < end:
        b = data[i]
        if not _is_word_byte(b):
            break
        if 65 <= b <= 90:
            b = b + 32
        h = fnv1a_step(h, b)
        i += 1
    return start, i, fmix64(h), n_punct


# One table for the tokenizer: the byte lower-cased (A-Z to a-z) in the low 8 bits, and bit 8 set
# for a word byte; separators have it clear, and so do the lead bytes of 3/4-byte sequences (from
# 224 on), which the loop tests before it reads the table. Same words as `_next_word`.
_WORD_BIT = 256
_BYTES = np.zeros(256, dtype=np.uint16)
for _b in range(256):
    _BYTES[_b] = _b + 32 if 65 <= _b <= 90 else _b
    if (48 <= _b <= 57) or (65 <= _b <= 90) or (97 <= _b <= 122) or (128 <= _b < 224):
        _BYTES[_b] |= _WORD_BIT
_U8 = np.uint64(8)
_U255 = np.uint64(255)
_U1 = np.uint64(1)


@inline
def _word_hashes(data, lo, hi, buf):
    """(number of words, prompt_hash) of data[lo:hi], the word hashes written to buf[:words].

    One pass, two independent FNV chains (the whole text, the current word) so the CPU overlaps
    them. The word chain steps at every ASCII or 2-byte-sequence byte, from FNV_OFFSET where a
    word starts (one select, before the multiply); at a separator its value is never used, as the
    word's hash was written just before. Every byte writes the word chain to buf[n] and a word's end
    increments n, so nothing branches on word boundaries; 3/4-byte sequences (rare in most text)
    take a branch. Indices are unsigned: numba adds no negative-index wrap to them.
    """
    table = _BYTES
    n = np.uint64(0)
    wh = FNV_OFFSET
    h = FNV_OFFSET
    prev = np.uint64(0)
    i = lo
    while i < hi:
        b = data[np.uint64(i)]
        h = fnv1a_step(h, b)
        if b >= 224:
            if prev:
                buf[n] = wh
                n += _U1
                prev = np.uint64(0)
            stop = min(hi, i + (3 if b < 240 else 4))
            w3 = fnv1a_step(FNV_OFFSET, b)
            for j in range(i + 1, stop):
                c = data[np.uint64(j)]
                w3 = fnv1a_step(w3, c)
                h = fnv1a_step(h, c)
            buf[n] = w3
            n += _U1
            i = stop
            continue
        t = np.uint64(table[b])
        w = t >> _U8
        buf[n] = wh  # kept only if a word ends here
        n += prev & ~w
        start = FNV_OFFSET if w > prev else wh
        wh = fnv1a_step(start, t & _U255)
        prev = w
        i += 1
    if prev:
        buf[n] = wh
        n += _U1
    for j in range(n):
        buf[j] = fmix64(buf[j])
    return np.int64(n), fmix64(h)


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


@inline
def _max_length(offsets):
    m = 0
    for r in range(offsets.shape[0] - 1):
        m = max(m, offsets[r + 1] - offsets[r])
    return m


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
            start, stop, h, n_punct = _next_word(data, pos, end)
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


@kernel(
    types.void(
        _i64ro, _u8ro, _boolro, types.int64, rw(types.uint64), rw(types.int32), rw(types.uint64), rw(types.uint64)
    )
)
def hash_prompts(offsets, data, valid, skeleton_words, out_prompt_hash, out_n_words, out_head_hash, out_tail_hash):
    """Exact prompt hash, word count and skeleton hashes of each string, in one pass.

    The head (tail) hash chains the first (last) `skeleton_words` word hashes from SKELETON_SEED;
    both are 0 when the text has fewer than 2 * skeleton_words + 1 words (no room for a payload).
    offsets : int64[n + 1], data : uint8[m], valid : bool[n];
    out_prompt_hash : uint64[n] (0 for null), out_n_words : int32[n] (-1 for null),
    out_head_hash, out_tail_hash : uint64[n]
    """
    n = offsets.shape[0] - 1
    buf = np.empty(_max_length(offsets) + 1, dtype=np.uint64)
    p = min(max(skeleton_words, 1), 64)
    for r in range(n):
        if not valid[r]:
            out_prompt_hash[r] = 0
            out_n_words[r] = -1
            out_head_hash[r] = 0
            out_tail_hash[r] = 0
            continue
        words, ph = _word_hashes(data, offsets[r], offsets[r + 1], buf)
        out_prompt_hash[r] = ph
        out_n_words[r] = words
        out_head_hash[r], out_tail_hash[r] = skeleton(buf, words, p)


SHINGLE_ROTATION = 17  # word j of a shingle is rotated by 17 j bits (distinct for j < 16)
_ROLL = np.uint64(64 - SHINGLE_ROTATION)  # rotl by this undoes one step of rotation


@inline
def _shingle_hash(window, at, k):
    """Hash of the k word hashes ending at ring position `at` (oldest first)."""
    h = np.uint64(0)
    for j in range(k):
        h ^= rotl(window[(at - k + 1 + j) % MAX_SHINGLE_K], np.uint64((SHINGLE_ROTATION * j) & 63))
    return fmix64(h ^ SHINGLE_SEED)


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


@kernel(types.void(_i64ro, _u8ro, _boolro, _i64ro, types.int64, ro(types.uint32), ro(types.uint32), rw2(types.uint32)))
def minhash_signatures(offsets, data, valid, rows, k, a, b, out):
    """MinHash signature of the word k-shingles of the strings at `rows`, fused in one pass.

    rows : int64[m] (indices into the string array), a, b : uint32[K] from `minhash_params`,
    out : uint32[m, K]. Null strings and texts without words get all 0xFFFFFFFF.
    """
    buf = np.empty(1, dtype=np.uint64)
    xs = np.empty(1, dtype=np.uint32)
    for i in range(rows.shape[0]):
        r = rows[i]
        m = 0
        if valid[r]:
            lo = offsets[r]
            hi = offsets[r + 1]
            if buf.shape[0] < hi - lo + 1:
                buf = np.empty(2 * (hi - lo) + 1, dtype=np.uint64)
                xs = np.empty(2 * (hi - lo) + 1, dtype=np.uint32)
            words, ph = _word_hashes(data, lo, hi, buf)
            m = _shingle_keys(buf, words, k, xs)
        _minhash_rows(xs, m, a, b, out, i)
