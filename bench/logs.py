"""Synthetic request logs of any size for the benchmarks, without ../shared.

`bench_log(target_bytes, seed, fmt)` returns the path of a cached log under $FASTSCAN_BENCH_DIR
(default /tmp/fastscan-bench), writing it first if needed; `converted(path, kind)` derives the
.gz, Parquet and Arrow IPC versions of the same records. When `fastscan.synth` is available its
`write_log` (the realistic generator the tests use) writes the log; otherwise a fast built-in
generator writes the same flat/OpenAI shapes with the same mix of traffic:

- people: a few requests each, free text of varied length, some chat transcripts re-sending the
  conversation, medium completions;
- integrations: one fixed prompt template around a short payload, short label-like completions;
- evaluation runs: distinct benchmark-like questions, sent once;
- extraction campaigns: instruction wrappers around distinct tasks, paraphrased near-duplicates,
  long completions that hit max_tokens, requests for step-by-step reasoning, logprobs and n > 1.

About 3% of records carry no token counts, so the estimation path runs too. Text mixes English
with Latin-accented, Cyrillic and CJK words. The same (size, seed, format) gives the same bytes.
"""
from __future__ import annotations

import datetime as dt
import gzip
import os
import shutil
from pathlib import Path

import numpy as np
import orjson

GENERATOR_VERSION = 3

_WORDS = (
    "the of and to a in is that for it as was with be by on not he this are or his from at which "
    "but have an they you were her she there been one all we their has would when if so no will "
    "more can about what up other out into time only some could them these two may then do first "
    "any like my now over such our man me even most made after also did many before must through "
    "back years where much your way well down should because each just those people how too little "
    "state good very make world still own see men work long get here between both life being under "
    "never day same another know while last might us great old year off come since against go came "
    "right used take three model data function value number system table return string list error "
    "code python query result user file write read test question answer story history city river "
    "energy market policy design network memory image sound light water plant animal music school "
    "explain describe summarize translate classify compare generate analyze evaluate rewrite list "
    "café naïve résumé élève über straße größe niño año señor canção ação coração "
    "привет данные модель вопрос ответ город время человек "
    "数据 模型 问题 答案 城市 时间 人工 智能 学习 翻译 "
).split()

_TASKS = (
    "Write a short story about {a} and {b}.", "Explain how {a} works to a beginner.",
    "Summarize the following text: {p}", "Translate into French: {p}",
    "What is the difference between {a} and {b}?", "Give me three ideas for {a}.",
    "Fix the bug in this code: def f(x): return {a}(x) + {b}", "Write a SQL query that lists {a} by {b}.",
    "Is it true that {p}", "Rewrite this paragraph in a formal tone: {p}",
)
_WRAPPERS = (
    "Below is an instruction that describes a task. Write a response that appropriately completes "
    "the request.\n\n### Instruction:\n{task}\n\n### Response:",
    "Think step by step and show your complete reasoning before you give the final answer.\n\n{task}",
    "You are a helpful assistant. Answer in detail, explain each step.\n\nTask: {task}",
    "{task}",
)
_TEMPLATES = (
    "Classify the sentiment of this review as positive, negative or neutral.\nReview: {p}\nSentiment:",
    "Extract the product name from the following message and answer with the name only.\n\n{p}",
    "Detect the language of this text: {p}",
)
_MODELS = ("frontier-large", "frontier-mini", "frontier-reasoning")


class _Text:
    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        ranks = np.arange(1, len(_WORDS) + 1)
        self.p = (1.0 / ranks ** 1.1) / (1.0 / ranks ** 1.1).sum()
        self.words = np.array(_WORDS, dtype=object)
        self.pool = [self._sentence() for _ in range(4000)]

    def _sentence(self) -> str:
        n = int(self.rng.integers(5, 22))
        w = self.rng.choice(self.words, n, p=self.p)
        s = " ".join(w)
        return s[0].upper() + s[1:] + self.rng.choice([".", ".", ".", "?", "!", ","])

    def para(self, sentences: int) -> str:
        idx = self.rng.integers(0, len(self.pool), max(1, sentences))
        return " ".join(self.pool[i] for i in idx)

    def word(self) -> str:
        return str(self.rng.choice(self.words, p=self.p))


def _accounts(rng, n_accounts):
    kinds = rng.choice(["person", "integration", "eval", "extractor"], n_accounts, p=[0.78, 0.1, 0.04, 0.08])
    weight = np.where(kinds == "person", rng.pareto(1.5, n_accounts) + 1.0, 0.0)
    weight = np.where(kinds == "integration", 40 * (rng.pareto(1.2, n_accounts) + 1.0), weight)
    weight = np.where(kinds == "eval", 30.0, weight)
    weight = np.where(kinds == "extractor", 80 * (rng.pareto(1.5, n_accounts) + 1.0), weight)
    ids = [f"acct_{i:07d}" for i in range(n_accounts)]
    return ids, kinds, weight / weight.sum()


def _record(rng, text: _Text, kind: str, acct: str, i: int, ts: str, fmt: str, tmpl: int) -> dict:
    system = None
    prior = []
    n = 1
    logprobs = False
    if kind == "person":
        prompt = text.para(int(rng.integers(3, 30)))
        if rng.random() < 0.3:
            prompt = rng.choice(_TASKS).format(a=text.word(), b=text.word(), p=text.para(int(rng.integers(1, 10))))
        if rng.random() < 0.2:    # a chat front end re-sending the conversation
            system = "You are a friendly assistant."
            prior = [("user", text.para(2)), ("assistant", text.para(4))]
        completion = text.para(int(rng.integers(2, 12)))
        max_tokens = int(rng.choice([256, 512, 1024, 2048]))
        temperature = float(rng.choice([0.7, 1.0, 0.2]))
    elif kind == "integration":
        prompt = _TEMPLATES[tmpl % len(_TEMPLATES)].format(p=text.para(int(rng.integers(1, 7))))
        completion = str(rng.choice(["positive", "negative", "neutral", "English", "Widget Pro"]))
        max_tokens, temperature = 16, 0.0
    elif kind == "eval":
        prompt = f"Question {i}: " + text.para(int(rng.integers(1, 5))) + "\nAnswer with one letter: A, B, C or D."
        completion = str(rng.choice(list("ABCD")))
        max_tokens, temperature = 8, 0.0
    else:
        task = rng.choice(_TASKS).format(a=text.word(), b=text.word(), p=text.para(int(rng.integers(4, 24))))
        if rng.random() < 0.25:   # a paraphrase: one word changed
            task = task.replace(" the ", " a ", 1)
        prompt = _WRAPPERS[tmpl % len(_WRAPPERS)].format(task=task)
        completion = text.para(int(rng.integers(4, 20)))
        max_tokens = int(rng.choice([1024, 2048, 4096]))
        temperature = float(rng.choice([0.0, 0.7]))
        n = int(rng.choice([1, 1, 1, 4]))
        logprobs = bool(rng.random() < 0.3)
    pt = (len(prompt) + (len(system) if system else 0)) // 4 + 1
    ct = len(completion) // 4 + 1
    finish = "length" if kind == "extractor" and rng.random() < 0.3 else "stop"
    counts = rng.random() >= 0.03
    model = _MODELS[int(rng.integers(0, 3))]
    rid = f"req_{acct[5:]}_{i:09d}"
    if fmt == "flat":
        if prior:
            prompt = f"system: {system}\n\n" + "".join(f"{r}: {c}\n\n" for r, c in prior) + f"user: {prompt}"
        rec = {"request_id": rid, "account_id": acct, "ts": ts, "model": model, "prompt": prompt,
               "completion": completion, "prompt_tokens": pt if counts else None,
               "completion_tokens": ct if counts else None, "max_tokens": max_tokens,
               "temperature": temperature, "n": n, "logprobs": logprobs, "finish_reason": finish}
        return rec
    messages = ([{"role": "system", "content": system}] if system else []) + \
        [{"role": r, "content": c} for r, c in prior] + [{"role": "user", "content": prompt}]
    usage = {"prompt_tokens": pt, "completion_tokens": ct} if counts else None
    return {"id": rid, "created": ts, "user": acct,
            "request": {"model": model, "messages": messages, "max_tokens": max_tokens,
                        "temperature": temperature, "n": n, "logprobs": logprobs},
            "response": {"choices": [{"message": {"role": "assistant", "content": completion},
                                      "finish_reason": finish}], "usage": usage}}


def write_log(path, target_bytes: int, seed: int = 0, fmt: str = "flat") -> int:
    """Write about `target_bytes` of JSON Lines to `path` (flat or openai); returns the records."""
    rng = np.random.default_rng(seed)
    text = _Text(rng)
    n_accounts = max(200, target_bytes // 400_000)
    ids, kinds, p = _accounts(rng, n_accounts)
    tmpl = rng.integers(0, 1000, n_accounts)
    start = dt.datetime(2025, 9, 1, tzinfo=dt.timezone.utc).timestamp()
    records = 0
    written = 0
    block = 2000
    with open(path, "wb") as fh:
        while written < target_bytes:
            who = rng.choice(n_accounts, block, p=p)
            t = start + (records + np.arange(block)) * 2.5 + rng.random(block)
            lines = []
            for j, a in enumerate(who):
                ts_s = float(t[j])
                ts = dt.datetime.fromtimestamp(ts_s, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
                rec = _record(rng, text, kinds[a], ids[a], records + j, ts if fmt == "flat" else int(ts_s),
                              fmt, int(tmpl[a]))
                lines.append(orjson.dumps(rec))
            data = b"\n".join(lines) + b"\n"
            fh.write(data)
            written += len(data)
            records += block
    return records


def bench_dir() -> Path:
    d = Path(os.environ.get("FASTSCAN_BENCH_DIR", "/tmp/fastscan-bench"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def _synth_write(path, target_bytes, seed, fmt) -> bool:
    """Use fastscan.synth's realistic generator when it exists and can size its output."""
    try:
        from fastscan.synth import write_log as synth_write
    except ImportError:
        return False
    try:
        synth_write(path, accounts=max(200, target_bytes // 400_000), seed=seed, fmt=fmt,
                    target_bytes=target_bytes)
    except TypeError:       # an older synth without target_bytes
        return False
    return True


def bench_log(target_bytes: int, seed: int = 0, fmt: str = "flat") -> Path:
    """A cached log of about `target_bytes` of JSON Lines (written on first use)."""
    use_synth = os.environ.get("FASTSCAN_BENCH_GENERATOR", "synth") == "synth"
    tag = "synth" if use_synth else f"builtin{GENERATOR_VERSION}"
    path = bench_dir() / f"log-{tag}-{fmt}-{target_bytes}-{seed}.jsonl"
    if not path.exists():
        tmp = path.with_suffix(".partial")
        if not (use_synth and _synth_write(tmp, target_bytes, seed, fmt)):
            path = bench_dir() / f"log-builtin{GENERATOR_VERSION}-{fmt}-{target_bytes}-{seed}.jsonl"
            if path.exists():
                return path
            write_log(tmp, target_bytes, seed, fmt)
        os.replace(tmp, path)
    return path


def converted(path: Path, kind: str) -> Path:
    """The same records as `path` in another container: "gz", "parquet" or "arrow" (cached)."""
    out = path.with_suffix({"gz": ".jsonl.gz", "parquet": ".parquet", "arrow": ".arrow"}[kind])
    if out.exists():
        return out
    tmp = out.with_name(out.name + ".partial")
    if kind == "gz":
        with open(path, "rb") as src, gzip.open(tmp, "wb", compresslevel=1) as dst:
            shutil.copyfileobj(src, dst, 1 << 22)
    else:
        import pyarrow as pa
        import pyarrow.json as pajson
        # streaming, so converting a multi-GB log needs little memory; one explicit schema so
        # the Parquet / Arrow columns have the types the log means (token counts may be null)
        reader = pajson.open_json(path, read_options=pajson.ReadOptions(block_size=16 << 20),
                                  parse_options=pajson.ParseOptions(explicit_schema=_flat_arrow_schema()))
        if kind == "parquet":
            import pyarrow.parquet as pq
            with pq.ParquetWriter(tmp, reader.schema, compression="snappy") as w:
                for b in reader:
                    w.write_batch(b)
        else:
            with pa.ipc.new_file(tmp, reader.schema) as w:
                for b in reader:
                    w.write_batch(b)
    os.replace(tmp, out)
    return out


def _flat_arrow_schema():
    import pyarrow as pa
    return pa.schema([("request_id", pa.string()), ("account_id", pa.string()), ("ts", pa.string()),
                      ("model", pa.string()), ("prompt", pa.string()), ("completion", pa.string()),
                      ("prompt_tokens", pa.int64()), ("completion_tokens", pa.int64()),
                      ("max_tokens", pa.int64()), ("temperature", pa.float64()), ("n", pa.int64()),
                      ("logprobs", pa.bool_()), ("finish_reason", pa.string())])
