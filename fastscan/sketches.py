"""The prompt sample of a per-account state, which merges exactly whatever the split of the input
(the exact per-(account, key) tables are fastscan.counts).

- `PromptSample`: per account, the S distinct prompts with the smallest prompt hash (a bottom-k
  sketch), each with its exact multiplicity, MinHash signature, word count and skeleton hashes,
  and (only when the scan keeps text, `ScanConfig.keep_text`) the first and last TEXT_BYTES bytes
  of the prompt.
  Bottom-k by a hash is a uniform sample of the distinct prompts that any split of the input
  reproduces exactly; an account with at most S distinct prompts is kept whole. Over a budget of
  distinct prompts for all accounts, every account keeps at most the same smaller number
  (`sample_level`), which any split of the input reproduces too.
"""

from __future__ import annotations

import bisect

import numpy as np

from fastscan.buffers import release_rows, reservable_bytes, reserved_rows
from fastscan.parallel import map_ordered, row_ranges

HOUR_MS = 3_600_000
HOUR_OFFSET = 1 << 25  # hour keys are epoch hours + this (see hour_key)
INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min
UINT64_MAX = np.uint64(0xFFFFFFFFFFFFFFFF)
TEXT_BYTES = 96  # bytes kept from each end of a sampled prompt when a scan keeps text
SIG_DTYPE = np.uint16  # a stored signature value: the low 16 bits of a MinHash minimum (b-bit MinHash)
MAPPED_STORE_BYTES = 4 << 20  # a sample's signature store past this size lives in reserved_rows
MIN_SAMPLE = 64  # distinct prompts an account keeps whatever the budget (or all S, when fewer)


def hour_key(ts_ms: np.ndarray) -> np.ndarray:
    """The key of an epoch hour in the sketches: the hour shifted by HOUR_OFFSET, so every time a
    report can hold (years 1 to 9999, about -17.3 M to 70.4 M hours) is a non-negative 32-bit key
    and nothing depends on where the epoch falls."""
    return np.asarray(ts_ms, dtype=np.int64) // HOUR_MS + HOUR_OFFSET


def key_hour(key: np.ndarray) -> np.ndarray:
    """The epoch hour of a `hour_key`."""
    return np.asarray(key, dtype=np.int64) - HOUR_OFFSET


def prompt_ends(offsets: np.ndarray, data: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """uint8[len(rows), 2 * TEXT_BYTES]: the first TEXT_BYTES bytes of each string at `rows`, then
    its last TEXT_BYTES bytes (all of a shorter string, zero-padded on the right in both halves)."""
    rows = np.asarray(rows, dtype=np.int64)
    out = np.zeros((len(rows), 2 * TEXT_BYTES), dtype=np.uint8)
    if len(rows) == 0 or len(data) == 0:
        return out
    lo, hi = offsets[rows].astype(np.int64), offsets[rows + 1].astype(np.int64)
    step = np.arange(TEXT_BYTES, dtype=np.int64)
    last = len(data) - 1
    for half, start in enumerate((lo, np.maximum(lo, hi - TEXT_BYTES))):
        at = start[:, None] + step
        inside = at < hi[:, None]
        out[:, half * TEXT_BYTES : (half + 1) * TEXT_BYTES] = np.where(inside, data[np.minimum(at, last)], 0)
    return out


_PACKED_SORT_MIN = 1 << 12  # below this many rows, np.lexsort is as fast
_SIGN = np.uint64(1 << 63)  # flipped, a hash's unsigned order is its int64 view's order


def order_by_account_hash(account: np.ndarray, phash: np.ndarray) -> np.ndarray:
    """np.lexsort((phash, account)): rows by account, then prompt hash, rows of equal both in
    their order. From kernels.buckets.hash_order over a packed uint64 key (the account's bits above
    the lowest account, then the hash's top bits) whose ties it breaks by the whole hash (a signed
    key that keeps the unsigned order), then by row: a radix sort of the key's top bits, then each
    run of equal top bits sorted by the rest. On a chunk's 9,500 rows 0.09-0.1 ms, where numpy's
    stable argsort of the packed key took 0.53 (a compaction's 200 K rows: 9 ms against 20). Falls
    back to np.lexsort for few rows, and for accounts below 0 or from 2**32 on."""
    from fastscan.kernels.buckets import hash_order

    n = len(account)
    if n < _PACKED_SORT_MIN:
        return np.lexsort((phash, account))
    lo, hi = int(account.min()), int(account.max())
    if lo < 0 or hi >= 1 << 32:
        return np.lexsort((phash, account))
    # the accounts from the lowest (a log sorted by account has a chunk's few ones next to each
    # other): their top bits spread the keys as the hash's would, where a few high account
    # numbers left one long run of equal top bits to sort
    bits = (hi - lo).bit_length()
    ph = np.ascontiguousarray(phash, dtype=np.uint64)  # the kernel takes contiguous arrays
    rel = (account - lo).astype(np.uint64)
    packed = ph if bits == 0 else (rel << np.uint64(64 - bits)) | (ph >> np.uint64(bits))
    order = np.empty(n, dtype=np.int64)
    hash_order(packed, (ph ^ _SIGN).view(np.int64), order)
    return order


def group_by_account_hash(account: np.ndarray, phash: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(order, starts): the rows in order_by_account_hash's order, and where in it each distinct
    (account, prompt hash) pair starts."""
    order = order_by_account_hash(account, phash)
    a, h = account[order], phash[order]
    first = np.ones(len(order), dtype=np.bool_)
    first[1:] = (a[1:] != a[:-1]) | (h[1:] != h[:-1])
    return order, np.flatnonzero(first)


def sample_level(rows: np.ndarray, size: int, budget: int, least: int) -> int:
    """The most distinct prompts each account may keep, at most `size`, for the sample to hold at
    most `budget` (0: no budget) when the accounts hold rows[a] <= size now: the largest L with
    sum(min(rows, L)) <= budget (water-filling: only the accounts that hold the most give rows
    up), never below `least` (the budget is then exceeded).

    Over all the input, L is the same whatever its split: an account's row count after a
    compaction at level c is min(its distinct prompts so far, c), and the levels only fall, so
    each later one is computed from counts that agree with the final ones up to it (the
    distinct prompts of a piece of the input are at most those of all of it)."""
    rows = np.asarray(rows, dtype=np.int64)
    if budget <= 0 or int(rows.sum()) <= budget or size <= least:
        return size
    per = np.bincount(np.minimum(rows, size), minlength=size + 1)  # accounts by rows held
    below = np.concatenate([[0], np.cumsum(per)])  # below[L]: accounts holding fewer than L
    held = np.concatenate([[0], np.cumsum(per * np.arange(size + 1))])  # their rows
    levels = np.arange(size + 1)
    total = held[levels] + levels * (len(rows) - below[levels])  # sum(min(rows, L)) at each L
    return max(least, int(np.flatnonzero(total <= budget)[-1]))


# The columns of a part of the sample, in the order `add_slots` takes them: the key of a row, the
# counts summed when a prompt meets itself again, and the columns gathered row by row ("slot":
# where the row's signature is in the store; "text" is None in a sample that keeps no text).
_KEYS = ("account", "prompt_hash")
_COUNTS = ("count", "count0")
_WIDE = ("n_words", "head_hash", "tail_hash", "slot", "text")
_AT = {name: i for i, name in enumerate(_KEYS + _COUNTS + _WIDE)}


def _bottom_k(
    account, phash, order, size, count, count0, src, out_account, out_hash, out_count, out_count0, gone, full
):
    """kernels.aggregate.bottom_k, split across the worker threads: `order` in ranges that begin
    where an account does (the kernel's ranks start again at each account), each range's pairs
    written from its own first position and then moved down after the range before. The same
    result as one call. A compaction runs on the fold's thread while the reader waits for room, and
    finish() begins with one: the bench log's last took 26 ms on one core."""
    from fastscan.kernels.aggregate import bottom_k

    n = len(order)
    cuts = [0]
    for lo, _ in row_ranges(n)[1:]:
        at = int(account[order[lo - 1]])  # the range begins after this account's last row
        cut = bisect.bisect_right(order, at, lo=max(lo, cuts[-1]), key=lambda r: int(account[r]))
        if cuts[-1] < cut < n:
            cuts.append(cut)
    cuts.append(n)
    outs = (src, out_account, out_hash, out_count, out_count0)

    def part(i: int) -> int:
        lo, hi = cuts[i], cuts[i + 1]
        return bottom_k(account, phash, order[lo:hi], size, count, count0, *(o[lo:] for o in outs), gone, full[lo:])

    kept = map_ordered(part, range(len(cuts) - 1))
    k = kept[0]
    for lo, got in zip(cuts[1:], kept[1:]):
        for o in (*outs, full):
            o[k : k + got] = o[lo : lo + got]  # lo >= k: a copy down (numpy handles the overlap)
        k += got
    return k


class PromptSample:
    """Per account, the `size` distinct prompts with the smallest prompt hash (bottom-k); `size`
    falls (`sample_level`) when the sample would hold more than `budget` rows after a compaction.

    The rows are in (account, prompt hash) order after `compact`. Their MinHash signatures, most
    of the sample's bytes, stay where they were first written: row i's is store[slot[i]]. A
    compaction reorders the narrow columns only, and the rows it drops free their store rows for
    the next signatures (moving the signatures at each compaction copied 900 MB, in fresh pages,
    over a 2.1 GB log). The store so holds the live rows and those waiting for the next compaction,
    and after one that dropped many rows it is cut back (`_shrink`).

    A signature depends on the text alone, so rows of one text (one prompt hash), whatever their
    accounts, share one store row (`text_slots`: a table from prompt hash to store row, and a count
    of the rows that refer to each store row, which is free again when that falls to 0): a text
    several accounts send is hashed and stored once.
    """

    def __init__(self, size: int, num_perm: int, keep_text: bool = False, budget: int = 0):
        self.size = size  # the most rows an account keeps now
        self.budget = budget  # the most rows of all accounts (0: none), unless each keeps `least`
        self.least = min(size, MIN_SAMPLE)
        self.num_perm = num_perm
        self.account = np.zeros(0, dtype=np.int64)
        self.prompt_hash = np.zeros(0, dtype=np.uint64)
        self.count = np.zeros(0, dtype=np.int64)
        self.count0 = np.zeros(0, dtype=np.int64)  # of `count`, the requests at temperature 0
        self.n_words = np.zeros(0, dtype=np.int32)
        self.head_hash = np.zeros(0, dtype=np.uint64)
        self.tail_hash = np.zeros(0, dtype=np.uint64)
        self.slot = np.zeros(0, dtype=np.int64)  # per row: its signature's row in `store`
        self.store = np.zeros((0, num_perm), dtype=SIG_DTYPE)  # the signatures, in no order
        self._used = 0  # store rows handed out so far (the rest are room to grow into)
        self._mapped = False  # the store is a reserved_rows array
        self._free = np.zeros(0, dtype=np.int64)  # store rows handed out and freed since, ascending
        self._refs = np.zeros(0, dtype=np.int32)  # per store row: the rows (live or waiting) that use it
        self._row_key = np.zeros(0, dtype=np.uint64)  # per store row: the prompt hash of its text
        self._texts = np.zeros(0, dtype=np.int32)  # prompt hash -> store row (kernels.prompts.find_texts)
        self._taken = 0  # entries of the text table taken
        # the first and the last TEXT_BYTES bytes of each prompt, zero-padded; None: no text kept
        self.text = np.zeros((0, 2 * TEXT_BYTES), dtype=np.uint8) if keep_text else None
        self.threshold = np.zeros(0, dtype=np.uint64)  # per account: hashes above are never kept
        self._pending: list[tuple] = []
        self._pending_n = 0
        self._live = 0

    def ensure_accounts(self, n: int) -> None:
        if n > len(self.threshold):
            grow = np.full(max(n, 2 * len(self.threshold)) - len(self.threshold), UINT64_MAX, dtype=np.uint64)
            self.threshold = np.concatenate([self.threshold, grow])

    def reserve(self, m: int) -> np.ndarray:
        """Store rows for m new signatures, freed ones first: the caller writes the signatures
        there (store[slots]), then passes the slots to `add_slots`."""
        reuse = min(m, len(self._free))
        held = self._used
        slots = np.concatenate([self._free[:reuse], np.arange(held, held + m - reuse, dtype=np.int64)])
        self._free = self._free[reuse:]
        self._used += m - reuse
        if self._used > len(self.store):
            self._grow(held)
        if self._used > len(self._refs):
            more = max(self._used, 2 * len(self._refs)) - len(self._refs)
            self._refs = np.concatenate([self._refs, np.zeros(more, dtype=np.int32)])
            self._row_key = np.concatenate([self._row_key, np.zeros(more, dtype=np.uint64)])
        return slots

    def text_slots(self, phash: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Store rows for the signatures of new rows of prompt hashes `phash` -> (slots, fresh): a
        text whose signature the store holds (for a row live or waiting) shares its store row, and
        so do rows of one new text; `fresh` indexes the first row of each new text, whose signature
        the caller writes at store[slots[fresh]] before passing the slots to `add_slots`."""
        from fastscan.kernels.prompts import find_texts

        phash = np.ascontiguousarray(phash, dtype=np.uint64)
        n = len(phash)
        if 2 * (self._taken + n) > len(self._texts):
            self._index_texts(n)
        found, entry = np.empty(n, dtype=np.int32), np.empty(n, dtype=np.int64)
        self._taken += find_texts(phash, self._texts, self._row_key, self._refs, found, entry)
        out = found.astype(np.int64)
        fresh = np.flatnonzero(out == -1 - np.arange(n))
        try:
            rows = self.reserve(len(fresh))
        except BaseException:  # (memory refused) the entries of this call name no row
            self._forget_texts()
            raise
        self._row_key[rows] = phash[fresh]
        self._texts[entry[fresh]] = rows
        new = out < 0
        row_of = np.empty(n, dtype=np.int64)
        row_of[fresh] = rows
        out[new] = row_of[-1 - out[new]]
        return out, fresh

    def _forget_texts(self) -> None:
        """Drop the text table (its rows moved, or marks of a lookup cut short): the next
        text_slots indexes the store rows in use again."""
        self._texts, self._taken = np.zeros(0, dtype=np.int32), 0

    def _index_texts(self, n: int) -> None:
        """A text table with room for the texts of the store rows in use and `n` more, at most a
        quarter full (rebuilt when half full: entries of freed rows are never taken out)."""
        from fastscan.kernels.prompts import FREE_ENTRY, index_texts

        used = np.flatnonzero(self._refs[: self._used] > 0)
        size = 1 << 12
        while size < 4 * (len(used) + n):
            size *= 2
        self._texts = np.full(size, FREE_ENTRY, dtype=np.int32)
        index_texts(used, self._texts, self._row_key)
        self._taken = len(used)

    def _grow(self, held: int) -> None:
        """Room for self._used rows, of which the first `held` hold signatures. A large store
        moves, once, into address space reserved for as many rows as memory holds; a small one (or
        where that is refused) grows in place."""
        row = SIG_DTYPE().itemsize * self.num_perm
        if self._used * row >= MAPPED_STORE_BYTES:
            room = reserved_rows(max(2 * self._used, reservable_bytes() // row), self.num_perm, SIG_DTYPE)
            if room is not None:
                room[:held] = self.store[:held]
                self.store, self._mapped = room, True
                return
        try:
            # realloc: a large block's pages move without being copied (numpy zeroes the new rows)
            self.store.resize((self._used, self.num_perm))
        except ValueError:  # refused while anything else holds the store: a copy, with room
            grown = np.empty((max(self._used, len(self.store) * 3 // 2), self.num_perm), dtype=SIG_DTYPE)
            grown[:held] = self.store[:held]
            self.store, self._mapped = grown, False

    def restore_signatures(self, sig: np.ndarray) -> None:
        """Take the rows' signatures read back from a state (SIG_DTYPE, row after row, in row order)
        as the store. ValueError unless there are num_perm of them per row."""
        if len(sig) != len(self.account) * self.num_perm:
            raise ValueError("state sample of signatures and rows of unequal counts")
        sig.shape = (len(self.account), self.num_perm)  # in place: a reshaped view could not grow
        self.store, self.slot = sig, np.arange(len(self.account), dtype=np.int64)
        self._used, self._free, self._mapped = len(self.account), np.zeros(0, dtype=np.int64), False
        self._refs = np.ones(len(self.account), dtype=np.int32)
        self._row_key = self.prompt_hash.astype(np.uint64)
        self._forget_texts()

    @property
    def store_rows(self) -> int:
        """How many rows of the store are in use (live, waiting or free): store[:store_rows]."""
        return self._used

    def signatures(self) -> np.ndarray:
        """SIG_DTYPE[rows, num_perm]: the rows' signatures in row order (a copy)."""
        self.compact()
        return self.store[self.slot]

    def add(self, account, prompt_hash, count, count0, n_words, head_hash, tail_hash, sig, text=None) -> None:
        """New rows with their signatures (SIG_DTYPE[m, num_perm]; wider values keep their low bits)."""
        slots = self.reserve(len(account))
        self.store[slots] = sig
        self._row_key[slots] = prompt_hash
        self.add_slots(account, prompt_hash, count, count0, n_words, head_hash, tail_hash, slots, text)

    def add_slots(self, account, prompt_hash, count, count0, n_words, head_hash, tail_hash, slot, text=None) -> None:
        """New rows whose signatures are written at store[slot] (slots from `reserve` or `text_slots`)."""
        from fastscan.kernels.prompts import count_refs

        if (text is None) != (self.text is None):
            raise ValueError("prompt text given to a sample that keeps none, or missing from one that does")
        slot = np.asarray(slot, dtype=np.int64)
        count_refs(slot, self._refs, 1, np.empty(0, dtype=np.int64))
        self._pending.append(
            (
                account.astype(np.int64),
                prompt_hash,
                count.astype(np.int64),
                count0.astype(np.int64),
                n_words.astype(np.int32),
                head_hash,
                tail_hash,
                slot,
                text,
            )
        )
        self._pending_n += len(account)
        if self._pending_n > max(1 << 15, self._live):
            self.compact()

    def compact(self) -> None:
        """Fold the pending rows into the live ones: one row per (account, prompt hash), counts
        summed, the `size` smallest hashes of each account kept, in one pass of
        kernels.aggregate.bottom_k (a dozen numpy passes before: the bench log's compactions
        0.29 -> 0.18 s a scan on the fold thread, with the timsort of order_by_account_hash)."""
        if not self._pending:
            return
        parts = [tuple(getattr(self, name) for name in _AT)] + self._pending
        account = np.concatenate([p[_AT["account"]] for p in parts])
        phash = np.concatenate([p[_AT["prompt_hash"]] for p in parts])
        self._pending, self._pending_n = [], 0
        order = self._merged_order(account, phash)
        if order is None:
            order = order_by_account_hash(account, phash)
        n = len(account)
        src, acct, count, count0 = (np.empty(n, dtype=np.int64) for _ in range(4))
        hsh, gone, full = np.empty(n, dtype=np.uint64), np.empty(n, dtype=np.bool_), np.empty(n, dtype=np.bool_)
        c, c0 = (np.concatenate([p[_AT[name]] for p in parts]).astype(np.int64, copy=False) for name in _COUNTS)
        outs = (src, acct, hsh, count, count0, gone, full)
        kept = _bottom_k(account, phash, order, self.size, c, c0, *outs)
        if self.budget and kept > self.budget:
            level = sample_level(np.bincount(acct[:kept]), self.size, self.budget, self.least)
            if level < self.size:  # the same pass at the lower level (it sets every gone[r] again)
                self.size = level
                kept = _bottom_k(account, phash, order, self.size, c, c0, *outs)
        for out_col in (acct, hsh, count, count0):
            out_col.resize(kept, refcheck=False)  # realloc: cut in place (nothing else refers to them)
        rows = src[:kept]
        self.account, self.prompt_hash, self.count, self.count0 = acct, hsh, count, count0
        if gone.any():  # the rows dropped: beyond the sample size, or a prompt met again
            from fastscan.kernels.prompts import count_refs

            dropped = np.concatenate([p[_AT["slot"]] for p in parts])[gone]
            freed = np.empty(len(dropped), dtype=np.int64)  # the store rows no row uses now
            k = count_refs(dropped, self._refs, -1, freed)
            self._free = np.sort(np.concatenate([self._free, freed[:k]]))
        # the other columns: the narrow ones gathered from their concatenation, a column on each
        # worker thread; the text, when kept, is wide (concatenating it first held a third copy)
        # and is gathered from each part straight into its new place
        narrow = [name for name in _WIDE if name != "text"]

        def gathered(pieces: list[np.ndarray]) -> np.ndarray:
            return np.concatenate(pieces, dtype=pieces[0].dtype, casting="unsafe")[rows]

        columns = [[p[_AT[name]] for p in parts] for name in narrow]
        for name, values in zip(narrow, map_ordered(gathered, columns)):
            setattr(self, name, values)
        del columns
        col = _AT["text"]
        if parts[0][col] is not None:  # text kept
            bounds = np.cumsum([0] + [len(p[0]) for p in parts])
            by_part = np.argsort(rows, kind="stable")  # rows of part k: by_part[cut[k]:cut[k + 1]]
            cut = np.searchsorted(rows[by_part], bounds)
            out = np.empty((len(rows),) + parts[0][col].shape[1:], dtype=parts[0][col].dtype)
            for k, p in enumerate(parts):
                sel = by_part[cut[k] : cut[k + 1]]
                if len(sel):
                    out[sel] = p[col][rows[sel] - bounds[k]]
            self.text = out
        del parts
        self._live = len(self.account)
        self._shrink()
        self.ensure_accounts(int(account.max()) + 1 if n else 0)
        at = np.flatnonzero(full[:kept])
        self.threshold[self.account[at]] = self.prompt_hash[at]

    def _merged_order(self, account: np.ndarray, phash: np.ndarray) -> np.ndarray | None:
        """order_by_account_hash of the rows (the live ones, then the pending ones) from a sort of
        the pending rows alone and a merge with the live rows, which a compaction left sorted and
        distinct; None when the live rows are not so (a state read back with its rows out of
        order)."""
        from fastscan.kernels.aggregate import merge_order

        live = len(self.account)
        if live == 0:
            return None
        order = np.empty(len(account), dtype=np.int64)
        new_order = order_by_account_hash(account[live:], phash[live:])
        if not merge_order(account[:live], phash[:live], account[live:], phash[live:], new_order, order):
            return None
        return order

    def _shrink(self) -> None:
        """After a compaction that dropped many rows (more than a quarter of the store rows in use
        and 4,096 besides), the signatures in use move to the store's first rows and the store is
        cut to them: it holds at most 1.25 times the rows in use and 4,096 more between
        compactions. The copy is of rows in use only, and only after as many again were freed."""
        in_use = self._refs[: self._used] > 0
        live = int(np.count_nonzero(in_use))  # store rows in use (no more than the live rows)
        if self._used <= live + live // 4 + 4096:
            return
        move = live + np.flatnonzero(in_use[live:])  # in use, past the first `live`
        if len(move):
            to = np.flatnonzero(self._refs[:live] == 0)  # as many free rows among the first `live`
            self.store[to] = self.store[move]
            self._refs[to], self._row_key[to] = self._refs[move], self._row_key[move]
            new_row = np.arange(self._used, dtype=np.int64)
            new_row[move] = to
            self.slot = new_row[self.slot]
        self._refs[live : self._used] = 0
        self._forget_texts()
        if self._mapped:
            release_rows(self.store, live, self._used)
        else:
            try:
                self.store.resize((live, self.num_perm))
            except ValueError:
                self.store = self.store[:live].copy()
        self._used, self._free = live, np.zeros(0, dtype=np.int64)

    def merge(self, other: PromptSample, mapping: np.ndarray) -> None:
        other.compact()
        if len(other.account):
            self.ensure_accounts(int(mapping.max()) + 1)
            columns = [getattr(other, name) for name in _AT]
            columns[0] = mapping[other.account]
            columns[_AT["slot"]] = other.signatures()  # `add` takes the signatures where the slots go
            self.add(*columns)
        self.compact()

    @property
    def nbytes(self) -> int:
        return (
            self._used * SIG_DTYPE().itemsize * self.num_perm
            + self._free.nbytes
            + self._refs.nbytes
            + self._row_key.nbytes
            + self._texts.nbytes
            + (self.text.nbytes if self.text is not None else 0)
            + self.account.nbytes * 7
            + self.threshold.nbytes
            + sum((p[_AT["text"]].nbytes if p[_AT["text"]] is not None else 0) + 56 * len(p[0]) for p in self._pending)
        )
