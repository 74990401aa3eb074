"""Names (entity ids, model names) numbered in the order they first come, a batch at a time.

A state numbers its accounts and models by first appearance. Numbering a batch's names through
a Python dict built a Python string per distinct name of every batch and hashed it: on the 2.1 GB
bench log (1.05 M records, about 8,000 distinct accounts a batch) 66-76 ms per 60 batches,
against 46-49 ms this way.
`NameTable` keeps the known names' UTF-8 bytes in a hash table of its own and numbers a batch's
string column in one kernel call (`kernels.aggregate.number_names`), making Python strings only
of the names it has not seen before.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from fastscan.buffers import as_array, grown, string_buffers

__all__ = ["NameTable"]


class NameTable:
    """Distinct names, numbered from 0 in the order they first came: `names` (the Python strings,
    in number order) and `index` (name -> number) for everything outside the fold; the same
    names' bytes in a hash table for `number`. With keep_names=False neither `names` nor `index`
    is kept (a table that only numbers): `new` then holds the names the last call met first."""

    def __init__(self, names: list[str] | None = None, keep_names: bool = True):
        self.names: list[str] = []
        self.index: dict[str, int] = {}
        self.new: list[str] = []
        self._keep = keep_names
        self._count = 0
        # small to start (a state's counted size starts from them), doubled as names come
        self._table = np.full(1 << 4, -1, dtype=np.int64)
        self._off = np.zeros(1 << 3, dtype=np.int64)  # known name k: _data[_off[k]:_off[k + 1]]
        self._data = np.zeros(1 << 8, dtype=np.uint8)
        self._hash = np.zeros(1 << 3, dtype=np.uint64)
        if names:
            self.number_list(names)

    def __len__(self) -> int:
        return self._count

    def number(self, arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """int32 per value of a string array: its name's number, new names numbered in the order
        they come. A null is the empty name."""
        off, data, valid = string_buffers(arr)
        if not valid.all() and (off[1:][~valid] != off[:-1][~valid]).any():
            # a null that holds bytes (Arrow allows it): made empty, a copy of the column
            off, data, _ = string_buffers(as_array(arr).fill_null(""))
        return self.number_buffers(off, data)

    def number_list(self, names: list[str]) -> np.ndarray:
        """`number` for a list of Python strings."""
        return self.number(pa.array(names, pa.string())) if names else np.zeros(0, dtype=np.int32)

    def number_buffers(self, off: np.ndarray, data: np.ndarray) -> np.ndarray:
        """`number` for the strings data[off[i]:off[i + 1]] (int64 offsets, uint8 data)."""
        from fastscan.kernels.aggregate import number_names, place_names

        n = len(off) - 1
        out = np.empty(n, dtype=np.int32)
        known = np.array([self._count], dtype=np.int64)
        done = 0
        while done < n:
            done += number_names(off[done:], data, self._table, self._off, self._data, self._hash, known, out[done:])
            k = int(known[0])
            if done < n:  # a new name found no room: make it, then go on from that row
                if k + 1 >= 1 << 31:
                    raise ValueError(f"more than {(1 << 31) - 1:,} distinct names")
                if 2 * (k + 1) > len(self._table):
                    self._table = np.full(2 * len(self._table), -1, dtype=np.int64)
                    place_names(self._table, self._hash, k)
                self._off, self._hash = grown(self._off, k + 2), grown(self._hash, k + 1)
                self._data = grown(self._data, int(self._off[k] + off[done + 1] - off[done]))
        first, self._count = self._count, int(known[0])
        self.new = _decoded(self._data, self._off, first, self._count)
        if self._keep:
            self.index.update(zip(self.new, range(first, self._count)))
            self.names.extend(self.new)
        return out

    @property
    def nbytes(self) -> int:
        """The table's arrays (not the Python strings)."""
        return self._table.nbytes + self._off.nbytes + self._data.nbytes + self._hash.nbytes


_FEW = 16  # fewer new names are decoded one by one (Arrow's own setup costs more)


def _decoded(data: np.ndarray, off: np.ndarray, lo: int, hi: int) -> list[str]:
    """Names lo..hi-1 (data[off[k]:off[k + 1]], UTF-8) as Python strings: through Arrow, which
    makes them in C. One by one, a numpy slice, its bytes and their decoding each took 0.21 s for
    the 197,458 accounts of the swarm log. Invalid UTF-8 raises UnicodeDecodeError either way."""
    if hi - lo < _FEW:
        return [data[off[k] : off[k + 1]].tobytes().decode("utf-8") for k in range(lo, hi)]
    rel = off[lo : hi + 1] - off[lo]
    text = pa.py_buffer(data[off[lo] : off[hi]])
    return pa.LargeStringArray.from_buffers(hi - lo, pa.py_buffer(rel), text).to_pylist()
