"""Slow, obvious pure-Python references for every fastscan kernel.

Written from the kernels' docstrings, not from their code: hashes are Python ints kept modulo
2**64 with a mask. Nothing here imports numba or a kernel module.
"""
from __future__ import annotations

MASK64 = (1 << 64) - 1


# -- hashes ----------------------------------------------------------------------------------

def fmix64(x: int) -> int:
    """MurmurHash3's 64-bit finalizer."""
    x &= MASK64
    x ^= x >> 33
    x = (x * 0xFF51AFD7ED558CCD) & MASK64
    x ^= x >> 33
    x = (x * 0xC4CEB9FE1A85EC53) & MASK64
    x ^= x >> 33
    return x


def combine(h: int, x: int) -> int:
    return fmix64(h ^ x)


def chain(seed: int, hashes) -> int:
    h = seed
    for x in hashes:
        h = combine(h, x)
    return h


# -- near-duplicates (kernels/neardup.py) ----------------------------------------------------

BAND_SEED = 0xD6E8FEB86659FD93


def band_key(sig_row: list[int], band: int, rows_per_band: int) -> int:
    """LSH key of one signature for one band: the band's values chained from fmix64(seed ^ band)."""
    return chain(fmix64(BAND_SEED ^ band), sig_row[band * rows_per_band:(band + 1) * rows_per_band])


def agreement(x: list[int], y: list[int]) -> int:
    return sum(1 for a, b in zip(x, y) if a == b)


def candidates(sig: list[list[int]], bands: int, rows_per_band: int, i: int, j: int) -> bool:
    return any(band_key(sig[i], b, rows_per_band) == band_key(sig[j], b, rows_per_band) for b in range(bands))


def flag_near_duplicates(sig, account, n_words, bands, rows_per_band, min_agree) -> list[bool]:
    """flag_bucket_pairs over every band: i is flagged when some other worded row of its account
    shares a band key with it and agrees on at least min_agree positions."""
    n = len(sig)
    out = [False] * n
    for i in range(n):
        for j in range(n):
            if i != j and account[i] == account[j] and n_words[i] > 0 and n_words[j] > 0 \
                    and candidates(sig, bands, rows_per_band, i, j) and agreement(sig[i], sig[j]) >= min_agree:
                out[i] = True
    return out


def link_pairs(sig, account, prompt_hash, tie, bands, rows_per_band, min_agree, window) -> set:
    """link_bucket_pairs over every band: {(i, j), i < j} of different accounts, verified, that sit
    within `window` places of each other in a bucket ordered by (prompt hash, tie)."""
    out = set()
    for b in range(bands):
        buckets = {}
        for i in range(len(sig)):
            buckets.setdefault(band_key(sig[i], b, rows_per_band), []).append(i)
        for members in buckets.values():
            members.sort(key=lambda r: (prompt_hash[r], tie[r]))
            for x in range(len(members)):
                for y in range(x + 1, min(len(members), x + 1 + window)):
                    i, j = members[x], members[y]
                    if account[i] != account[j] and agreement(sig[i], sig[j]) >= min_agree:
                        out.add((min(i, j), max(i, j)))
    return out


def component_labels(n: int, edges: list[tuple[int, int]], rank: list[int]) -> list[int]:
    """Per vertex, the smallest rank in its connected component (graph search)."""
    adj = {v: set() for v in range(n)}
    for a, b in edges:
        adj[a].add(b)
        adj[b].add(a)
    out = [None] * n
    for v in range(n):
        if out[v] is not None:
            continue
        comp, todo = {v}, [v]
        while todo:
            u = todo.pop()
            for w in adj[u]:
                if w not in comp:
                    comp.add(w)
                    todo.append(w)
        low = min(rank[u] for u in comp)
        for u in comp:
            out[u] = low
    return out


def linked_accounts(items: list[set]) -> dict:
    """Per account, the number of other accounts that hold one of its items (items: account sets)."""
    out = {}
    for accts in items:
        for a in accts:
            out.setdefault(a, set()).update(accts - {a})
    return {a: len(v) for a, v in out.items()}
