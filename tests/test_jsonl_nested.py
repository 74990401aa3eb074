"""The record decoder (kernels/json_records.py) on nested logs, against Arrow's JSON reader.

For any lines of an OpenAI-style log (or of a mapping with paths through objects and lists), the
fast decoder either gives up on a line (and the reader uses Arrow) or gives the canonical rows
Arrow's table of the same lines gives, messages picked, completion and rejections included; and
on ordinary logs it does not give up.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_jsonl_fast import arrow_table

from fastscan.read import ReadStats, RejectLog
from fastscan.read.canonical import CANONICAL, extract, normalize
from fastscan.read.jsonl_decode import JsonlDecoder, line_bounds
from fastscan.read.jsonl_fast import USER, fast_cols, make_plan
from fastscan.read.shape import OPENAI, raw_schema, shape_from_mapping

SAMPLE = {"user": "a", "created": 1756684807}
EXAMPLES = 300 * (50 if os.environ.get("FASTSCAN_FUZZ") == "long" else 1)


def decode(lines: list[bytes], shape, sample, fast: bool):
    """(canonical rows, rejects as (line, reason)) of the lines by the whole JSON Lines decoder,
    with or without the fast decoder."""
    dec = JsonlDecoder("<test>", shape, raw_schema(shape, sample), RejectLog(keep_examples=10**6), ReadStats())
    if not fast:
        dec._planned = True  # no fast decoder: Arrow, then one record at a time
    batches = dec.decode(b"\n".join(lines) + b"\n", 1)
    rows = pa.Table.from_batches(batches, schema=CANONICAL).to_pylist()
    return rows, [(r["line"], r["reason"]) for r in dec.rejects.examples]


def fast_table(lines: list[bytes], shape=OPENAI, sample=SAMPLE):
    """(table, refused) of the lines by the fast decoder alone."""
    dec = JsonlDecoder("<test>", shape, raw_schema(shape, sample), RejectLog(), ReadStats())
    chunk = b"\n".join(lines) + b"\n"
    starts, ends, _, _, _ = line_bounds(chunk)
    got = dec._flat(chunk, starts, ends)
    assert got is not None
    return got


def check(lines: list[bytes], shape=OPENAI, sample=SAMPLE) -> np.ndarray:
    """Assert the lines the fast decoder takes give the canonical rows and rejections the reader
    gives them without it (Arrow's table, or the one-record path where Arrow refuses them), and
    that Arrow's table, where it takes them, is what the fast decoder gives; its refusals."""
    schema = raw_schema(shape, sample)
    fast, refused = fast_table(lines, shape, sample)
    took = [line for line, r in zip(lines, refused) if not r]
    assert fast.num_rows == len(took)
    if took:
        assert decode(took, shape, sample, True) == decode(took, shape, sample, False)
        want = arrow_table(b"\n".join(took) + b"\n", schema)
        if want is not None:
            f_batch, f_keep, f_reasons = normalize(fast_cols(fast, shape), shape)
            a_batch, a_keep, a_reasons = normalize(extract(want, shape), shape)
            assert f_reasons == a_reasons
            assert (f_keep == a_keep).all()
            for name in a_batch.schema.names:
                assert f_batch.column(name).equals(a_batch.column(name)), name
    return refused


text = st.text(alphabet=st.characters(codec="utf-8"), max_size=30)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(-1e6, 1e6), text)
values = st.recursive(
    scalars, lambda kids: st.one_of(st.lists(kids, max_size=3), st.dictionaries(text, kids, max_size=3)), max_leaves=6
)
part = st.one_of(
    st.fixed_dictionaries({"type": st.just("text"), "text": text}),
    st.fixed_dictionaries({"text": st.one_of(text, scalars)}),
    st.fixed_dictionaries({"type": st.just("image_url"), "image_url": st.fixed_dictionaries({"url": text})}),
    values,
)
parts = st.lists(part, max_size=4)
roles = st.one_of(st.sampled_from(["user", "system", "assistant", "developer", "tool", "", "User", "users"]), scalars)


def maybe(draw, strategy, p_other=0.08):
    """Mostly a value of `strategy`; sometimes any JSON value at all, or the key left out."""
    r = draw(st.floats(0, 1))
    if r < p_other:
        return draw(values)
    if r < 2 * p_other:
        return KeyError
    return draw(strategy)


def obj(draw, pairs):
    """A dict of the pairs whose value is not KeyError, in a drawn order, sometimes with extras."""
    items = [(k, v) for k, v in pairs if v is not KeyError]
    if draw(st.booleans()):
        items.append((draw(st.sampled_from(["extra", "index", "name", "tools", "x"])), draw(values)))
    return dict(draw(st.permutations(items)))


@st.composite
def message(draw):
    if draw(st.floats(0, 1)) < 0.05:
        return None
    return obj(draw, [("role", maybe(draw, roles)), ("content", maybe(draw, st.one_of(text, st.none(), parts)))])


@st.composite
def openai_records(draw):
    request = obj(
        draw,
        [
            ("model", maybe(draw, st.one_of(text, st.none()))),
            ("messages", maybe(draw, st.one_of(st.none(), st.lists(message(), max_size=5)))),
            ("max_tokens", maybe(draw, st.one_of(st.none(), st.integers(-5, 10**9 + 5)))),
            ("temperature", maybe(draw, st.one_of(st.floats(0, 2), st.sampled_from([0, 1, 0.7, -0.0])))),
            ("n", maybe(draw, st.integers(0, 8))),
            ("logprobs", maybe(draw, st.booleans())),
            ("top_logprobs", maybe(draw, st.integers(0, 20))),
            ("user", maybe(draw, st.one_of(text, st.integers(0, 99)))),
        ],
    )
    choice = st.builds(
        lambda content, reason, extra: {"index": 0, "message": {"role": "assistant", "content": content}, **extra},
        st.one_of(text, st.none()),
        st.sampled_from(["stop", "length"]),
        st.one_of(st.just({}), st.fixed_dictionaries({"finish_reason": st.sampled_from(["stop", "length", None])})),
    )
    usage = obj(
        draw,
        [
            ("prompt_tokens", maybe(draw, st.integers(0, 5000))),
            ("completion_tokens", maybe(draw, st.one_of(st.none(), st.integers(0, 5000)))),
            ("completion_tokens_details", maybe(draw, st.fixed_dictionaries({"reasoning_tokens": st.integers(0, 99)}))),
        ],
    )
    response = obj(
        draw,
        [
            ("choices", maybe(draw, st.one_of(st.none(), st.lists(st.one_of(st.none(), choice), max_size=3)))),
            ("usage", usage),
        ],
    )
    return obj(
        draw,
        [
            ("id", maybe(draw, text)),
            ("created", maybe(draw, st.one_of(st.integers(1_600_000_000, 1_900_000_000), st.none()))),
            ("user", maybe(draw, st.one_of(text, st.integers(0, 10**6)), p_other=0.03)),
            ("request", maybe(draw, st.just(request), p_other=0.03)),
            ("response", maybe(draw, st.just(response), p_other=0.03)),
            ("ip", maybe(draw, st.one_of(text, st.none()))),
        ],
    )


def dumps(rec, ascii_only: bool, compact: bool) -> bytes:
    return json.dumps(rec, ensure_ascii=ascii_only, separators=(",", ":") if compact else None).encode()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(openai_records(), min_size=1, max_size=6), st.booleans(), st.booleans())
def test_openai_records_agree_with_arrow(recs, ascii_only, compact):
    check([dumps(r, ascii_only, compact) for r in recs])


def chat(*messages, **usage) -> bytes:
    rec = {
        "id": "r",
        "created": 1756684807,
        "user": "acct",
        "request": {"model": "m", "messages": [dict(zip(("role", "content"), m)) for m in messages]},
        "response": {
            "choices": [{"message": {"content": "answer"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, **usage},
        },
    }
    return json.dumps(rec).encode()


@pytest.mark.parametrize(
    "messages, prompt, system, prior",
    [
        ((("user", "hi"),), "hi", None, 0),
        ((("system", "be brief"), ("user", "a"), ("assistant", "b"), ("user", "c")), "c", "be brief", 2),
        ((("developer", "d"), ("system", "s"), ("user", "u")), "u", "d", 0),
        ((("assistant", "a"), ("tool", "t")), None, None, 2),
        ((("user", None),), None, None, 0),
        ((("user", "x"), ("user", None)), None, None, 1),
        ((), None, None, 0),
    ],
)
def test_messages_picked_as_pick_messages_does(messages, prompt, system, prior):
    line = chat(*messages, completion_tokens=5)
    assert not check([line]).any()
    table, _ = fast_table([line])
    batch, _, _ = normalize(fast_cols(table, OPENAI), OPENAI)
    assert batch.column("prompt").to_pylist() == [prompt]
    assert batch.column("system_prompt").to_pylist() == [system]
    assert batch.column("n_prior_messages").to_pylist() == [prior]


def test_role_after_content_and_escapes():
    """A message whose role comes after its content, contents with escapes and non-ASCII text, a
    null message and one without a role: picked all the same."""
    line = (
        b'{"user":"a","created":1756684807,"request":{"messages":[null,{"content":"sys\\n\\u00e9"},'
        b'{"content":"first \\"q\\"","role":"user"},{"content":"s2","role":"system"},'
        b'{"role":"user","content":"last \\ud83d\\ude00 \xc3\xa9"}]},"response":{"usage":{"completion_tokens":1}}}'
    )
    assert not check([line]).any()
    table, _ = fast_table([line])
    batch, _, _ = normalize(fast_cols(table, OPENAI), OPENAI)
    assert batch.column("prompt").to_pylist() == ["last \U0001f600 é"]
    assert batch.column("system_prompt").to_pylist() == ["s2"]
    assert batch.column("n_prior_messages").to_pylist() == [3]


def test_keys_remembered_by_object_not_by_place_in_the_line():
    """The decoder remembers the keys of each object of the plan by their place in it (the message
    before, the line before): lines whose lists of messages differ in length, messages with their
    keys in either order, a key that begins like a wanted one where that one was, and the same
    name in two objects at one place; each line decoded as alone."""
    lines = [
        chat(("system", "s"), ("user", "one"), completion_tokens=1),
        chat(("user", "two"), completion_tokens=2),
        b'{"user":"b","created":1756684807,"request":{"messages":[{"content":"c1","role":"user"},'
        b'{"rolex":"x","content":"c2"},{"role":"user","contents":"no","content":"c3"}]},'
        b'"response":{"usage":{"prompt_tokens":4,"completion_tokens":3}}}',
        b'{"created":1756684808,"user":"c","response":{"usage":{"completion_tokens":4,"prompt_tokens":5}},'
        b'"request":{"model":"m2","messages":[{"model":"not this one","role":"user","content":"c4"}]}}',
        chat(("system", "s"), ("assistant", "a"), ("user", "five"), ("assistant", "b"), completion_tokens=5),
        chat(("user", "six"), completion_tokens=6),
    ]
    assert not check(lines).any()
    table, _ = fast_table(lines)
    batch, _, _ = normalize(fast_cols(table, OPENAI), OPENAI)
    assert batch.column("prompt").to_pylist() == ["one", "two", "c3", "c4", "five", "six"]
    assert batch.column("account_id").to_pylist() == ["acct", "acct", "b", "c", "acct", "acct"]
    assert batch.column("model").to_pylist() == ["m", "m", None, "m2", "m", "m"]
    assert batch.column("completion_tokens").to_pylist() == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize(
    "content, prompt",
    [
        ([{"type": "text", "text": "a"}, {"type": "image_url", "image_url": {"url": "u"}}, {"text": "b"}], "a\nb"),
        ([], ""),
        ([{"type": "text", "text": ""}, {"type": "text", "text": "é\n"}], "\né\n"),
        ([5, {"text": None}, {"text": "only"}], "only"),
    ],
)
def test_content_given_as_parts(content, prompt):
    """Content parts (Arrow refuses them) read as the one-record path reads them: the texts of the
    parts that have one, joined by newlines; with the role before the content or after it."""
    for message in ({"role": "user", "content": content}, {"content": content, "role": "user"}):
        for system in (None, {"role": "system", "content": content}):
            msgs = ([system] if system else []) + [message, {"role": "assistant", "content": content}]
            rec = {"user": "a", "created": 1756684807, "request": {"messages": msgs}}
            line = json.dumps(rec).encode()
            assert not check([line]).any()
            rows, rejects = decode([line], OPENAI, SAMPLE, True)
            assert rejects == [] and rows[0]["prompt"] == prompt
            assert rows[0]["system_prompt"] == (prompt if system else None)


def test_completion_decoded_only_where_its_count_is_missing():
    lines = [chat(("user", "q"), completion_tokens=7), chat(("user", "q"))]
    assert not check(lines).any()
    table, _ = fast_table(lines)
    assert table.column("completion").to_pylist() == [None, "answer"]


@pytest.mark.parametrize(
    "line",
    [
        b'{"user":"a","request":[]}',  # an array where the path has an object
        b'{"user":"a","request":{"messages":{}}}',
        b'{"user":"a","request":{"messages":[1]}}',
        b'{"user":"a","request":{"messages":[{"role":"user","content":["parts"]}]}}',
        b'{"user":"a","request":{"messages":[{"role":"us\\u0065r","content":"x"}]}}',  # escaped role
        b'{"user":"a","request":{"model":"m","model":"n"}}',  # a wanted key twice
        b'{"user":"a","request":{"messages":[{"role":"user","role":"user"}]}}',
        b'{"user":"a","response":{"choices":[{"message":"x"}]}}',
        b'{"user":"a","response":{"choices":[{"message":{"content":5}}],"usage":{"completion_tokens":1}}}',
        b'{"user":"a","response":{"choices":[{},{"finish_reason":3}]}}',  # a later element is checked too
    ],
)
def test_refused_where_arrow_is_not_followed(line):
    assert check([line]).all()


def test_a_list_read_at_another_index_and_paths_through_lists():
    shape = shape_from_mapping(
        {
            "account_id": "meta.who",
            "prompt": "inputs.1.text",
            "completion_tokens": "out.usage.n",
            "model": "inputs.1.model",
        }
    )
    sample = {"meta": {"who": "a"}}
    lines = [
        json.dumps({"meta": {"who": "a"}, "inputs": [{"text": "zero"}, {"text": "one", "model": "m"}]}).encode(),
        json.dumps({"meta": {"who": "b"}, "inputs": [{"text": "zero"}], "out": {"usage": {"n": 4}}}).encode(),
        json.dumps({"meta": {"who": "c"}, "inputs": [None, {"model": None}, {"text": "two"}]}).encode(),
        json.dumps({"meta": None, "inputs": []}).encode(),
    ]
    assert not check(lines, shape, sample).any()
    table, _ = fast_table(lines, shape, sample)
    assert table.column(USER).to_pylist() == ["one", None, None, None]
    assert table.column("model").to_pylist() == ["m", None, None, None]


def test_plans_the_kernel_does_not_take():
    assert make_plan(OPENAI, raw_schema(OPENAI, SAMPLE)) is not None
    two_indices = shape_from_mapping({"account_id": "a", "prompt": "l.0.x", "model": "l.1.y"})
    assert make_plan(two_indices, raw_schema(two_indices, {"a": "x"})) is None
    same_path = shape_from_mapping({"account_id": "a", "prompt": "p", "end_user": "a"})
    assert make_plan(same_path, raw_schema(same_path, {"a": "x"})) is None


def test_ordinary_openai_logs_are_decoded_fast(tmp_path):
    from fastscan.synth import write_log

    path = tmp_path / "log.jsonl"
    write_log(path, accounts=40, seed=3, fmt="openai")
    lines = path.read_bytes().rstrip(b"\n").split(b"\n")
    assert not check(lines).any()
