"""Near-duplicate kernels over MinHash signatures grouped by account."""
from __future__ import annotations

from numba import types

from ._jit import kernel, ro, ro2, rw


@kernel(types.void(ro(types.int64), ro2(types.uint32), ro(types.int32), types.int64, rw(types.boolean)))
def flag_near_duplicates(group_offsets, sig, n_words, min_agree, out):
    """out[i] = some other member of i's group agrees with i on at least `min_agree` signature
    positions (an estimated Jaccard similarity >= min_agree / K). Wordless texts never match.

    group_offsets : int64[g + 1] (rows of group k are group_offsets[k]:group_offsets[k + 1]),
    sig : uint32[n, K], n_words : int32[n], out : bool[n]
    """
    k = sig.shape[1]
    for g in range(group_offsets.shape[0] - 1):
        lo = group_offsets[g]
        hi = group_offsets[g + 1]
        for i in range(lo, hi):
            out[i] = False
        for i in range(lo, hi):
            if n_words[i] <= 0:
                continue
            for j in range(i + 1, hi):
                if n_words[j] <= 0 or (out[i] and out[j]):
                    continue
                agree = 0
                for p in range(k):
                    if sig[i, p] == sig[j, p]:
                        agree += 1
                    elif agree + (k - p - 1) < min_agree:
                        break
                if agree >= min_agree:
                    out[i] = True
                    out[j] = True
