"""Per-kernel throughput in MB/s of prompt text, each checked on a small input first."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pyarrow.json as pajson
import pytest
import shingles  # tests/shingles.py: exact shingle hashes (bench/conftest.py puts tests/ on the path)
from conftest import ROUNDS, record

from fastscan.buffers import string_buffers

M64 = (1 << 64) - 1


def _fmix64(x):
    x ^= x >> 33
    x = (x * 0xFF51AFD7ED558CCD) & M64
    x ^= x >> 33
    x = (x * 0xC4CEB9FE1A85EC53) & M64
    return x ^ (x >> 33)


def _xxh64(data: bytes) -> int:
    import xxhash

    return xxhash.xxh64_intdigest(data)


@pytest.fixture(scope="module")
def prompts(jsonl_log, warm):
    """The prompt column of (up to) the first 128 MB of the bench log."""
    with open(jsonl_log, "rb") as fh:
        data = fh.read(128 << 20)
    data = data[: data.rfind(b"\n") + 1]
    table = pajson.read_json(
        io.BytesIO(data),
        parse_options=pajson.ParseOptions(
            explicit_schema=pa.schema([("prompt", pa.string())]), unexpected_field_behavior="ignore"
        ),
    )
    arr = table.column("prompt").combine_chunks()
    off, buf, valid = string_buffers(arr)
    return off, buf, valid, int(off[-1] - off[0])


def _small(texts):
    return string_buffers(pa.array(texts, pa.string()))


def _bench(benchmark, fn):
    benchmark.pedantic(fn, rounds=ROUNDS, iterations=1, warmup_rounds=1)


def test_count_tokens(benchmark, prompts):
    from fastscan.kernels import text

    o, d, v = _small(["hello world!", None, "", "你好 ab"])
    out = np.empty(4, np.int64)
    text.count_tokens(o, d, v, out)
    assert out.tolist() == [2 + 2 + 1, 0, 0, 1 + 1 + 1]
    off, buf, valid, nbytes = prompts
    res = np.empty(len(valid), np.int64)
    _bench(benchmark, lambda: text.count_tokens(off, buf, valid, res))
    record(benchmark, "kernel count_tokens", nbytes, len(valid))


def test_hash_prompts(benchmark, prompts):
    from fastscan.kernels import unfused

    texts = ["Hello, wörld 你好", None, "one two three four five six seven eight nine ten eleven"]
    o, d, v = _small(texts)
    outs: list[np.ndarray] = [
        np.empty(3, np.uint64),
        np.empty(3, np.int32),
        np.empty(3, np.uint64),
        np.empty(3, np.uint64),
    ]
    unfused.hash_prompts(o, d, v, 5, *outs)
    assert int(outs[0][0]) == _xxh64(str(texts[0]).encode())
    assert outs[1].tolist() == [4, -1, 11]
    assert int(outs[2][2]) != 0 and int(outs[2][0]) == 0
    off, buf, valid, nbytes = prompts
    n = len(valid)
    res = [np.empty(n, np.uint64), np.empty(n, np.int32), np.empty(n, np.uint64), np.empty(n, np.uint64)]
    _bench(benchmark, lambda: unfused.hash_prompts(off, buf, valid, 5, *res))
    record(benchmark, "kernel hash_prompts", nbytes, n)


def test_minhash_signatures(benchmark, prompts):
    from fastscan.config import ScanConfig
    from fastscan.kernels import unfused
    from fastscan.kernels.hashing import minhash_params

    k = ScanConfig().num_perm
    a, b = minhash_params(k, 1)
    texts = ["the quick brown fox jumps over the lazy dog", "the quick brown fox jumps over the lazy cat"]
    o, d, v = _small(texts)
    sig = np.empty((2, k), np.uint32)
    unfused.minhash_signatures(o, d, v, np.arange(2, dtype=np.int64), 3, a, b, sig)
    # MinHash of each text == min over its shingle hashes (from hash_shingles) of the permutations
    cnt = np.empty(2, np.int64)
    shingles.count_shingles(o, d, v, 3, cnt)
    so = np.zeros(3, np.int64)
    np.cumsum(cnt, out=so[1:])
    sh = np.empty(int(so[-1]), np.uint64)
    shingles.hash_shingles(o, d, v, 3, so, sh)
    for i in range(2):
        xs = [int(x) for x in sh[so[i] : so[i + 1]]]
        want = [min(((int(aj) * x + int(bj)) & M64) >> 32 for x in xs) for aj, bj in zip(a, b)]
        assert sig[i].tolist() == want
    off, buf, valid, nbytes = prompts
    rows = np.arange(len(valid), dtype=np.int64)
    out = np.empty((len(rows), k), np.uint32)
    _bench(benchmark, lambda: unfused.minhash_signatures(off, buf, valid, rows, 3, a, b, out))
    record(benchmark, "kernel minhash_signatures", nbytes, len(rows))


def test_match_phrases(benchmark, prompts):
    from fastscan.kernels import unfused

    o, d, v = _small(["Let's think Step by Step.", "hello", None, "请一步一步地推理", "STEP BY STE"])
    out = np.empty(5, np.bool_)
    unfused.asks_for_reasoning(o, d, v, out)
    assert out.tolist() == [True, False, False, True, False]
    off, buf, valid, nbytes = prompts
    res = np.empty(len(valid), np.bool_)
    _bench(benchmark, lambda: unfused.asks_for_reasoning(off, buf, valid, res))
    record(benchmark, "kernel match_phrases", nbytes, len(valid))


def test_split_transcripts(benchmark, prompts):
    from fastscan.kernels import messages

    texts = ["system: be brief\n\nuser: hi\n\nassistant: hello\n\nuser: bye", "plain prompt"]
    o, d, v = _small(texts)
    us, ue, ss, se = (np.empty(2, np.int64) for _ in range(4))
    npr = np.empty(2, np.int32)
    messages.split_transcripts(o, d, v, us, ue, ss, se, npr)
    assert bytes(d[us[0] : ue[0]]) == b"bye" and bytes(d[ss[0] : se[0]]) == b"be brief" and npr.tolist() == [2, 0]
    off, buf, valid, nbytes = prompts
    n = len(valid)
    outs = [np.empty(n, np.int64) for _ in range(4)] + [np.empty(n, np.int32)]
    _bench(benchmark, lambda: messages.split_transcripts(off, buf, valid, *outs))
    record(benchmark, "kernel split_transcripts", nbytes, n)
