"""Does a prompt ask for step-by-step reasoning or a chain of thought? In many languages.

`match_phrases` is a multi-phrase substring search over raw UTF-8 bytes with ASCII case folding;
`REASONING_PHRASES` is the phrase table: requests to reason step by step, show the chain of
thought, explain each step or think before answering, in English, Chinese, Japanese, Korean,
Russian, Ukrainian, Spanish, Portuguese, French, German, Italian, Turkish, Vietnamese, Indonesian,
Arabic and Hindi. Phrases are lower case; non-ASCII letters are matched as written.
"""
from __future__ import annotations

import numpy as np
from numba import types

from ._jit import kernel, ro, rw

REASONING_PHRASES = (
    # English
    "step by step", "step-by-step", "chain of thought", "chain-of-thought", "think carefully",
    "reason carefully", "show your reasoning", "explain your reasoning", "show your work",
    "show all your work", "explain each step", "reason through", "think through",
    "walk me through your reasoning", "thought process", "reasoning process", "let's think",
    "let us think", "think it through", "before you answer, think", "before answering, think",
    "work it out step", "explain your thinking", "detailed reasoning", "complete reasoning",
    "full reasoning", "reasoning steps", "rationale", "think out loud",
    # Chinese
    "一步一步", "一步步", "逐步", "分步", "思维链", "思考过程", "推理过程", "请推理", "详细推理",
    "解题过程", "写出推理", "展示推理", "让我们思考",
    # Japanese
    "ステップバイステップ", "段階的に", "順を追って", "思考過程", "推論過程", "考え方を",
    # Korean
    "단계별", "차근차근", "단계적으로", "추론 과정", "사고 과정",
    # Russian / Ukrainian
    "шаг за шагом", "пошагово", "поэтапно", "рассуждай", "рассуждения", "ход рассуждений",
    "объясни каждый шаг", "крок за кроком", "покроково", "міркуван",
    # Spanish / Portuguese / Italian
    "paso a paso", "razona", "razonamiento", "cadena de pensamiento", "passo a passo",
    "raciocínio", "cadeia de pensamento", "ragionamento", "passo dopo passo",
    # French / German
    "étape par étape", "etape par etape", "raisonnement", "chaîne de pensée",
    "schritt für schritt", "schritt fur schritt", "denkprozess", "gedankengang", "begründe",
    # Turkish / Vietnamese / Indonesian
    "adım adım", "akıl yürüt", "từng bước", "suy luận", "langkah demi langkah", "penalaran",
    # Arabic / Hindi
    "خطوة بخطوة", "سلسلة التفكير", "चरण दर चरण", "कदम दर कदम",
)


def phrase_table(phrases=REASONING_PHRASES) -> tuple[np.ndarray, np.ndarray]:
    """(offsets int64[p + 1], data uint8[m]) of the UTF-8 phrases, ASCII lower-cased."""
    enc = [p.lower().encode("utf-8") for p in phrases]
    offsets = np.zeros(len(enc) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in enc], out=offsets[1:])
    return offsets, np.frombuffer(b"".join(enc), dtype=np.uint8).copy()


@kernel(types.void(ro(types.int64), ro(types.uint8), ro(types.boolean), ro(types.int64), ro(types.uint8),
                   rw(types.boolean)))
def match_phrases(offsets, data, valid, pat_offsets, pat_data, out):
    """out[i] = some phrase occurs in string i (ASCII case-insensitive).

    offsets : int64[n + 1], data : uint8[m], valid : bool[n]; pat_offsets : int64[p + 1],
    pat_data : uint8 (lower-case phrases); out : bool[n]
    """
    n = offsets.shape[0] - 1
    n_pat = pat_offsets.shape[0] - 1
    # which phrases start with each byte value (ASCII letters folded)
    first_count = np.zeros(256, dtype=np.int64)
    for p in range(n_pat):
        if pat_offsets[p + 1] > pat_offsets[p]:
            first_count[pat_data[pat_offsets[p]]] += 1
    first_start = np.zeros(257, dtype=np.int64)
    for c in range(256):
        first_start[c + 1] = first_start[c] + first_count[c]
    fill = first_start[:256].copy()
    by_first = np.zeros(max(n_pat, 1), dtype=np.int64)
    for p in range(n_pat):
        if pat_offsets[p + 1] > pat_offsets[p]:
            c = pat_data[pat_offsets[p]]
            by_first[fill[c]] = p
            fill[c] += 1
    for r in range(n):
        out[r] = False
        if not valid[r]:
            continue
        lo = offsets[r]
        hi = offsets[r + 1]
        found = False
        for i in range(lo, hi):
            c = data[i]
            if 65 <= c <= 90:
                c += 32
            for q in range(first_start[c], first_start[c + 1]):
                p = by_first[q]
                ps = pat_offsets[p]
                pl = pat_offsets[p + 1] - ps
                if i + pl > hi:
                    continue
                ok = True
                for j in range(1, pl):
                    b = data[i + j]
                    if 65 <= b <= 90:
                        b += 32
                    if b != pat_data[ps + j]:
                        ok = False
                        break
                if ok:
                    found = True
                    break
            if found:
                break
        out[r] = found


_TABLE = None


def asks_for_reasoning(offsets, data, valid, out) -> None:
    """out[i] = prompt i asks for step-by-step reasoning (REASONING_PHRASES)."""
    global _TABLE
    if _TABLE is None:
        _TABLE = phrase_table()
    match_phrases(offsets, data, valid, _TABLE[0], _TABLE[1], out)
