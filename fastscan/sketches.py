"""The sketches a per-account state is made of; both merge exactly, whatever the split of the input.

- `SparseCounts`: exact counts per (account, key), e.g. requests per (account, epoch hour), per
  (account, model), completion tokens per (account, model), and requests per (account, model,
  epoch hour) (key = model << 20 | hour: when each account first used each model); memory grows
  with distinct pairs, never with records;
- `PromptSample`: per account, the S distinct prompts with the smallest prompt hash (a bottom-k
  sketch), each with its exact multiplicity, MinHash signature, word count and skeleton hashes,
  and (only when the scan keeps text, `ScanConfig.keep_text`) the first and last TEXT_BYTES bytes
  of the prompt.
  Bottom-k by a hash is a uniform sample of the distinct prompts that any split of the input
  reproduces exactly; an account with at most S distinct prompts is kept whole.
"""

from __future__ import annotations

import numpy as np

from fastscan.buffers import release_rows, reservable_bytes, reserved_rows

HOUR_MS = 3_600_000
HOUR_OFFSET = 1 << 25  # hour keys are epoch hours + this (see hour_key)
INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min
UINT64_MAX = np.uint64(0xFFFFFFFFFFFFFFFF)
TEXT_BYTES = 96  # bytes kept from each end of a sampled prompt when a scan keeps text
SIG_DTYPE = np.uint16  # a stored signature value: the low 16 bits of a MinHash minimum (b-bit MinHash)
MAPPED_STORE_BYTES = 4 << 20  # a sample's signature store past this size lives in reserved_rows


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


class SparseCounts:
    """Exact counts per (account index, key) pair, kept as sorted unique int64 pairs.

    New pairs wait in a hash table of distinct pairs (`kernels.aggregate.accumulate`: one probe a
    row, no sort), which is sorted and merged into the table when it is half full or read; it has
    as many slots as the table has pairs (65,536 at least, a power of two), so a merge, which
    reads the whole table, brings in at least half as many new pairs. Account indices are >= 0
    (the table's free slot is the pair of account -2**31 and key 0)."""

    _MIN_SLOTS = 1 << 16

    def __init__(self):
        self.keys = np.zeros(0, dtype=np.int64)  # account << 32 | key
        self.counts = np.zeros(0, dtype=np.int64)
        self._slot_keys = np.zeros(0, dtype=np.int64)  # the waiting pairs (EMPTY_KEY: a free slot)
        self._slot_counts = np.zeros(0, dtype=np.int64)
        self._waiting = np.zeros(1, dtype=np.int64)  # how many pairs wait

    def restore(self, keys: np.ndarray, counts: np.ndarray) -> None:
        """Take a table read back from a state: ValueError unless its keys are sorted, distinct and
        as many as its counts (compact() merges into it as such)."""
        if len(keys) != len(counts) or (len(keys) > 1 and not bool(np.all(keys[1:] > keys[:-1]))):
            raise ValueError("state table of unsorted keys or of keys and counts of unequal lengths")
        self.keys, self.counts = keys, counts
        self._slot_keys = self._slot_counts = np.zeros(0, dtype=np.int64)
        self._waiting[0] = 0

    @staticmethod
    def pack(account: np.ndarray, key: np.ndarray) -> np.ndarray:
        return (account.astype(np.int64) << 32) | (key.astype(np.int64) & 0xFFFFFFFF)

    def add(self, account: np.ndarray, key: np.ndarray, counts: np.ndarray | None = None) -> None:
        """Count each (account, key) once, or add its `counts`."""
        if counts is not None and len(counts) != len(account):
            raise ValueError(f"{len(account)} keys but {len(counts)} values")
        self._queue(self.pack(account, key), _NO_VALUES if counts is None else counts)

    def _queue(self, packed: np.ndarray, values: np.ndarray) -> None:
        """Add (packed key, value) pairs (values empty: 1 each) to the waiting pairs, merging them
        into the table whenever the waiting table is half full."""
        from fastscan.kernels.aggregate import accumulate

        values = np.ascontiguousarray(values, dtype=np.int64)
        done = 0
        while done < len(packed):
            if self._waiting[0] == 0:
                self._size_slots()
            limit = len(self._slot_keys) // 2
            rest = values[done:] if len(values) else values
            done += accumulate(
                packed[done:], rest, self._MINIMUM, self._slot_keys, self._slot_counts, self._waiting, limit
            )
            if done < len(packed):
                self._merge_waiting()

    def _size_slots(self) -> None:
        """Give the empty waiting table as many slots as the table has pairs (a power of two, at
        least _MIN_SLOTS), keeping the one it has when that is the size."""
        from fastscan.kernels.aggregate import EMPTY_KEY

        size = self._MIN_SLOTS
        while size < len(self.keys):
            size *= 2
        if len(self._slot_keys) != size:
            self._slot_keys = np.full(size, EMPTY_KEY, dtype=np.int64)
            self._slot_counts = np.zeros(size, dtype=np.int64)

    _MINIMUM = False  # compact() keeps the sum of a key's values (SparseMin: the smallest)

    def compact(self) -> None:
        """Merge the waiting pairs into the table and give back the waiting table's memory (the
        next add makes a new one): what a state does when a scan stops folding batches."""
        self._merge_waiting()
        self._slot_keys = self._slot_counts = np.zeros(0, dtype=np.int64)

    def _merge_waiting(self) -> None:
        """Fold the waiting pairs into the table: one sort of the waiting pairs alone, then a merge
        with the table, which is sorted already (sorting the table again with them took 1.6x as
        long over a scan of the bench log)."""
        from fastscan.kernels.aggregate import EMPTY_KEY, merge_counts

        if self._waiting[0] == 0:
            return
        held = np.flatnonzero(self._slot_keys != EMPTY_KEY)
        k = self._slot_keys[held]
        v = self._slot_counts[held]
        self._slot_keys[held] = EMPTY_KEY
        self._waiting[0] = 0
        order = np.argsort(k)  # distinct keys: any sort gives the one order
        out_k = np.empty(len(self.keys) + len(k), dtype=np.int64)
        out_v = np.empty(len(out_k), dtype=np.int64)
        c = merge_counts(self.keys, self.counts, k[order], v[order], self._MINIMUM, out_k, out_v)
        self.keys = out_k[:c].copy()
        self.counts = out_v[:c].copy()

    def remapped(self, mapping: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(account, key, count) with accounts renumbered through `mapping`."""
        self.compact()
        acct = (self.keys >> 32).astype(np.int64)
        key = self.keys & 0xFFFFFFFF
        return mapping[acct], key, self.counts

    def merge(self, other: SparseCounts, mapping: np.ndarray) -> None:
        a, k, c = other.remapped(mapping)
        if len(a):
            self.add(a, k, c)

    def items(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(account, key, count) sorted by account then key."""
        self.compact()
        return (self.keys >> 32).astype(np.int64), (self.keys & 0xFFFFFFFF).astype(np.int64), self.counts

    @property
    def nbytes(self) -> int:
        return self.keys.nbytes + self.counts.nbytes + self._slot_keys.nbytes + self._slot_counts.nbytes


_NO_VALUES = np.zeros(0, dtype=np.int64)  # accumulate's "1 each"


_PACKED_SORT_MIN = 1 << 12  # below this many rows, np.lexsort is as fast


def order_by_account_hash(account: np.ndarray, phash: np.ndarray) -> np.ndarray:
    """np.lexsort((phash, account)): rows by account, then prompt hash, rows of equal both in
    their order. From one stable argsort (timsort) of a packed uint64 key (the account's bits, then
    the hash's top bits), where lexsort runs two stable merge sorts (about 3x slower on a million
    rows); timsort is as fast as numpy's SIMD quicksort on random keys and 2.5x as fast on keys in
    sorted runs, as a compaction's pending batches come. Rows whose packed keys tie are then put
    in that exact order apart (rare: equal prompts of one account, or hashes that agree on their
    top bits). Falls back to np.lexsort for few rows, and for accounts below 0 or from 2**32 on."""
    n = len(account)
    if n < _PACKED_SORT_MIN:
        return np.lexsort((phash, account))
    lo, hi = int(account.min()), int(account.max())
    if lo < 0 or hi >= 1 << 32:
        return np.lexsort((phash, account))
    bits = hi.bit_length()
    ph = phash.astype(np.uint64, copy=False)
    packed = ph if bits == 0 else (account.astype(np.uint64) << np.uint64(64 - bits)) | (ph >> np.uint64(bits))
    order = np.argsort(packed, kind="stable")
    sp = packed[order]
    tie = sp[1:] == sp[:-1]
    if tie.any():
        # the positions of each run of equal packed keys, in order of run, then hash, then row
        in_run = np.zeros(n, dtype=np.bool_)
        in_run[1:] |= tie
        in_run[:-1] |= tie
        run = np.cumsum(np.r_[True, ~tie])
        at = np.flatnonzero(in_run)
        rows = order[at]
        order[at] = rows[np.lexsort((rows, ph[rows], run[at]))]
    return order


def group_by_account_hash(account: np.ndarray, phash: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(order, starts): the rows in order_by_account_hash's order, and where in it each distinct
    (account, prompt hash) pair starts."""
    order = order_by_account_hash(account, phash)
    a, h = account[order], phash[order]
    first = np.ones(len(order), dtype=np.bool_)
    first[1:] = (a[1:] != a[:-1]) | (h[1:] != h[:-1])
    return order, np.flatnonzero(first)


# The columns of a part of the sample, in the order `add_slots` takes them: the key of a row, the
# counts summed when a prompt meets itself again, and the columns gathered row by row ("slot":
# where the row's signature is in the store; "text" is None in a sample that keeps no text).
_KEYS = ("account", "prompt_hash")
_COUNTS = ("count", "count0")
_WIDE = ("n_words", "head_hash", "tail_hash", "slot", "text")
_AT = {name: i for i, name in enumerate(_KEYS + _COUNTS + _WIDE)}


class PromptSample:
    """Per account, the `size` distinct prompts with the smallest prompt hash (bottom-k).

    The rows are in (account, prompt hash) order after `compact`. Their MinHash signatures, most
    of the sample's bytes, stay where they were first written: row i's is store[slot[i]]. A
    compaction reorders the narrow columns only, and the rows it drops free their store rows for
    the next signatures (moving the signatures at each compaction copied 900 MB, in fresh pages,
    over a 2.1 GB log). The store so holds the live rows and those waiting for the next compaction,
    and after one that dropped many rows it is cut back (`_shrink`).
    """

    def __init__(self, size: int, num_perm: int, keep_text: bool = False):
        self.size = size
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
        return slots

    def _grow(self, held: int) -> None:
        """Room for self._used rows, of which the first `held` hold signatures. A large store
        moves, once, into address space reserved for as many rows as memory holds; a small one
        (or where that is refused) grows in place."""
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
        self.add_slots(account, prompt_hash, count, count0, n_words, head_hash, tail_hash, slots, text)

    def add_slots(self, account, prompt_hash, count, count0, n_words, head_hash, tail_hash, slot, text=None) -> None:
        """New rows whose signatures are written at store[slot] (slots from `reserve`)."""
        if (text is None) != (self.text is None):
            raise ValueError("prompt text given to a sample that keeps none, or missing from one that does")
        self._pending.append(
            (
                account.astype(np.int64),
                prompt_hash,
                count.astype(np.int64),
                count0.astype(np.int64),
                n_words.astype(np.int32),
                head_hash,
                tail_hash,
                np.asarray(slot, dtype=np.int64),
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
        from fastscan.kernels.aggregate import bottom_k

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
        kept = bottom_k(account, phash, order, self.size, c, c0, src, acct, hsh, count, count0, gone, full)
        for out_col in (acct, hsh, count, count0):
            out_col.resize(kept, refcheck=False)  # realloc: cut in place (nothing else refers to them)
        rows = src[:kept]
        self.account, self.prompt_hash, self.count, self.count0 = acct, hsh, count, count0
        if gone.any():  # the rows dropped: beyond the sample size, or a prompt met again
            freed = np.concatenate([p[_AT["slot"]] for p in parts])[gone]
            self._free = np.sort(np.concatenate([self._free, freed]))
        # the other columns: the narrow ones gathered from their concatenation; the text, when
        # kept, is wide (concatenating it first held a third copy) and is gathered from each part
        # straight into its new place
        for name in _WIDE:
            col = _AT[name]
            if parts[0][col] is None:
                continue  # no text kept
            dtype = parts[0][col].dtype
            if name != "text":
                setattr(self, name, np.concatenate([p[col] for p in parts], dtype=dtype, casting="unsafe")[rows])
                continue
            bounds = np.cumsum([0] + [len(p[0]) for p in parts])
            by_part = np.argsort(rows, kind="stable")  # rows of part k: by_part[cut[k]:cut[k + 1]]
            cut = np.searchsorted(rows[by_part], bounds)
            out = np.empty((len(rows),) + parts[0][col].shape[1:], dtype=dtype)
            for k, p in enumerate(parts):
                sel = by_part[cut[k] : cut[k + 1]]
                if len(sel):
                    out[sel] = p[col][rows[sel] - bounds[k]]
            setattr(self, name, out)
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
        """After a compaction that dropped many rows (more than a quarter of the live ones and
        4,096 besides), the live rows' signatures move to the store's first rows and the store is
        cut to them: it holds at most 1.25 times the live rows and 4,096 more between compactions.
        The copy is of live rows only, and only after as many rows again were dropped."""
        live = len(self.slot)
        if self._used <= live + live // 4 + 4096:
            return
        move = np.flatnonzero(self.slot >= live)  # live rows whose signature sits past the first `live`
        if len(move):
            taken = np.zeros(live, dtype=np.bool_)
            taken[self.slot[self.slot < live]] = True
            to = np.flatnonzero(~taken)  # as many free rows among the first `live` as rows to move
            self.store[to] = self.store[self.slot[move]]
            self.slot[move] = to
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
            + (self.text.nbytes if self.text is not None else 0)
            + self.account.nbytes * 7
            + self.threshold.nbytes
            + sum((p[_AT["text"]].nbytes if p[_AT["text"]] is not None else 0) + 56 * len(p[0]) for p in self._pending)
        )


class SparseMin(SparseCounts):
    """The smallest value per (account index, key) pair, e.g. the first hour an account used each
    model; merges exactly (a minimum of minima). `counts` holds the values."""

    _MINIMUM = True

    def add(self, account: np.ndarray, key: np.ndarray, counts: np.ndarray | None = None) -> None:
        if counts is None:
            raise ValueError("SparseMin.add needs the values")
        super().add(account, key, counts)
