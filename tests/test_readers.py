"""Readers: every input form, bad records set aside with file, line and reason, nothing lost."""

from __future__ import annotations

import gzip
import io
import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fastscan.errors import InputError, SchemaError
from fastscan.read import ReadStats, RejectLog, expand_sources, read_source


def rec(i, account="acct_a", **kw):
    r = {
        "request_id": f"r{i}",
        "account_id": account,
        "ts": f"2025-09-01T00:{i % 60:02d}:00.000Z",
        "model": "m",
        "prompt": f"prompt number {i} about topic {i % 7}",
        "completion": "answer " * 5,
        "prompt_tokens": 7,
        "completion_tokens": 10,
        "max_tokens": 100,
        "temperature": 0.5,
        "n": 1,
        "logprobs": False,
        "finish_reason": "stop",
    }
    r.update(kw)
    return r


def write_lines(path, lines, opener=open):
    with opener(path, "wb") as fh:
        for line in lines:
            fh.write(line if isinstance(line, bytes) else json.dumps(line).encode())
            fh.write(b"\n")


def read_all(path, **kw):
    stats, rejects = ReadStats(), RejectLog(keep_examples=1000)
    batches = []
    for src in expand_sources([path]):
        batches += list(read_source(src, rejects=rejects, stats=stats, **kw))
    table = pa.Table.from_batches(batches) if batches else None
    return table, stats, rejects


def test_flat_jsonl_roundtrip(tmp_path):
    p = tmp_path / "a.jsonl"
    write_lines(p, [rec(i) for i in range(10)])
    t, st, rj = read_all(p)
    assert t.num_rows == 10 and st.records_read == 10 and st.records_rejected == 0
    assert t.column("account_id").to_pylist() == ["acct_a"] * 10
    assert t.column("ts_ms").to_pylist()[1] == 1756684800000 + 60_000
    assert t.column("prompt").to_pylist()[3] == "prompt number 3 about topic 3"


@pytest.mark.parametrize("chunk", [4096, 5000, 1 << 20])
def test_record_straddling_chunk_boundary(tmp_path, chunk):
    p = tmp_path / "a.jsonl"
    recs = [rec(i, prompt="x" * (i * 97 % 3000) + f" end{i}") for i in range(60)]
    write_lines(p, recs)
    t, st, _ = read_all(p, chunk_bytes=chunk)
    assert t.column("prompt").to_pylist() == [r["prompt"] for r in recs]
    assert st.records_read == 60 == st.records_scored


@pytest.mark.parametrize("opener", [open, gzip.open])
def test_a_chunk_holds_about_a_target_of_lines_whatever_their_length(tmp_path, monkeypatch, opener):
    # each chunk costs the fold some fixed work and each of its lines memory: a file of short lines
    # is read in chunks of about READ_TARGET_LINES lines, one of long lines in whole chunks
    import fastscan.read.jsonl as J

    monkeypatch.setattr(J, "READ_TARGET_LINES", 200)
    monkeypatch.setattr(J, "FIRST_READ_BYTES", 16 << 10)
    chunk = 256 << 10
    short = [rec(i) for i in range(3000)]  # about 330 bytes a line
    long = [rec(i, prompt=f"{i} " + "w " * 2000) for i in range(400)]  # about 4.3 KB a line
    for name, recs in (("short", short), ("long", long)):
        p = tmp_path / (name + (".jsonl.gz" if opener is gzip.open else ".jsonl"))
        write_lines(p, recs, opener)
        line = len(json.dumps(recs[-1])) + 1
        (src,) = expand_sources([p])
        stats, rejects = ReadStats(), RejectLog()
        rows = [b.num_rows for b in read_source(src, rejects=rejects, stats=stats, chunk_bytes=chunk)]
        assert sum(rows) == stats.records_read == stats.records_scored == len(recs)
        assert rows[0] <= (16 << 10) // (line - 2) + 1  # the first read, before a line's length is known
        middle = rows[2:-1]  # past the first two reads (the second was asked for before the first decoded)
        assert middle
        if name == "short":
            assert all(180 <= r <= 220 for r in middle), rows
        else:
            assert all(chunk // line - 2 <= r <= chunk // (line - 8) + 1 for r in middle), rows
        t, _, _ = read_all(p, chunk_bytes=1 << 20)
        assert t.column("prompt").to_pylist() == [r["prompt"] for r in recs]


@pytest.mark.parametrize("opener", [open, gzip.open])
@pytest.mark.parametrize("chunk", [4096, 7001])
def test_batches_keep_their_values_while_the_read_buffer_is_reused(tmp_path, opener, chunk):
    # the reader keeps one buffer from chunk to chunk; every batch of the file is held here
    # until the end, so a batch that kept a view of that buffer would show later lines' bytes
    nested = {
        "id": "o",
        "created": 1756684800,
        "user": "u9",
        "request": {"model": "m", "messages": [{"role": "user", "content": "nested é " * 40}]},
        "response": {"usage": {"prompt_tokens": 3, "completion_tokens": 4}},
    }
    lines: list = [b"\xef\xbb\xbf" + json.dumps(rec(0)).encode()]  # a byte order mark first
    for i in range(1, 120):
        kind = i % 6
        if kind == 0:
            lines.append(b'{"broken": ' + b"x" * (i * 37))  # malformed, of many lengths
        elif kind == 1:
            lines.append(b"x" * 40_000)  # far longer than the max line below: rejected unread
        else:
            lines.append(rec(i, prompt=f"p{i} " + 'é\\n"q' * (i * 53 % 250)))  # lines < 4 KiB
    lines.append(json.dumps(rec(999, prompt="the last line has no newline")).encode())
    p = tmp_path / ("a.jsonl.gz" if opener is gzip.open else "a.jsonl")
    with opener(p, "wb") as fh:
        fh.write(b"\n".join(x if isinstance(x, bytes) else json.dumps(x).encode() for x in lines))
    q = tmp_path / "nested.jsonl"
    write_lines(q, [nested] * 40)

    for path in (p, q):
        small = read_all(path, chunk_bytes=chunk, max_line_bytes=8192)
        whole = read_all(path, chunk_bytes=8192, max_line_bytes=8192)  # the longest line allowed: 8 KiB
        assert small[0].to_pylist() == whole[0].to_pylist()
        assert (small[1].records_read, small[1].records_scored, small[1].records_rejected) == (
            whole[1].records_read,
            whole[1].records_scored,
            whole[1].records_rejected,
        )
        assert [(e["line"], e["reason"]) for e in small[2].examples] == [
            (e["line"], e["reason"]) for e in whole[2].examples
        ]
    t, st, rj = read_all(p, chunk_bytes=chunk, max_line_bytes=8192)
    assert st.records_read == st.records_scored + st.records_rejected == 121
    kept = [x for x in lines if isinstance(x, dict)] + [rec(999, prompt="the last line has no newline")]
    assert t.column("prompt").to_pylist() == [rec(0)["prompt"]] + [x["prompt"] for x in kept]
    assert sum(e["reason"].startswith("line too long") for e in rj.examples) == 20


def test_bad_lines_are_rejected_with_line_and_reason(tmp_path):
    p = tmp_path / "bad.jsonl"
    lines = [rec(i) for i in range(100)]
    lines[10] = b'{"account_id": "acct_a", "prompt": "unterminated'  # malformed
    lines[20] = b'{"account_id": "acct_a", "prompt": "bad \xff\xfe utf8"}'  # invalid UTF-8
    lines[30] = rec(30, prompt_tokens="many")  # wrong type
    lines[40] = rec(40, account_id=None)  # missing account
    lines[50] = {k: v for k, v in rec(50).items() if k != "account_id"}  # no account field
    lines[60] = rec(60, ts="yesterday-ish")  # not a time
    lines[70] = b"[1, 2, 3]"  # not an object
    lines[80] = b'{"account_id": "a", "prompt": "x"} {"account_id": "b", "prompt": "y"}'  # two on a line
    lines[90] = rec(90, unknown_field={"deep": [1, 2]})  # unknown field: fine
    write_lines(p, lines)
    t, st, rj = read_all(p, chunk_bytes=4096)
    bad = {e["line"]: e["reason"] for e in rj.examples}
    assert set(bad) == {11, 21, 31, 41, 51, 61, 71, 81}
    assert bad[11].startswith("malformed JSON")
    assert bad[21].startswith("invalid UTF-8")
    assert bad[31].startswith("prompt_tokens: expected an integer")
    assert bad[41] == bad[51] == "missing account id"
    assert bad[61].startswith("ts:")
    assert bad[71].startswith("expected a JSON object")
    assert bad[81].startswith("malformed JSON")
    assert all(e["file"] == str(p) for e in rj.examples)
    assert st.records_read == 100
    assert st.records_scored == t.num_rows == 92
    assert st.records_read == st.records_scored + st.records_rejected


def test_reject_file_is_private_and_complete(tmp_path):
    p = tmp_path / "bad.jsonl"
    write_lines(p, [rec(0), b"{nope", rec(2)])
    out = tmp_path / "rejects.jsonl"
    rj = RejectLog(out)
    list(read_source(expand_sources([p])[0], rejects=rj, stats=ReadStats()))
    rj.close()
    assert oct(os.stat(out).st_mode & 0o777) == "0o600"
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert rows == [{"file": str(p), "line": 2, "reason": rows[0]["reason"], "record": "{nope"}]


def test_blank_lines_keep_line_numbers(tmp_path):
    p = tmp_path / "a.jsonl"
    write_lines(p, [rec(0), b"", b"   ", rec(3), b"oops", rec(5)])
    t, st, rj = read_all(p)
    assert st.records_read == 4 and t.num_rows == 3
    assert [e["line"] for e in rj.examples] == [5]


def test_ts_forms(tmp_path):
    p = tmp_path / "a.jsonl"
    base = 1756684800
    write_lines(
        p,
        [
            rec(0, ts=base),
            rec(1, ts=base * 1000 + 5),
            rec(2, ts="2025-09-01T00:00:00Z"),
            rec(3, ts="2025-09-01T02:00:00+02:00"),
            rec(4, ts=base + 0.25),
            rec(5, ts=None),
        ],
    )
    t, st, _ = read_all(p)
    assert t.column("ts_ms").to_pylist() == [
        base * 1000,
        base * 1000 + 5,
        base * 1000,
        base * 1000,
        base * 1000 + 250,
        None,
    ]


def test_account_ids_as_integers(tmp_path):
    p = tmp_path / "a.jsonl"
    write_lines(p, [rec(0, account_id=123), rec(1, account_id="x")])
    t, st, _ = read_all(p)
    assert t.column("account_id").to_pylist() == ["123", "x"]


def test_openai_shape_and_transcripts(tmp_path):
    p = tmp_path / "o.jsonl"
    msgs = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "reply"},
        {"role": "user", "content": [{"type": "text", "text": "second"}]},
    ]
    r = {
        "id": "x",
        "created": 1756684800,
        "user": "u1",
        "request": {"model": "m", "messages": msgs, "max_tokens": 10, "n": 2, "logprobs": True, "top_logprobs": 3},
        "response": {
            "choices": [{"message": {"role": "assistant", "content": "out"}, "finish_reason": "length"}],
            "usage": {
                "prompt_tokens": 5,
                "completion_tokens": 20,
                "completion_tokens_details": {"reasoning_tokens": 7},
            },
        },
    }
    r2 = {**r, "request": {**r["request"], "messages": msgs[:2]}}  # type: ignore[dict-item]
    write_lines(p, [r2, r])
    t, st, rj = read_all(p)
    assert st.records_rejected == 0, rj.examples
    row = t.to_pylist()
    assert row[0]["prompt"] == "first" and row[0]["n_prior_messages"] == 0
    assert row[1]["prompt"] == "second" and row[1]["n_prior_messages"] == 2
    assert row[1]["system_prompt"] == "Be brief." and row[1]["reasoning_tokens"] == 7
    assert row[1]["logprobs"] is True and row[1]["finish_reason"] == "length" and row[1]["n"] == 2


def test_flat_transcript_matches_messages(tmp_path):
    p = tmp_path / "a.jsonl"
    write_lines(
        p,
        [
            rec(0, prompt="system: Be brief.\n\nuser: first\n\nassistant: reply\n\nuser: second"),
            rec(1, prompt="user: only this"),
            rec(2, prompt="User: not a transcript"),
        ],
    )
    t, _, _ = read_all(p)
    rows = t.to_pylist()
    assert (rows[0]["prompt"], rows[0]["system_prompt"], rows[0]["n_prior_messages"]) == ("second", "Be brief.", 2)
    assert (rows[1]["prompt"], rows[1]["n_prior_messages"]) == ("only this", 0)
    assert rows[2]["prompt"] == "User: not a transcript"


def test_parquet_reads_completions_only_where_a_count_is_missing(tmp_path):
    import pyarrow.parquet as pq

    from fastscan.read.columnar import _lean_row_groups
    from fastscan.read.shape import detect_columns

    # row groups of 10: the second has records without completion_tokens, whose completions
    # are read to estimate them; the first and third have every count and are read without
    recs = [rec(i, account=f"a{i % 4}", completion=f"answer {i} " * (i % 9 + 1)) for i in range(30)]
    for i in (12, 15, 19):
        recs[i]["completion_tokens"] = None
    path = tmp_path / "a.parquet"
    pq.write_table(pa.Table.from_pylist(recs), path, row_group_size=10)
    pf = pq.ParquetFile(path)
    assert _lean_row_groups(pf, detect_columns(pf.schema_arrow.names, None, "a")) == ["completion", None, "completion"]
    plain = tmp_path / "a.jsonl"
    write_lines(plain, recs)
    got, want = read_all(path)[0], read_all(plain)[0]
    assert got.to_pylist() == want.to_pylist()
    missing = got.column("completion_tokens").is_null().to_pylist()
    assert [i for i, m in enumerate(missing) if m] == [12, 15, 19]
    assert got.column("completion").to_pylist()[12] == recs[12]["completion"]
    # and the scores: the estimated counts of those three records are in both
    import fastscan

    a, b = fastscan.scan([str(path)]), fastscan.scan([str(plain)])
    assert a.accounts.to_pylist() == b.accounts.to_pylist()
    # a count column of strings is no proof of a count: every completion is read
    recs_s = [{**r, "completion_tokens": str(r["completion_tokens"])} for r in recs]
    pq.write_table(pa.Table.from_pylist(recs_s), tmp_path / "s.parquet", row_group_size=10)
    pf = pq.ParquetFile(tmp_path / "s.parquet")
    assert _lean_row_groups(pf, detect_columns(pf.schema_arrow.names, None, "s")) == [None] * 3


def test_parquet_row_groups_are_read_in_equal_batches(tmp_path):
    from fastscan.read.columnar import group_batch_rows

    for rows in [1, 100, 1023, 1024, 1200, 1535, 1537, 2048, 5000, 1_000_000]:
        size = group_batch_rows(rows, 1024)
        parts = -(-rows // size)
        assert size < 1.5 * 1024
        assert parts == 1 or size > 1024 / 1.5  # never a small remainder of its own
        assert parts * size - rows < parts  # equal batches, but for one row each
    # row groups of 1,200 rows with batches of 1,024 rows asked for: one batch each, not a batch
    # and a remainder of 176
    recs = [rec(i, account=f"a{i % 4}") for i in range(3600)]
    path = tmp_path / "a.parquet"
    pq.write_table(pa.Table.from_pylist(recs), path, row_group_size=1200)
    (src,) = expand_sources([path])
    stats, rejects = ReadStats(), RejectLog()
    got = list(read_source(src, rejects=rejects, stats=stats, chunk_bytes=1024 * 2048))
    assert [b.num_rows for b in got] == [1200] * 3
    assert stats.records_read == stats.records_scored == 3600


def test_arrow_file_reads_completions_only_where_a_count_is_missing(tmp_path):
    from fastscan.read.columnar import _file_batches
    from fastscan.read.shape import detect_columns

    # batches of 10, as the Parquet row groups above: the second lacks three counts
    recs = [rec(i, account=f"a{i % 4}", completion=f"answer {i} " * (i % 9 + 1)) for i in range(30)]
    for i in (12, 15, 19):
        recs[i]["completion_tokens"] = None
    table = pa.Table.from_pylist(recs)
    path = tmp_path / "a.arrow"
    with pa.ipc.new_file(str(path), table.schema) as w:
        w.write_table(table, max_chunksize=10)
    reader = pa.ipc.open_file(pa.OSFile(str(path)))
    sh = detect_columns(table.schema.names, None, "a")
    got = list(_file_batches(reader, pa.OSFile(str(path)), sh, 1000))
    assert ["completion" in rb.schema.names for rb, _ in got] == [False, True, False]
    assert [n for _, n in got] == [333, 333, 334]  # each batch's share of the file's bytes
    plain = tmp_path / "a.jsonl"
    write_lines(plain, recs)
    a, st, _ = read_all(path)
    assert a.to_pylist() == read_all(plain)[0].to_pylist()
    assert st.bytes_decoded == path.stat().st_size
    assert a.column("completion").to_pylist()[12] == recs[12]["completion"]
    import fastscan

    assert fastscan.scan([str(path)]).accounts.to_pylist() == fastscan.scan([str(plain)]).accounts.to_pylist()
    # a count column of strings, or of uint64, is no proof of a count: every completion is read
    for ct in (pa.string(), pa.uint64()):
        t = table.set_column(7, "completion_tokens", table.column("completion_tokens").cast(ct))
        with pa.ipc.new_file(str(tmp_path / "s.arrow"), t.schema) as w:
            w.write_table(t, max_chunksize=10)
        r = pa.ipc.open_file(pa.OSFile(str(tmp_path / "s.arrow")))
        kept = [rb for rb, _ in _file_batches(r, pa.OSFile(str(tmp_path / "s.arrow")), sh, 1)]
        assert all("completion" in rb.schema.names for rb in kept) and len(kept) == 3


@pytest.mark.parametrize("stream", [False, True])
def test_an_arrow_batch_of_a_whole_table_is_folded_in_slices(tmp_path, stream):
    # an IPC file written from a table in one chunk is one batch of all its rows: read in equal
    # slices of about one row per 2 KiB of the chunk size, as a Parquet row group is, so that the
    # fold's memory stays bounded; the same records and the same report as from JSON Lines
    import fastscan

    recs = [rec(i, account=f"a{i % 7}", prompt=f"p{i} " + "word " * (i % 40)) for i in range(5000)]
    table = pa.Table.from_pylist(recs)
    path = tmp_path / ("s.arrows" if stream else "a.arrow")
    with (pa.ipc.new_stream if stream else pa.ipc.new_file)(str(path), table.schema) as w:
        w.write_table(table)  # one batch of 5,000 rows
    plain = tmp_path / "a.jsonl"
    write_lines(plain, recs)
    (src,) = expand_sources([path])
    stats, rejects = ReadStats(), RejectLog()
    rows = [b.num_rows for b in read_source(src, rejects=rejects, stats=stats, chunk_bytes=1024 * 2048)]
    assert rows == [1000] * 5  # batches of about 1,024 rows asked for: equal slices
    assert stats.records_read == stats.records_scored == 5000
    got, _, _ = read_all(path, chunk_bytes=1024 * 2048)
    assert got.to_pylist() == read_all(plain)[0].to_pylist()
    small = fastscan.scan([str(path)], chunk_bytes=1024 * 2048)
    assert small.accounts.to_pylist() == fastscan.scan([str(plain)]).accounts.to_pylist()
    assert small.stats.bytes_decoded == fastscan.scan([str(path)]).stats.bytes_decoded


def test_gzip_zstd_parquet_arrow_agree(tmp_path):
    import zstandard

    recs = [rec(i, account=f"a{i % 3}") for i in range(50)]
    plain = tmp_path / "a.jsonl"
    write_lines(plain, recs)
    gz = tmp_path / "a.jsonl.gz"
    write_lines(gz, recs, opener=gzip.open)
    zst = tmp_path / "a.jsonl.zst"
    zst.write_bytes(zstandard.ZstdCompressor().compress(plain.read_bytes()))
    table = pa.Table.from_pylist(recs)
    pq.write_table(table, tmp_path / "a.parquet")
    with pa.ipc.new_file(str(tmp_path / "a.arrow"), table.schema) as w:
        w.write_table(table)
    with pa.ipc.new_stream(str(tmp_path / "s.arrows"), table.schema) as w:
        w.write_table(table)
    want = read_all(plain)[0]
    for name in ["a.jsonl.gz", "a.jsonl.zst", "a.parquet", "a.arrow", "s.arrows"]:
        got, st, rj = read_all(tmp_path / name)
        assert got.equals(want), name
        assert st.records_read == 50
        assert rj.file_errors == [], name  # a complete stream is not reported as cut


def test_truncated_gzip_keeps_what_it_had(tmp_path):
    recs = [rec(i, prompt=f"prompt {i} " + "word " * 50) for i in range(2000)]
    gz = tmp_path / "a.jsonl.gz"
    write_lines(gz, recs, opener=gzip.open)
    data = gz.read_bytes()
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(data[: len(data) // 2])
    t, st, rj = read_all(cut)
    assert 0 < t.num_rows < 2000
    assert st.records_read == st.records_scored + st.records_rejected
    assert rj.file_errors and rj.file_errors[0]["reason"].startswith("truncated file")
    assert t.column("prompt").to_pylist() == [r["prompt"] for r in recs[: t.num_rows]]


def test_missing_path_and_unknown_shape(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        expand_sources([tmp_path / "nope.jsonl"])
    with pytest.raises(InputError, match="no file matches"):
        expand_sources([str(tmp_path / "*.jsonl")])
    p = tmp_path / "weird.jsonl"
    write_lines(p, [{"who": "x", "what": "y"}])
    with pytest.raises(SchemaError, match="--map"):
        read_all(p)


def test_custom_mapping(tmp_path):
    from fastscan.read import shape_from_mapping

    p = tmp_path / "c.jsonl"
    write_lines(p, [{"meta": {"customer": "c1"}, "input": {"text": "hello there"}, "time": 1756684800}])
    shape = shape_from_mapping({"account_id": "meta.customer", "prompt": "input.text", "ts": "time"})
    t, st, _ = read_all(p, shape=shape)
    assert t.to_pylist()[0]["account_id"] == "c1" and t.to_pylist()[0]["prompt"] == "hello there"


@pytest.mark.parametrize("fast", [True, False])
def test_mapping_reads_the_list_element_it_names(tmp_path, monkeypatch, fast):
    """A path through a list reads the element it names, with either decoder (Arrow's path took
    element 0 whatever the index, and two indices of one list lost the second's fields)."""
    from fastscan.read import shape_from_mapping
    from fastscan.read.jsonl_decode import JsonlDecoder

    if not fast:
        monkeypatch.setattr(JsonlDecoder, "_flat", lambda self, *a: None)
    p = tmp_path / "c.jsonl"
    recs = [
        {"a": "u1", "l": [{"x": "zero", "y": "m0"}, {"x": "one", "y": "m1"}]},
        {"a": "u2", "l": [{"x": "only"}]},
        {"a": "u3", "l": None},
    ]
    write_lines(p, recs)
    for mapping, prompts, models in [
        ({"account_id": "a", "prompt": "l.1.x", "model": "l.1.y"}, ["one", None, None], ["m1", None, None]),
        ({"account_id": "a", "prompt": "l.0.x", "model": "l[1].y"}, ["zero", "only", None], ["m1", None, None]),
    ]:
        t, st, _ = read_all(p, shape=shape_from_mapping(mapping))
        assert st.records_scored == 3
        assert t.column("prompt").to_pylist() == prompts
        assert t.column("model").to_pylist() == models


def test_folder_and_glob(tmp_path):
    (tmp_path / "d").mkdir()
    write_lines(tmp_path / "d" / "1.jsonl", [rec(0)])
    write_lines(tmp_path / "d" / "2.jsonl", [rec(1)])
    (tmp_path / "d" / "notes.md").write_text("not a log")
    assert [os.path.basename(s.path) for s in expand_sources([tmp_path / "d"])] == ["1.jsonl", "2.jsonl"]
    assert len(expand_sources([str(tmp_path / "d" / "*.jsonl")])) == 2


class _Pieces:
    """A decompressed stream stand-in: pieces, then an error (or the end)."""

    def __init__(self, pieces, error=None, pending=b""):
        self.pieces, self.error, self._pending, self.closed = list(pieces), error, pending, False

    def read(self, size):
        if self.pieces:
            return self.pieces.pop(0)
        if self.error is not None:
            raise self.error
        return b""

    def close(self):
        self.closed = True


def _drain(fh, step=7000):
    out, buf = bytearray(), bytearray(step)
    while True:
        k = fh.readinto(memoryview(buf))
        if not k:
            return bytes(out)
        out += buf[:k]


def test_read_ahead_gives_every_byte_then_the_streams_error():
    import zlib

    from fastscan.read.streams import ReadAhead, TruncatedInput

    pieces = [bytes([i % 256]) * (1000 + 37 * i) for i in range(300)]  # more than a batch
    whole = b"".join(pieces)
    fh = ReadAhead(_Pieces(pieces))
    assert _drain(fh) == whole
    fh.close()
    # damage: everything read before it first, then the error
    fh = ReadAhead(_Pieces(pieces, zlib.error("bad block")))
    got, buf = bytearray(), bytearray(4096)
    with pytest.raises(zlib.error):
        while True:
            k = fh.readinto(memoryview(buf))
            got += buf[:k]
    assert bytes(got) == whole
    fh.close()
    # a cut zstd stream keeps what it had decoded (its _pending bytes)
    fh = ReadAhead(_Pieces(pieces[:3], TruncatedInput("cut"), pending=b"tail"))
    got = bytearray()
    with pytest.raises(TruncatedInput):
        while True:
            k = fh.readinto(memoryview(buf))
            got += buf[:k]
    assert bytes(got) == b"".join(pieces[:3]) + b"tail"
    fh.close()


def test_a_zstd_stream_in_pieces_gives_every_byte_and_keeps_them_at_a_cut():
    """_ZstdStream hands ReadAhead the decompressor's pieces unjoined (read_pieces), and read(n)
    gives at most n bytes: over several frames, whole or cut anywhere, what comes out is the
    stream's bytes in order, every whole frame before a cut included, then TruncatedInput."""
    import io

    import zstandard

    from fastscan.read.streams import ReadAhead, TruncatedInput, _ZstdStream

    rng = np.random.default_rng(7)
    words = [b"alpha", b"beta", b"gamma", b"delta", b"reasoning", b"step", b"by", b"%d"]
    frames = []
    for _ in range(3):  # about 1.5 MB in all: more than ReadAhead's batch
        lines = [b" ".join(words[int(i)] for i in rng.integers(0, 8, 12)) + b"\n" for _ in range(7000)]
        frames.append(b"".join(lines))
    plain = b"".join(frames)
    blobs = [zstandard.ZstdCompressor(level=1).compress(f) for f in frames]
    blob = b"".join(blobs)
    fh = ReadAhead(_ZstdStream(io.BytesIO(blob)))
    assert _drain(fh, step=100_003) == plain
    fh.close()
    z = _ZstdStream(io.BytesIO(blob))
    got = []
    while piece := z.read(50_000):
        assert len(piece) <= 50_000
        got.append(piece)
    assert b"".join(got) == plain
    assert _drain(_ZstdStream(io.BytesIO(blob)), step=70_001) == plain  # readinto, as a pipe is read
    ends = np.cumsum([len(b) for b in blobs])
    for cut in (int(ends[0]) + 10, int(ends[1]) - 1, int(ends[1]) + len(blobs[2]) // 2, int(ends[2]) - 3):
        fh = ReadAhead(_ZstdStream(io.BytesIO(blob[:cut])))
        out, buf = bytearray(), bytearray(65_537)
        with pytest.raises(TruncatedInput):
            while True:
                k = fh.readinto(memoryview(buf))
                out += buf[:k]
        fh.close()
        whole_frames = sum(len(f) for f, e in zip(frames, ends) if e <= cut)
        assert bytes(out) == plain[: len(out)] and len(out) >= whole_frames
        d, rest, most = zstandard.ZstdDecompressor().decompressobj(), blob[:cut], b""
        while rest:  # all the cut stream holds, decompressed in one go: nothing of it lost
            most += d.decompress(rest)
            rest = d.unused_data if d.eof else b""
            d = zstandard.ZstdDecompressor().decompressobj() if d.eof else d
        assert bytes(out) == most


def test_read_ahead_closed_early_stops_its_thread():
    from fastscan.read.streams import ReadAhead

    inner = _Pieces([b"x" * 65536] * 2000)  # 128 MiB: far more than it reads ahead
    fh = ReadAhead(inner, ahead=2 << 20)
    buf = bytearray(10)
    assert fh.readinto(memoryview(buf)) == 10 and bytes(buf) == b"x" * 10
    fh.close()
    assert inner.closed and not fh._thread.is_alive()
    assert len(inner.pieces) > 1500  # it stopped reading ahead when its queue was full


def test_a_pipe_is_not_read_ahead_so_a_read_stopped_early_ends(tmp_path):
    """A plain file's next chunk is read on a thread of its own while a chunk is decoded; a
    pipe's is not: that read would wait for input that may never come, and the end of a read
    stopped early (the consumer gone, Ctrl-C) waits for the read under way."""
    import threading
    from collections.abc import Generator
    from typing import cast

    from fastscan.read.source import Source

    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    lines = b"".join(json.dumps(rec(i)).encode() + b"\n" for i in range(400))
    release = threading.Event()

    def write():  # a chunk and a half, then the writer keeps the pipe open
        with open(fifo, "wb") as fh:
            fh.write(lines[:6144])
            fh.flush()
            release.wait(30)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    src = Source(str(fifo), "jsonl", "", 0, stream=True)
    batches = cast(Generator, read_source(src, chunk_bytes=4096, rejects=RejectLog(), stats=ReadStats()))
    assert next(batches).num_rows > 0
    closing = threading.Thread(target=batches.close, daemon=True)
    closing.start()
    closing.join(10)
    stopped = not closing.is_alive()
    release.set()
    writer.join(10)
    assert stopped


def test_the_read_buffer_never_moves_memory_that_something_still_views():
    from fastscan.read.jsonl import _Window

    w = _Window(1024)
    w.buf[:10] = 7
    w.end = 10
    view = w.view(10)  # a chunk still being looked at
    w._room(1 << 21)  # a long line needs more room
    assert bytes(view) == b"\x07" * 10  # the view still reads the old memory, untouched
    assert w.buf[:10].tolist() == [7] * 10 and len(w.buf) >= 1 << 21
    del view
    before = len(w.buf)
    w._room(before + 1)  # nothing views it now: grown in place
    assert len(w.buf) > before and w.buf[:10].tolist() == [7] * 10


def test_every_read_of_a_window_goes_to_an_aligned_address_and_keeps_the_line_before():
    """Whatever the length of the unfinished line a window keeps (after `follow`, `drop`, or a
    long line's growth), the next read lands at a multiple of ALIGN and the bytes read before it
    are where they were."""
    from fastscan.read.jsonl import ALIGN, _Window

    class Source:
        def __init__(self, data: bytes):
            self.data, self.pos = data, 0
            self.targets: list[int] = []

        def readinto(self, b) -> int:
            self.targets.append(np.frombuffer(b, dtype=np.uint8).ctypes.data % ALIGN)
            k = min(len(b), len(self.data) - self.pos)
            b[:k] = self.data[self.pos : self.pos + k]
            self.pos += k
            return k

    rng = np.random.default_rng(3)
    data = rng.integers(0, 256, 200_000, dtype=np.uint8).tobytes()
    fh = Source(data)
    a, b = _Window(4096), _Window(4096)
    got, err = a.read(fh, 4096)
    assert (got, err) == (4096, None)
    pos = 0  # file offset of a's first byte
    for keep in [0, 1, 7, 16, 63, 64, 65, 1000, 4095]:
        b.follow(a, a.end - keep, fh, 4096)  # b: a's last `keep` bytes, then more
        pos += a.end - keep
        assert bytes(b.buf[: b.end]) == data[pos : pos + b.end]
        a, b = b, a
    for cut in [3, 100, 17]:
        a.drop(cut)
        pos += cut
        a.read(fh, 1000)
        assert bytes(a.buf[: a.end]) == data[pos : pos + a.end]
    a._room(len(a.buf) + 5000)  # a long line: grown, the bytes kept
    a.read(fh, 8000)
    assert bytes(a.buf[: a.end]) == data[pos : pos + a.end]
    assert len(fh.targets) == 14 and set(fh.targets) == {0}


def test_a_window_reads_all_it_is_asked_for_whatever_the_length_of_the_line_it_keeps():
    """A read that got fewer bytes than asked would be taken for the end of the file: the room a
    window makes must hold the kept line and a whole read wherever alignment puts them, for a
    kept line just short of what the window holds too, wherever its memory starts."""
    from fastscan.read.jsonl import ALIGN, _Window

    data = bytes(range(256)) * 1000
    before = _Window(4096)
    before._room(66_000)
    before.buf[:66_000] = np.frombuffer(data[:66_000], dtype=np.uint8)
    before.end = 66_000
    w = _Window(4096)
    size = len(w._mem)
    for shift in range(ALIGN):  # where the window's memory starts, against a multiple of ALIGN
        for rest in range(65_536 - 70, 65_536 + 70):
            w._mem = np.empty(size + ALIGN, dtype=np.uint8)[shift : shift + size]
            w.end = 0
            w._place(0)
            got, err = w.follow(before, before.end - rest, io.BytesIO(data[66_000:]), 4096)
            assert (got, err) == (4096, None), (shift, rest)
            assert bytes(w.buf[: w.end]) == data[66_000 - rest : 66_000 + 4096]


def test_float_epoch_times_convert_as_one_value_at_a_time_does():
    """A float time column is converted in numpy; each value as `epoch_to_ms` converts it (and
    rejects it) one at a time: seconds and milliseconds either side of the threshold, halves of a
    millisecond, the ends of int64, non-finite values, nulls, float32."""
    from fastscan.read.times import MS_THRESHOLD, epoch_to_ms, ts_to_ms

    rng = np.random.default_rng(5)
    edge = [
        0.0,
        -0.0,
        0.0005,
        0.0015,
        -0.0005,
        1.2345,
        1756684800.512,
        -1756684800.4995,
        1e11 - 0.5,
        1e11,
        -1e11,
        1e11 + 0.5,
        9.2e15,
        9.223372036854775e18,
        2.0**63,
        -(2.0**63),
        -(2.0**63) * 1.0000001,
        9.2e15 / 1000,
        float("nan"),
        float("inf"),
        float("-inf"),
        MS_THRESHOLD * 10.0,
        None,
    ]
    values = edge + list(rng.uniform(-3e9, 3e9, 400)) + list(rng.uniform(-3e12, 3e12, 400))
    for typ in (pa.float64(), pa.float32()):
        col = pa.array(values, typ)
        got, bad = ts_to_ms(col)
        want, want_bad = [], []
        for x in col.to_pylist():
            try:
                want.append(None if x is None else epoch_to_ms(x))
                want_bad.append(False)
            except ValueError:
                want.append(None)
                want_bad.append(True)
        assert got.to_pylist() == want and bad.tolist() == want_bad
        assert sum(want_bad) >= 4  # the non-finite values and the one past int64 at least


@pytest.mark.parametrize(
    "times",
    [
        ["2025-09-01T00:00:00.215Z", "2025-09-01T02:00:00+02:00", None, "1969-12-31T23:59:59.9995Z"],
        ["2025-09-01T00:00:00.123456Z", "2025-09-01T00:00:00.123456789Z", "1969-12-31T23:59:59.999999Z"],
        ["2025-09-01 00:00:00", "2025-09-01 12:34:56.789", "1970-01-01 00:00:00", None],
        ["2025-09-01T00:00:00.123456", "1969-12-31T23:59:59.0000001"],
    ],
)
def test_time_columns_arrow_reads_at_once_give_what_python_reads(times, monkeypatch):
    """ISO times with microseconds or nanoseconds (Python's isoformat), with or without a zone,
    are read by Arrow a column at once, each to the millisecond Python's reading gives."""
    from fastscan.read import times as t

    want = [None if x is None else t.text_to_ms(x) for x in times]

    def one_by_one(text):
        raise AssertionError(f"read one value at a time: {text}")

    monkeypatch.setattr(t, "text_to_ms", one_by_one)
    got, bad = t.ts_to_ms(pa.array(times, pa.string()))
    assert got.to_pylist() == want and not bad.any()


def test_a_time_column_reads_the_same_whatever_form_the_column_before_had(monkeypatch):
    """ts_to_ms tries first the form the column before it was read in: columns in every order of
    forms (zoned or naive, to the millisecond or finer) give what each gives read first."""
    import itertools

    from fastscan.read import times as t

    columns = [
        ["2025-09-01T00:00:00.215Z", "2025-09-01T02:00:00+02:00"],
        ["2025-09-01T00:00:00.123456Z", "1969-12-31T23:59:59.999999Z"],
        ["2025-09-01 00:00:00", "2025-09-01 12:34:56.789"],
        ["2025-09-01T00:00:00.123456", "1969-12-31T23:59:59.0000001"],
        ["3000-01-01T00:00:00Z", "1677-01-01T00:00:00Z"],  # past nanoseconds' years: ms only
        ["2025-09-01 00:00:00", "2025-09-01T00:00:00.5Z", "not a time"],  # mixed: one at a time
    ]
    alone = []
    for times in columns:
        monkeypatch.setattr(t, "_LAST_FORM", [None])
        got, bad = t.ts_to_ms(pa.array(times, pa.string()))
        alone.append((got.to_pylist(), bad.tolist()))
    for first, then in itertools.permutations(range(len(columns)), 2):
        monkeypatch.setattr(t, "_LAST_FORM", [None])
        t.ts_to_ms(pa.array(columns[first], pa.string()))
        got, bad = t.ts_to_ms(pa.array(columns[then], pa.string()))
        assert (got.to_pylist(), bad.tolist()) == alone[then], (first, then)


def test_a_time_column_of_mixed_forms_is_read_one_value_at_a_time():
    from fastscan.read.times import text_to_ms, ts_to_ms

    times = ["2025-09-01 00:00:00", "2025-09-01T00:00:00.5Z", "not a time", "0001-01-01T00:00:00.000001Z"]
    got, bad = ts_to_ms(pa.array(times, pa.string()))
    assert got.to_pylist() == [text_to_ms(times[0]), text_to_ms(times[1]), None, text_to_ms(times[3])]
    assert bad.tolist() == [False, False, True, False]
