"""The scan's text work on a batch of prompts, each prompt tokenized once.

`prompt_pass` reads each prompt's bytes once for its words (kernels.text: exact hash, word
count, skeleton hashes, and every word hash kept in a buffer) and, while those bytes are still in
the cache, for the reasoning phrases (kernels.reasoning); a text it met shortly before (its memo)
it only hashes. `minhash_from_words` then computes the MinHash signatures of the prompts that
enter the sample from the kept word hashes, without tokenizing them again. Results are those of
`unfused.hash_prompts`, `unfused.match_phrases` and `unfused.minhash_signatures` on the same
strings, bit for bit. `find_texts`, `index_texts` and `count_refs` keep the prompt sample's
table from a text to the store row of its signature (fastscan.sketches.PromptSample.text_slots),
so that a text many accounts send is hashed once.
"""

from __future__ import annotations

import numpy as np
from numba import types

from fastscan.kernels._jit import helper, kernel, ro, rw, rw2
from fastscan.kernels.bits import prefetch
from fastscan.kernels.hashing import xxh64
from fastscan.kernels.reasoning import has_phrase, phrase_filter
from fastscan.kernels.text import TOKENIZER_PAD, _minhash_rows, _shingle_keys, _word_hashes_in, skeleton

_i64ro = ro(types.int64)

MEMO_ROWS = 1 << 18  # entries of a memo of prompt_pass (8 MiB; fastscan.prepared lends them)
_U1 = np.uint64(1)
_LOW32 = np.uint64(0xFFFFFFFF)
_LEN_SHIFT = np.uint64(33)
_LONGEST_MEMO = 1 << 30  # a longer text is not kept in a memo (its length would not fit)


@helper
def _prompt_rows(offsets, data, valid, skeleton_words, phrases, outs, word_base, word_start, words, memo, pad):
    """prompt_pass's loops over the rows, once its phrase filter is built. Without numba's
    reference counting (a helper): a row's view of the word buffer and the inlined helpers' array
    arguments each took an atomic increment and decrement of an array's count, per prompt.
    phrases: the phrase table and its filter (reasoning.phrase_filter); outs: prompt_pass's
    outputs, in its order; pad: room for _word_hashes_in's copies."""
    out_prompt_hash, out_n_words, out_head_hash, out_tail_hash, out_phrase = outs
    pat_offsets, pat_data, shortest, block, shift, bucket_count, by_bucket = phrases
    n = offsets.shape[0] - 1
    p = min(max(skeleton_words, 1), 64)
    slots = memo.shape[0]
    bits = 0  # a slot is the hash's top `bits` bits: 2^bits <= slots
    while (2 << bits) <= slots:
        bits += 1
    top = np.uint64(64 - max(bits, 1))
    for r in range(n):  # the hashes first: each row's memo slot can then be asked for ahead
        out_prompt_hash[r] = xxh64(data, offsets[r], offsets[r + 1]) if valid[r] else np.uint64(0)
    cursor = word_base
    for r in range(n):
        word_start[r] = cursor
        if not valid[r]:
            out_head_hash[r] = 0
            out_tail_hash[r] = 0
            out_n_words[r] = -1
            out_phrase[r] = False
            continue
        lo = offsets[r]
        hi = offsets[r + 1]
        h = out_prompt_hash[r]
        t = 0
        if slots > 0:
            if r + 8 < n and bits > 0:
                prefetch(memo, np.int64(out_prompt_hash[r + 8] >> top) * 4)
            t = np.int64(h >> top) if bits > 0 else 0
            facts = memo[t, 1]
            if memo[t, 0] == h and np.int64(facts >> _LEN_SHIFT) == hi - lo:
                out_n_words[r] = np.int32((facts >> _U1) & _LOW32)
                out_phrase[r] = (facts & _U1) != 0
                out_head_hash[r] = memo[t, 2]
                out_tail_hash[r] = memo[t, 3]
                word_start[r] = -1
                continue
        buf = words[cursor:]
        count = _word_hashes_in(data, lo, hi, buf, pad)
        out_n_words[r] = count
        out_head_hash[r], out_tail_hash[r] = skeleton(buf, count, p)
        out_phrase[r] = has_phrase(data, lo, hi, shortest, block, shift, bucket_count, by_bucket, pat_offsets, pat_data)
        if slots > 0 and hi - lo < _LONGEST_MEMO:
            memo[t, 0] = h
            memo[t, 1] = (np.uint64(hi - lo) << _LEN_SHIFT) | (np.uint64(count) << _U1) | np.uint64(out_phrase[r])
            memo[t, 2] = out_head_hash[r]
            memo[t, 3] = out_tail_hash[r]
        cursor += count


@kernel(
    types.void(
        _i64ro,
        ro(types.uint8),
        ro(types.boolean),
        types.int64,
        _i64ro,
        ro(types.uint8),
        rw(types.uint64),
        rw(types.int32),
        rw(types.uint64),
        rw(types.uint64),
        rw(types.boolean),
        types.int64,
        rw(types.int64),
        rw(types.uint64),
        rw2(types.uint64),
    )
)
def prompt_pass(
    offsets,
    data,
    valid,
    skeleton_words,
    pat_offsets,
    pat_data,
    out_prompt_hash,
    out_n_words,
    out_head_hash,
    out_tail_hash,
    out_phrase,
    word_base,
    word_start,
    words,
    memo,
):
    """hash_prompts and match_phrases of each string in one pass, keeping the word hashes.

    offsets : int64[n + 1] (absolute positions in data), valid : bool[n]; pat_offsets, pat_data:
    the phrase table (reasoning.phrase_table); outputs as hash_prompts' and match_phrases'.
    The word hashes of string r go to words[word_start[r] : word_start[r] + out_n_words[r]], from
    word_start[0] = word_base; words needs word_base + (offsets[n] - offsets[0]) + 1 slots (a word
    is at least one byte).

    memo : uint64[S, 4], S a power of two (or 0 rows: none), the facts of texts met before: entry
    [prompt hash, byte length << 33 | words << 1 | phrase, head hash, tail hash] at the slot of
    the hash's top bits. A text whose hash and length are in its slot takes its word count,
    skeleton hashes and phrase from there; it is neither tokenized nor searched for phrases, and
    keeps no word hashes: word_start[r] = -1 (minhash_from_words tokenizes it if it needs them).
    Any other text's facts replace its slot's. The results are those of an empty memo, bit for
    bit (the text's identity is its hash, as for the sample's signatures; its length must agree
    too), so a memo serves every call with the same skeleton_words and phrase table, whatever
    the texts.
    In a scan of the bench log, 35% of the prompts' bytes are memo hits.
    """
    # room for a zero-padded copy of the texts that end too near the buffer's end to be read past
    near_end = 0
    for r in range(offsets.shape[0] - 1):
        if valid[r] and offsets[r + 1] + TOKENIZER_PAD > data.shape[0]:
            near_end = max(near_end, offsets[r + 1] - offsets[r])
    pad = np.zeros(near_end + TOKENIZER_PAD, dtype=np.uint8)
    phrases = (pat_offsets, pat_data, *phrase_filter(pat_offsets, pat_data))
    outs = (out_prompt_hash, out_n_words, out_head_hash, out_tail_hash, out_phrase)
    _prompt_rows(offsets, data, valid, skeleton_words, phrases, outs, word_base, word_start, words, memo, pad)


_u32ro = ro(types.uint32)


@helper
def _minhash_loop(word_start, n_words, words, rows, k, a, b, out, out_rows, offsets, data, xs, own, pad):
    """minhash_from_words' loop over the strings, given its buffers; without reference counting
    (a helper), which took an atomic increment and decrement a string for its view of `words`."""
    for i in range(rows.shape[0]):
        r = rows[i]
        if word_start[r] < 0:
            got = _word_hashes_in(data, offsets[r], offsets[r + 1], own, pad)
            m = _shingle_keys(own, got, k, xs)
        else:
            m = _shingle_keys(words[word_start[r] :], n_words[r], k, xs)
        _minhash_rows(xs, m, a, b, out, out_rows[i])


@kernel(
    types.void(
        _i64ro,
        ro(types.int32),
        ro(types.uint64),
        _i64ro,
        types.int64,
        _u32ro,
        _u32ro,
        rw2(types.uint16),
        _i64ro,
        _i64ro,
        ro(types.uint8),
    )
)
def minhash_from_words(word_start, n_words, words, rows, k, a, b, out, out_rows, offsets, data):
    """out[out_rows[i]] = the MinHash signature of string rows[i] from the word hashes prompt_pass
    kept: the low 16 bits of each value of minhash_signatures' result, without the tokenizer; a
    string without words (or null) gets all 0xFFFF. A string whose words prompt_pass kept none of
    (word_start -1: its memo knew the text) is tokenized here, from data[offsets[r]:offsets[r + 1]]."""
    most = 0
    longest = 0  # bytes of the longest string to tokenize here
    for i in range(rows.shape[0]):
        r = rows[i]
        most = max(most, n_words[r])
        if word_start[r] < 0:
            longest = max(longest, offsets[r + 1] - offsets[r])
    xs = np.empty(most + 1, dtype=np.uint32)
    own = np.empty(longest + 1, dtype=np.uint64)  # a word is at least a byte
    pad = np.zeros(longest + TOKENIZER_PAD, dtype=np.uint8)
    _minhash_loop(word_start, n_words, words, rows, k, a, b, out, out_rows, offsets, data, xs, own, pad)


FREE_ENTRY = np.iinfo(np.int32).min  # a free entry of a text table


@kernel(
    types.int64(ro(types.uint64), rw(types.int32), ro(types.uint64), ro(types.int32), rw(types.int32), rw(types.int64))
)
def find_texts(keys, table, row_key, refs, out, at):
    """Where each text of `keys` (prompt hashes) has its signature. The table (open addressing on
    the key's high bits, a power of two of entries, FREE_ENTRY where free) names store rows; an
    entry's key is row_key[row], so an entry takes 4 bytes. out[i] = the row the table gives for
    keys[i] when that row is in use (refs[row] > 0); else -1 - j, j the first i of this call with
    that key, whose entry now says -1 - j and sits at table[at[j]] (the caller writes the row it
    gives the text there). Returns how many free entries were taken."""
    mask = table.shape[0] - 1
    taken = 0
    for i in range(keys.shape[0]):
        key = keys[i]
        t = np.int64(key >> np.uint64(32)) & mask
        while True:
            e = table[t]
            if e == FREE_ENTRY:
                break
            if e >= 0:
                if e < row_key.shape[0] and row_key[e] == key:
                    break
            elif -1 - e < i and keys[-1 - e] == key:  # (a mark an unfinished call left: passed over)
                break
            t = (t + 1) & mask
        e = table[t]
        if e != FREE_ENTRY and (e < 0 or refs[e] > 0):  # a text in the store, or met earlier in this call
            out[i] = e
            continue
        if e == FREE_ENTRY:
            taken += 1
        table[t] = -1 - i  # a new text, or one whose row was freed since
        out[i] = -1 - i
        at[i] = t
    return taken


@kernel(types.void(ro(types.int64), rw(types.int32), ro(types.uint64)))
def index_texts(rows, table, row_key):
    """The table entry of the text of each store row of `rows` (see find_texts) names it."""
    mask = table.shape[0] - 1
    for i in range(rows.shape[0]):
        r = rows[i]
        key = row_key[r]
        t = np.int64(key >> np.uint64(32)) & mask
        while table[t] != FREE_ENTRY and not (table[t] >= 0 and row_key[table[t]] == key):
            t = (t + 1) & mask
        table[t] = r


@kernel(types.int64(ro(types.int64), rw(types.int32), types.int32, rw(types.int64)))
def count_refs(rows, refs, step, freed):
    """refs[rows[i]] += step for each i; the rows whose count falls to 0 go to `freed` (each once,
    in no order, as many as it holds); returns how many."""
    n = 0
    for i in range(rows.shape[0]):
        r = rows[i]
        refs[r] += step
        if refs[r] == 0 and n < freed.shape[0]:
            freed[n] = r
            n += 1
    return n
