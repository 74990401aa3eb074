"""Does a prompt ask for step-by-step reasoning or a chain of thought? In many languages.

`has_phrase` is a multi-phrase substring search over raw UTF-8 bytes with ASCII case folding
(`prompts.prompt_pass` runs it on every prompt; `unfused.match_phrases` on its own);
`REASONING_PHRASES` is the phrase table: requests to reason step by step, show the chain of
thought, explain each step or think before answering, in English, Chinese, Japanese, Korean,
Russian, Ukrainian, Spanish, Portuguese, French, German, Italian, Turkish, Vietnamese, Indonesian,
Arabic and Hindi. Phrases are lower case; non-ASCII letters are matched as written.
"""

from __future__ import annotations

import numpy as np

from fastscan.kernels._jit import allocating_helper, inline
from fastscan.kernels.bits import HIGH, ONES, load8

REASONING_PHRASES = (
    # English
    "step by step",
    "step-by-step",
    "chain of thought",
    "chain-of-thought",
    "think carefully",
    "reason carefully",
    "show your reasoning",
    "explain your reasoning",
    "show your work",
    "show all your work",
    "explain each step",
    "reason through",
    "think through",
    "walk me through your reasoning",
    "thought process",
    "reasoning process",
    "let's think",
    "let us think",
    "think it through",
    "before you answer, think",
    "before answering, think",
    "work it out step",
    "explain your thinking",
    "detailed reasoning",
    "complete reasoning",
    "full reasoning",
    "reasoning steps",
    "rationale",
    "think out loud",
    # Chinese
    "一步一步",
    "一步步",
    "逐步",
    "分步",
    "思维链",
    "思考过程",
    "推理过程",
    "请推理",
    "详细推理",
    "解题过程",
    "写出推理",
    "展示推理",
    "让我们思考",
    # Japanese
    "ステップバイステップ",
    "段階的に",
    "順を追って",
    "思考過程",
    "推論過程",
    "考え方を",
    # Korean
    "단계별",
    "차근차근",
    "단계적으로",
    "추론 과정",
    "사고 과정",
    # Russian / Ukrainian
    "шаг за шагом",
    "пошагово",
    "поэтапно",
    "рассуждай",
    "рассуждения",
    "ход рассуждений",
    "объясни каждый шаг",
    "крок за кроком",
    "покроково",
    "міркуван",
    # Spanish / Portuguese / Italian
    "paso a paso",
    "razona",
    "razonamiento",
    "cadena de pensamiento",
    "passo a passo",
    "raciocínio",
    "cadeia de pensamento",
    "ragionamento",
    "passo dopo passo",
    # French / German
    "étape par étape",
    "etape par etape",
    "raisonnement",
    "chaîne de pensée",
    "schritt für schritt",
    "schritt fur schritt",
    "denkprozess",
    "gedankengang",
    "begründe",
    # Turkish / Vietnamese / Indonesian
    "adım adım",
    "akıl yürüt",
    "từng bước",
    "suy luận",
    "langkah demi langkah",
    "penalaran",
    # Arabic / Hindi
    "خطوة بخطوة",
    "سلسلة التفكير",
    "चरण दर चरण",
    "कदम दर कदम",
)


def phrase_table(phrases=REASONING_PHRASES) -> tuple[np.ndarray, np.ndarray]:
    """(offsets int64[p + 1], data uint8[m]) of the UTF-8 phrases, ASCII lower-cased."""
    enc = [p.lower().encode("utf-8") for p in phrases]
    offsets = np.zeros(len(enc) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in enc], out=offsets[1:])
    return offsets, np.frombuffer(b"".join(enc), dtype=np.uint8).copy()


_FOLD = np.arange(256, dtype=np.uint8)
_FOLD[65:91] += 32  # ASCII A-Z -> a-z; every other byte as it is
_MULT = np.uint64(0x9E3779B97F4A7C15)
_SHIFT_BITS = 13  # the shift table: 8 KB, in the L1 cache
_BLOCK = 3  # bytes of a block (fewer when a phrase is shorter)


@allocating_helper
def phrase_filter(pat_offsets, pat_data):
    """The tables of `has_phrase` for a phrase table (Wu and Manber's multi-pattern search): (M,
    the shortest phrase's length; B, bytes of a block; the shift table by block hash; bucket
    starts and phrases by bucket: the phrases whose first M bytes end in a block of that hash).

    shift[h] is how far a window of M bytes may move on when its last block hashes to h: the
    least distance, over the blocks of every phrase's first M bytes that hash to h, from that
    block to the end of those M bytes (M - B + 1 when none does). Blocks of one hash share the
    least distance, so a collision only moves a window on less far."""
    n_pat = pat_offsets.shape[0] - 1
    m = 0
    for p in range(n_pat):
        pl = pat_offsets[p + 1] - pat_offsets[p]
        if pl > 0 and (m == 0 or pl < m):
            m = pl  # an empty phrase matches nothing
    b = min(_BLOCK, m)
    size = 1 << _SHIFT_BITS
    shift = np.full(size, min(m - b + 1, 255), dtype=np.uint8)
    bucket_count = np.zeros(size + 1, dtype=np.int32)
    pat_bucket = np.full(max(n_pat, 1), -1, dtype=np.int64)
    for p in range(n_pat):
        ps = pat_offsets[p]
        if pat_offsets[p + 1] - ps <= 0:
            continue
        for j in range(m - b + 1):
            key = np.uint64(0)
            for k in range(b):
                key |= np.uint64(pat_data[ps + j + k]) << np.uint64(8 * k)
            h = np.int64((key * _MULT) >> np.uint64(64 - _SHIFT_BITS))
            shift[h] = min(shift[h], m - b - j)
            if j == m - b:
                pat_bucket[p] = h
                bucket_count[h + 1] += 1
    for h in range(size):
        bucket_count[h + 1] += bucket_count[h]
    fill = bucket_count[:size].copy()
    by_bucket = np.zeros(max(n_pat, 1), dtype=np.int64)
    for p in range(n_pat):
        h = pat_bucket[p]
        if h >= 0:
            by_bucket[fill[h]] = p
            fill[h] += 1
    return m, b, shift, bucket_count, by_bucket


_LOW7 = np.uint64(0x7F7F7F7F7F7F7F7F)
_CASE_BIT = np.uint64(2)  # HIGH >> 2 is 0x20 in every byte: the ASCII case bit


@inline
def _fold8(x):
    """The 8 bytes of x with ASCII A-Z folded to a-z (SWAR: bytes 0x41-0x5A, high bit clear,
    get 0x20 set), every other byte as it is."""
    a = x & _LOW7
    upper = (a + np.uint64(0x80 - 0x41) * ONES) & ~(a + np.uint64(0x7F - 0x5A) * ONES) & ~x & HIGH
    return x | (upper >> _CASE_BIT)


@inline
def _at(data, start, hi, h, fold, bucket_count, by_bucket, pat_offsets, pat_data):
    """Some phrase of bucket h starts at data[start] (and ends by hi)."""
    for q in range(bucket_count[h], bucket_count[h + 1]):
        ps = pat_offsets[by_bucket[q]]
        pl = pat_offsets[by_bucket[q] + 1] - ps
        if start + pl > hi:
            continue
        ok = True
        for j in range(pl):
            if fold[data[start + j]] != pat_data[ps + j]:
                ok = False
                break
        if ok:
            return True
    return False


@inline
def has_phrase(data, lo, hi, m, b, shift, bucket_count, by_bucket, pat_offsets, pat_data):
    """Some phrase occurs in data[lo:hi] (ASCII case-insensitive); the tables from phrase_filter.

    A window of M bytes moves along the text by the shift of its last block, and only where that
    is 0 are the phrases of the block's bucket compared with the text at the window. On English
    text a window moves about 3.8 bytes a step; a step waits on the one before (a load, a hash, a
    table), so four searches, over the four quarters of the windows' starts, go side by side
    (one search alone ran at the speed of the byte-by-byte filter it replaced, 0.6-0.7 GB/s,
    against 1.1-1.3 for four). A text that ends within 8 bytes of the array's end is searched
    once, its blocks folded byte by byte where 8 bytes cannot be loaded. The four steps are
    written out on purpose: factored into a step (or key) function called four times, the search
    ran at 0.15-0.57 GB/s in the three forms tried."""
    if m == 0 or hi - lo < m:
        return False
    fold = _FOLD
    sh = np.uint64(64 - _SHIFT_BITS)
    keep = (np.uint64(1) << np.uint64(8 * b)) - np.uint64(1)
    last = data.shape[0] - 8
    cut = (hi - m + 1 - lo) // 4  # windows start in lo..hi - m; search c takes cut of them
    back = m - b  # a window's start is its last block's position less this
    p0, p1, p2, p3 = lo + back, lo + cut + back, lo + 2 * cut + back, lo + 3 * cut + back
    e0, e1, e2, e3 = p1, p2, p3, hi - b + 1
    if hi > last:
        e0, p1, e1, p2, e2, p3, e3 = hi - b + 1, 0, 0, 0, 0, 0, 0
    while p0 < e0 or p1 < e1 or p2 < e2 or p3 < e3:
        if p0 < e0:
            if p0 <= last:
                key = _fold8(load8(data, p0)) & keep
            else:
                key = np.uint64(0)
                for k in range(b):
                    key |= np.uint64(fold[data[p0 + k]]) << np.uint64(8 * k)
            h = np.int64((key * _MULT) >> sh)
            d = shift[h]
            if d:
                p0 += d
            else:
                if _at(data, p0 - back, hi, h, fold, bucket_count, by_bucket, pat_offsets, pat_data):
                    return True
                p0 += 1
        if p1 < e1:
            h = np.int64(((_fold8(load8(data, p1)) & keep) * _MULT) >> sh)
            d = shift[h]
            if d:
                p1 += d
            else:
                if _at(data, p1 - back, hi, h, fold, bucket_count, by_bucket, pat_offsets, pat_data):
                    return True
                p1 += 1
        if p2 < e2:
            h = np.int64(((_fold8(load8(data, p2)) & keep) * _MULT) >> sh)
            d = shift[h]
            if d:
                p2 += d
            else:
                if _at(data, p2 - back, hi, h, fold, bucket_count, by_bucket, pat_offsets, pat_data):
                    return True
                p2 += 1
        if p3 < e3:
            h = np.int64(((_fold8(load8(data, p3)) & keep) * _MULT) >> sh)
            d = shift[h]
            if d:
                p3 += d
            else:
                if _at(data, p3 - back, hi, h, fold, bucket_count, by_bucket, pat_offsets, pat_data):
                    return True
                p3 += 1
    return False


_TABLE = None


def reasoning_table() -> tuple[np.ndarray, np.ndarray]:
    """phrase_table(REASONING_PHRASES), made once."""
    global _TABLE
    if _TABLE is None:
        _TABLE = phrase_table()
    return _TABLE
