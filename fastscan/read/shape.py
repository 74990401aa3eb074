"""Log shapes: where field mapping happens, and nowhere else.

A *shape* maps each canonical field to a path in the raw JSON record. Two shapes are recognised
without configuration (`flat` and `openai`); any other log is read with an explicit mapping such as
``{"account_id": "meta.customer", "prompt": "input.text", "ts": "time"}``. This module also
detects a log's shape (from a record or from columns), builds the raw schema a shape decodes
with, and writes a shape to and from JSON (a state directory keeps the shape it was scanned with).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from fastscan.errors import SchemaError

# Canonical fields a mapping may name, with the raw type they are decoded as.
RAW_TYPES = {
    "account_id": pa.string(),
    "request_id": pa.string(),
    "ts": None,
    "model": pa.string(),
    "prompt": pa.string(),
    "system_prompt": pa.string(),
    "completion": pa.string(),
    "prompt_tokens": pa.int64(),
    "completion_tokens": pa.int64(),
    "reasoning_tokens": pa.int64(),
    "max_tokens": pa.int64(),
    "temperature": pa.float64(),
    "n": pa.int64(),
    "logprobs": pa.bool_(),
    "top_logprobs": pa.int64(),
    "finish_reason": pa.string(),
    # who sent it, at every level a gateway logs (docs/campaigns.md: entities): never required,
    # never a reason to reject a record; numbers are read as their text
    "org_id": pa.string(),
    "api_key_id": pa.string(),
    "end_user": pa.string(),
    "safety_identifier": pa.string(),  # OpenAI's successor of `user`: the end user where both are given
    "ip": pa.string(),
    "user_agent": pa.string(),
}
IDENTITY_FIELDS = ("org_id", "api_key_id", "end_user", "safety_identifier", "ip", "user_agent")
MESSAGES_TYPE = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))


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

    def lean_completion(self, names) -> tuple[str, str] | None:
        """(completion key, completion_tokens key) when both are top-level keys among `names` and
        the completion's key holds nothing else this shape reads, else None. Completions are
        often most of a log's bytes but only estimate the count of a record that lacks one, so
        the readers can leave that key unread wherever every record has its count."""
        c_path, ct_path = self.paths.get("completion"), self.paths.get("completion_tokens")
        if c_path is None or ct_path is None or len(c_path) != 1 or len(ct_path) != 1:
            return None
        if c_path[0] not in names or ct_path[0] not in names:
            return None
        if sum(1 for p in self.paths.values() if p[0] == c_path[0]) != 1:
            return None
        if self.messages and self.messages[0] == c_path[0]:
            return None
        return c_path[0], ct_path[0]


def _p(dotted: str) -> tuple:
    return tuple(int(k) if k.isdigit() else k for k in dotted.split("."))


def _path(value: Any, field: str) -> tuple:
    """A mapping's path: "a.b.0.c" or "a.b[0].c" -> ("a", "b", 0, "c"), or SchemaError."""
    if not isinstance(value, str) or not value.strip():
        raise SchemaError(f'mapping of {field!r}: expected a dotted path such as "meta.customer", got {value!r}')
    text = re.sub(r"\[(\d+)\]", r".\1", value.strip())
    parts = text.split(".")
    if any(not p or re.search(r"[\[\]\s]", p) for p in parts):
        raise SchemaError(
            f"mapping of {field!r}: {value!r} is not a path (keys joined by dots, list items as .0 or [0])"
        )
    return _p(text)


FLAT = Shape("flat", {f: (f,) for f in RAW_TYPES if f != "system_prompt"})
OPENAI = Shape(
    "openai",
    {
        "account_id": ("user",),
        "request_id": ("id",),
        "ts": ("created",),
        "model": ("request", "model"),
        "max_tokens": ("request", "max_tokens"),
        "temperature": ("request", "temperature"),
        "n": ("request", "n"),
        "logprobs": ("request", "logprobs"),
        "top_logprobs": ("request", "top_logprobs"),
        "completion": ("response", "choices", 0, "message", "content"),
        "finish_reason": ("response", "choices", 0, "finish_reason"),
        "prompt_tokens": ("response", "usage", "prompt_tokens"),
        "completion_tokens": ("response", "usage", "completion_tokens"),
        "reasoning_tokens": ("response", "usage", "completion_tokens_details", "reasoning_tokens"),
        "end_user": ("request", "user"),
        "safety_identifier": ("request", "safety_identifier"),
        "org_id": ("org_id",),
        "api_key_id": ("api_key_id",),
        "ip": ("ip",),
        "user_agent": ("user_agent",),
    },
    messages=("request", "messages"),
)


def shape_from_mapping(mapping: dict, base: Shape | None = None) -> Shape:
    """A shape from {canonical field: "dotted.path"}; `messages` may name a chat messages list."""
    paths = dict(base.paths) if base else {}
    messages = base.messages if base else None
    for k, v in mapping.items():
        if k == "messages":
            messages = _path(v, k)
        elif k in RAW_TYPES:
            paths[k] = _path(v, k)
        else:
            raise SchemaError(
                f"unknown canonical field {k!r} in mapping; known: {', '.join(sorted(RAW_TYPES))}, messages"
            )
    named = sorted([*paths.items(), *([("messages", messages)] if messages else [])])
    for a, pa_ in named:
        for b, pb in named:
            if a != b and len(pa_) < len(pb) and pb[: len(pa_)] == pa_:
                raise SchemaError(
                    f"mapping: {a} is {'.'.join(map(str, pa_))} and {b} is inside it ({'.'.join(map(str, pb))}): "
                    "a field cannot be both a value and an object"
                )
    if "account_id" not in paths:
        raise SchemaError("a mapping must name account_id")
    if "prompt" not in paths and messages is None:
        raise SchemaError("a mapping must name prompt or messages")
    return Shape("custom", paths, messages)


def detect_shape(record: Any) -> Shape:
    """The built-in shape a decoded record has, or SchemaError."""
    if not isinstance(record, dict):
        raise SchemaError("the first record is not a JSON object")
    if "request" in record and isinstance(record.get("request"), dict) and "user" in record:
        return OPENAI
    if "account_id" in record and ("prompt" in record or "messages" in record):
        return FLAT
    raise SchemaError(
        f"unknown log shape (neither flat nor OpenAI-style); keys {sorted(record)[:12]}: give a field mapping (--map)"
    )


# --------------------------------------------------------------------------- raw schema


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
    or numbers, ids as strings or integers); every other field has a fixed type. Made once per
    shape and types (the last _RAW_SCHEMAS_KEPT): a scan of many small files asks for it per file.
    """
    # the cache's key names each field's JSON kind: made and hashed in a few microseconds, where a
    # key of pyarrow types took 34 (a scan of 20,000 small files asks for it 20,000 times)
    kinds = []
    for fld, path in shape.paths.items():
        kind = ""  # the field's fixed type
        if fld in _SAMPLED:
            v = _get(sample, path) if sample is not None else None
            kind = "none" if v is None else _json_kind(v)
        kinds.append((fld, path, kind))
    return _raw_schema(tuple(kinds), shape.messages)


_SAMPLED = frozenset(("ts", "account_id", *IDENTITY_FIELDS))  # typed as the sample has them


def _json_kind(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    return "float" if isinstance(value, float) else "string"


def _raw_type(fld: str, kind: str) -> pa.DataType:
    """The raw type of field `fld` whose sample value is of JSON `kind` (raw_schema's)."""
    if not kind:
        return RAW_TYPES[fld]
    if kind == "none":
        return pa.int64() if fld == "ts" else pa.string()
    typ = {"bool": pa.bool_(), "int": pa.int64(), "float": pa.float64()}.get(kind, pa.string())
    if fld in IDENTITY_FIELDS and typ not in (pa.string(), pa.int64()):
        typ = pa.string()
    if fld == "account_id" and typ == pa.float64():
        # a number too large for int64 (orjson reads it as a float): an id must be read
        # exactly, which only the one-record path does, so the bulk decoder refuses it
        typ = pa.int64()
    return typ


_RAW_SCHEMAS_KEPT = 64  # raw_schema keeps the schemas of the shapes and types it was last asked for


@functools.lru_cache(maxsize=_RAW_SCHEMAS_KEPT)  # (thread-safe: a Dask worker's threads share it)
def _raw_schema(kinds: tuple, messages: tuple | None) -> pa.Schema:
    """The schema of raw_schema's (field, path, JSON kind) list and messages path."""
    types = [(fld, path, _raw_type(fld, kind)) for fld, path, kind in kinds]
    tree: dict = {}

    def put(path, typ):
        node = tree
        for i, k in enumerate(path):
            last = i == len(path) - 1
            if isinstance(k, int):  # every element index of one list shares the element's struct
                node = node.setdefault(("__list__",), {})
                continue
            if last:
                node[k] = typ
            else:
                node = node.setdefault(k, {})

    for _, path, typ in types:
        put(path, typ)
    if messages:
        put(messages, MESSAGES_TYPE)

    def build(node) -> list:
        fields = []
        for k, v in node.items():
            if isinstance(k, tuple):
                continue
            if isinstance(v, dict):
                lst = [x for x in v if isinstance(x, tuple)]
                inner = pa.struct(build(v))
                if lst:  # a list element path: the key holds a list of that struct
                    inner = pa.list_(pa.struct(build(v[lst[0]])))
                fields.append(pa.field(k, inner))
            else:
                fields.append(pa.field(k, v))
        return fields

    return pa.schema(build(tree))


# --------------------------------------------------------------------------- extraction


# --------------------------------------------------------------------------- detection

# A shape for a file whose first chunk has no decodable record at all: every line is rejected
# one by one (the coercer needs some shape; account_id is all it checks before giving up).
NO_SHAPE = Shape("unknown", {"account_id": ("account_id",), "prompt": ("prompt",)})


def detect_shape_of(record: Any, name: str) -> Shape:
    """detect_shape, with the input's name in the error."""
    try:
        return detect_shape(record)
    except SchemaError as e:
        raise SchemaError(f"{name}: {e}") from None


def detect_columns(names, shape: Shape | None, source_name: str) -> Shape:
    """`shape` if given, else the built-in shape a table with these column names has."""
    if shape is not None:
        return shape
    cols = set(names)
    if {"user", "request"} <= cols:
        return OPENAI
    if "account_id" in cols and ("prompt" in cols or "messages" in cols):
        return FLAT
    raise SchemaError(f"{source_name}: unknown log shape (columns {sorted(cols)[:12]}): give a field mapping (--map)")


def as_shape(mapping) -> Shape | None:
    """A Shape from what a caller gives: None (detect per file), a Shape, "flat", "openai", or a
    {canonical field: "dotted.path"} mapping."""
    if mapping is None or isinstance(mapping, Shape):
        return mapping
    if isinstance(mapping, str):
        named = {"flat": FLAT, "openai": OPENAI}
        if mapping not in named:
            raise SchemaError(f"unknown log shape {mapping!r}: use flat, openai or a field mapping")
        return named[mapping]
    if not isinstance(mapping, Mapping):
        raise SchemaError(f"a field mapping must be an object of field: path, got {type(mapping).__name__}")
    return shape_from_mapping(dict(mapping))


# --------------------------------------------------------------------------- serialisation


def shape_to_dict(shape: Shape | None) -> dict | None:
    if shape is None:
        return None
    return {
        "name": shape.name,
        "paths": {k: list(v) for k, v in shape.paths.items()},
        "messages": list(shape.messages) if shape.messages else None,
    }


def shape_from_dict(d: dict | None) -> Shape | None:
    if d is None:
        return None
    for known in (FLAT, OPENAI):
        if d == shape_to_dict(known):
            return known
    return Shape(
        d["name"], {k: tuple(v) for k, v in d["paths"].items()}, tuple(d["messages"]) if d["messages"] else None
    )
