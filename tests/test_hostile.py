"""Hostile input: nothing crashes or hangs, every bad record is counted with its reason, and a
line gets the same verdict whichever decoding path (bulk or one by one) it takes.

Hypothesis runs few examples by default; `FASTSCAN_FUZZ=long` (see docs/bad-input.md) runs the
same properties for much longer.
"""

from __future__ import annotations

import gzip
import json
import os

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from logs import records, write_jsonl

from fastscan import scan
from fastscan.errors import InputError
from fastscan.read import ReadStats, RejectLog, expand_sources, read_source
from fastscan.read.jsonl_decode import JsonlDecoder
from fastscan.read.shape import FLAT, OPENAI, raw_schema

settings.register_profile(
    "default", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.register_profile(
    "long", max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
LONG = os.environ.get("FASTSCAN_FUZZ") == "long"
settings.load_profile("long" if LONG else "default")


def examples(n: int) -> int:
    """n examples in the default run, 50 times more in the long one."""
    return n * 50 if LONG else n


BASE = records(4, 5, seed=7)[0]

# --------------------------------------------------------------------------- strategies

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, 1, -1, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64, 10**30]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1.0, -0.0, 1e300, 2.5, 1e11, 1.7e12]),
    st.text(max_size=12),
    st.sampled_from(
        [
            "",
            "2025-09-01",
            "2025-09-01T00:00:00",
            "2025-09-01T00:00:00Z",
            "2025-09-01 03:04:05+02:00",
            "20250901T000000Z",
            "2025-09-01T23:59:60Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "1756684800",
            "yesterday",
            "2025-09-01T00:00:00.123456789Z",
            "2025-W01-1",
        ]
    ),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["role", "content", "text", "type", "x"]), inner, max_size=3),
    ),
    max_leaves=8,
)


@st.composite
def flat_record(draw):
    """A flat record with some fields given a wrong (or odd) type, some dropped, some added."""
    r = dict(BASE)
    for k in list(r):
        choice = draw(st.integers(0, 9))
        if choice == 0:
            del r[k]
        elif choice == 1:
            r[k] = draw(json_values)
    if draw(st.booleans()):
        r["messages"] = draw(
            st.one_of(
                json_values,
                st.lists(
                    st.fixed_dictionaries(
                        {
                            "role": st.sampled_from(["user", "system", "assistant", 5]),
                            "content": st.one_of(
                                st.text(max_size=8),
                                st.lists(
                                    st.fixed_dictionaries({"type": st.just("text"), "text": st.text(max_size=6)}),
                                    max_size=2,
                                ),
                            ),
                        }
                    ),
                    max_size=3,
                ),
            )
        )
    if draw(st.booleans()):
        r["extra"] = draw(json_values)
    return r


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@st.composite
def hostile_line(draw):
    """One line of a log, from a well-formed record to bytes that are barely JSON."""
    r = draw(flat_record())
    line = json.dumps(r, separators=(",", ":")).encode()  # orjson cannot write integers beyond 64 bits
    kind = draw(st.integers(0, 11))
    if kind == 0:  # cut anywhere
        line = line[: draw(st.integers(0, len(line)))]
    elif kind == 1:  # a byte of anything anywhere (NUL, invalid UTF-8, a quote, a brace)
        at = draw(st.integers(0, len(line)))
        b = draw(st.sampled_from([b"\x00", b"\xff", b"\xc0", b"\xed\xa0\x80", b'"', b"}", b"\\", b"\r", b"\t"]))
        line = line[:at] + b + line[at:]
    elif kind == 2:  # a duplicate key
        k = draw(st.sampled_from(sorted(BASE)))
        line = line[:-1] + b", " + json.dumps(k).encode() + b": " + json.dumps(draw(json_scalars)).encode() + b"}"
    elif kind == 3:  # a lone surrogate escape
        line = (
            line.replace(b'"prompt":"', b'"prompt":"\\ud800', 1)
            if draw(st.booleans())
            else line[:-1] + b', "extra2": "\\udc00x"}'
        )
    elif kind == 4:  # nesting deeper than orjson's 1024 in a field nobody reads (or one they do)
        field = draw(st.sampled_from([b"extra3", b"prompt", b"n"]))
        line = line[:-1] + b', "' + field + b'": ' + _deep(draw(st.sampled_from([5, 1100, 5000]))) + b"}"
    elif kind == 5:  # two records on a line, or trailing garbage
        line = line + draw(st.sampled_from([b" " + line, b" x", b"\x00", b" // c", b","]))
    elif kind == 6:  # NaN / Infinity literals, numbers beyond 64 bits
        lit = draw(
            st.sampled_from(
                [
                    b"NaN",
                    b"Infinity",
                    b"-Infinity",
                    b"1e400",
                    b"18446744073709551616",
                    b"-9223372036854775809",
                    b"1.0",
                    b"1e3",
                ]
            )
        )
        f = draw(st.sampled_from([b"n", b"temperature", b"ts", b"extra4", b"prompt_tokens"]))
        line = line[:-1] + b', "' + f + b'": ' + lit + b"}"
    elif kind == 7:  # not an object
        line = draw(st.sampled_from([b"[1, 2]", b"5", b'"s"', b"null", b"{}", b"true", b'{"account_id": "a"}']))
    return line.replace(b"\n", b" ")


def decoder(shape=FLAT, sample=BASE):
    return JsonlDecoder("f", shape, raw_schema(shape, sample), RejectLog(keep_examples=10**6), ReadStats())


def outcome(dec, lines, one_by_one=False):
    """(sorted rejections (line, reason), rows kept, sorted reprs of the rows) of decoding `lines`
    as one chunk, in bulk first (the reader's way) or with every line on the one-by-one path."""
    chunk = b"".join(x + b"\n" for x in lines)
    if one_by_one:  # the same chunk handling (UTF-8 check, reject order), no bulk attempt
        dec._decode_range = lambda chunk, starts, ends, lns, out: dec._one_by_one(chunk, starts, ends, lns, out)
    out = dec.decode(chunk, 1)
    rows = [r for b in out for r in b.to_pylist()]
    got = [(e["line"], e["reason"]) for e in dec.rejects.examples]
    dec.rejects.examples.clear()
    assert len(got) + len(rows) == sum(1 for x in lines if x.strip())
    return sorted(got), len(rows), sorted(map(repr, rows))


# --------------------------------------------------------------------------- properties


@given(st.lists(hostile_line(), min_size=1, max_size=25))
def test_bulk_and_one_by_one_agree(lines):
    """Every line is accepted or rejected, with the same row or reason, whichever path decodes it;
    records read = scored + rejected."""
    lines = [x for x in lines if x.strip()] or [orjson.dumps(BASE)]
    for shape, sample in ((FLAT, BASE), (FLAT, dict(BASE, ts="2025-09-01T00:00:00Z", account_id=5))):
        bulk, one = decoder(shape, sample), decoder(shape, sample)
        a = outcome(bulk, lines)
        b = outcome(one, lines, one_by_one=True)
        assert a == b
        # each line alone, where the bulk decoder gets the first try at it
        alone = [outcome(decoder(shape, sample), [b""] * i + [x]) for i, x in enumerate(lines)]
        c = (sorted(r for o in alone for r in o[0]), sum(o[1] for o in alone), sorted(r for o in alone for r in o[2]))
        assert c == b
        for d in (bulk, one):
            s = d.stats
            assert s.records_read == len(lines) == s.records_scored + s.records_rejected
            assert sum(s.rejected_by_reason.values()) == s.records_rejected


@settings(max_examples=examples(10))
@given(st.lists(hostile_line(), min_size=1, max_size=60), st.integers(0, 2**32))
def test_chunk_size_never_changes_report_stats_or_rejects(tmp_path_factory, lines, seed):
    """The same hostile file scanned with very different chunk sizes gives byte-identical
    reports, reject files and counts."""
    d = tmp_path_factory.mktemp("h")
    rng = np.random.default_rng(seed)
    good = [orjson.dumps(r) for r in records(3, 50, seed=seed % 1000)]  # good runs reach the bulk path
    mixed = good + lines + [b"", b"   "]
    mixed = [mixed[i] for i in rng.permutation(len(mixed))]
    path = d / "h.jsonl"
    path.write_bytes(b"\n".join(mixed) + (b"\n" if seed % 2 else b""))
    outs = []
    for chunk in (4096, 9000, 1 << 22):
        rj = d / f"rejects-{chunk}.jsonl"
        rep = d / f"report-{chunk}.jsonl"
        r = scan([path], chunk_bytes=chunk, reject_file=rj)
        r.write(rep)
        s = r.stats.to_dict()
        assert s["records_read"] == s["records_scored"] + s["records_rejected"]
        assert s["records_read"] == sum(1 for x in mixed if x.strip())
        counts = {k: s[k] for k in ("records_read", "records_scored", "records_rejected", "rejected_by_reason")}
        outs.append((rep.read_bytes(), rj.read_bytes(), counts))
    assert outs[0] == outs[1] == outs[2]
    # the same file compressed: decompressed on a thread of its own, ahead of the decoder
    gz = d / "h.jsonl.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    r = scan([gz], chunk_bytes=5000)
    rep = d / "report-gz.jsonl"
    r.write(rep)
    assert rep.read_bytes() == outs[0][0]
    assert {k: r.stats.to_dict()[k] for k in outs[0][2]} == outs[0][2]


@settings(max_examples=examples(15))
@given(st.lists(hostile_line(), min_size=1, max_size=40), st.data())
def test_cut_compressed_streams(tmp_path_factory, lines, data):
    """A .gz or .zst stream cut anywhere: no crash, counts add up, records before the cut kept."""
    import zstandard

    d = tmp_path_factory.mktemp("c")
    good = [orjson.dumps(r) for r in records(2, 15, seed=1)]
    body = b"\n".join(good + lines + good) + b"\n"
    for name, comp in (("c.jsonl.gz", gzip.compress), ("c.jsonl.zst", zstandard.ZstdCompressor().compress)):
        blob = comp(body)
        cut = data.draw(st.integers(0, len(blob)), label=name)
        path = d / name
        path.write_bytes(blob[:cut])
        r = scan([path], chunk_bytes=4096)
        s = r.stats.to_dict()
        assert s["records_read"] == s["records_scored"] + s["records_rejected"]
        if cut < len(blob):
            assert s["records_read"] <= sum(1 for x in body.split(b"\n") if x.strip())
        else:
            assert not r.file_errors


# --------------------------------------------------------------------------- corpus


def read_counts(path, **kw):
    stats, rejects = ReadStats(), RejectLog(keep_examples=10**6)
    rows = 0
    for src in expand_sources([path]):
        for b in read_source(src, rejects=rejects, stats=stats, **kw):
            rows += b.num_rows
    assert stats.records_read == stats.records_scored + stats.records_rejected
    assert rows == stats.records_scored
    return stats, rejects


def test_empty_and_blank_files(tmp_path):
    (tmp_path / "empty.jsonl").write_bytes(b"")
    (tmp_path / "blank.jsonl").write_bytes(b"\n\n   \n\t\r\n")
    for name in ("empty.jsonl", "blank.jsonl"):
        st_, rj = read_counts(tmp_path / name)
        assert st_.records_read == 0 and not rj.file_errors
        r = scan([tmp_path / name])
        assert r.accounts.num_rows == 0 and r.stats.records_read == 0
    import zstandard

    (tmp_path / "e.jsonl.gz").write_bytes(gzip.compress(b""))
    (tmp_path / "e.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(b""))
    (tmp_path / "zero.jsonl.gz").write_bytes(b"")
    for name in ("e.jsonl.gz", "e.jsonl.zst", "zero.jsonl.gz"):
        assert read_counts(tmp_path / name)[0].records_read == 0


def test_garbage_head_does_not_fix_a_poor_shape(tmp_path):
    """A file whose first chunk holds no readable record: the shape is found in a later chunk
    and its records keep every field (not just account and prompt)."""
    recs = records(2, 20, seed=3)
    lines = [b"\xff\xfe garbage " + bytes([i % 250 + 1]) * 40 for i in range(300)] + [orjson.dumps(r) for r in recs]
    p = tmp_path / "g.jsonl"
    p.write_bytes(b"\n".join(lines) + b"\n")
    small = scan([p], chunk_bytes=4096)
    big = scan([p])
    assert small.accounts.equals(big.accounts)
    assert small.stats.records_rejected == 300 and small.stats.records_scored == 40
    assert (
        small.accounts.column("completion_tokens").to_pylist() == big.accounts.column("completion_tokens").to_pylist()
    )


def test_line_of_tens_of_megabytes(tmp_path):
    """A 24 MB line read with 4 KiB chunks: kept (no quadratic re-copying); one over the line
    limit is rejected without being held whole."""
    huge = dict(BASE, prompt="word " * (24 << 18))  # ~24 MiB of prompt
    p = tmp_path / "big.jsonl"
    write_jsonl(p, [BASE, huge, dict(BASE, request_id="after")])
    st_, rj = read_counts(p, chunk_bytes=4096)
    assert st_.records_scored == 3 and st_.records_rejected == 0
    st_, rj = read_counts(p, chunk_bytes=4096, max_line_bytes=1 << 20)
    assert (st_.records_read, st_.records_scored, st_.records_rejected) == (3, 2, 1)
    assert rj.examples[0]["line"] == 2 and rj.examples[0]["reason"].startswith("line too long")


def test_many_invalid_utf8_lines_stay_linear(tmp_path):
    """100k short lines with invalid UTF-8 in one 16 MiB chunk (each used to re-decode the rest
    of the chunk: quadratic)."""
    good = orjson.dumps(BASE)
    lines = [b'{"account_id": "a", "prompt": "\xff"}'] * 100_000 + [good]
    p = tmp_path / "u.jsonl"
    p.write_bytes(b"\n".join(lines) + b"\n")
    st_, rj = read_counts(p)
    assert st_.records_rejected == 100_000 and st_.records_scored == 1
    assert st_.rejected_by_reason == {"invalid UTF-8": 100_000}


def test_deep_nesting_nul_and_surrogates(tmp_path):
    lines = [
        orjson.dumps(BASE)[:-1] + b', "extra": ' + _deep(100_000) + b"}",  # kept: nobody reads it
        orjson.dumps(BASE)[:-1] + b', "prompt": ' + _deep(3000) + b"}",  # rejected: prompt is text
        orjson.dumps(dict(BASE, prompt="a\x00b")),  # escaped NUL: fine
        orjson.dumps(BASE).replace(b'"prompt":"', b'"prompt":"\x00'),  # raw NUL in a string
        b"\x00\x00\x00",
        orjson.dumps(BASE).replace(b'"prompt":"', b'"prompt":"\\ud800'),  # lone surrogate
        orjson.dumps(BASE).replace(b'"prompt":"', b'"prompt":"\\ud83d\\ude00'),  # a real pair: fine
    ]
    p = tmp_path / "d.jsonl"
    write_jsonl(p, lines)
    for chunk in (4096, 1 << 20):
        st_, rj = read_counts(p, chunk_bytes=chunk)
        assert {e["line"] for e in rj.examples} == {2, 4, 5, 6}, rj.examples
        assert st_.records_scored == 3


def test_found_by_fuzzing():
    """Lines the long fuzzing run found disagreeing between the two paths."""
    lines = [
        b'{"account_id":"a","ts":-9223372036854775808}',  # abs(int64 min) overflowed
        b'{"account_id":"a","ts":9223372036854775807}',
        b'{"account_id":"a","ts":-99999999999}',
    ]
    for x in lines:
        assert outcome(decoder(), [x]) == outcome(decoder(), [x], one_by_one=True)


@pytest.mark.parametrize("number", [b"1e400", b"-1E400", b"1.8e308", b"1" + b"0" * 400, b"1e-400", b"1.5e307"])
def test_numbers_beyond_a_double_in_a_field_nobody_reads(number):
    """Found by the property test above: the bulk decoder skipped an unread 1e400 that orjson and
    Arrow refuse, so such a record was scored in bulk and rejected alone. Now every path gives it
    the verdict Arrow's reader gives the line, in any company."""
    full = orjson.dumps(BASE)[:-1] + b', "extra": ' + number + b"}"
    bare = b'{"completion_tokens": 131, "extra": ' + number + b"}"
    for line in (full, bare):
        for lines in ([line], [b"{}", line], [orjson.dumps(BASE), line, orjson.dumps(BASE)]):
            assert outcome(decoder(), lines) == outcome(decoder(), lines, one_by_one=True), lines
    kept = outcome(decoder(), [full])[1]
    assert kept == (0 if number in (b"1e400", b"-1E400") else 1)


def test_every_field_with_a_wrong_type(tmp_path):
    """Each field of a record given each JSON type: no crash; same verdicts in bulk and alone."""
    kinds = [None, True, 0, -1, 1.5, 1.0, 2**63, "x", "", [], ["a"], {}, {"a": 1}, [{"text": "t"}]]
    lines = [orjson.dumps(dict(BASE, **{k: v})) for k in BASE for v in kinds]
    assert outcome(decoder(), lines) == outcome(decoder(), lines, one_by_one=True)
    o = {
        "id": "x",
        "created": 1756684800,
        "user": "u",
        "request": {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5},
        "response": {
            "choices": [{"message": {"content": "c"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 2},
        },
    }
    olines = []
    for path in (
        ("user",),
        ("created",),
        ("request",),
        ("request", "messages"),
        ("request", "n"),
        ("response",),
        ("response", "choices"),
        ("response", "usage", "prompt_tokens"),
    ):
        for v in kinds:
            r = json.loads(json.dumps(o))
            cur = r
            for k in path[:-1]:
                cur = cur[k]
            cur[path[-1]] = v
            olines.append(orjson.dumps(r))
    assert outcome(decoder(OPENAI, o), olines) == outcome(decoder(OPENAI, o), olines, one_by_one=True)


def test_times_agree_between_arrow_and_python():
    """The bulk path reads a column of times with Arrow, the one-by-one path with Python first:
    wherever both read a string they must agree (text_to_ms relies on it)."""
    from fastscan.read.times import iso_to_ms

    samples = [
        "2025-09-01T00:00:00Z",
        "2025-09-01T00:00:00+0200",
        "2025-09-01 00:00:00+02:00",
        "2025-09-01T00:00Z",
        "2025-09-01T00Z",
        "2025-09-01T12:34:56.789Z",
        "2025-09-01T12:34:56.7891Z",
        "1970-01-01T00:00:00Z",
        "1969-12-31T23:59:59.999Z",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999Z",
        "2025-09-01T00:00:00-11:30",
        "2025-09-01T00:00:00.5+01:00",
        "2024-02-29T12:00:00Z",
        "2025-09-01t00:00:00z",
        "2025-09-01T00:00:00.000000Z",
    ]
    for s in samples:
        try:
            a = pa.array([s]).cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64())[0].as_py()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        try:
            b = iso_to_ms(s)
        except ValueError:
            continue
        assert a == b, s


@given(st.datetimes(), st.sampled_from(["", "Z", "+02:00", "-0530", "+00:00"]), st.integers(0, 3))
def test_generated_times_agree(t, tz, digits):
    from fastscan.read.times import iso_to_ms

    s = t.strftime("%Y-%m-%dT%H:%M:%S") + (f".{t.microsecond:06d}"[: digits + 1] if digits else "") + tz
    try:
        a = pa.array([s]).cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64())[0].as_py()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return
    try:
        b = iso_to_ms(s)
    except ValueError:
        return
    assert a == b, s


# --------------------------------------------------------------------------- Parquet and Arrow IPC

ARROW_KINDS = [
    pa.array([None, None], pa.null()),
    pa.array(["x", "7"]),
    pa.array([1, 2**40]),
    pa.array([1.5, float("nan")]),
    pa.array([True, False]),
    pa.array([[1], None], pa.list_(pa.int64())),
    pa.array([{"a": 1}, None], pa.struct([("a", pa.int64())])),
    pa.array([b"\xff", b"a"], pa.binary()),
]


@pytest.mark.parametrize("fmt", ["parquet", "arrow", "arrows"])
def test_columnar_wrong_types(tmp_path, fmt):
    """Every column of a Parquet / Arrow file given each Arrow type: counted, never a crash."""
    base = pa.Table.from_pylist([dict(BASE, request_id="r0"), dict(BASE, request_id="r1")])
    for name in base.column_names:
        for k, arr in enumerate(ARROW_KINDS):
            t = base.set_column(base.column_names.index(name), name, arr)
            p = tmp_path / f"t-{name}-{k}.{fmt}"
            if fmt == "parquet":
                pq.write_table(t, p)
            else:
                with (pa.ipc.new_file if fmt == "arrow" else pa.ipc.new_stream)(str(p), t.schema) as w:
                    w.write_table(t)
            try:
                st_, rj = read_counts(p)
            except Exception as e:  # only a clear input error is allowed
                raise AssertionError(f"{name} as {arr.type}: {type(e).__name__}: {e}") from None
            assert st_.records_read == 2, (name, arr.type)


@pytest.mark.parametrize("fmt", ["parquet", "arrow", "arrows"])
def test_columnar_empty_and_cut(tmp_path, fmt):
    t = pa.Table.from_pylist(records(3, 30, seed=2))
    empty = t.slice(0, 0)

    def write(p, table):
        if fmt == "parquet":
            pq.write_table(table, p, row_group_size=10)
        else:
            with (pa.ipc.new_file if fmt == "arrow" else pa.ipc.new_stream)(str(p), table.schema) as w:
                for b in table.to_batches(max_chunksize=10):
                    w.write_batch(b)

    write(tmp_path / f"e.{fmt}", empty)
    assert read_counts(tmp_path / f"e.{fmt}")[0].records_read == 0
    write(tmp_path / f"f.{fmt}", t)
    blob = (tmp_path / f"f.{fmt}").read_bytes()
    for cut in sorted({0, 1, 7, len(blob) // 3, len(blob) // 2, len(blob) - 9, len(blob) - 1}):
        p = tmp_path / f"cut{cut}.{fmt}"
        p.write_bytes(blob[:cut])
        try:
            st_, rj = read_counts(p)
        except InputError:
            continue
        assert st_.records_read <= 90


def test_arrow_file_cut_while_it_is_read(tmp_path, cli_env):
    """An Arrow IPC file cut by another process after its first batch was read: the records read
    before the cut are scored and the cut is a file error, where a memory-mapped file ended the
    process with SIGBUS (in a child process here, so that a crash cannot take the tests along)."""
    import subprocess
    import sys

    p = tmp_path / "cut.arrow"
    t = pa.Table.from_pylist(records(20, 100, seed=4))
    with pa.ipc.new_file(str(p), t.schema) as w:
        for b in t.to_batches(max_chunksize=100):
            w.write_batch(b)
    code = (
        "import os, sys\n"
        "from fastscan.read import ReadStats, RejectLog, expand_sources, read_source\n"
        "stats, rejects = ReadStats(), RejectLog()\n"
        "rows = 0\n"
        "for src in expand_sources([sys.argv[1]]):\n"
        "    for b in read_source(src, rejects=rejects, stats=stats):\n"
        "        if rows == 0:\n"
        "            os.truncate(sys.argv[1], 4096)\n"
        "        rows += b.num_rows\n"
        "print(rows, stats.records_read, [e['reason'][:15] for e in rejects.file_errors])\n"
    )
    run = subprocess.run([sys.executable, "-c", code, str(p)], env=cli_env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    rows, read, errors = run.stdout.split(" ", 2)
    assert 0 < int(rows) == int(read) < t.num_rows
    assert "truncated file" in errors
