"""Completion text is decoded only for records without completion_tokens, whatever the chunking.

The JSON Lines reader skips the (often large) completion column when a record carries its token
count, and decodes it afterwards for the records that lack one. A record's outcome must not depend
on which path read it: the bulk decode, or the one-record path a bad neighbour sends it down.
"""

from __future__ import annotations

import orjson
import pytest

from fastscan import scan


def rec(i, *, ct=True, completion="a fine answer with several words in it", acct=None):
    r = {
        "request_id": f"r{i}",
        "account_id": acct or f"acct{i % 3}",
        "ts": 1_700_000_000 + i,
        "model": "m",
        "prompt": f"prompt number {i} about topic {i % 5}",
        "completion": completion,
        "prompt_tokens": 9,
        "max_tokens": 100,
        "n": 1,
    }
    if ct:
        r["completion_tokens"] = 12
    return r


def write(path, records, bad_line_at=None):
    lines = [orjson.dumps(r) for r in records]
    if bad_line_at is not None:
        lines.insert(bad_line_at, b'{"account_id": "acct0", "prompt": "broken')
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def records():
    out = []
    for i in range(120):
        if i % 10 == 3:
            out.append(rec(i, ct=True, completion=12345))  # not text, but not needed: kept
        elif i % 10 == 5:
            out.append(rec(i, ct=False, completion=12345))  # not text and needed: rejected
        elif i % 10 == 7:
            out.append(rec(i, ct=False))  # estimated from the text
        elif i % 10 == 8:
            out.append(
                rec(
                    i, ct=False, completion=[{"type": "text", "text": "two parts"}, {"type": "text", "text": "of text"}]
                )
            )
        else:
            out.append(rec(i))
    return out


@pytest.mark.parametrize("bad_line_at", [None, 1, 60])
@pytest.mark.parametrize("chunk", [300, 4096, 1 << 20])
def test_completion_read_only_where_needed(tmp_path, chunk, bad_line_at):
    path = write(tmp_path / "log.jsonl", records(), bad_line_at)
    rejects = tmp_path / "rejects.jsonl"
    report = scan([path], chunk_bytes=chunk, reject_file=rejects)
    st = report.stats.to_dict()
    bad_json = 0 if bad_line_at is None else 1
    assert st["records_read"] == 120 + bad_json
    assert st["records_rejected"] == 12 + bad_json  # i % 10 == 5, and the broken line
    assert st["records_read"] == st["records_scored"] + st["records_rejected"]
    reasons = [orjson.loads(x)["reason"] for x in rejects.read_bytes().splitlines()]
    assert sum(r.startswith("completion: expected a string") for r in reasons) == 12

    want = scan(
        [
            write(
                tmp_path / "clean.jsonl",
                [r for r in records() if not (r["request_id"][1:].isdigit() and int(r["request_id"][1:]) % 10 == 5)],
            )
        ]
    )
    assert report.accounts.equals(want.accounts)


def test_estimated_completion_tokens_use_the_text(tmp_path):
    text = "one two three four five six seven eight"
    a = scan([write(tmp_path / "a.jsonl", [rec(0, ct=False, completion=text, acct="x")])]).accounts
    b = scan([write(tmp_path / "b.jsonl", [rec(0, ct=False, completion=text + " " + text, acct="x")])]).accounts
    ct_a = a.column("completion_tokens").to_pylist()[0]
    assert ct_a > 0 and b.column("completion_tokens").to_pylist()[0] == 2 * ct_a
    assert a.column("tokens_estimated_rate").to_pylist() == [1.0]
