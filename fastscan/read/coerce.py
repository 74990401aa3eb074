"""One record at a time: a decoded record to one raw row, or the reason it is rejected."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pyarrow as pa

from fastscan.read.shape import IDENTITY_FIELDS, MESSAGES_TYPE, RAW_TYPES, Shape
from fastscan.read.times import TS_REASON, MsArray, datetime_to_ms, epoch_to_ms, text_to_ms


class Rejected(ValueError):
    """A record that cannot be read; str() is the reason."""


def _describe(v) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}.get(
        type(v), type(v).__name__
    )


class RecordCoercer:
    """Turns one decoded record into one row of the raw schema, or raises Rejected with a reason."""

    def __init__(self, shape: Shape, schema: pa.Schema):
        self.shape = shape
        self.schema = schema

    def _coerce(self, fld: str, v):
        if v is None:
            return None
        if fld == "ts":
            if isinstance(v, (dt.datetime, dt.date)):  # an Arrow timestamp or date read row by row
                return datetime_to_ms(v)
            if isinstance(v, bool):
                raise Rejected(f"ts: expected a time, got {_describe(v)}")
            if not isinstance(v, (int, float, str)):
                raise Rejected(f"ts: expected a time, got {_describe(v)}")
            try:
                return epoch_to_ms(v) if not isinstance(v, str) else text_to_ms(v)
            except ValueError:
                raise Rejected(TS_REASON) from None
        if fld in IDENTITY_FIELDS:  # evidence only: a value of another kind is ignored, not rejected
            return str(v) if isinstance(v, (str, int)) and not isinstance(v, bool) else None
        if fld == "account_id":
            if isinstance(v, bool) or not isinstance(v, (str, int)):
                raise Rejected(f"account_id: expected a string, got {_describe(v)}")
            return str(v)
        typ = RAW_TYPES[fld]
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
            if not -(2**63) <= v < 2**63:
                raise Rejected(f"{fld}: integer out of range")
            return v
        if typ == pa.float64():
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise Rejected(f"{fld}: expected a number, got {_describe(v)}")
            return float(v)
        if typ == pa.bool_():
            if isinstance(v, bool):
                return v
            if fld == "logprobs" and isinstance(v, int):  # legacy completions: logprobs=N
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
            if fld in IDENTITY_FIELDS:
                out[fld] = self._coerce(fld, _get_lenient(record, path))
                continue
            v = _get_strict(record, path, fld)
            # the completion text is read only where its token count is missing (the bulk
            # decoder skips it otherwise), so it is not judged where it is not read either
            out[fld] = None if fld == "completion" and has_ct else self._coerce(fld, v)
        if self.shape.messages:
            msgs = _get_strict(record, self.shape.messages, "messages")
            if msgs is not None:
                if not isinstance(msgs, list):
                    raise Rejected(f"messages: expected an array, got {_describe(msgs)}")
                clean: list[dict | None] = []
                for m in msgs:
                    if m is None:  # the bulk decoder takes a null message too
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


def _get_lenient(record, path):
    """The value at `path`, or None wherever the record has another structure."""
    cur = record
    for k in path:
        if isinstance(k, int):
            cur = cur[k] if isinstance(cur, list) and len(cur) > k else None
        else:
            cur = cur.get(k) if isinstance(cur, dict) else None
        if cur is None:
            return None
    return cur


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
        parts = [p["text"] for p in v if isinstance(p, dict) and isinstance(p.get("text"), str)]
        if parts or not v:
            return "\n".join(parts)
    return None


def rows_to_columns(rows: list, shape: Shape) -> dict:
    """Coerced rows -> raw columns for `normalize` (ts as int64 ms)."""
    cols = {}
    for fld in shape.paths:
        typ = pa.int64() if fld == "ts" else pa.string() if fld == "account_id" else RAW_TYPES[fld]
        cols[fld] = pa.array([r.get(fld) for r in rows], type=typ)
    if shape.messages:
        cols["messages"] = pa.array([r.get("messages") for r in rows], type=MESSAGES_TYPE)
    if "ts" in cols:  # already ms: mark the values so ts_to_ms keeps them as they are
        cols["ts"] = MsArray(cols["ts"])
    return cols


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _text_ok(v: Any) -> bool:
    """No lone surrogate in any string of v (orjson refuses them; so must we)."""
    if isinstance(v, str):
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(v, dict):
        return all(_text_ok(k) and _text_ok(x) for k, x in v.items())
    if isinstance(v, list):
        return all(_text_ok(x) for x in v)
    return True


def loads_wide(raw: bytes, err: Exception) -> Any:
    """The record of a line orjson refused only for an integer beyond 64 bits (an account id of
    any size is text to fastscan), else None. Everything else orjson refuses stays refused."""
    if "64-bit" not in str(err):
        return None
    try:
        rec = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return None
    return rec if _text_ok(rec) else None
