"""The strict record decoder (kernels/json_records.py) on flat logs, against Arrow's JSON reader.

For any lines, the fast decoder either gives up (and the reader uses Arrow) or returns exactly
the table Arrow returns, but for the prompt, which it returns split as a transcript, as
`canonical.normalize` splits Arrow's; and on ordinary logs it does not give up.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.json as pajson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastscan.read import ReadStats, RejectLog
from fastscan.read.canonical import _prompt_from_text
from fastscan.read.jsonl_decode import JsonlDecoder, line_bounds
from fastscan.read.jsonl_fast import PRIOR, SYSTEM, USER
from fastscan.read.shape import FLAT, Shape, raw_schema

SCHEMA_SAMPLE = {"account_id": "a", "ts": "2025-09-01T00:00:00Z"}


def decoder():
    return JsonlDecoder("<test>", FLAT, raw_schema(FLAT, SCHEMA_SAMPLE), RejectLog(), ReadStats())


def arrow_table(chunk: bytes, schema: pa.Schema):
    try:
        t = pajson.read_json(
            pa.BufferReader(chunk),
            parse_options=pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return t.combine_chunks()


def check(lines: list[bytes]) -> bool:
    """Assert the fast decoder agrees with Arrow on the lines it takes; True when it took all."""
    chunk = b"\n".join(lines) + b"\n"
    dec = decoder()
    schema = dec.decode_options.explicit_schema
    starts, ends, _, _, _ = line_bounds(chunk)
    fast, refused = dec._flat(chunk, starts, ends)
    took = [line for line, r in zip(lines, refused) if not r]
    assert fast.num_rows == len(took)
    if took:
        want = arrow_table(b"\n".join(took) + b"\n", schema)
        assert want is not None, f"Arrow refuses what the fast decoder took: {took[:3]!r}"
        assert want.num_rows == fast.num_rows
        for name in schema.names:
            if name == "prompt":
                same_turns(fast, want.column(name))
                continue
            assert fast.column(name).equals(want.column(name)), (name, fast.column(name), want.column(name))
    return not refused.any()


def same_turns(fast: pa.Table, prompt: pa.ChunkedArray) -> None:
    """The fast table's turns of the prompt are those normalize takes from Arrow's prompt column."""
    assert "prompt" not in fast.column_names
    user, system, prior = _prompt_from_text(prompt)
    assert fast.column(USER).to_pylist() == pa.chunked_array([user]).to_pylist()
    assert fast.column(SYSTEM).to_pylist() == system.to_pylist()
    assert fast.column(PRIOR).to_pylist() == prior.to_pylist()


text = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False, allow_infinity=False), text
)
values = st.recursive(
    scalars, lambda kids: st.one_of(st.lists(kids, max_size=3), st.dictionaries(text, kids, max_size=3)), max_leaves=8
)
FIELDS = [
    "account_id",
    "request_id",
    "ts",
    "model",
    "prompt",
    "completion",
    "prompt_tokens",
    "completion_tokens",
    "max_tokens",
    "temperature",
    "n",
    "logprobs",
    "finish_reason",
]


@st.composite
def records(draw):
    rec = {}
    for name in draw(st.lists(st.sampled_from(FIELDS + ["extra", "meta", "logit_bias"]), max_size=10)):
        rec[name] = draw(values)
    return rec


@st.composite
def typed_records(draw):
    """Records whose fields mostly have the types a log gives them (so most are decoded fast)."""
    rec = {
        "account_id": draw(text),
        "ts": "2025-09-01T00:00:00Z",
        "prompt": draw(text),
        "prompt_tokens": draw(st.integers(0, 10**6)),
        "completion_tokens": draw(st.one_of(st.none(), st.integers(0, 10**6))),
        "temperature": draw(st.one_of(st.sampled_from([0, 0.0, 0.7, 1, 1.5, -0.0, 2e-3]), st.floats(0, 2))),
        "logprobs": draw(st.booleans()),
        "meta": draw(values),
    }
    if draw(st.booleans()):
        rec["completion"] = draw(text)
    return rec


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(records(), min_size=1, max_size=5), st.booleans())
def test_any_record_agrees_with_arrow(recs, ascii_only):
    check([json.dumps(r, ensure_ascii=ascii_only).encode() for r in recs])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(typed_records(), min_size=1, max_size=5), st.booleans(), st.sampled_from([None, 0, 2]))
def test_typed_records_agree_with_arrow(recs, ascii_only, indent):
    lines = [
        json.dumps(r, ensure_ascii=ascii_only, separators=(",", ":") if indent == 0 else None).encode() for r in recs
    ]
    check(lines)


@pytest.mark.parametrize(
    "line, decoded",
    [
        (b'{"account_id":"a","prompt":"x\\ny \\"q\\" \\\\ \\/ \\t\\u00e9\\u4e2d"}', True),
        (b'  {"account_id" : "a" , "prompt":"caf\xc3\xa9"}  \r', True),
        (b"{}", True),
        (b'{"account_id":"a","temperature":0.7,"n":3,"logprobs":true,"max_tokens":null}', True),
        (b'{"account_id":"a","meta":{"k":[1,2,{"x":null}],"e":{}},"logit_bias":{"50256":-100}}', True),
        (b'{"account_id":"a","prompt":"\\ud83d\\ude00 \\u00e9"}', True),  # a surrogate pair
        (b'{"account_id":"a","prompt":"\\ud83d"}', False),  # a lone one: Arrow's own reading
        (b'{"account_id":"a","prompt":"\\ude00\\ud83d"}', False),
        (b'{"account_id":"a","prompt":"\\u0000"}', False),
        (b'{"account_id":"a","account_id":"b"}', False),  # a wanted key twice
        (b'{"acc\\u006funt_id":"a"}', False),  # an escaped key
        (b'{"account_id":"a","n":1.0}', False),
        (b'{"account_id":"a","n":1e2}', False),
        (b'{"account_id":"a","n":-0}', False),
        # counts, read by parse_number inlined into json_values.read_value
        (b'{"account_id":"a","n":0,"max_tokens":123456789012345678,"prompt_tokens":-7}', True),
        (b'{"account_id":"a","n":01}', False),  # a leading zero
        (b'{"account_id":"a","n":1234567890123456789}', False),  # 19 digits
        (b'{"account_id":"a","n":1E2}', False),
        (b'{"account_id":"a","n":7.}', False),
        # short strings copied 64 bytes whole: the closing quote just inside and just outside
        (b'{"account_id":"' + b"a" * 63 + b'","model":"' + b"m" * 64 + b'"}', True),
        (b'{"account_id":"a\\\\","model":"\\u00e9x"}', True),  # an escape first: copy_string's way
        (b'{"account_id":"a","n":12345678901234567890}', False),
        (b'{"account_id":"a","temperature":0.1234567890123456789}', False),
        (b'{"account_id":"a","temperature":1e-30}', False),
        (b'{"account_id":"a","prompt":"tab\there"}', False),  # a raw control character
        (b'{"account_id":"a"} x', False),
        (b'{"account_id":"a",}', False),
        (b'{"account_id":"a","meta":[1,]}', False),
        (b'{"account_id":"a","meta":01}', False),
        (b'{"account_id":5}', False),
        (b'{"account_id":"a","prompt":["m"]}', False),
        (b'{"account_id":"a","logprobs":1}', False),
        (b'{"account_id":"a","meta":' + b"[" * 70 + b"]" * 70 + b"}", False),
    ],
)
def test_edge_cases(line, decoded):
    assert check([line]) is decoded


@pytest.mark.parametrize("special", ['\\"', "\\\\", "\\n", "\\u00e9", "\\ud83d\\ude00", "\t", "\x01"])
def test_strings_with_a_special_byte_anywhere(special):
    """The string scanner reads 8 bytes at a step from any position: a quote, an escape or a
    control byte is found wherever it falls in that word, at every alignment of the line."""
    for pad in range(9):
        for k in range(19):
            body = "abcdefghijklmnopqrs"[:k] + special + "tuvwxyz0123456789"[: 18 - k]
            line = " " * pad + '{"account_id":"a' + "b" * pad + '","prompt":"' + body + '"}'
            took = check([line.encode()])
            assert took is (special[0] == "\\"), (pad, k, line)


def test_runs_of_every_length_between_escapes():
    """A string is copied run by run between its escapes, each run 64 bytes at a step, the last
    step whole where there is room past the run (and byte-exact near the end of the chunk or of
    the field's work row): runs of every length around the steps, long strings before short
    ones of the same field, and a line that ends the chunk, all read as Arrow reads them."""
    lengths = [0, 1, 7, 8, 9, 31, 63, 64, 65, 100, 127, 128, 129, 300]
    lines = []
    for n in lengths:
        run = "".join(chr(97 + (i * 7 + n) % 26) for i in range(n))
        prompt = f"{run}\\n{run[::-1]}\\u00e9{run}"
        lines.append(f'{{"account_id":"{run}x","prompt":"{prompt}","model":"{run[:5]}"}}'.encode())
    assert check(lines)
    assert check(lines[::-1])  # shorter strings of a field after longer ones
    for line in lines:
        assert check([line])  # each alone: its runs end near the chunk's end


def test_a_string_that_fills_the_lines_decoded_stays_in_its_work_row():
    """The lines decoded may be fewer than the chunk's (a line that is not an object is left out):
    a string that fills them is followed by more of the chunk, but its field's work row has room
    for the lines decoded only (and 64 bytes); the next field's row, which holds this line's
    finish_reason, is left as it was."""
    for n in (449, 460, 470, 500, 511):
        line = ('{"finish_reason":"abc","prompt":"' + "p" * n + '"}').encode()
        chunk = line + b"\n" + b'"' + b"x" * 200 + b'"\n'  # then a line that is no object
        starts, ends, _, _, _ = line_bounds(chunk)
        got, refused = decoder()._flat(chunk, starts[:1], ends[:1])
        assert not refused.any()
        assert got.column("finish_reason").to_pylist() == ["abc"] and got.column(USER).to_pylist() == ["p" * n]


def test_keys_that_move_between_lines():
    """The decoder takes a key's field, and where it ends, from the key in its place the line
    before when the two are the same bytes: keys of the same length that differ (a wanted one and
    one that is not, two wanted ones), keys that swap places, a key that begins the one before or
    that the one before begins, lines with more or fewer keys, lines that end in a key, all read as
    Arrow reads them."""
    lines = [
        {"model": "m1", "prompt": "p1", "account_id": "a"},
        {"extra": "x2", "prompt": "p2", "account_id": "b"},  # "extra" is as long as "model"
        {"model": "m3", "prompt": "p3", "account_id": "c"},
        {"prompt": "p4", "model": "m4", "account_id": "d"},  # swapped
        {"ts": "2025-09-01T00:00:00Z", "model": "m5"},
        {"account_id": "f", "request_id": "r6"},  # "account_id" and "request_id": 10 bytes each
        {"request_id": "r7", "account_id": "g"},
        {"request_id": "r8", "account_id": "h", "meta": {"model": "nested"}, "model": "m8"},
        {},
        {"model": "m10"},
        {"prompt_tokens": 11, "account_id": "k"},
        {"prompt_tokenz": 12, "account_id": "l"},  # the same first 8 bytes and length
        {"model": "m13", "account_id": "m"},
        {"mode1": "m14", "account_id": "n"},  # the same first 4 bytes and length as "model"
        {"prompt_tokens": 15, "model": "m15"},
        {"mode": "m16", "prompt": "p16"},  # a key that begins the one in its place the line before
        {"model": "m17", "prompt": "p17"},  # ... and one that the key before begins
        {"models": "m18", "prompt_": "p18"},
        {"model": "m19", "prompt": "p19"},
    ]
    raw = [json.dumps(r).encode() for r in lines]
    assert check(raw)
    # the key before, then a line that ends inside it, or right after its closing quote: refused
    assert not check(raw + [b'{"model": "m20"}', b'{"model', b'{"model": "m22"}', b'{"model"', b'{"model": "m24"}'])


def test_a_plan_is_made_once_for_each_shape_and_schema(monkeypatch):
    """plan_for makes a decoding plan once for each shape and raw schema (every file takes a
    decoder of its own) and keeps the last _KEPT_PLANS: the same plan for the same shape and
    schema, another for another schema, and the same decisions as make_plan."""
    from fastscan.read import jsonl_fast as jf

    jf._plan.cache_clear()
    made: list[pa.Schema] = []
    make = jf.make_plan

    def counted(shape, schema):
        made.append(schema)
        return make(shape, schema)

    monkeypatch.setattr(jf, "make_plan", counted)
    schema = raw_schema(FLAT, SCHEMA_SAMPLE)
    first = jf.plan_for(FLAT, schema)
    assert first is not None and jf.plan_for(FLAT, raw_schema(FLAT, SCHEMA_SAMPLE)) is first
    other = raw_schema(FLAT, dict(SCHEMA_SAMPLE, ts=1756684807))  # times as numbers
    assert jf.plan_for(FLAT, other) is not first and len(made) == 2
    assert (jf.plan_for(FLAT, other) is None) == (make(FLAT, other) is None)
    for k in range(jf._KEPT_PLANS + 5):
        jf.plan_for(Shape(f"flat{k}", FLAT.paths, FLAT.messages), schema)
    assert jf._plan.cache_info().currsize == jf._KEPT_PLANS


def test_raw_schemas_are_made_once_per_shape_and_field_types():
    """raw_schema is kept per shape and the JSON types the sample gives its typed fields: the
    same schema object for another sample of the same types, another schema for other types."""
    from fastscan.read import shape as shape_mod

    schema = raw_schema(FLAT, SCHEMA_SAMPLE)
    assert raw_schema(FLAT, dict(SCHEMA_SAMPLE, prompt="other text", ts="2025-09-02T00:00:00Z")) is schema
    numbers = raw_schema(FLAT, dict(SCHEMA_SAMPLE, ts=1756684807, account_id=17))
    assert numbers.field("ts").type == pa.int64() and numbers.field("account_id").type == pa.int64()
    assert schema.field("ts").type == pa.string() and schema.field("account_id").type == pa.string()
    assert raw_schema(FLAT) == raw_schema(FLAT, {}) and raw_schema(FLAT).field("ts").type == pa.int64()
    odd = raw_schema(FLAT, dict(SCHEMA_SAMPLE, account_id=1e30, ip=True, org_id=7, end_user=2.5, user_agent=None))
    assert odd.field("account_id").type == pa.int64()  # too large for int64: the bulk decoder refuses it
    assert [odd.field(k).type for k in ("ip", "org_id", "end_user", "user_agent")] == [pa.string(), pa.int64()] + [
        pa.string()
    ] * 2  # an identity is a string or an integer
    assert raw_schema(FLAT, dict(SCHEMA_SAMPLE, ts=True)).field("ts").type == pa.bool_()  # as the sample has it
    for k in range(shape_mod._RAW_SCHEMAS_KEPT + 5):
        raw_schema(Shape(f"flat{k}", {**FLAT.paths, "ts": (f"time{k}",)}, FLAT.messages))
    assert shape_mod._raw_schema.cache_info().currsize == shape_mod._RAW_SCHEMAS_KEPT
    assert raw_schema(FLAT, SCHEMA_SAMPLE) == schema  # made again once dropped: the same schema


def test_a_line_refused_half_way_leaves_no_trace():
    """A line refused after some of its fields were decoded (scan_records' own contract, below
    the reader, which drops the line anyway): its row is all null, and the strings of the lines
    after it follow the line before it in their work rows, as if it had never been there."""
    from fastscan.kernels import json_records as jr
    from fastscan.kernels import json_values as jv
    from fastscan.read.jsonl_fast import make_plan

    plan = make_plan(FLAT, raw_schema(FLAT, SCHEMA_SAMPLE))
    assert plan is not None
    lines = [
        b'{"account_id":"a1","model":"m1","prompt_tokens":1}',
        b'{"account_id":"refused","model":"m2","prompt_tokens":2,"prompt":7}',  # a number for a text
        b'{"account_id":"a3","model":"m3","prompt_tokens":3}',
    ]
    chunk = b"\n".join(lines) + b"\n"
    starts, ends, _, _, _ = line_bounds(chunk)
    ftypes, slots = plan.arrays[-3], plan.arrays[-2]
    nf, n = len(ftypes), len(lines)
    valid = np.zeros((nf, n), dtype=np.bool_)
    ivals, fvals = np.zeros((nf, n), np.int64), np.zeros((nf, n), np.float64)
    text_end, refused = np.zeros((nf, n), np.int64), np.zeros(n, np.bool_)
    text = np.zeros((int((ftypes == jv.T_STRING).sum()) + 1, len(chunk) + 64), np.uint8)
    data = np.frombuffer(chunk, np.uint8)
    args = (starts.astype(np.int64), ends.astype(np.int64), *plan.arrays, valid, ivals, fvals, text, text_end)
    assert jr.scan_records(data, *args, refused, 0) == 1
    assert refused.tolist() == [False, True, False]
    assert not valid[:, 1].any() and valid[:, 0].sum() == valid[:, 2].sum() == 3
    for name, want in (("account_id", b"a1a3"), ("model", b"m1m3")):
        f = plan.columns.index(name)
        assert text_end[f].tolist() == [2, 2, 4]
        assert text[slots[f], :4].tobytes() == want


def test_numbers_not_found_are_zero_whatever_the_work_rows_held():
    """The decoder hands scan_records work rows it has not zeroed: each number or flag a line does
    not have (absent, null, or its line refused) comes out 0, and the ones it has as written."""
    from fastscan.kernels import json_records as jr
    from fastscan.kernels import json_values as jv
    from fastscan.read.jsonl_fast import make_plan

    plan = make_plan(FLAT, raw_schema(FLAT, SCHEMA_SAMPLE))
    assert plan is not None
    lines = [
        b'{"account_id":"a1","prompt_tokens":5,"temperature":0.5,"logprobs":true}',
        b'{"account_id":"a2","prompt_tokens":null}',
        b'{"account_id":"a3","prompt_tokens":6,"prompt":7}',  # refused after its number was read
    ]
    chunk = b"\n".join(lines) + b"\n"
    starts, ends, _, _, _ = line_bounds(chunk)
    ftypes, slots = plan.arrays[-3], plan.arrays[-2]
    nf, n = len(ftypes), len(lines)
    valid = np.zeros((nf, n), dtype=np.bool_)
    ivals, fvals = np.full((nf, n), 12345, np.int64), np.full((nf, n), np.nan)
    text_end, refused = np.full((nf, n), -7, np.int64), np.zeros(n, np.bool_)
    text = np.zeros((int((ftypes == jv.T_STRING).sum()) + 1, len(chunk) + 64), np.uint8)
    data = np.frombuffer(chunk, np.uint8)
    args = (starts.astype(np.int64), ends.astype(np.int64), *plan.arrays, valid, ivals, fvals, text, text_end)
    assert jr.scan_records(data, *args, refused, 0) == 1
    numbers = np.flatnonzero(slots < 0)
    assert (ivals[numbers][~valid[numbers]] == 0).all() and (fvals[numbers][~valid[numbers]] == 0).all()
    col = plan.columns.index
    assert ivals[col("prompt_tokens")].tolist() == [5, 0, 0]
    assert fvals[col("temperature")].tolist() == [0.5, 0.0, 0.0]
    assert ivals[col("logprobs")].tolist() == [1, 0, 0]
    assert (text_end[slots >= 0] >= 0).all()  # every text row's end written, for every line


def test_a_decoder_reused_decodes_each_chunk_as_a_new_one_would():
    """The flat decoder writes into work rows kept from chunk to chunk: nothing left there by a
    chunk of long strings shows in the next chunk of short ones (or of nulls)."""
    long = [json.dumps({"account_id": "a" * 300, "prompt": "p\\n" * 500, "model": "m" * 90}).encode()] * 40
    short = [json.dumps({"account_id": "b", "prompt": "q", "model": None}).encode()] * 30
    reused = decoder()
    for lines in (long, short, long[:3], short[:1]):
        chunk = b"\n".join(lines) + b"\n"
        starts, ends, _, _, _ = line_bounds(chunk)
        got, _ = reused._flat(chunk, starts, ends)
        want, _ = decoder()._flat(chunk, starts, ends)
        assert got.equals(want)
        assert got.column("account_id").to_pylist() == [json.loads(x)["account_id"] for x in lines]


def test_transcripts_split_where_the_decoder_wrote_them(monkeypatch):
    """A plain-text prompt comes out of the fast decoder split as a transcript (the last user
    turn, the first system turn, the turns before) from each part's work row, in three parts of
    uneven size: a system turn or none, several user turns or none, text that only looks like a
    turn, a null, an empty prompt, a line refused between them."""
    import fastscan.read.jsonl_fast as jf

    prompts = [
        "system: be brief\n\nuser: first\n\nassistant: ok\n\nuser: second ask",
        "user: only one",
        "plain text with user: inside",
        None,
        "",
        "system: rules only",
        "user: hi\n\nassistant: x\n\nuser: caf\u00e9 \u4e2d\n\nsystem: late",
        "user: a\n\nuser: b\n\nuser: c",
    ]
    lines = []
    for i in range(61):
        rec = {"account_id": f"a{i}", "prompt": prompts[i % len(prompts)]}
        lines.append(json.dumps(rec).encode() if i % 17 != 9 else b'{"account_id":"r","prompt":7}')

    def three(n):
        cuts = [0, n // 5, n // 2, n]
        return list(zip(cuts[:-1], cuts[1:]))

    monkeypatch.setattr(jf, "row_ranges", three)
    chunk = b"\n".join(lines) + b"\n"
    starts, ends, _, _, _ = line_bounds(chunk)
    fast, refused = decoder()._flat(chunk, starts, ends)
    assert refused.sum() == 4 and fast.num_rows == 57
    want = arrow_table(
        b"\n".join(x for x, r in zip(lines, refused) if not r) + b"\n", decoder().decode_options.explicit_schema
    )
    same_turns(fast, want.column("prompt"))
    # and the turns are what they should be, not only what normalize makes of Arrow's column
    assert fast.column(USER).to_pylist()[:8] == [
        "second ask",
        "only one",
        "plain text with user: inside",
        None,
        "",
        "",
        "caf\u00e9 \u4e2d",
        "c",
    ]
    assert fast.column(SYSTEM).to_pylist()[:8] == ["be brief", None, None, None, None, "rules only", "late", None]
    assert fast.column(PRIOR).to_pylist()[:8] == [2, 0, 0, 0, 0, 0, 2, 2]


def test_ordinary_logs_are_decoded_fast(tmp_path):
    from fastscan.synth import write_log

    path = tmp_path / "log.jsonl"
    write_log(path, accounts=40, seed=3)
    chunk = path.read_bytes()
    assert check(chunk.rstrip(b"\n").split(b"\n"))


@pytest.mark.parametrize(
    "fmt, key, escaped", [("flat", b'"account_id"', b'"acc\\u006funt_id"'), ("openai", b'"user"', b'"us\\u0065r"')]
)
def test_whole_scan_same_with_and_without_fast_decoder(tmp_path, monkeypatch, fmt, key, escaped):
    import fastscan
    from fastscan.synth import write_log

    path = tmp_path / "log.jsonl"
    write_log(path, accounts=60, seed=4, fmt=fmt)
    # a few lines the fast decoder leaves to Arrow, and a bad one, among the ordinary ones
    lines = path.read_bytes().splitlines()
    lines[5] = lines[5].replace(key, escaped, 1)  # an escaped key
    lines[9] = b"{" + key + b": 5"
    path.write_bytes(b"\n".join(lines) + b"\n")
    fast = fastscan.scan([path], chunk_bytes=1 << 16)
    monkeypatch.setattr(JsonlDecoder, "_flat", lambda self, *a: None)
    slow = fastscan.scan([path], chunk_bytes=1 << 16)
    assert fast.accounts.equals(slow.accounts)
    assert fast.stats.records_rejected == slow.stats.records_rejected == 1
    assert fast.stats.records_scored == slow.stats.records_scored == len(lines) - 1
    assert np.array_equal(fast.accounts.column("requests").to_numpy(), slow.accounts.column("requests").to_numpy())
