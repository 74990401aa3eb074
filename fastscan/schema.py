"""Log shapes and the canonical schema: where field mapping happens, and nowhere else.

A *shape* maps each canonical field to a path in the raw JSON record. Two shapes are recognised
without configuration (`flat` and `openai`); any other log is read with an explicit mapping such as
``{"account_id": "meta.customer", "prompt": "input.text", "ts": "time"}``.

Records are decoded in bulk by pyarrow against a *raw schema* built from the shape; `normalize`
then turns the raw table into a RecordBatch of `CANONICAL`. Records that the bulk decoder cannot
take go through `RecordCoercer`, one record at a time, which either builds the same raw row or
says why the record is rejected. Both paths meet in `normalize`, so they cannot disagree.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .buffers import string_buffers, validity
from .errors import SchemaError
from .parallel import map_ordered, row_ranges

__all__ = ["CANONICAL", "Shape", "FLAT", "OPENAI", "shape_from_mapping", "detect_shape",
           "normalize", "RecordCoercer", "Rejected"]

CANONICAL = pa.schema([
    ("account_id", pa.string()),
    ("request_id", pa.string()),
    ("ts_ms", pa.int64()),              # epoch milliseconds, UTC; null when the log has no time
    ("model", pa.string()),
    ("prompt", pa.string()),            # the text to hash: the last user message
    ("system_prompt", pa.string()),
    ("n_prior_messages", pa.int32()),   # messages sent before that user message
    ("completion", pa.string()),           # only where completion_tokens is missing (see normalize)
    ("prompt_tokens", pa.int64()),
    ("completion_tokens", pa.int64()),
    ("reasoning_tokens", pa.int64()),
    ("max_tokens", pa.int64()),
    ("temperature", pa.float64()),
    ("n", pa.int64()),
    ("logprobs", pa.bool_()),
    ("top_logprobs", pa.int64()),
    ("logit_bias", pa.bool_()),
    ("finish_reason", pa.string()),
])

# Canonical fields a mapping may name, with the raw type they are decoded as.
_RAW_TYPES = {
    "account_id": pa.string(), "request_id": pa.string(), "ts": None, "model": pa.string(),
    "prompt": pa.string(), "system_prompt": pa.string(), "completion": pa.string(),
    "prompt_tokens": pa.int64(), "completion_tokens": pa.int64(), "reasoning_tokens": pa.int64(),
    "max_tokens": pa.int64(), "temperature": pa.float64(), "n": pa.int64(), "logprobs": pa.bool_(),
    "top_logprobs": pa.int64(), "finish_reason": pa.string(),
}
_MESSAGES_TYPE = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
_MS_THRESHOLD = 100_000_000_000   # epoch values above this are milliseconds (1e11 s is year 5138)


@dataclass(frozen=True)
class Shape:
    """How one log shape's records map onto canonical fields.

    paths: canonical field -> tuple of keys (str) and list indices (int) into the record.
    messages: path of a chat `messages` list, when prompts come as messages.
    """
    name: str
    paths: dict
    messages: tuple | None = None

    def top_keys(self) -> set:
        keys = {p[0] for p in self.paths.values()}
        if self.messages:
            keys.add(self.messages[0])
        return keys


def _p(dotted: str) -> tuple:
    return tuple(int(k) if k.isdigit() else k for k in dotted.split("."))


FLAT = Shape("flat", {f: (f,) for f in _RAW_TYPES if f != "system_prompt"})
OPENAI = Shape("openai", {
    "account_id": ("user",), "request_id": ("id",), "ts": ("created",),
    "model": ("request", "model"), "max_tokens": ("request", "max_tokens"),
    "temperature": ("request", "temperature"), "n": ("request", "n"),
    "logprobs": ("request", "logprobs"), "top_logprobs": ("request", "top_logprobs"),
    "completion": ("response", "choices", 0, "message", "content"),
    "finish_reason": ("response", "choices", 0, "finish_reason"),
    "prompt_tokens": ("response", "usage", "prompt_tokens"),
    "completion_tokens": ("response", "usage", "completion_tokens"),
    "reasoning_tokens": ("response", "usage", "completion_tokens_details", "reasoning_tokens"),
}, messages=("request", "messages"))


def shape_from_mapping(mapping: dict, base: Shape | None = None) -> Shape:
    """A shape from {canonical field: "dotted.path"}; `messages` may name a chat messages list."""
    paths = dict(base.paths) if base else {}
    messages = base.messages if base else None
    for k, v in mapping.items():
        if k == "messages":
            messages = _p(v)
        elif k in _RAW_TYPES:
            paths[k] = _p(v)
        else:
            raise SchemaError(f"unknown canonical field {k!r} in mapping; known: "
                              f"{', '.join(sorted(_RAW_TYPES))}, messages")
    if "account_id" not in paths:
        raise SchemaError("a mapping must name account_id")
    if "prompt" not in paths and messages is None:
        raise SchemaError("a mapping must name prompt or messages")
    return Shape("custom", paths, messages)


def detect_shape(record: dict) -> Shape:
    """The built-in shape a decoded record has, or SchemaError."""
    if not isinstance(record, dict):
        raise SchemaError("the first record is not a JSON object")
    if "request" in record and isinstance(record.get("request"), dict) and "user" in record:
        return OPENAI
    if "account_id" in record and ("prompt" in record or "messages" in record):
        return FLAT
    raise SchemaError("unknown log shape (neither flat nor OpenAI-style); keys "
                      f"{sorted(record)[:12]}: give a field mapping (--map)")


# --------------------------------------------------------------------------- raw schema

def _json_type(value) -> pa.DataType:
    if isinstance(value, bool):
        return pa.bool_()
    if isinstance(value, int):
        return pa.int64()
    if isinstance(value, float):
        return pa.float64()
    return pa.string()


def _get(record, path):
    cur = record
    for k in path:
        if isinstance(k, int):
            if not isinstance(cur, list) or len(cur) <= k:
                return None
        elif not isinstance(cur, dict):
            return None
        cur = cur[k] if isinstance(k, int) else cur.get(k)
        if cur is None:
            return None
    return cur


def raw_schema(shape: Shape, sample: dict | None = None) -> pa.Schema:
    """The nested pyarrow schema that decodes exactly the fields `shape` reads.

    `ts` and `account_id` take the JSON type they have in `sample` (logs write times as strings
    or numbers, ids as strings or integers); every other field has a fixed type.
    """
    tree: dict = {}

    def put(path, typ):
        node = tree
        for i, k in enumerate(path):
            last = i == len(path) - 1
            if isinstance(k, int):
                node = node.setdefault(("__list__", k), {})
                continue
            if last:
                node[k] = typ
            else:
                node = node.setdefault(k, {})

    for fld, path in shape.paths.items():
        typ = _RAW_TYPES[fld]
        if fld in ("ts", "account_id"):
            v = _get(sample, path) if sample is not None else None
            typ = _json_type(v) if v is not None else (pa.string() if fld == "account_id" else pa.int64())
        put(path, typ)
    if shape.messages:
        put(shape.messages, _MESSAGES_TYPE)

    def build(node) -> list:
        fields = []
        for k, v in node.items():
            if isinstance(k, tuple):
                continue
            if isinstance(v, dict):
                lst = [x for x in v if isinstance(x, tuple)]
                inner = pa.struct(build(v))
                if lst:   # a list element path: the key holds a list of that struct
                    inner = pa.list_(pa.struct(build(v[lst[0]])))
                fields.append(pa.field(k, inner))
            else:
                fields.append(pa.field(k, v))
        return fields

    return pa.schema(build(tree))


# --------------------------------------------------------------------------- extraction

def _first_of_list(arr: pa.Array) -> pa.Array:
    """Element 0 of each list (null for null or empty lists)."""
    arr = _to_array(arr)
    lengths = pc.fill_null(pc.list_value_length(arr), 0).to_numpy(zero_copy_only=False)
    offs = np.asarray(arr.offsets)[:len(arr)].astype(np.int64)
    idx = pa.array(offs, mask=lengths == 0)
    return arr.values.take(idx)


def _walk(col: pa.Array, path: tuple) -> pa.Array:
    for k in path:
        col = _to_array(col)
        if isinstance(k, int):
            col = _first_of_list(col)
        else:
            col = pc.struct_field(col, k)
    return col


def extract(table: pa.Table, shape: Shape) -> dict:
    """Raw decoded table -> {canonical field: array} (still raw types), plus `messages`."""
    cols = {}
    names = set(table.column_names)
    n = table.num_rows
    for fld, path in shape.paths.items():
        if path[0] not in names:
            cols[fld] = pa.nulls(n, _RAW_TYPES[fld] or pa.int64())
            continue
        cols[fld] = _walk(table.column(path[0]), path[1:])
    if shape.messages:
        if shape.messages[0] in names:
            cols["messages"] = _walk(table.column(shape.messages[0]), shape.messages[1:])
        else:
            cols["messages"] = pa.nulls(n, _MESSAGES_TYPE)
    return cols


# --------------------------------------------------------------------------- normalize

def _to_array(col) -> pa.Array:
    if not isinstance(col, pa.ChunkedArray):
        return col
    # combine_chunks copies even a single chunk
    return col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def iso_to_ms(text: str) -> int:
    """Epoch ms of an ISO-8601 string; naive times are UTC. ValueError if it is not one."""
    s = text.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    t = dt.datetime.fromisoformat(s)
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    d = t - _EPOCH   # integer arithmetic: sub-millisecond digits are truncated, like Arrow's cast
    return (d.days * 86_400 + d.seconds) * 1000 + d.microseconds // 1000


def epoch_to_ms(value) -> int:
    """Epoch seconds or milliseconds (told apart by magnitude) to ms; integers exactly, as the
    bulk path does. ValueError when it is not finite or does not fit in int64."""
    if isinstance(value, int) and not isinstance(value, bool):
        ms = value if abs(value) >= _MS_THRESHOLD else value * 1000
    else:
        v = float(value)
        if not math.isfinite(v):
            raise ValueError("not a finite number")
        ms = int(v) if abs(v) >= _MS_THRESHOLD else int(math.floor(v * 1000 + 0.5))
    if not _INT64_MIN <= ms <= _INT64_MAX:
        raise ValueError("out of range")
    return ms


def text_to_ms(text: str) -> int:
    """Epoch ms of a time written as text: Python's ISO-8601 reading, else Arrow's (the two agree
    where both read a string; tests check it). One definition for both decoding paths."""
    try:
        return iso_to_ms(text)
    except (ValueError, OverflowError):
        pass
    try:
        return pa.array([text], pa.string()).cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64())[0].as_py()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise ValueError(f"not a time: {text[:40]!r}") from None


_INT64_MIN, _INT64_MAX = -(2 ** 63), 2 ** 63 - 1
# times a report can show (datetime's years 1..9999); anything else is rejected as not a time
TS_MIN_MS, TS_MAX_MS = -62_135_596_800_000, 253_402_300_799_999
TS_REASON = "ts: not an ISO-8601 time or epoch number"
TS_RANGE_REASON = "ts: out of range (years 1 to 9999)"


def ts_to_ms(col: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """(int64 epoch ms array, bool[n] bad) from a string or numeric time column."""
    if isinstance(col, _MsArray):
        return col.arr, np.zeros(len(col), dtype=np.bool_)
    col = _to_array(col)
    n = len(col)
    bad = np.zeros(n, dtype=np.bool_)
    if pa.types.is_timestamp(col.type) or pa.types.is_date(col.type):
        return col.cast(pa.timestamp("ms", tz="UTC") if pa.types.is_timestamp(col.type) else pa.date64()).cast(pa.int64()), bad
    if pa.types.is_null(col.type):
        return pa.nulls(n, pa.int64()), bad
    if pa.types.is_integer(col.type):
        v = col.cast(pa.int64())
        vals = v.fill_null(0).to_numpy(zero_copy_only=False)
        # not np.abs: abs(int64 min) overflows to itself and would be multiplied by 1000
        ms = np.where((vals >= _MS_THRESHOLD) | (vals <= -_MS_THRESHOLD), vals, vals * 1000)
        return pa.array(ms, mask=~validity(v)), bad
    if pa.types.is_floating(col.type):
        out = []
        for i, x in enumerate(col.to_pylist()):
            try:
                out.append(None if x is None else epoch_to_ms(x))
            except ValueError:
                out.append(None)
                bad[i] = True
        return pa.array(out, pa.int64()), bad
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        # booleans, lists, structs...: the caller reads such a column record by record
        raise TypeError(f"ts: a column of {col.type} is not a time")
    try:
        ts = pc.cast(col, pa.timestamp("ms", tz="UTC"))
        return ts.cast(pa.int64()), bad
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    out = []
    for i, x in enumerate(col.to_pylist()):
        if x is None:
            out.append(None)
            continue
        try:
            out.append(text_to_ms(x))
        except ValueError:
            out.append(None)
            bad[i] = True
    return pa.array(out, pa.int64()), bad


def _slices(arr: pa.Array, starts: np.ndarray, ends: np.ndarray, offsets_data) -> pa.Array:
    """A new string array of data[starts[i]:ends[i]] (null where starts < 0)."""
    from .kernels import messages as mk
    _, data, _ = offsets_data
    lengths = np.where(starts >= 0, ends - starts, 0)
    out_off = np.zeros(len(starts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out_off[1:])
    out_data = np.empty(int(out_off[-1]), dtype=np.uint8)

    def part(r):
        lo, hi = r
        mk.gather_slices(data, starts[lo:hi], ends[lo:hi], out_off[lo:hi + 1], out_data)

    map_ordered(part, row_ranges(len(starts)))
    valid = starts >= 0
    mask_buf = pa.array(valid).buffers()[1] if not valid.all() else None
    return pa.LargeStringArray.from_buffers(len(starts), pa.py_buffer(out_off), pa.py_buffer(out_data),
                                            mask_buf, int((~valid).sum())).cast(pa.string())


def _prompt_from_text(prompt: pa.Array):
    from .kernels import messages as mk
    prompt = _to_array(prompt)
    if pa.types.is_null(prompt.type):
        prompt = pa.nulls(len(prompt), pa.string())
    bufs = string_buffers(prompt)
    offsets, data, valid = bufs
    n = len(prompt)
    us, ue, ss, se = (np.empty(n, dtype=np.int64) for _ in range(4))
    n_prior = np.empty(n, dtype=np.int32)

    def part(r):
        lo, hi = r
        mk.split_transcripts(offsets[lo:hi + 1], data, valid[lo:hi], us[lo:hi], ue[lo:hi], ss[lo:hi], se[lo:hi],
                             n_prior[lo:hi])

    map_ordered(part, row_ranges(n))
    if (ss < 0).all() and (us == offsets[:-1]).all() and (ue == offsets[1:]).all():
        # no transcript in this batch (the common case): the prompt is the user turn, uncopied
        return prompt, pa.nulls(n, pa.string()), pa.array(n_prior, pa.int32())
    us = np.where(valid, us, -1)
    user = _slices(prompt, us, ue, bufs)
    system = _slices(prompt, ss, se, bufs)
    return user, system, pa.array(n_prior, pa.int32())


def _prompt_from_messages(messages: pa.Array, n: int):
    from .kernels import messages as mk
    messages = _to_array(messages)
    if pa.types.is_null(messages.type):
        return pa.nulls(n, pa.string()), pa.nulls(n, pa.string()), pa.array(np.zeros(n, np.int32))
    flat = messages.flatten()   # honours slicing; offsets below are relative to `flat`
    raw_off = np.asarray(messages.offsets, dtype=np.int64)
    list_off = raw_off - raw_off[0]
    lv = validity(messages)
    lengths = np.diff(list_off) * lv
    list_off = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=list_off[1:])
    if not lv.all():   # null lists: drop their (absent) elements from `flat`
        keep = np.repeat(lv, np.diff(raw_off - raw_off[0]))
        flat = flat.filter(pa.array(keep))
    roles = pc.struct_field(flat, "role")
    contents = pc.struct_field(flat, "content")
    r_off, r_data, r_valid = string_buffers(roles)
    user_idx = np.empty(n, dtype=np.int64)
    sys_idx = np.empty(n, dtype=np.int64)
    n_prior = np.empty(n, dtype=np.int32)
    mk.pick_messages(list_off, r_off, r_data, r_valid, user_idx, sys_idx, n_prior)
    user = contents.take(pa.array(user_idx, mask=user_idx < 0))
    system = contents.take(pa.array(sys_idx, mask=sys_idx < 0))
    return user, system, pa.array(n_prior, pa.int32())


def _cast(col, typ) -> pa.Array:
    col = _to_array(col)
    if col.type == typ:
        return col
    return col.cast(typ)


def _completion_where_needed(completion: pa.Array, completion_tokens: pa.Array) -> pa.Array:
    """The completion text only where completion_tokens is missing, null elsewhere.

    Its one use is estimating a missing count, and the JSON reader skips decoding it where the
    count is present; every input format keeps the same, so they give identical batches.
    """
    if completion_tokens.null_count == 0:
        return pa.nulls(len(completion), pa.string())
    if completion.null_count == len(completion):
        return completion
    return pc.if_else(completion_tokens.is_valid(), pa.scalar(None, pa.string()), completion)


def normalize(cols: dict, shape: Shape) -> tuple[pa.RecordBatch, np.ndarray, list]:
    """Raw columns -> (canonical RecordBatch of the good rows, bool[n] keep mask, reasons).

    `reasons` lists (row, reason) for every row dropped here: a missing account id, a time that
    is not a time.
    """
    n = len(next(iter(cols.values())))
    reasons = []
    acct = _to_array(cols["account_id"])
    if not pa.types.is_string(acct.type):
        acct = acct.cast(pa.string())
    bad_acct = ~validity(acct) | (pc.fill_null(pc.binary_length(acct), 0).to_numpy(zero_copy_only=False) == 0)
    ts_ms, bad_ts = ts_to_ms(cols["ts"]) if "ts" in cols else (pa.nulls(n, pa.int64()), np.zeros(n, np.bool_))
    ts_ms = _to_array(ts_ms)
    ts_vals = ts_ms.fill_null(0).to_numpy(zero_copy_only=False)
    bad_range = ~bad_ts & ((ts_vals < TS_MIN_MS) | (ts_vals > TS_MAX_MS))
    keep = ~(bad_acct | bad_ts | bad_range)
    for r in np.flatnonzero(~keep):
        reasons.append((int(r), "missing account id" if bad_acct[r] else TS_REASON if bad_ts[r] else TS_RANGE_REASON))

    if shape.messages:
        prompt, system, n_prior = _prompt_from_messages(cols["messages"], n)
        if "prompt" in cols:   # a mapping may name both: a plain prompt wins where present
            p = _cast(cols["prompt"], pa.string())
            prompt = pc.if_else(validity(p), p, prompt)
    else:
        prompt, system, n_prior = _prompt_from_text(cols["prompt"])
    if "system_prompt" in cols:
        system = pc.coalesce(_cast(cols["system_prompt"], pa.string()), system)

    logprobs = _cast(cols.get("logprobs", pa.nulls(n, pa.bool_())), pa.bool_())
    top = _cast(cols.get("top_logprobs", pa.nulls(n, pa.int64())), pa.int64())
    logprobs = pc.or_kleene(pc.fill_null(logprobs, False), pc.fill_null(pc.greater(top, 0), False))

    def get(name, typ):
        return _cast(cols[name], typ) if name in cols else pa.nulls(n, typ)

    arrays = {
        "account_id": acct, "request_id": get("request_id", pa.string()), "ts_ms": _to_array(ts_ms),
        "model": get("model", pa.string()), "prompt": _cast(prompt, pa.string()),
        "system_prompt": _cast(system, pa.string()), "n_prior_messages": n_prior,
        "completion": _completion_where_needed(get("completion", pa.string()),
                                               get("completion_tokens", pa.int64())),
        "prompt_tokens": get("prompt_tokens", pa.int64()),
        "completion_tokens": get("completion_tokens", pa.int64()),
        "reasoning_tokens": get("reasoning_tokens", pa.int64()),
        "max_tokens": get("max_tokens", pa.int64()), "temperature": get("temperature", pa.float64()),
        "n": get("n", pa.int64()), "logprobs": logprobs, "top_logprobs": top,
        "logit_bias": get("logit_bias", pa.bool_()),
        "finish_reason": get("finish_reason", pa.string()),
    }
    batch = pa.RecordBatch.from_arrays([_to_array(arrays[f.name]) for f in CANONICAL], schema=CANONICAL)
    if not keep.all():
        batch = batch.filter(pa.array(keep))
    return batch, keep, reasons


# --------------------------------------------------------------------------- one record at a time

class Rejected(ValueError):
    """A record that cannot be read; str() is the reason."""


def _describe(v) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
            dict: "object"}.get(type(v), type(v).__name__)


class RecordCoercer:
    """Turns one decoded record into one row of the raw schema, or raises Rejected with a reason."""

    def __init__(self, shape: Shape, schema: pa.Schema):
        self.shape = shape
        self.schema = schema

    def _coerce(self, fld: str, v):
        if v is None:
            return None
        if fld == "ts":
            if isinstance(v, bool):
                raise Rejected(f"ts: expected a time, got {_describe(v)}")
            if not isinstance(v, (int, float, str)):
                raise Rejected(f"ts: expected a time, got {_describe(v)}")
            try:
                return epoch_to_ms(v) if not isinstance(v, str) else text_to_ms(v)
            except ValueError:
                raise Rejected(TS_REASON) from None
        if fld == "account_id":
            if isinstance(v, bool) or not isinstance(v, (str, int)):
                raise Rejected(f"account_id: expected a string, got {_describe(v)}")
            return str(v)
        typ = _RAW_TYPES[fld]
        if typ == pa.string():
            if not isinstance(v, str):
                if fld in ("prompt", "completion", "system_prompt"):
                    v = _text_of(v)
                    if v is not None:
                        return v
                raise Rejected(f"{fld}: expected a string, got {_describe(v)}")
            return v
        if typ == pa.int64():
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                if fld == "top_logprobs" and isinstance(v, bool):
                    return int(v)
                raise Rejected(f"{fld}: expected an integer, got {_describe(v)}")
            if isinstance(v, float):
                if not v.is_integer():
                    raise Rejected(f"{fld}: expected an integer, got {v!r}")
                v = int(v)
            if not -(2 ** 63) <= v < 2 ** 63:
                raise Rejected(f"{fld}: integer out of range")
            return v
        if typ == pa.float64():
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise Rejected(f"{fld}: expected a number, got {_describe(v)}")
            return float(v)
        if typ == pa.bool_():
            if isinstance(v, bool):
                return v
            if fld == "logprobs" and isinstance(v, int):   # legacy completions: logprobs=N
                return v > 0
            raise Rejected(f"{fld}: expected true/false, got {_describe(v)}")
        raise AssertionError(fld)

    def row(self, record) -> dict:
        """{canonical field: python value} for the record (ts already in epoch ms)."""
        if not isinstance(record, dict):
            raise Rejected(f"expected a JSON object, got {_describe(record)}")
        out = {}
        ct_path = self.shape.paths.get("completion_tokens")
        has_ct = ct_path is not None and _get_strict(record, ct_path, "completion_tokens") is not None
        for fld, path in self.shape.paths.items():
            v = _get_strict(record, path, fld)
            # the completion text is read only where its token count is missing (the bulk
            # decoder skips it otherwise), so it is not judged where it is not read either
            out[fld] = None if fld == "completion" and has_ct else self._coerce(fld, v)
        if self.shape.messages:
            msgs = _get_strict(record, self.shape.messages, "messages")
            if msgs is not None:
                if not isinstance(msgs, list):
                    raise Rejected(f"messages: expected an array, got {_describe(msgs)}")
                clean = []
                for m in msgs:
                    if m is None:    # the bulk decoder takes a null message too
                        clean.append(None)
                        continue
                    if not isinstance(m, dict):
                        raise Rejected(f"messages: expected objects, got {_describe(m)}")
                    role = m.get("role")
                    if role is not None and not isinstance(role, str):
                        raise Rejected(f"messages.role: expected a string, got {_describe(role)}")
                    content = m.get("content")
                    if content is not None and not isinstance(content, str):
                        content = _text_of(content)
                        if content is None:
                            raise Rejected("messages.content: expected text")
                    clean.append({"role": role, "content": content})
                msgs = clean
            out["messages"] = msgs
        if out.get("account_id") in (None, ""):
            raise Rejected("missing account id")
        return out


def _get_strict(record, path, fld):
    cur = record
    for k in path:
        if cur is None:
            return None
        if isinstance(k, int):
            if not isinstance(cur, list):
                raise Rejected(f"{fld}: expected an array at {'.'.join(map(str, path))}")
            cur = cur[k] if len(cur) > k else None
        else:
            if not isinstance(cur, dict):
                raise Rejected(f"{fld}: expected an object at {'.'.join(map(str, path))}")
            cur = cur.get(k)
    return cur


def _text_of(v):
    """Text of an OpenAI content-parts list ([{type: text, text: ...}, ...]), else None."""
    if isinstance(v, list):
        parts = [p.get("text") for p in v if isinstance(p, dict) and isinstance(p.get("text"), str)]
        if parts or not v:
            return "\n".join(parts)
    return None


def rows_to_columns(rows: list, shape: Shape) -> dict:
    """Coerced rows -> raw columns for `normalize` (ts as int64 ms)."""
    cols = {}
    for fld in shape.paths:
        typ = pa.int64() if fld == "ts" else pa.string() if fld == "account_id" else _RAW_TYPES[fld]
        cols[fld] = pa.array([r.get(fld) for r in rows], type=typ)
    if shape.messages:
        cols["messages"] = pa.array([r.get("messages") for r in rows], type=_MESSAGES_TYPE)
    if "ts" in cols:   # already ms: mark the values so ts_to_ms keeps them as they are
        cols["ts"] = _MsArray(cols["ts"])
    return cols


class _MsArray:
    """An int64 array already in epoch ms (the one-record path converts times itself)."""

    def __init__(self, arr):
        self.arr = arr

    def __len__(self):
        return len(self.arr)
