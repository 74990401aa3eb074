"""Request logs of any size for the benchmarks, without ../shared.

`bench_log(target_bytes, seed, fmt)` returns the path of a cached log under $FASTSCAN_BENCH_DIR
(default /tmp/fastscan-bench), written first if needed by `fastscan.synth.write_log`, the
realistic generator the tests and `fastscan demo` use (people, chat front ends, integrations,
evaluation runs, extraction campaigns); `converted(path, kind)` derives the .gz, .zst, Parquet
and Arrow IPC versions of the same records, `with_senders(path)` the same records with an
address, a client and an org each, `split_accounts(path)` the same records over eight times the
accounts, `cut_into_files(path)` the same records in files of 1 MB, `templated_swarm(size)` a swarm
of light accounts sharing two prompt templates, `same_accounts(size, days)` one set of accounts
over more or fewer days. The same (size, seed, format) gives the same bytes.
"""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path


def bench_dir() -> Path:
    d = Path(os.environ.get("FASTSCAN_BENCH_DIR", "/tmp/fastscan-bench"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def bench_log(target_bytes: int, seed: int = 0, fmt: str = "flat") -> Path:
    """A cached log of about `target_bytes` of JSON Lines (written on first use)."""
    path = bench_dir() / f"log-synth-{fmt}-{target_bytes}-{seed}.jsonl"
    accounts = max(200, target_bytes // 400_000)
    return _written(path, accounts=accounts, seed=seed, fmt=fmt, target_bytes=target_bytes)


def _written(path: Path, **how) -> Path:
    """`path`, written first by fastscan.synth.write_log(**how) when it is not there yet (through
    a .partial file, so an interrupted write is never taken for a log)."""
    from fastscan.synth import write_log

    if not path.exists():
        tmp = path.with_name(path.name + ".partial")
        write_log(tmp, **how)
        os.replace(tmp, path)
    return path


def same_accounts(target_bytes: int, days: int, seed: int = 0) -> Path:
    """A cached log of the same accounts over `days` days: as many accounts as make about
    `target_bytes` over 28 days, so days=7 gives about a quarter of the bytes from the very same
    accounts (the generator draws the accounts from the seed alone, their requests over the days)."""
    accounts = max(200, target_bytes // 475_000)  # about 17 KB of requests an account a day
    path = bench_dir() / f"log-days-{accounts}-{days}-{seed}.jsonl"
    return _written(path, accounts=accounts, seed=seed, fmt="flat", days=days)


def with_senders(path: Path) -> Path:
    """The same records as the flat log `path` with who sent each, as gateways log it (cached):
    an org per account, one client (user agent) per account, and an address in the account's own
    /24 that changes from request to request. The request fingerprint keys all three."""
    import hashlib

    import orjson

    out = path.with_name(path.stem + ".senders.jsonl")
    if out.exists():
        return out
    agents = [f"python-requests/2.{i}" for i in range(30)] + [f"openai-python/1.{i}.0" for i in range(50)]
    agents += [f"Mozilla/5.0 (X11; Linux x86_64) Chrome/12{i}.0" for i in range(40)]
    tmp = out.with_name(out.name + ".partial")
    with open(path, "rb") as src, open(tmp, "wb") as dst:
        for i, line in enumerate(src):
            rec = orjson.loads(line)
            h = int.from_bytes(hashlib.blake2b(rec["account_id"].encode(), digest_size=8).digest(), "little")
            rec["ip"] = f"{10 + h % 200}.{(h >> 8) % 256}.{(h >> 16) % 256}.{1 + (h >> 24 ^ i * 7919) % 254}"
            rec["user_agent"] = agents[(h >> 32) % len(agents)]
            rec["org_id"] = f"org_{(h >> 40) % 3000}"
            dst.write(orjson.dumps(rec) + b"\n")
    os.replace(tmp, out)
    return out


def split_accounts(path: Path, ways: int = 8) -> Path:
    """The same records as the flat log `path` with each account split `ways` ways (cached), as a
    swarm of proxy accounts spreads one harvest: a record of account A goes to A~k, k a hash of
    its request_id, so the log holds up to `ways` times the accounts, each lighter. What grows is
    the per-account work (features, scores, campaigns), not the bytes."""
    import zlib

    import orjson

    out = path.with_name(f"{path.stem}.split{ways}.jsonl")
    if out.exists():
        return out
    tmp = out.with_name(out.name + ".partial")
    with open(path, "rb") as src, open(tmp, "wb") as dst:
        for line in src:
            rec = orjson.loads(line)
            rec["account_id"] = f"{rec['account_id']}~{zlib.crc32(rec['request_id'].encode()) % ways}"
            dst.write(orjson.dumps(rec) + b"\n")
    os.replace(tmp, out)
    return out


def templated_swarm(target_bytes: int, seed: int = 0) -> Path:
    """A swarm of light accounts sharing prompt templates (cached): about target_bytes // 7,000
    accounts of 8 requests each, an account's prompts one of two wrappers (so each template is
    shared by half the swarm) around tasks of their own (each sent by no more than a few accounts),
    long answers, over 28 days. What grows with the swarm is the cross-account work of finish()."""
    import random

    import orjson

    from fastscan.synth import vocab

    out = bench_dir() / f"log-swarm-{target_bytes}-{seed}.jsonl"
    if out.exists():
        return out
    rng = random.Random(seed)
    wrappers = (
        "Below is an instruction that describes a task. Write a response that appropriately completes the "
        "request.\n\n### Instruction:\n{}\n\n### Response:",
        "You are a world-class expert. Answer the request below in full detail. First explain your chain "
        "of thought, then state the answer.\n\nRequest: {}",
    )
    nouns = vocab.OBJECT_NOUNS + vocab.PLACES + vocab.DISHES
    tmp = out.with_name(out.name + ".partial")
    with open(tmp, "wb") as dst:
        for a in range(max(10, target_bytes // 7000)):
            for r in range(8):
                task = (
                    f"Write a {rng.choice(vocab.ADJECTIVES)} {rng.choice(vocab.FORMS)} about "
                    f"{rng.choice(vocab.TOPICS)} for {rng.choice(vocab.AUDIENCES)} {rng.choice(vocab.QUALIFIERS)}, "
                    f"mentioning {rng.choice(nouns)}, {rng.choice(nouns)} and {rng.choice(nouns)}."
                )
                day, second = rng.randrange(28), rng.randrange(86400)
                rec = {
                    "request_id": f"req_s{seed}_{a}_{r}",
                    "account_id": f"swarm_{a:07d}",
                    "ts": f"2025-09-{1 + day:02d}T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}.000Z",
                    "model": "frontier-reasoning",
                    "prompt": wrappers[a % 2].format(task),
                    "completion": "Step 1. " + " ".join(rng.choices(nouns, k=40)),
                    "prompt_tokens": 60 + rng.randrange(40),
                    "completion_tokens": 900 + rng.randrange(600),
                    "max_tokens": 4096,
                    "temperature": 0.7,
                    "n": 1,
                    "logprobs": False,
                    "finish_reason": "stop",
                }
                dst.write(orjson.dumps(rec) + b"\n")
    os.replace(tmp, out)
    return out


def converted(path: Path, kind: str) -> Path:
    """The same records as `path` in another container: "gz", "zst", "parquet" or "arrow" (cached)."""
    out = path.with_suffix({"gz": ".jsonl.gz", "zst": ".jsonl.zst", "parquet": ".parquet", "arrow": ".arrow"}[kind])
    if out.exists():
        return out
    tmp = out.with_name(out.name + ".partial")
    if kind == "gz":
        with open(path, "rb") as src, gzip.open(tmp, "wb", compresslevel=1) as dst:
            shutil.copyfileobj(src, dst, 1 << 22)
    elif kind == "zst":
        import zstandard

        with open(path, "rb") as src, open(tmp, "wb") as dst:
            zstandard.ZstdCompressor(level=3).copy_stream(src, dst, read_size=1 << 22, write_size=1 << 22)
    else:
        import pyarrow as pa
        import pyarrow.json as pajson

        # streaming, so converting a multi-GB log needs little memory; one explicit schema so
        # the Parquet / Arrow columns have the types the log means (token counts may be null)
        reader = pajson.open_json(
            path,
            read_options=pajson.ReadOptions(block_size=16 << 20),
            parse_options=pajson.ParseOptions(explicit_schema=_flat_arrow_schema()),
        )
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

    return pa.schema(
        [
            ("request_id", pa.string()),
            ("account_id", pa.string()),
            ("ts", pa.string()),
            ("model", pa.string()),
            ("prompt", pa.string()),
            ("completion", pa.string()),
            ("prompt_tokens", pa.int64()),
            ("completion_tokens", pa.int64()),
            ("max_tokens", pa.int64()),
            ("temperature", pa.float64()),
            ("n", pa.int64()),
            ("logprobs", pa.bool_()),
            ("finish_reason", pa.string()),
        ]
    )


def cut_into_files(path: Path, file_bytes: int = 1 << 20) -> Path:
    """A folder of the records of the JSON Lines log `path` in files of about `file_bytes` each,
    cut at line ends (cached), as an archive of rotated objects holds them."""
    out = path.with_name(f"{path.stem}.files{file_bytes}")
    if out.exists():
        return out
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    k, rest = 0, b""
    with open(path, "rb") as src:
        while block := src.read(file_bytes):
            block = rest + block
            cut = block.rfind(b"\n") + 1
            if cut == 0:
                rest = block
                continue
            (tmp / f"part-{k:05d}.jsonl").write_bytes(block[:cut])
            k, rest = k + 1, block[cut:]
    if rest:
        (tmp / f"part-{k:05d}.jsonl").write_bytes(rest)
    os.replace(tmp, out)
    return out
