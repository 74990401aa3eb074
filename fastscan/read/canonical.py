"""The canonical schema, and the step from a raw decoded table of a log shape to it.

Records are decoded in bulk by pyarrow against the *raw schema* of the shape (read.shape);
`normalize` then turns the raw columns into a RecordBatch of `CANONICAL`. Records that the bulk
decoder cannot take go through `RecordCoercer` (read.coerce), one record at a time, which either
builds the same raw row or says why the record is rejected. Both paths meet in `normalize`, so
they cannot disagree.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fastscan.buffers import as_array, bool_values, int_values, string_buffers, string_lengths, validity
from fastscan.parallel import map_ordered, row_ranges
from fastscan.read.shape import MESSAGES_TYPE, RAW_TYPES, Shape
from fastscan.read.times import TS_MAX_MS, TS_MIN_MS, TS_RANGE_REASON, TS_REASON, ts_to_ms

CANONICAL = pa.schema(
    [
        ("account_id", pa.string()),
        ("request_id", pa.string()),
        ("ts_ms", pa.int64()),  # epoch milliseconds, UTC; null when the log has no time
        ("model", pa.string()),
        ("prompt", pa.string()),  # the text to hash: the last user message
        ("system_prompt", pa.string()),
        ("n_prior_messages", pa.int32()),  # messages sent before that user message
        ("completion", pa.string()),  # only where completion_tokens is missing (see normalize)
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
        # who sent it beyond the account, where the log says (null elsewhere); see ScanConfig.entity
        ("org_id", pa.string()),
        ("api_key_id", pa.string()),
        ("end_user", pa.string()),  # safety_identifier where given, else the end user id (OpenAI `user`)
        ("ip", pa.string()),
        ("user_agent", pa.string()),
    ]
)

# `extract`'s columns may hold, instead of a shape's messages or plain-text prompt, what was picked
# from them: (prompt, system prompt, prior turns), as _prompt_from_messages and _prompt_from_text
# pick (read.jsonl_fast does)
PICKED = "messages:picked"


def _list_item(arr: pa.Array, k: int) -> pa.Array:
    """Element k of each list (null for null lists and lists of k elements or fewer)."""
    arr = as_array(arr)
    lengths = pc.fill_null(pc.list_value_length(arr), 0).to_numpy(zero_copy_only=False)
    offs = np.asarray(arr.offsets)[: len(arr)].astype(np.int64) + k
    idx = pa.array(offs, mask=lengths <= k)
    return arr.values.take(idx)


def _walk(col: pa.Array, path: tuple) -> pa.Array:
    for k in path:
        col = as_array(col)
        col = _list_item(col, k) if isinstance(k, int) else pc.struct_field(col, k)
    return col


def extract(table: pa.Table, shape: Shape) -> dict:
    """Raw decoded table -> {canonical field: array} (still raw types), plus `messages`."""
    cols = {}
    names = set(table.column_names)
    n = table.num_rows
    for fld, path in shape.paths.items():
        if path[0] not in names:
            cols[fld] = pa.nulls(n, RAW_TYPES[fld] or pa.int64())
            continue
        cols[fld] = _walk(table.column(path[0]), path[1:])
    if shape.messages:
        if shape.messages[0] in names:
            cols["messages"] = _walk(table.column(shape.messages[0]), shape.messages[1:])
        else:
            cols["messages"] = pa.nulls(n, MESSAGES_TYPE)
    return cols


# --------------------------------------------------------------------------- normalize


def string_slices(parts: list, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
    """A new string array of data[starts[i]:ends[i]] for each row i (null where starts < 0), the
    data of rows lo:hi being that of their part (lo, hi, data); the parts are copied on the worker
    threads. Its offsets are int32 (Arrow's cast from large_string cost 0.1 ms a column), or it is
    a large_string array when its text passes 2 GiB."""
    from fastscan.kernels import messages as mk

    lengths = np.where(starts >= 0, ends - starts, 0)
    out_off = np.zeros(len(starts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out_off[1:])
    out_data = np.empty(int(out_off[-1]), dtype=np.uint8)

    def part(p):
        lo, hi, data = p
        mk.gather_slices(data, starts[lo:hi], ends[lo:hi], out_off[lo : hi + 1], out_data)

    map_ordered(part, parts)
    valid = starts >= 0
    mask_buf = pa.array(valid).buffers()[1] if not valid.all() else None
    n, nulls, text = len(starts), int((~valid).sum()), pa.py_buffer(out_data)
    if out_off[-1] < 1 << 31:
        return pa.StringArray.from_buffers(n, pa.py_buffer(out_off.astype(np.int32)), text, mask_buf, nulls)
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(out_off), text, mask_buf, nulls)


def _slices(starts: np.ndarray, ends: np.ndarray, data: np.ndarray) -> pa.Array:
    """string_slices of one buffer, as a string array."""
    out = string_slices([(lo, hi, data) for lo, hi in row_ranges(len(starts))], starts, ends)
    return out.cast(pa.string()) if pa.types.is_large_string(out.type) else out


def _prompt_from_text(prompt: pa.Array):
    from fastscan.kernels import messages as mk

    prompt = as_array(prompt)
    if pa.types.is_null(prompt.type):
        prompt = pa.nulls(len(prompt), pa.string())
    offsets, data, valid = string_buffers(prompt)
    n = len(prompt)
    us, ue, ss, se = (np.empty(n, dtype=np.int64) for _ in range(4))
    n_prior = np.empty(n, dtype=np.int32)

    def part(r):
        lo, hi = r
        mk.split_transcripts(
            offsets[lo : hi + 1], data, valid[lo:hi], us[lo:hi], ue[lo:hi], ss[lo:hi], se[lo:hi], n_prior[lo:hi]
        )

    map_ordered(part, row_ranges(n))
    if (ss < 0).all() and (us == offsets[:-1]).all() and (ue == offsets[1:]).all():
        # no transcript in this batch (the common case): the prompt is the user turn, uncopied
        return prompt, pa.nulls(n, pa.string()), pa.array(n_prior, pa.int32())
    us = np.where(valid, us, -1)
    user = _slices(us, ue, data)
    system = _slices(ss, se, data)
    return user, system, pa.array(n_prior, pa.int32())


def _prompt_from_messages(messages: pa.Array, n: int):
    from fastscan.kernels import messages as mk

    messages = as_array(messages)
    if pa.types.is_null(messages.type):
        return pa.nulls(n, pa.string()), pa.nulls(n, pa.string()), pa.array(np.zeros(n, np.int32))
    flat = messages.flatten()  # honours slicing; offsets below are relative to `flat`
    raw_off = np.asarray(messages.offsets, dtype=np.int64)
    list_off = raw_off - raw_off[0]
    lv = validity(messages)
    lengths = np.diff(list_off) * lv
    list_off = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=list_off[1:])
    if not lv.all():  # null lists: drop their (absent) elements from `flat`
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


def _identity(cols: dict, name: str, n: int) -> pa.Array:
    """An identity column as text: numbers as their digits; any other type (or none) null - it is
    evidence only, never a reason to reject a record (a bool is not an id either)."""
    if name not in cols:
        return pa.nulls(n, pa.string())
    col = as_array(cols[name])
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        return col.cast(pa.string())
    if pa.types.is_integer(col.type):
        return col.cast(pa.string())
    return pa.nulls(n, pa.string())


def _first_present(a: pa.Array, b: pa.Array) -> pa.Array:
    """Arrow's coalesce of two columns, without its cost where either holds no value."""
    if a.null_count == 0 or b.null_count == len(b):
        return a
    if a.null_count == len(a):
        return b
    return pc.coalesce(a, b)


def _cast(col, typ) -> pa.Array:
    col = as_array(col)
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


# Counts a record may carry: a negative one is not a count, and one above MAX_COUNT is not a
# request's (a billion tokens, samples or logprobs). Either rejects the record, so sums stay true:
# an account's int64 sums would need 9 billion records at the cap to overflow.
COUNT_FIELDS = ("prompt_tokens", "completion_tokens", "reasoning_tokens", "max_tokens", "n", "top_logprobs")
MAX_COUNT = 1_000_000_000


def _reason(
    r: int, bad_acct: np.ndarray, bad_ts: np.ndarray, bad_range: np.ndarray, bad_count: dict, cols: dict
) -> str:
    """Why row r is dropped: the first of its problems, in a fixed order."""
    if bad_acct[r]:
        return "missing account id"
    if bad_ts[r]:
        return TS_REASON
    if bad_range[r]:
        return TS_RANGE_REASON
    for name in COUNT_FIELDS:
        if name in bad_count and bad_count[name][r]:
            v = as_array(_cast(cols[name], pa.int64()))[int(r)].as_py()
            return f"{name}: negative ({v})" if v < 0 else f"{name}: out of range ({v:,} > {MAX_COUNT:,})"
    raise AssertionError(r)


def normalize(cols: dict, shape: Shape) -> tuple[pa.RecordBatch, np.ndarray, list]:
    """Raw columns -> (canonical RecordBatch of the good rows, bool[n] keep mask, reasons).

    `reasons` lists (row, reason) for every row dropped here: a missing account id, a time that
    is not a time.
    """
    n = len(next(iter(cols.values())))
    reasons = []
    acct = as_array(cols["account_id"])
    if not pa.types.is_string(acct.type):
        acct = acct.cast(pa.string())
    bad_acct = string_lengths(acct) == 0  # missing or empty
    ts_ms, bad_ts = ts_to_ms(cols["ts"]) if "ts" in cols else (pa.nulls(n, pa.int64()), np.zeros(n, np.bool_))
    ts_ms = as_array(ts_ms)
    ts_vals = int_values(ts_ms)
    bad_range = ~bad_ts & ((ts_vals < TS_MIN_MS) | (ts_vals > TS_MAX_MS))
    bad_count: dict[str, np.ndarray] = {}
    for name in COUNT_FIELDS:
        if name in cols:
            v = int_values(_cast(cols[name], pa.int64()))
            bad = (v < 0) | (v > MAX_COUNT)
            if bad.any():
                bad_count[name] = bad
    keep = ~(bad_acct | bad_ts | bad_range)
    for bad in bad_count.values():
        keep &= ~bad
    for r in np.flatnonzero(~keep):
        reasons.append((int(r), _reason(int(r), bad_acct, bad_ts, bad_range, bad_count, cols)))

    picked = cols.get(PICKED)  # picked by the fast decoder (read.jsonl_fast), else here
    if shape.messages:
        prompt, system, n_prior = _prompt_from_messages(cols["messages"], n) if picked is None else picked
        if "prompt" in cols:  # a mapping may name both: a plain prompt wins where present
            p = _cast(cols["prompt"], pa.string())
            prompt = pc.if_else(validity(p), p, prompt)
    else:  # a plain-text prompt, split as a transcript
        prompt, system, n_prior = _prompt_from_text(cols["prompt"]) if picked is None else picked
    if "system_prompt" in cols:
        system = pc.coalesce(_cast(cols["system_prompt"], pa.string()), system)

    logprobs = _cast(cols.get("logprobs", pa.nulls(n, pa.bool_())), pa.bool_())
    top = _cast(cols.get("top_logprobs", pa.nulls(n, pa.int64())), pa.int64())
    logprobs = pa.array(bool_values(logprobs) | (int_values(top) > 0))

    def get(name, typ):
        return _cast(cols[name], typ) if name in cols else pa.nulls(n, typ)

    arrays = {
        "account_id": acct,
        "request_id": get("request_id", pa.string()),
        "ts_ms": as_array(ts_ms),
        "model": get("model", pa.string()),
        "prompt": _cast(prompt, pa.string()),
        "system_prompt": _cast(system, pa.string()),
        "n_prior_messages": n_prior,
        "completion": _completion_where_needed(get("completion", pa.string()), get("completion_tokens", pa.int64())),
        "prompt_tokens": get("prompt_tokens", pa.int64()),
        "completion_tokens": get("completion_tokens", pa.int64()),
        "reasoning_tokens": get("reasoning_tokens", pa.int64()),
        "max_tokens": get("max_tokens", pa.int64()),
        "temperature": get("temperature", pa.float64()),
        "n": get("n", pa.int64()),
        "logprobs": logprobs,
        "top_logprobs": top,
        "logit_bias": get("logit_bias", pa.bool_()),
        "finish_reason": get("finish_reason", pa.string()),
        "org_id": _identity(cols, "org_id", n),
        "api_key_id": _identity(cols, "api_key_id", n),
        "end_user": _first_present(_identity(cols, "safety_identifier", n), _identity(cols, "end_user", n)),
        "ip": _identity(cols, "ip", n),
        "user_agent": _identity(cols, "user_agent", n),
    }
    batch = pa.RecordBatch.from_arrays([as_array(arrays[f.name]) for f in CANONICAL], schema=CANONICAL)
    if not keep.all():
        batch = batch.filter(pa.array(keep))
    return batch, keep, reasons


# --------------------------------------------------------------------------- one record at a time
