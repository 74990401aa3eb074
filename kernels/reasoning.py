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
_FILTER_BITS = 16


@allocating_helper
def phrase_filter(pat_offsets, pat_data):
    """The prefix filter of `has_phrase` for a phrase table: (W, key mask, bitmap of the
    phrases' W-byte prefixes by hash bucket, bucket starts, phrases by bucket)."""
    n_pat = pat_offsets.shape[0] - 1
    w = 4
    for p in range(n_pat):
        pl = pat_offsets[p + 1] - pat_offsets[p]
        if 0 < pl < w:
            w = pl
    mask = (np.uint64(1) << np.uint64(8 * w)) - np.uint64(1)
    shift = np.uint64(64 - _FILTER_BITS)
    n_buckets = 1 << _FILTER_BITS
    bits = np.zeros(n_buckets >> 6, dtype=np.uint64)
    bucket_count = np.zeros(n_buckets + 1, dtype=np.int32)
    pat_bucket = np.full(max(n_pat, 1), -1, dtype=np.int64)
    for p in range(n_pat):
        ps = pat_offsets[p]
        if pat_offsets[p + 1] - ps <= 0:
            continue  # an empty phrase matches nothing
        key = np.uint64(0)
        for j in range(w):
            key |= np.uint64(pat_data[ps + j]) << np.uint64(8 * j)
        h = np.int64((key * _MULT) >> shift)
        pat_bucket[p] = h
        bucket_count[h + 1] += 1
        bits[h >> 6] |= np.uint64(1) << np.uint64(h & 63)
    for h in range(n_buckets):
        bucket_count[h + 1] += bucket_count[h]
    fill = bucket_count[:n_buckets].copy()
    by_bucket = np.zeros(max(n_pat, 1), dtype=np.int64)
    for p in range(n_pat):
        h = pat_bucket[p]
        if h >= 0:
            by_bucket[fill[h]] = p
            fill[h] += 1
    return w, mask, bits, bucket_count, by_bucket


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
def has_phrase(data, lo, hi, w, mask, bits, bucket_count, by_bucket, pat_offsets, pat_data):
    """Some phrase occurs in data[lo:hi] (ASCII case-insensitive); the tables from phrase_filter.

    The keys of 9 - W start positions come from one 8-byte load folded at once (before, a key
    rolled in one byte per position, a chain through every byte); the last positions of the data
    array, where 8 bytes are not there to load, fold byte by byte."""
    fold = _FOLD
    shift = np.uint64(64 - _FILTER_BITS)
    last = min(hi - w, data.shape[0] - 8)  # positions up to here load 8 bytes
    step = 9 - w  # the keys of this many positions lie in one 8-byte word
    s = lo
    while s <= hi - w:
        if s <= last:
            x = _fold8(load8(data, s))
            n = min(step, last + 1 - s)
        else:
            x = np.uint64(0)
            for j in range(w):
                x |= np.uint64(fold[data[s + j]]) << np.uint64(8 * j)
            n = 1
        for t in range(n):
            key = (x >> np.uint64(8 * t)) & mask
            h = np.uint64((key * _MULT) >> shift)
            if (bits[h >> np.uint64(6)] >> (h & np.uint64(63))) & np.uint64(1) != 0:
                at = s + t
                for q in range(bucket_count[h], bucket_count[h + np.uint64(1)]):
                    p = by_bucket[q]
                    ps = pat_offsets[p]
                    pl = pat_offsets[p + 1] - ps
                    if at + pl > hi:
                        continue
                    ok = True
                    for j in range(pl):
                        if fold[data[at + j]] != pat_data[ps + j]:
                            ok = False
                            break
                    if ok:
                        return True
        s += n
    return False


_TABLE = None


def reasoning_table() -> tuple[np.ndarray, np.ndarray]:
    """phrase_table(REASONING_PHRASES), made once."""
    global _TABLE
    if _TABLE is None:
        _TABLE = phrase_table()
    return _TABLE
