"""NameTable: names numbered in the order they first come, against a Python dict doing the same."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from fastscan.names import NameTable
from fastscan.state import AccountState


def numbered_by_dict(batches: list[list]) -> tuple[list[list[int]], list[str]]:
    index: dict[str, int] = {}
    out = []
    for batch in batches:
        out.append([index.setdefault("" if name is None else name, len(index)) for name in batch])
    return out, list(index)


def test_numbers_follow_first_appearance_across_batches_and_growth():
    """Thousands of names (the table, the offsets and the bytes all grow several times within a
    batch), names that are prefixes of others, the empty name and nulls, non-ASCII text, one name
    longer than all the bytes held before it, and a batch sliced out of a larger array."""
    rng = np.random.default_rng(7)
    pool = [f"acct-{i}" for i in range(3000)] + ["", "a", "ab", "abc", "é", "éé", "账户", "x" * 10_000]
    batches = []
    for size in (1, 5, 2500, 40, 6000, 3):
        picks = rng.integers(0, len(pool) + 1, size)
        batches.append([pool[i] if i < len(pool) else None for i in picks])
    expected, names = numbered_by_dict(batches)
    table = NameTable()
    for batch, want in zip(batches, expected):
        padded = pa.array(["pad"] + batch + ["pad"], pa.string()).slice(1, len(batch))
        got = table.number(padded)
        assert got.dtype == np.int32 and got.tolist() == want
    assert table.names == names and table.index == {n: i for i, n in enumerate(names)}
    assert table.number(pa.array([], pa.string())).tolist() == []


def test_lists_and_arrays_number_alike_and_a_table_can_start_from_names():
    table = NameTable(["b", "a"])
    assert table.number_list(["a", "c", "b", "c"]).tolist() == [1, 2, 0, 2]
    assert table.number(pa.chunked_array([["c"], ["d", "a"]])).tolist() == [2, 3, 1]
    assert table.names == ["b", "a", "c", "d"] and len(table) == 4
    assert NameTable().number_list([]).tolist() == []
    # a null is the empty name, even where its slot spans bytes (Arrow leaves them undefined)
    offsets, data = pa.py_buffer(np.array([0, 3, 6], np.int32)), pa.py_buffer(b"abcdef")
    valid = pa.py_buffer(np.packbits([1, 0], bitorder="little"))
    assert NameTable(["def"]).number(pa.StringArray.from_buffers(2, offsets, data, valid)).tolist() == [1, 2]


def test_state_numbers_accounts_and_models_and_reads_them_back(tmp_path):
    st = AccountState()
    assert st._map_ids(pa.array(["u2", "u1", "u2"])).tolist() == [0, 1, 0]
    assert st._map_models(pa.array([None, "m", None])).tolist() == [0, 1, 0]
    assert st.ids == ["u2", "u1"] and st.index == {"u2": 0, "u1": 1} and st.models == ["", "m"]
    back = AccountState.from_bytes(st.to_bytes())
    assert back.ids == st.ids and back.models == st.models
    assert back._map_ids(["u1", "u3"]).tolist() == [1, 2]  # the table read back numbers as before


def test_a_state_naming_an_account_twice_is_refused():
    st = AccountState()
    st._map_ids(["u1", "u2"])
    raw = st.to_bytes()
    # the same state with its second id renamed to the first (same length, so the bytes align)
    bad = raw.replace(b"u2", b"u1")
    with pytest.raises(ValueError, match="names an account or a model twice"):
        AccountState.from_bytes(bad)
