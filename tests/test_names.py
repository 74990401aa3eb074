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


def test_new_holds_the_names_a_call_met_first_few_or_many():
    """`new`: the names the last call numbered first, in number order, as Python strings equal
    to the input's (decoded one by one when they are few, through Arrow when many), with or
    without the names kept."""
    from fastscan.names import _FEW

    for keep in (True, False):
        table = NameTable(keep_names=keep)
        seen: list[str] = []
        for size in (1, _FEW - 1, _FEW, 3 * _FEW, 5000):
            batch = [f"n{len(seen) + i}-é" if i % 3 else f"n{len(seen) + i}" for i in range(size)]
            batch += seen[:2]  # known names are not new
            table.number(pa.array(batch, pa.string()))
            assert table.new == batch[:size] and all(type(x) is str for x in table.new)
            seen += batch[:size]
        assert table.names == (seen if keep else [])
        assert table.index == ({n: i for i, n in enumerate(seen)} if keep else {})


def test_a_null_that_holds_bytes_is_the_empty_name():
    """Arrow lets a null slot span bytes; the table reads the buffers, and must not take them."""
    offsets = pa.py_buffer(np.array([0, 3, 6, 6], dtype=np.int32))
    valid = pa.py_buffer(np.packbits([True, False, True], bitorder="little"))
    arr = pa.StringArray.from_buffers(3, offsets, pa.py_buffer(b"abcdef"), valid, 1)
    assert arr.to_pylist() == ["abc", None, ""]
    table = NameTable()
    assert table.number(arr).tolist() == [0, 1, 1] and table.names == ["abc", ""]
    assert table.number(pa.array([None, "abc"], pa.string())).tolist() == [1, 0]


def test_lists_and_arrays_number_alike_and_a_table_can_start_from_names():
    table = NameTable(["b", "a"])
    assert table.number_list(["a", "c", "b", "c"]).tolist() == [1, 2, 0, 2]
    assert table.number(pa.chunked_array([["c"], ["d", "a"]])).tolist() == [2, 3, 1]
    assert table.names == ["b", "a", "c", "d"] and len(table) == 4
    assert NameTable().number_list([]).tolist() == []
    bare = NameTable(keep_names=False)  # numbers only: the names met first in the last call
    assert bare.number_list(["a", "b", "a"]).tolist() == [0, 1, 0] and bare.new == ["a", "b"]
    assert bare.number_list(["b", "c"]).tolist() == [1, 2] and bare.new == ["c"]
    assert bare.names == [] and bare.index == {} and len(bare) == 3
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


def test_a_state_with_an_account_without_a_name_is_refused():
    st = AccountState()
    st._map_ids(["u1"])
    batch = pa.ipc.open_stream(st.to_bytes()).read_next_batch()
    ids = batch.column("ids")
    nameless = pa.array([[None]], ids.type)
    sink = pa.BufferOutputStream()
    bad = batch.set_column(batch.schema.get_field_index("ids"), batch.schema.field("ids"), nameless)
    with pa.ipc.new_stream(sink, bad.schema) as w:
        w.write_batch(bad)
    with pytest.raises(ValueError, match="without a name"):
        AccountState.from_bytes(sink.getvalue().to_pybytes())


def _batch(rows: dict, n: int) -> pa.RecordBatch:
    from fastscan.read.canonical import CANONICAL

    cols = {f.name: pa.array(rows[f.name], f.type) if f.name in rows else pa.nulls(n, f.type) for f in CANONICAL}
    return pa.RecordBatch.from_pydict(cols, schema=CANONICAL)


# addresses and clients as logs write them, and as they should not: Python's rules decide
_IPS = [
    "203.0.113.7",
    " 203.0.113.9\t",
    "203.0.113.250",
    "198.51.100.1",
    "10.0.0",
    "1.2.3.4.5",
    "::1",
    "2001:DB8:85A3::8A2E:370:7334",
    "2001:db8:85a3:1:2:3:4:5",
    "fe80::1%eth0",
    "a:::b",
    "a:b::c",
    "a:b:c::",
    "gateway-7",
    "",
    "   ",
    "\x1c10.1.2.3\x1f",
    "\u00a010.1.2.3\u2003",
    "１０.1.2.3",
    "2001:DB8:ÄÖ::1",
    "host.example.com",
    "é",
]
_AGENTS = ["python-requests/2.31", "Mozilla/5.0 (X11)", "", "curl/8 ünicode", "openai-python/1.3"]


@pytest.mark.parametrize("entity", ["account", "ip", "api_key"])
def test_a_states_text_keys_and_labels_are_those_of_param_keys(entity):
    """TextKeys (a state's: each text hashed once, the network prefixes cut in a kernel) against
    param_keys batch by batch, over addresses of every form, clients, owners and system prompts,
    with tables small enough to start again empty several times."""
    from fastscan.config import ScanConfig
    from fastscan.params import IDENTITY_KINDS, TextKeys, merge_labels, network_prefix, param_keys, value_keys
    from fastscan.prepared import prepare

    rng = np.random.default_rng(11)
    text_keys = TextKeys()
    text_keys.MAX_TEXTS = 40
    ours: dict = {}
    reference: dict = {}
    networks = set()
    for n in (1, 7, 300, 64, 500):

        def pick(pool: list, n: int = n) -> list:
            return [None if i == len(pool) else pool[i] for i in rng.integers(0, len(pool) + 1, n)]

        rows = {
            "account_id": [f"a{i}" for i in rng.integers(0, 50, n)],
            "ip": pick(_IPS + [f"100.{i}.{j}.{k}" for i, j, k in rng.integers(0, 256, (60, 3))]),
            "user_agent": pick(_AGENTS),
            "org_id": pick([f"org-{i}" for i in range(30)]),
            "api_key_id": pick([f"key-{i}" for i in range(80)]),
            "system_prompt": pick(["You are helpful.", "", "Réponds en français.", "x" * 5000]),
        }
        batch = _batch(rows, n)
        networks |= {network_prefix(ip) for ip in rows["ip"] if ip is not None}
        labels: dict = {}
        want = param_keys(batch, entity, labels)
        merge_labels(reference, labels)
        got = value_keys(batch) + text_keys.keys(batch, entity, ours)
        assert [k.tolist() for k in got] == [k.tolist() for k in want]
        # as a scan has them: the system prompts' keyed by `prepare` (the thread's TextKeys,
        # which serves every state), the identities' by the state's TextKeys
        folded: dict = {}
        split = prepare(batch, ScanConfig(entity=entity)).param_keys
        split += TextKeys().keys(batch, entity, folded, IDENTITY_KINDS)
        assert [k.tolist() for k in split] == [k.tolist() for k in want] and folded == labels
    assert ours == reference and any(shared for _, shared in ours.values())
    assert len(text_keys._kinds[7].table) < len(networks)  # the table started again on the way
