"""The synthetic log generator: shapes, determinism, the two formats agreeing, labels, sizing."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import json
import re

import pytest

from fastscan.synth import SynthSummary, flat_prompt, write_labels, write_log

SEED = 3
ACCOUNTS = 40  # a log of a few MB: every population present, each test well under a second

FLAT_KEYS = [
    "request_id",
    "account_id",
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
ISO_MS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _read(path) -> list:
    with open(path, "rb") as fh:
        return [json.loads(line) for line in fh]


def _tokens(text: str) -> int:
    return max(1, (len(text.encode("utf-8")) + 3) // 4)


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    d = tmp_path_factory.mktemp("synth")
    out = {}
    for fmt in ("flat", "openai"):
        summary = write_log(d / f"{fmt}.jsonl", accounts=ACCOUNTS, seed=SEED, fmt=fmt)
        out[fmt] = (summary, _read(d / f"{fmt}.jsonl"), d / f"{fmt}.jsonl")
    return out


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path, logs):
    _, _, first = logs["flat"]
    again = write_log(tmp_path / "again.jsonl", accounts=ACCOUNTS, seed=SEED)
    other = write_log(tmp_path / "other.jsonl", accounts=ACCOUNTS, seed=SEED + 1)
    assert (tmp_path / "again.jsonl").read_bytes() == first.read_bytes()
    assert again.labels == logs["flat"][0].labels
    assert (tmp_path / "other.jsonl").read_bytes() != first.read_bytes()
    assert {a.account_id for a in other.labels}.isdisjoint({a.account_id for a in again.labels})


def test_flat_records_have_exactly_the_flat_shape(logs):
    summary, recs, path = logs["flat"]
    assert summary.records == len(recs) > 1000
    assert summary.bytes_written == summary.file_bytes == path.stat().st_size
    for r in recs:
        assert list(r) == FLAT_KEYS
        assert ISO_MS_Z.match(r["ts"])
        assert r["finish_reason"] in ("stop", "length")
        assert isinstance(r["logprobs"], bool) and isinstance(r["temperature"], float)
        assert 1 <= r["completion_tokens"] <= r["max_tokens"] * r["n"]
    times = [r["ts"] for r in recs]
    assert times == sorted(times)
    assert times[0] >= "2025-09-01T00:00:00.000Z" and times[-1] < "2025-09-08T00:00:00.000Z"


def test_openai_records_have_exactly_the_openai_shape(logs):
    _, recs, _ = logs["openai"]
    created = [r["created"] for r in recs]
    assert created == sorted(created)
    seen_logprobs = seen_reasoning = False
    for r in recs:
        assert list(r) == ["id", "created", "user", "request", "response"]
        req, resp = r["request"], r["response"]
        expect = ["model", "messages", "max_tokens", "temperature", "n"]
        if req.get("logprobs"):
            seen_logprobs = True
            expect += ["logprobs", "top_logprobs"]
        assert list(req) == expect
        assert req["messages"][-1]["role"] == "user"
        assert all(list(m) == ["role", "content"] for m in req["messages"])
        assert len(resp["choices"]) == req["n"]
        assert [c["index"] for c in resp["choices"]] == list(range(req["n"]))
        assert all(list(c) == ["index", "message", "finish_reason"] for c in resp["choices"])
        usage = resp["usage"]
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
        # the evaluation logs' token rule: 4 bytes a token, 3 more per message
        assert usage["prompt_tokens"] == sum(_tokens(m["content"]) + 3 for m in req["messages"])
        if "completion_tokens_details" in usage:
            seen_reasoning = True
            assert usage["completion_tokens_details"]["reasoning_tokens"] > 0
        else:
            assert list(usage) == ["prompt_tokens", "completion_tokens", "total_tokens"]
    assert seen_logprobs and seen_reasoning


def test_flat_and_openai_describe_the_same_requests(logs):
    _, flat, _ = logs["flat"]
    _, oai, _ = logs["openai"]
    assert len(flat) == len(oai)
    by_id = {r["request_id"]: r for r in flat}
    assert len(by_id) == len(flat)
    multi = 0
    for o in oai:
        f = by_id[o["id"]]
        req, usage = o["request"], o["response"]["usage"]
        assert f["account_id"] == o["user"]
        created = dt.datetime.fromtimestamp(o["created"], dt.timezone.utc)
        assert f["ts"].startswith(created.strftime("%Y-%m-%dT%H:%M:%S"))
        assert (f["prompt_tokens"], f["completion_tokens"]) == (usage["prompt_tokens"], usage["completion_tokens"])
        assert (f["model"], f["max_tokens"], f["temperature"], f["n"]) == (
            req["model"],
            req["max_tokens"],
            req["temperature"],
            req["n"],
        )
        assert f["logprobs"] == bool(req.get("logprobs"))
        assert f["completion"] == o["response"]["choices"][0]["message"]["content"]
        assert f["finish_reason"] == o["response"]["choices"][0]["finish_reason"]
        last_user = req["messages"][-1]["content"]
        assert f["prompt"] == flat_prompt(req["messages"])
        if len(req["messages"]) == 1:
            assert f["prompt"] == last_user
        else:
            multi += 1
            assert f["prompt"].endswith("\n\nuser: " + last_user)
    assert multi > 100  # chats and system prompts were flattened, not just single messages


def test_flat_prompt_joins_role_blocks_with_a_blank_line():
    msgs = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Bye"},
    ]
    assert flat_prompt(msgs) == "system: Be brief.\n\nuser: Hi\n\nassistant: Hello!\n\nuser: Bye"
    assert flat_prompt([{"role": "user", "content": "Hi"}]) == "Hi"


def test_labels_cover_every_account_with_both_classes(tmp_path, logs):
    summary, recs, _ = logs["flat"]
    counts: dict = {}
    for r in recs:
        counts[r["account_id"]] = counts.get(r["account_id"], 0) + 1
    assert {a.account_id: a.requests for a in summary.labels} == counts
    assert {a.label for a in summary.labels} == {"benign", "extractor"}
    kinds = {(a.kind, a.campaign) for a in summary.labels}
    assert {
        ("casual", ""),
        ("power", ""),
        ("chat", ""),
        ("integration", ""),
        ("eval_run", ""),
        ("harvest", "solo-bulk"),
        ("harvest", "sybil-ring"),
        ("harvest", "logit-probe"),
    } <= kinds
    assert all((a.label == "extractor") == bool(a.campaign) for a in summary.labels)

    write_labels(tmp_path / "labels.csv", summary)
    with open(tmp_path / "labels.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["account_id", "label", "kind", "campaign", "requests"]
    assert len(rows) == len(summary.labels) + 1
    assert [r[0] for r in rows[1:]] == sorted(counts)
    assert {r[0]: int(r[4]) for r in rows[1:]} == counts


def test_populations_behave_as_described(logs):
    summary, recs, _ = logs["flat"]
    who = {a.account_id: a for a in summary.labels}
    by: dict = {}
    for r in recs:
        a = who[r["account_id"]]
        by.setdefault(a.campaign or a.kind, []).append(r)

    bulk = by["solo-bulk"]
    assert all(r["prompt"].startswith("Below is an instruction that describes a task") for r in bulk)
    assert len({r["prompt"] for r in bulk}) >= 0.97 * len(bulk)  # many distinct instructions
    assert sum(r["finish_reason"] == "length" for r in bulk) >= 0.2 * len(bulk)

    ring = by["sybil-ring"]
    assert len({r["account_id"] for r in ring}) >= 3
    assert all("step by step" in r["prompt"] or "chain of thought" in r["prompt"] for r in ring)
    for acct in {r["account_id"] for r in ring}:  # each member is active for a few days only
        ts = [dt.datetime.fromisoformat(r["ts"][:-1]) for r in ring if r["account_id"] == acct]
        assert max(ts) - min(ts) <= dt.timedelta(days=3, hours=1)

    probe = by["logit-probe"]
    assert all(r["n"] in (4, 8) and r["max_tokens"] in (256, 512) for r in probe)
    assert sum(r["logprobs"] for r in probe) >= 0.8 * len(probe)

    integ = by["integration"]
    assert all(r["temperature"] == 0.0 and r["max_tokens"] <= 256 for r in integ)
    assert sum(r["completion_tokens"] for r in integ) / len(integ) < 30

    chat = by["chat"]
    assert any("\n\nassistant: " in r["prompt"] for r in chat)  # histories are re-sent

    evals = by["eval_run"]
    assert all(r["temperature"] == 0.0 for r in evals)

    casual_prompts = [r["prompt"] for r in by["casual"] + by["power"]]
    assert len(set(casual_prompts)) >= 0.8 * len(casual_prompts)
    text = "".join(casual_prompts)
    assert re.search("[\u4e00-\u9fff]", text) and re.search("[\u0400-\u04ff]", text) and re.search("[¿¡áéíóú]", text)


def test_target_bytes_lands_near_the_target(tmp_path):
    seen: list = []
    summary = write_log(tmp_path / "t.jsonl", seed=1, target_bytes=5_000_000, progress=seen.append)
    assert isinstance(summary, SynthSummary)
    assert 0.8 * 5_000_000 <= summary.bytes_written <= 1.2 * 5_000_000
    assert summary.bytes_written == (tmp_path / "t.jsonl").stat().st_size == sum(seen)
    assert summary.mb_per_s > 0 and summary.n_extractors >= 3


def test_compressed_logs_hold_the_same_lines(tmp_path):
    import zstandard

    write_log(tmp_path / "p.jsonl", accounts=10, seed=5, days=2)
    write_log(tmp_path / "g.jsonl.gz", accounts=10, seed=5, days=2)
    write_log(tmp_path / "z.jsonl.zst", accounts=10, seed=5, days=2)
    plain = (tmp_path / "p.jsonl").read_bytes()
    assert gzip.decompress((tmp_path / "g.jsonl.gz").read_bytes()) == plain
    with zstandard.ZstdDecompressor().stream_reader((tmp_path / "z.jsonl.zst").read_bytes()) as fh:
        assert fh.read() == plain
    recs = [json.loads(x) for x in plain.splitlines()]
    assert recs[-1]["ts"] < "2025-09-03T00:00:00.000Z"  # days=2
    assert not list(tmp_path.glob("*.part"))


def test_bad_arguments_raise(tmp_path):
    with pytest.raises(ValueError):
        write_log(tmp_path / "x.jsonl", fmt="xml")
    with pytest.raises(ValueError):
        write_log(tmp_path / "x.jsonl", accounts=0)
    with pytest.raises(ValueError):
        write_log(tmp_path / "x.jsonl", start="yesterday")
    assert not list(tmp_path.iterdir())
