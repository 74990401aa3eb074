"""Slow, obvious pure-Python references for every fastscan kernel.

Written from the kernels' docstrings, not from their code: words are found by walking the
characters of a `str` (not its bytes), hashes are Python ints kept modulo 2**64 with a mask,
transcripts are split by listing every boundary first. Nothing here imports numba or a kernel
module; the only shared input is `hashing.minhash_params`, which the tests pass in.
"""

from __future__ import annotations

import re
import string

MASK64 = (1 << 64) - 1

WORD_SEED = 0x2545F4914F6CDD1D
WORD_PRIME = 0x9E3779B185EBCA87
XXH_PRIMES = (0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x85EBCA77C2B2AE63, 0x27D4EB2F165667C5)
SHINGLE_SEED = 0x9E3779B97F4A7C15
SKELETON_SEED = 0x5851F42D4C957F2D
EMPTY_MIN = 0xFFFFFFFF

PUNCTUATION = frozenset(string.punctuation)  # the 32 printable ASCII bytes that are not alnum or space

ROLE_CODES = {"system": 1, "developer": 1, "user": 2, "assistant": 3, "tool": 4}


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


def chunk_hash(data: bytes) -> int:
    """The word hash of a word's bytes (already folded): 8-byte little-endian chunks, the last
    zero-padded, each xor-ed into the state, multiplied and rotated (no finalizer)."""
    h = WORD_SEED ^ len(data)
    for at in range(0, len(data), 8):
        c = int.from_bytes(data[at : at + 8], "little")
        h = rotl(((h ^ c) * WORD_PRIME) & MASK64, 27)
    return h


def xxh64(data: bytes) -> int:
    """XXH64 with seed 0, from the xxHash specification (doc/xxhash_spec.md)."""
    p1, p2, p3, p4, p5 = XXH_PRIMES

    def round_(acc: int, x: int) -> int:
        return (rotl((acc + x * p2) & MASK64, 31) * p1) & MASK64

    def word(at: int, size: int) -> int:
        return int.from_bytes(data[at : at + size], "little")

    n, at = len(data), 0
    if n >= 32:
        acc = [(p1 + p2) & MASK64, p2, 0, (-p1) & MASK64]
        while at + 32 <= n:
            acc = [round_(v, word(at + 8 * i, 8)) for i, v in enumerate(acc)]
            at += 32
        h = (rotl(acc[0], 1) + rotl(acc[1], 7) + rotl(acc[2], 12) + rotl(acc[3], 18)) & MASK64
        for v in acc:
            h = (((h ^ round_(0, v)) * p1) + p4) & MASK64
    else:
        h = p5
    h = (h + n) & MASK64
    while at + 8 <= n:
        h = (rotl(h ^ round_(0, word(at, 8)), 27) * p1 + p4) & MASK64
        at += 8
    if at + 4 <= n:
        h = (rotl(h ^ ((word(at, 4) * p1) & MASK64), 23) * p2 + p3) & MASK64
        at += 4
    for byte in data[at:]:
        h = (rotl(h ^ ((byte * p5) & MASK64), 11) * p1) & MASK64
    h ^= h >> 33
    h = (h * p2) & MASK64
    h ^= h >> 29
    h = (h * p3) & MASK64
    return h ^ (h >> 32)


def combine(h: int, x: int) -> int:
    return fmix64(h ^ x)


def chain(seed: int, hashes) -> int:
    h = seed
    for x in hashes:
        h = combine(h, x)
    return h


def rotl(x: int, r: int) -> int:
    r %= 64
    return ((x << r) | (x >> (64 - r))) & MASK64 if r else x


def shingle(hashes) -> int:
    """The hash of one shingle: word j rotated left by 17 j bits, all xor-ed, then fmix64."""
    h = 0
    for j, x in enumerate(hashes):
        h ^= rotl(x, 17 * j)
    return fmix64(h ^ SHINGLE_SEED)


def splitmix64(seed: int, count: int) -> list[int]:
    state = seed & MASK64
    out = []
    for _ in range(count):
        state = (state + 0x9E3779B97F4A7C15) & MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        out.append(z ^ (z >> 31))
    return out


# -- words -----------------------------------------------------------------------------------


def _utf8_width(ch: str) -> int:
    return len(ch.encode("utf-8"))


def _is_run_char(ch: str) -> bool:
    """ASCII letter or digit, or a code point written with 2 UTF-8 bytes (U+0080..U+07FF)."""
    return (ch.isascii() and ch.isalnum()) or _utf8_width(ch) == 2


def split_words(text: str) -> list[str]:
    """Words in text order: runs of run characters; each 3/4-byte code point alone; rest separate."""
    words = []
    run = ""
    for ch in text:
        if _is_run_char(ch):
            run += ch
            continue
        if run:
            words.append(run)
            run = ""
        if _utf8_width(ch) >= 3:
            words.append(ch)
    if run:
        words.append(run)
    return words


def split_word_bytes(data: bytes) -> list[bytes]:
    """split_words on bytes that need not be UTF-8, as the kernels read them: a run of ASCII
    letters and digits and bytes 0x80-0xDF is a word; a byte from 0xE0 (0xF0) starts a word of
    itself and the next 2 (3) bytes, whatever they are, cut at the end; the rest separate.
    A-Z are folded to a-z in runs, not inside a 3/4-byte word. Same words as split_words on UTF-8."""
    words = []
    i = 0
    run = bytearray()
    while i < len(data):
        b = data[i]
        if b >= 0xE0:
            if run:
                words.append(bytes(run))
                run = bytearray()
            width = 3 if b < 0xF0 else 4
            words.append(data[i : i + width])
            i += width
            continue
        if b >= 0x80 or (48 <= b <= 57) or (97 <= b <= 122):
            run.append(b)
        elif 65 <= b <= 90:
            run.append(b + 32)
        elif run:
            words.append(bytes(run))
            run = bytearray()
        i += 1
    if run:
        words.append(bytes(run))
    return words


def word_bytes(word: str) -> bytes:
    """The bytes a word hashes: UTF-8 with A-Z folded to a-z (and nothing else folded)."""
    return bytes(b + 32 if 65 <= b <= 90 else b for b in word.encode("utf-8"))


def word_hash(word: str) -> int:
    return chunk_hash(word_bytes(word))


def shingle_hashes(text: str, k: int) -> list[int]:
    """Hashes of the word k-shingles in text order; 1..k-1 words give one shingle of them all."""
    hashes = [word_hash(w) for w in split_words(text)]
    if not hashes:
        return []
    if len(hashes) < k:
        return [shingle(hashes)]
    return [shingle(hashes[i : i + k]) for i in range(len(hashes) - k + 1)]


def prompt_hash(text: str) -> int:
    return xxh64(text.encode("utf-8"))


def count_tokens(text: str) -> int:
    total = sum(1 for ch in text if ch in PUNCTUATION)
    for w in split_words(text):
        n = len(w.encode("utf-8"))
        total += 1 if _utf8_width(w[0]) >= 3 else -(-n // 4)
    return total


def hash_prompt(text: str, skeleton_words: int) -> tuple[int, int, int, int]:
    """(prompt hash, n_words, head hash, tail hash) of one non-null text."""
    hashes = [word_hash(w) for w in split_words(text)]
    p = skeleton_words
    if len(hashes) >= 2 * p + 1:
        head = chain(SKELETON_SEED, hashes[:p])
        tail = chain(SKELETON_SEED, hashes[-p:])
    else:
        head = tail = 0
    return prompt_hash(text), len(hashes), head, tail


def minhash_signature(text: str, k: int, a: list[int], b: list[int]) -> list[int]:
    shingles = shingle_hashes(text, k)
    return [min(((aj * (x >> 32) + bj) & 0xFFFFFFFF for x in shingles), default=EMPTY_MIN) for aj, bj in zip(a, b)]


# -- the kernels, row by row over Python values (None is a null) -------------------------------


def count_tokens_all(values: list) -> list[int]:
    return [0 if v is None else count_tokens(v) for v in values]


def hash_prompts_all(values: list, skeleton_words: int) -> tuple[list, ...]:
    rows = [(0, -1, 0, 0) if v is None else hash_prompt(v, skeleton_words) for v in values]
    return tuple(list(col) for col in zip(*rows)) if rows else ([], [], [], [])


def count_shingles_all(values: list, k: int) -> list[int]:
    return [0 if v is None else len(shingle_hashes(v, k)) for v in values]


def hash_shingles_all(values: list, k: int) -> list[int]:
    return [x for v in values if v is not None for x in shingle_hashes(v, k)]


def minhash_signatures_all(values: list, rows: list[int], k: int, a: list[int], b: list[int]) -> list:
    return [[EMPTY_MIN] * len(a) if values[r] is None else minhash_signature(values[r], k, a, b) for r in rows]


def sum_by_account(account: list[int], values: list[list[int]], n_accounts: int, n_features: int):
    out = [[0] * n_features for _ in range(n_accounts)]
    for acc, row in zip(account, values):
        for f, v in enumerate(row):
            out[acc][f] += v
    return out


def minmax_by_account(account: list[int], values: list[int], valid: list[bool], n_accounts: int):
    """(min, max) per account over valid rows; accounts without one are None."""
    seen: dict = {}
    for acc, v, ok in zip(account, values, valid):
        if ok:
            seen.setdefault(acc, []).append(v)
    return [(min(seen[a]), max(seen[a])) if a in seen else None for a in range(n_accounts)]


# -- messages --------------------------------------------------------------------------------


def role_code(name) -> int:
    if isinstance(name, bytes):
        name = name.decode("utf-8", "replace")
    return ROLE_CODES.get(name, 0)


def pick_messages(requests: list[list]) -> tuple[list[int], list[int], list[int]]:
    """Per request (a list of role names, None for a null role): the flattened index of its last
    user message and of its first system message (-1 if none), and the messages before that user.

    n_prior counts the conversation turns before that user message: system (and developer)
    messages are not turns. Without a user message, every non-system message counts.
    """
    users, systems, n_prior = [], [], []
    base = 0
    for roles in requests:
        codes = [role_code(r) if r is not None else 0 for r in roles]
        user_pos = [i for i, c in enumerate(codes) if c == 2]
        sys_pos = [i for i, c in enumerate(codes) if c == 1]
        users.append(base + user_pos[-1] if user_pos else -1)
        systems.append(base + sys_pos[0] if sys_pos else -1)
        upto = user_pos[-1] if user_pos else len(codes)
        n_prior.append(sum(1 for c in codes[:upto] if c != 1))
        base += len(roles)
    return users, systems, n_prior


_ROLE_PREFIX = re.compile(rb"([a-z]+): ")


def role_prefix(data: bytes, at: int) -> tuple[int, int]:
    """(role code, body start) if data[at:] starts with "<known role>: ", else (0, -1)."""
    m = _ROLE_PREFIX.match(data, at)
    if m is None or role_code(m.group(1)) == 0:
        return 0, -1
    return role_code(m.group(1)), m.end()


def split_transcript(data: bytes) -> tuple[int, int, int, int, int]:
    """(user_start, user_end, sys_start, sys_end, n_prior) of one non-null prompt, relative to it.

    A transcript opens with "system: " or "user: " (developer is the system role, so
    "developer: " too); each "\\n\\n<role>: " opens the next message, which runs to the next such
    boundary. Anything else is one user turn. No user turn: an empty one at the end. n_prior counts
    the non-system messages before the last user turn (all of them when there is none).
    """
    code0, body0 = role_prefix(data, 0)
    if code0 not in (1, 2):
        return 0, len(data), -1, -1, 0
    boundaries = []  # (blank line position, role code, body start)
    for j in range(body0, len(data) - 1):
        if data[j : j + 2] == b"\n\n":
            code, body = role_prefix(data, j + 2)
            if code:
                boundaries.append((j, code, body))
    starts = [(code0, body0)] + [(c, s) for _, c, s in boundaries]
    ends = [j for j, _, _ in boundaries] + [len(data)]
    messages = [(c, s, e) for (c, s), e in zip(starts, ends)]
    users = [i for i, (c, _, _) in enumerate(messages) if c == 2]
    systems = [i for i, (c, _, _) in enumerate(messages) if c == 1]
    if users:
        _, us, ue = messages[users[-1]]
        n_prior = sum(1 for c, _, _ in messages[: users[-1]] if c != 1)
    else:
        us = ue = len(data)
        n_prior = sum(1 for c, _, _ in messages if c != 1)
    ss, se = messages[systems[0]][1:] if systems else (-1, -1)
    return us, ue, ss, se, n_prior


def transcript_turns(text: str) -> tuple[bytes | None, bytes | None, int]:
    """(last user turn, first system turn or None, n_prior) of one prompt, as bytes."""
    data = text.encode("utf-8")
    us, ue, ss, se, n_prior = split_transcript(data)
    return data[us:ue], (data[ss:se] if ss >= 0 else None), n_prior


def gather_slices(data: bytes, starts: list[int], ends: list[int]) -> bytes:
    return b"".join(data[s:e] for s, e in zip(starts, ends) if s >= 0)


# -- near-duplicates (kernels/neardup.py) ----------------------------------------------------

BAND_SEED = 0xD6E8FEB86659FD93


def band_key(sig_row: list[int], band: int, rows_per_band: int) -> int:
    """LSH key of one signature for one band: the band's values chained from fmix64(seed ^ band)."""
    return chain(fmix64(BAND_SEED ^ band), sig_row[band * rows_per_band : (band + 1) * rows_per_band])


def agreement(x: list[int], y: list[int]) -> int:
    return sum(1 for a, b in zip(x, y) if a == b)


def candidates(sig: list[list[int]], bands: int, rows_per_band: int, i: int, j: int) -> bool:
    return any(band_key(sig[i], b, rows_per_band) == band_key(sig[j], b, rows_per_band) for b in range(bands))


def flag_near_duplicates(sig, account, n_words, bands, rows_per_band, min_agree) -> list[bool]:
    """flag_account_near_dups: i is flagged when some other worded row of its account
    shares a band key with it and agrees on at least min_agree positions."""
    n = len(sig)
    out = [False] * n
    for i in range(n):
        for j in range(n):
            if (
                i != j
                and account[i] == account[j]
                and n_words[i] > 0
                and n_words[j] > 0
                and candidates(sig, bands, rows_per_band, i, j)
                and agreement(sig[i], sig[j]) >= min_agree
            ):
                out[i] = True
    return out


def key_groups(keys: list[int], min_size: int) -> list[list[int]]:
    """bucket_keys: the positions of each key that at least `min_size` positions hold, in order,
    by increasing key."""
    at: dict[int, list[int]] = {}
    for i, k in enumerate(keys):
        at.setdefault(k, []).append(i)
    return [at[k] for k in sorted(at) if len(at[k]) >= min_size]


def link_pairs(sig, account, prompt_hash, tie, bands, rows_per_band, min_agree, window) -> set:
    """link_bucket_pairs over every band: {(i, j), i < j} of different accounts, verified, that sit
    within `window` places of each other in a bucket ordered by (prompt hash, tie) of the first band
    in which they collide (agree on every position of the band)."""

    def first_band(i, j):
        for b in range(bands):
            lo = b * rows_per_band
            if sig[i][lo : lo + rows_per_band] == sig[j][lo : lo + rows_per_band]:
                return b
        return None

    out = set()
    for b in range(bands):
        buckets: dict = {}
        for i in range(len(sig)):
            buckets.setdefault(band_key(sig[i], b, rows_per_band), []).append(i)
        for members in buckets.values():
            members.sort(key=lambda r: (prompt_hash[r], tie[r]))
            for x in range(len(members)):
                for y in range(x + 1, min(len(members), x + 1 + window)):
                    i, j = members[x], members[y]
                    if account[i] != account[j] and first_band(i, j) == b and agreement(sig[i], sig[j]) >= min_agree:
                        out.add((min(i, j), max(i, j)))
    return out


def component_labels(n: int, edges: list[tuple[int, int]], rank: list[int]) -> list[int]:
    """Per vertex, the smallest rank in its connected component (graph search)."""
    adj: dict[int, set[int]] = {v: set() for v in range(n)}
    for a, b in edges:
        adj[a].add(b)
        adj[b].add(a)
    out: list = [None] * n
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
    out: dict = {}
    for accts in items:
        for a in accts:
            out.setdefault(a, set()).update(accts - {a})
    return {a: len(v) for a, v in out.items()}


# -- phrase search (kernels/reasoning.py) -------------------------------------------------------


def match_phrases(data: bytes | None, phrases: list[bytes]) -> bool:
    """Some non-empty phrase occurs in `data` once ASCII A-Z in `data` is folded to a-z
    (the phrases are compared as given, so an upper-case phrase byte never matches)."""
    if data is None:
        return False
    folded = bytes(b + 32 if 65 <= b <= 90 else b for b in data)
    return any(p and p in folded for p in phrases)


def bottom_k(rows: list[tuple[int, int, int, int]], size: int) -> list[tuple[int, int, int, int, int]]:
    """A prompt sample's compaction: rows (account, hash, count, count0) in their order ->
    (first row's index, account, hash, count sum, count0 sum) of the `size` smallest distinct
    hashes of each account, by account then hash."""
    pairs: dict[tuple[int, int], list[int]] = {}
    for i, (a, h, c, c0) in enumerate(rows):
        got = pairs.setdefault((a, h), [i, 0, 0])
        got[1] += c
        got[2] += c0
    out = []
    for (a, h), (i, c, c0) in sorted(pairs.items()):
        if sum(1 for b, g in pairs if b == a and g < h) < size:
            out.append((i, a, h, c, c0))
    return out
