"""Prompt text in a report only when asked (`--include-text`, `ScanConfig(keep_text=True)`):
shared templates' skeletons with the payload cut, truncated excerpts of suspicious accounts'
prompts; nothing else changes, and the text kept is the same whatever the split (issue 14)."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest
from logs import WORDS, records, write_jsonl

from fastscan import ScanConfig, Scanner, scan
from fastscan.score.excerpts import EXCERPT_CHARS, excerpt, skeleton
from fastscan.sketches import TEXT_BYTES, prompt_ends
from fastscan.state import AccountState

OPENING = "Please answer the following question with great care:"
ENDING = "Then give the final answer in full detail."
SECRET = "zqxsecret"  # in every payload: never in a skeleton, never in a report without text


def _ring_log(path, seed: int = 5) -> None:
    """Benign accounts, and six accounts sending payloads of their own in one shared wrapper."""
    rng = random.Random(seed)
    recs = records(n_accounts=40, per_account=40, seed=seed)
    for a in range(6):
        for i in range(70):
            payload = " ".join(rng.choice(WORDS) for _ in range(6)) + f" {SECRET}{a}x{i}"
            recs.append(
                {
                    "account_id": f"ring_{a}",
                    "ts": 1756684800 + a * 60 + i * 600,
                    "model": "m-large",
                    "prompt": f"{OPENING} {payload} {ENDING}",
                    "completion": "ok",
                    "prompt_tokens": 30,
                    "completion_tokens": 1500,
                    "max_tokens": 1500,
                    "finish_reason": "length",
                }
            )
    random.Random(seed).shuffle(recs)
    write_jsonl(path, recs)


@pytest.fixture(scope="module")
def ring(tmp_path_factory):
    path = tmp_path_factory.mktemp("text") / "ring.jsonl"
    _ring_log(path)
    return path


def _reference_ends(texts: list[bytes]) -> np.ndarray:
    out = np.zeros((len(texts), 2 * TEXT_BYTES), dtype=np.uint8)
    for i, t in enumerate(texts):
        first, last = t[:TEXT_BYTES], t[-TEXT_BYTES:] if t else b""
        out[i, : len(first)] = list(first)
        out[i, TEXT_BYTES : TEXT_BYTES + len(last)] = list(last)
    return out


def test_prompt_ends_keep_the_first_and_last_bytes_of_each_string():
    texts = [b"", b"abc", bytes(range(1, 200)), "é".encode() * 150, b"x" * TEXT_BYTES, b"y" * (TEXT_BYTES + 1)]
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum([len(t) for t in texts], out=offsets[1:])
    data = np.frombuffer(b"".join(texts), dtype=np.uint8)
    rows = np.array([5, 0, 3, 1, 2, 4])
    assert np.array_equal(prompt_ends(offsets, data, rows), _reference_ends([texts[r] for r in rows]))


def _row(text: str) -> np.ndarray:
    return _reference_ends([text.encode()])[0]


def test_a_skeleton_is_the_wrappers_words_only():
    text = f"{OPENING} the payload {SECRET} sits here {ENDING}"
    assert skeleton(_row(text), 0, 5) == "Please answer the following question …"
    assert skeleton(_row(text), 1, 5) == "… final answer in full detail."
    # words split at an apostrophe are shown whole: the token, not "s think step by step."
    assert skeleton(_row("Tell me about rivers and stones and clouds. Let's think step by step."), 1, 5) == (
        "… Let's think step by step."
    )


@pytest.mark.parametrize("n_words", [0, 1, 5, 20, 60, 400])
def test_an_excerpt_is_short_and_one_line(n_words):
    rng = random.Random(n_words)
    text = "\n\t".join(rng.choice(WORDS + ["naïve", "日本語", "\x07bell"]) for _ in range(n_words))
    out = excerpt(_row(text))
    assert len(out) <= EXCERPT_CHARS
    assert "\n" not in out and "\t" not in out and "\x07" not in out
    if len(text) <= EXCERPT_CHARS and "\x07" not in text:
        assert out == " ".join(text.split())  # a short prompt whole


def test_text_only_when_asked_and_nothing_else_changes(ring):
    plain = scan([ring])
    texty = scan([ring], config=ScanConfig(keep_text=True))
    assert plain.accounts.equals(texty.accounts)
    # and where accounts fill their sample (its threshold then estimates their distinct prompts)
    small = scan([ring], config=ScanConfig(sample_size=16))
    assert small.accounts.equals(scan([ring], config=ScanConfig(sample_size=16, keep_text=True)).accounts)
    assert not small.accounts.equals(plain.accounts)
    assert plain.shared_templates is not None and texty.shared_templates is not None
    assert texty.prompt_excerpts is not None
    assert plain.prompt_excerpts is None and "skeleton" not in plain.shared_templates.column_names
    skeletons = texty.shared_templates.column("skeleton").to_pylist()
    assert "Please answer the following question …" in skeletons
    assert "… final answer in full detail." in skeletons
    assert not any(SECRET in s for s in skeletons)
    ex = texty.prompt_excerpts.to_pylist()
    ring_ex = [e for e in ex if e["account_id"].startswith("ring_")]
    assert {e["account_id"] for e in ring_ex} == {f"ring_{a}" for a in range(6)}
    assert all(len(e["excerpt"]) <= EXCERPT_CHARS and e["excerpt"].startswith("Please answer") for e in ring_ex)
    # only accounts above the typical one, at most three prompts each
    scores = dict(zip(texty.accounts.column("account_id").to_pylist(), texty.accounts.column("extraction_score")))
    typical = float(np.median(texty.accounts.column("extraction_score").to_numpy()))
    assert all(scores[e["account_id"]].as_py() > typical for e in ex)
    assert max(sum(e["account_id"] == a for e in ex) for a in scores) <= 3


def test_the_text_kept_is_the_same_whatever_the_split(ring):
    whole = scan([ring], config=ScanConfig(keep_text=True))
    pieces = scan([ring], config=ScanConfig(keep_text=True), chunk_bytes=1 << 12)
    assert whole.shared_templates is not None and pieces.shared_templates is not None
    assert whole.prompt_excerpts is not None and pieces.prompt_excerpts is not None
    assert whole.shared_templates.equals(pieces.shared_templates)
    assert whole.prompt_excerpts.equals(pieces.prompt_excerpts)


def test_a_state_keeps_its_text_through_bytes_and_refuses_one_without():
    scanner = Scanner(ScanConfig(keep_text=True))
    scanner.update(pa.Table.from_pylist(records(n_accounts=3, per_account=10)))
    st = scanner.state
    st.compact()
    assert st.sample.text is not None and len(st.sample.text) > 0
    back = AccountState.from_bytes(st.to_bytes())
    assert back.sample.text is not None and np.array_equal(back.sample.text, st.sample.text)
    # a state whose config says it keeps text but that holds none is not one to trust
    data = AccountState(ScanConfig()).to_bytes()
    reader = pa.ipc.open_stream(pa.py_buffer(data))
    batch = reader.read_next_batch()
    meta = dict(batch.schema.metadata)
    meta[b"fastscan.config"] = meta[b"fastscan.config"].replace(b'"keep_text": false', b'"keep_text": true')
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema.with_metadata(meta)) as w:
        w.write_batch(batch.replace_schema_metadata(meta))
    with pytest.raises(ValueError, match="keeps text"):
        AccountState.from_bytes(sink.getvalue().to_pybytes())


def test_the_cli_shows_text_only_with_include_text(run_cli, ring, tmp_path):
    st = tmp_path / "st"
    p = run_cli("scan", ring, "--include-text", "--state", st, "--html", tmp_path / "t.html", "--top", "0")
    assert p.returncode == 0, p.stderr
    page = (tmp_path / "t.html").read_text()
    assert "Please answer the following question …" in page and SECRET not in page.split("Example prompts")[0]
    # the same saved scan, reported without --include-text: no prompt text anywhere
    p = run_cli("report", "--state", st, "--html", tmp_path / "plain.html", "--evidence", tmp_path / "ev", "--top", "0")
    assert p.returncode == 0, p.stderr
    plain = (tmp_path / "plain.html").read_text()
    assert "Please answer" not in plain and SECRET not in plain and "--include-text" in plain
    assert not (tmp_path / "ev" / "prompt_excerpts.parquet").exists()
    p = run_cli("report", "--state", st, "--include-text", "--evidence", tmp_path / "ev2", "--top", "0")
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "ev2" / "prompt_excerpts.parquet").exists()
    ex = run_cli("explain", "--state", st, "--include-text", "ring_0")
    assert ex.returncode == 0, ex.stderr
    assert "shared templates" in ex.stdout and "Please answer the following question …" in ex.stdout
    assert "example prompts (3 of" in ex.stdout
    # resuming the state without the flag would mix a text-keeping state with one that keeps none
    p = run_cli("scan", ring, "--state", st, "--top", "0")
    errors = [line for line in p.stderr.splitlines() if "error" in line]
    assert p.returncode == 2 and len(errors) == 1 and "made with --include-text: give --include-text again" in errors[0]


def test_text_cannot_be_asked_of_a_scan_that_kept_none(run_cli, ring, tmp_path):
    st = tmp_path / "st"
    assert run_cli("scan", ring, "--state", st, "--top", "0").returncode == 0
    p = run_cli("report", "--state", st, "--include-text")
    assert p.returncode == 2 and "kept no prompt text" in p.stderr and p.stderr.count("\n") == 1
    p = run_cli("explain", "ring_0", ring, "--include-text")
    assert p.returncode == 2 and "--state" in p.stderr
