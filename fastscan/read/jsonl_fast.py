"""The JSON Lines decoder's fast path: a plan of the paths a shape reads, for the record decoder
kernel (kernels/json_records.py), and what it decodes as a table of raw columns.

The table has a column per field of the shape, named by the canonical field and of its raw type
(what `canonical.extract` gives from Arrow's table of the same lines), and for a shape with chat
messages three more: the text picked from them (see `fast_cols`). For a shape whose prompt is
plain text, the prompt is split as a transcript (as `canonical.normalize` splits it) straight from the
decoder's rows, and those three columns take its place: the user turns are copied out of the rows
once, where the whole prompt was copied out and then its user turns copied again. The completion
holds text only where the completion's count is missing, which is all `normalize` keeps of it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from fastscan.buffers import Scratch
from fastscan.parallel import map_ordered, row_ranges
from fastscan.read.canonical import PICKED, string_slices
from fastscan.read.shape import MESSAGES_TYPE, Shape

# the messages' picks, as columns of the fast table
USER, SYSTEM, PRIOR = "messages:user", "messages:system", "messages:n_prior"
_MAX_PATH = 12  # components of a path the plan takes (the kernel opens at most 16 frames)


@dataclass(frozen=True)
class Plan:
    """The kernel's plan (see kernels/json_records.py) and the table it makes."""

    columns: list  # output column of each field
    types: list  # its Arrow type
    arrays: tuple  # names_off, names_data, kind, arg, index, node_lo, node_hi, ftypes, slots, special
    split: int = -1  # the field of a plain-text prompt, split into USER, SYSTEM, PRIOR (-1: none)


def _type_at(schema: pa.Schema, path: tuple) -> pa.DataType | None:
    t: pa.DataType = pa.struct(list(schema))
    for k in path:
        if isinstance(k, int):
            if not pa.types.is_list(t):
                return None
            t = t.value_type
        else:
            if not pa.types.is_struct(t) or t.get_field_index(k) < 0:
                return None
            t = t.field(k).type
    return t


_KEPT_PLANS = 64  # plan_for keeps the plans of the shapes and schemas it was last asked for


def plan_for(shape: Shape, schema: pa.Schema) -> Plan | None:
    """make_plan(shape, schema), made once for each shape and raw schema and then kept: every file
    of a log takes its own decoder, and making the plan took about 1 ms of the 3.6 ms that each
    of 500 small files cost. A plan is read, never changed. The last _KEPT_PLANS are kept."""
    return _plan(shape.name, tuple(shape.paths.items()), shape.messages, schema)


@functools.lru_cache(maxsize=_KEPT_PLANS)  # (thread-safe: a Dask worker's threads share it)
def _plan(name: str, paths: tuple, messages: tuple | None, schema: pa.Schema) -> Plan | None:
    return make_plan(Shape(name, dict(paths), messages), schema)


def make_plan(shape: Shape, schema: pa.Schema) -> Plan | None:
    """The plan that decodes `shape`'s fields as `schema` (its full raw schema) types them, or
    None where the kernel does not decode that shape: a type other than string, int64, float64 or
    bool, a path that ends in a list or passes through a list in a list, one list read at two
    indices, two fields at one path, a messages list inside a list."""
    from fastscan.kernels import json_records as jr
    from fastscan.kernels import json_values as jv

    codes = {pa.string(): jv.T_STRING, pa.int64(): jv.T_INT, pa.float64(): jv.T_FLOAT, pa.bool_(): jv.T_BOOL}
    fields = list(shape.paths)
    types = [_type_at(schema, shape.paths[f]) for f in fields]
    if any(t not in codes for t in types):
        return None
    lazy = "completion_tokens" in shape.paths and "completion" in shape.paths
    lazy = lazy and types[fields.index("completion")] == pa.string()
    nodes: list[dict] = [{}]  # node -> {key: (kind, arg, index)}

    def place(path: tuple, leaf: tuple) -> bool:
        if not path or len(path) > _MAX_PATH:
            return False
        node, i = 0, 0
        while True:
            k = path[i]
            if not isinstance(k, str):
                return False
            if i == len(path) - 1:
                if k in nodes[node]:
                    return False
                nodes[node][k] = leaf
                return True
            if isinstance(path[i + 1], int):
                if i + 2 >= len(path):
                    return False
                kind, at, step = jr.K_LIST, path[i + 1], 2
            else:
                kind, at, step = jr.K_OBJECT, 0, 1
            got = nodes[node].get(k)
            if got is None:
                nodes.append({})
                got = nodes[node][k] = (kind, len(nodes) - 1, at)
            elif got[0] != kind or got[2] != at:
                return False
            node, i = got[1], i + step

    for f, fld in enumerate(fields):
        kind = jr.K_LAZY if fld == "completion" and lazy else jr.K_LEAF
        if not place(shape.paths[fld], (kind, f, 0)):
            return None
    columns, out_types = list(fields), list(types)
    ftypes = [codes[t] for t in types]
    special = [-1] * 6
    if lazy:
        special[0], special[1] = fields.index("completion"), fields.index("completion_tokens")
    if shape.messages is not None:
        if any(not isinstance(k, str) for k in shape.messages) or _type_at(schema, shape.messages) != MESSAGES_TYPE:
            return None
        nodes.append({"text": (jr.K_TEXT, -1, 0)})  # a content's parts
        nodes.append({"role": (jr.K_ROLE, -1, 0), "content": (jr.K_CONTENT, len(nodes) - 1, 0)})
        if not place(shape.messages, (jr.K_MESSAGES, len(nodes) - 1, 0)):
            return None
        special[2:5] = range(len(fields), len(fields) + 3)
        columns += [USER, SYSTEM, PRIOR]
        out_types += [pa.string(), pa.string(), pa.int32()]
        ftypes += [jv.T_STRING, jv.T_STRING, jv.T_INT]
    ft = np.array(ftypes, dtype=np.int8)
    is_text = ft == jv.T_STRING
    slots = np.where(is_text, np.cumsum(is_text) - 1, -1).astype(np.int64)
    if shape.messages is not None:
        special[5] = int(is_text.sum())  # the scratch row, after the fields' rows
    names: list[bytes] = []
    kinds, args, index, node_lo, node_hi = [], [], [], [], []
    for keys in nodes:
        node_lo.append(len(names))
        for k, (kind, a, at) in keys.items():
            names.append(k.encode())
            kinds.append(kind)
            args.append(a)
            index.append(at)
        node_hi.append(len(names))
    off = np.zeros(len(names) + 1, dtype=np.int64)
    np.cumsum([len(x) for x in names], out=off[1:])
    i64 = np.int64
    arrays = (
        off,
        np.frombuffer(b"".join(names), dtype=np.uint8).copy(),
        np.array(kinds, dtype=np.int8),
        np.array(args, dtype=i64),
        np.array(index, dtype=i64),
        np.array(node_lo, dtype=i64),
        np.array(node_hi, dtype=i64),
        ft,
        slots,
        np.array(special, dtype=i64),
    )
    split = fields.index("prompt") if shape.messages is None and "prompt" in fields else -1
    if split >= 0 and ftypes[split] != jv.T_STRING:
        split = -1
    return Plan(columns, out_types, arrays, split)


class SplitPrompts:
    """A plain-text prompt column split as a transcript (kernels.messages.split_transcripts) where
    the decoder wrote it: `find` on each part's text row, then `arrays` copies each turn out once."""

    def __init__(self, n: int):
        self.bounds = np.empty((4, n), dtype=np.int64)  # user start, end, system start, end
        self.n_prior = np.empty(n, dtype=np.int32)

    def find(self, offsets: np.ndarray, row: np.ndarray, valid: np.ndarray, lo: int, hi: int) -> None:
        """The turns of rows lo:hi, whose texts are row[offsets[i - lo]:offsets[i - lo + 1]]."""
        from fastscan.kernels import messages

        us, ue, ss, se = (b[lo:hi] for b in self.bounds)
        messages.split_transcripts(offsets, row, valid, us, ue, ss, se, self.n_prior[lo:hi])

    def arrays(self, rows: list, valid: np.ndarray) -> list | None:
        """[user turn, system turn, prior turns] of every row, as `canonical.normalize` makes them
        of a plain-text prompt; `rows` holds (lo, hi, text row) per part. None when a column
        would pass 2 GiB."""
        us, ue, ss, se = self.bounds
        user = string_slices(rows, np.where(valid, us, -1), ue)
        system = string_slices(rows, ss, se)
        if pa.types.is_large_string(user.type) or pa.types.is_large_string(system.type):
            return None
        return [user, system, pa.array(self.n_prior, pa.int32())]


class RecordDecoder:
    """Decodes lines of chunks along one plan; keeps its work rows from chunk to chunk."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self._scratch = Scratch()  # text rows, one set per thread

    def decode(self, chunk: bytes | memoryview, starts: np.ndarray, ends: np.ndarray):
        """(table of the lines it took, bool mask of the lines it refused), or None when a
        string column would pass 2 GiB."""
        from fastscan.kernels import json_records as jr
        from fastscan.kernels import json_values as jv

        plan = self.plan
        *_, ftypes, slots, special = plan.arrays  # (the whole plan goes to the kernel as it is)
        n, nf = len(starts), len(ftypes)
        data = np.frombuffer(chunk, dtype=np.uint8)
        # one row per field: each field's values are a column as Arrow holds it, handed over as
        # they are (a [record, field] layout took a strided copy of every column: 0.2 s a scan)
        valid = np.zeros((nf, n), dtype=np.bool_)  # the kernel sets what it finds
        # the kernel writes every value these are read at (a number not found as 0): not zeroed
        # first (zeroing the three took 0.1 s of a scan of the 2.1 GB bench log)
        ivals = np.empty((nf, n), dtype=np.int64)
        fvals = np.empty((nf, n), dtype=np.float64)
        text_end = np.empty((nf, n), dtype=np.int64)
        starts, ends = starts.astype(np.int64), ends.astype(np.int64)
        refused = np.zeros(n, dtype=np.bool_)
        has_text = ftypes == jv.T_STRING
        n_rows = int(has_text.sum()) + (1 if special[5] >= 0 else 0)

        def part(k_r):
            k, (lo, hi) = k_r
            # decoded strings are never longer than their JSON: the part's bytes bound each field
            # (and 64 more let a string's last run be copied 64 bytes whole: json_values._copy_run)
            span = int(ends[hi - 1] - starts[lo]) if hi > lo else 0
            text = self._scratch.rows(f"text{k}", n_rows, span + 64, np.uint8)
            res = jr.scan_records(
                data,
                starts[lo:hi],
                ends[lo:hi],
                *plan.arrays,
                valid,
                ivals,
                fvals,
                text,
                text_end,
                refused[lo:hi],
                lo,
            )
            if split is not None:  # the prompts' turns, where they lie in this part's row
                row_off = np.empty(hi - lo + 1, dtype=np.int64)
                row_off[0] = 0
                row_off[1:] = text_end[plan.split, lo:hi]
                split.find(row_off, text[slots[plan.split]], valid[plan.split, lo:hi], lo, hi)
            return res, text

        split = SplitPrompts(n) if plan.split >= 0 else None
        ranges = row_ranges(n)
        parts = map_ordered(part, list(enumerate(ranges)))
        if sum(res for res, _ in parts) == n:
            return pa.table({}).slice(0, 0), refused
        arrays, names = [], []
        # every field's validity at once (np.packbits and all() a field at a time: 0.04 s a scan)
        whole = np.logical_and.reduce(valid, axis=1)
        bitmaps = np.packbits(valid, axis=1, bitorder="little")
        for f, typ in enumerate(plan.types):
            if f == plan.split and split is not None:
                rows = [(lo, hi, text[slots[f]]) for (lo, hi), (_, text) in zip(ranges, parts)]
                got = split.arrays(rows, valid[f])
                if got is None:
                    return None
                arrays += got
                names += [USER, SYSTEM, PRIOR]
                continue
            names.append(plan.columns[f])
            ok = valid[f]
            mask = None if whole[f] else pa.py_buffer(bitmaps[f])
            t = ftypes[f]
            if t == jv.T_STRING:
                off = np.empty(n + 1, dtype=np.int32)
                off[0] = 0
                bufs, base = [], 0
                for (lo, hi), (_, text) in zip(ranges, parts):
                    used = int(text_end[f, hi - 1]) if hi > lo else 0
                    if base + used >= 1 << 31:
                        return None
                    bufs.append(text[slots[f], :used])
                    np.add(text_end[f, lo:hi], base, out=off[lo + 1 : hi + 1], casting="unsafe")
                    base += used
                arr = pa.StringArray.from_buffers(n, pa.py_buffer(off), pa.py_buffer(np.concatenate(bufs)), mask)
            elif t == jv.T_BOOL:
                arr = pa.array(ivals[f] != 0, pa.bool_(), mask=~ok)
            elif typ == pa.int32():
                arr = pa.array(ivals[f].astype(np.int32), pa.int32())
            else:
                values, typ = (ivals, pa.int64()) if t == jv.T_INT else (fvals, pa.float64())
                arr = pa.Array.from_buffers(typ, n, [mask, pa.py_buffer(values[f])])
            arrays.append(arr)
        del parts
        table = pa.Table.from_arrays(arrays, names=names)
        if refused.any():
            table = table.filter(pa.array(~refused))
        return table, refused


def fast_cols(table: pa.Table, shape: Shape) -> dict:
    """The decoded table -> `extract`'s columns: each field's, and for a shape with messages (or a
    plain-text prompt, split) the picked texts under PICKED as (prompt, system prompt, prior
    turns)."""
    names = set(table.column_names)
    cols = {fld: table.column(fld) for fld in shape.paths if fld in names}
    if USER in names:
        cols[PICKED] = (table.column(USER), table.column(SYSTEM), table.column(PRIOR))
    return cols
