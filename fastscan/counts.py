"""Exact sparse tables of a per-account state: a count (or a minimum) per (account, key) pair,
e.g. requests per (account, epoch hour), per (account, model), completion tokens per (account,
model), and the first hour of each (account, model) (fastscan.state). Memory grows with the
distinct pairs, never with the records; tables merge exactly, whatever the split of the input.
"""

from __future__ import annotations

import numpy as np

# the largest count a state may hold: its sums are read as float64 (exact to 2**53) where scored
MAX_STATE_COUNT = 1 << 53


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

    def restore(self, keys: np.ndarray, counts: np.ndarray, accounts: int, low_below: int = 1 << 32) -> None:
        """Take a table read back from a state: ValueError unless its keys are sorted, distinct and
        as many as its counts (compact() merges into it as such), each names one of `accounts`
        accounts and a key below `low_below` in its low 32 bits, and no count is negative."""
        if len(keys) != len(counts) or (len(keys) > 1 and not bool(np.all(keys[1:] > keys[:-1]))):
            raise ValueError("state table of unsorted keys or of keys and counts of unequal lengths")
        if len(keys) and (keys[0] < 0 or keys[-1] >> 32 >= accounts or int(counts.min()) < 0):
            raise ValueError("state table of an account it does not name, or of a negative count")
        if len(keys) and int(counts.max()) > MAX_STATE_COUNT:
            raise ValueError("state table of a count past 2**53 (no scan counts so far)")
        if len(keys) and int((keys & 0xFFFFFFFF).max()) >= low_below:
            raise ValueError("state table of a model the state does not name")
        self.keys, self.counts = keys, counts
        self._slot_keys = self._slot_counts = np.zeros(0, dtype=np.int64)
        self._waiting[0] = 0

    def add(self, account: np.ndarray, key: np.ndarray, counts: np.ndarray | None = None) -> None:
        """Count each (account, key) once, or add its `counts`. A pair's key in the table is the
        account above the key's low 32 bits (`kernels.aggregate.accumulate` makes it); int64
        arrays are taken as they are (the state passes them so, once a batch for all its tables)."""
        if counts is not None and len(counts) != len(account):
            raise ValueError(f"{len(account)} keys but {len(counts)} values")
        self._queue(
            np.ascontiguousarray(account, dtype=np.int64),
            np.ascontiguousarray(key, dtype=np.int64),
            _NO_VALUES if counts is None else np.ascontiguousarray(counts, dtype=np.int64),
        )

    def _queue(self, account: np.ndarray, key: np.ndarray, values: np.ndarray) -> None:
        """Add (account, key, value) rows (values empty: 1 each) to the waiting pairs, merging them
        into the table whenever the waiting table is half full."""
        from fastscan.kernels.aggregate import accumulate

        done = 0
        while done < len(account):
            if self._waiting[0] == 0:
                self._size_slots()
            limit = len(self._slot_keys) // 2
            rest = values[done:] if len(values) else values
            slots = (self._slot_keys, self._slot_counts, self._waiting)
            done += accumulate(account[done:], key[done:], rest, self._MINIMUM, *slots, limit)
            if done < len(account):
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
        long over a scan of the bench log). The sort is a radix sort of the keys with their values
        alongside (kernels.buckets.radix_sort; numpy's argsort where a key is negative): on a log
        of 197,458 accounts, whose tables hold millions of pairs, numpy's argsort and the gathers
        by its order took 0.53-0.77 s of a scan on the fold's thread."""
        from fastscan.kernels.aggregate import EMPTY_KEY, merge_counts
        from fastscan.kernels.buckets import radix_sort

        if self._waiting[0] == 0:
            return
        held = np.flatnonzero(self._slot_keys != EMPTY_KEY)
        k = self._slot_keys[held]
        v = self._slot_counts[held]
        self._slot_keys[held] = EMPTY_KEY
        self._waiting[0] = 0
        if not radix_sort(k, np.empty_like(k), v, np.empty_like(v)):  # distinct keys: any sort gives one order
            order = np.argsort(k)
            k, v = k[order], v[order]
        out_k = np.empty(len(self.keys) + len(k), dtype=np.int64)
        out_v = np.empty(len(out_k), dtype=np.int64)
        c = merge_counts(self.keys, self.counts, k, v, self._MINIMUM, out_k, out_v)
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


class SparseMin(SparseCounts):
    """The smallest value per (account index, key) pair, e.g. the first hour an account used each
    model; merges exactly (a minimum of minima). `counts` holds the values."""

    _MINIMUM = True

    def add(self, account: np.ndarray, key: np.ndarray, counts: np.ndarray | None = None) -> None:
        if counts is None:
            raise ValueError("SparseMin.add needs the values")
        super().add(account, key, counts)
