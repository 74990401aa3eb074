"""End-to-end scans (JSONL, .gz, .zst, Parquet, Arrow IPC), cold start, peak memory, and the peers
on the same file in the same run: DuckDB and Polars GROUP BY account, msgspec decoding the fields
a scan needs, zcat and zstd decompressing the compressed logs, datasketch MinHash.

MB/s is always of the equivalent JSON Lines (the bench log's size), so formats compare directly.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pyarrow as pa
import pyarrow.json as pajson
import pytest
import shingles  # tests/shingles.py: exact shingle hashes (bench/conftest.py puts tests/ on the path)
from conftest import BENCH_BYTES, RESULTS, ROUNDS, cached, duckdb_group_by, ratio, record, timed_scan
from logs import bench_log, same_accounts

from fastscan.config import ScanConfig

CONFIG = ScanConfig()  # MinHash as the scan computes it: its permutations and shingle size
K, SHINGLE = CONFIG.num_perm, CONFIG.shingle_words


@pytest.mark.parametrize("fmt", ["jsonl", "gz", "zst", "parquet", "arrow"])
def test_scan(benchmark, warm, log_formats, jsonl_log, jsonl_report, fmt):
    path = log_formats[fmt]
    report = timed_scan(benchmark, path)
    st = report.stats.to_dict()
    assert st["records_read"] == st["records_scored"] + st["records_rejected"]
    assert st["records_rejected"] == 0
    # every container gives the report of the JSON Lines log
    assert report.accounts.column("account_id").equals(jsonl_report.column("account_id"))
    assert report.accounts.column("requests").equals(jsonl_report.column("requests"))
    assert report.accounts.column("near_dup_rate").equals(jsonl_report.column("near_dup_rate"))
    record(
        benchmark,
        f"scan {fmt}",
        os.path.getsize(jsonl_log),
        st["records_read"],
        file_mb=round(os.path.getsize(path) / 1e6, 1),
        accounts=report.accounts.num_rows,
    )


def _polars(path):
    import polars as pl

    return (
        pl.scan_ndjson(path, schema_overrides={"prompt_tokens": pl.Int64, "completion_tokens": pl.Int64})
        .group_by("account_id")
        .agg(pl.len().alias("requests"), pl.col("prompt_tokens").sum(), pl.col("completion_tokens").sum())
        .collect()
    )


def _requests_by_account(ids, counts) -> dict:
    return dict(zip(ids, (int(c) for c in counts)))


def test_peerduckdb_group_by(benchmark, jsonl_log, jsonl_report):
    pytest.importorskip("duckdb")
    want = jsonl_report
    got = duckdb_group_by(jsonl_log)
    assert _requests_by_account([r[0] for r in got], [r[1] for r in got]) == _requests_by_account(
        want.column("account_id").to_pylist(), want.column("requests").to_pylist()
    )
    benchmark.pedantic(duckdb_group_by, setup=cached(jsonl_log), rounds=ROUNDS, iterations=1)
    fig = record(
        benchmark, "duckdb group by", os.path.getsize(jsonl_log), int(sum(want.column("requests").to_pylist()))
    )
    benchmark.extra_info["fastscan_over_duckdb"] = ratio("scan jsonl", "duckdb group by")
    fig["fastscan_over_peer"] = benchmark.extra_info["fastscan_over_duckdb"]


def test_interleavedduckdb_group_by(warm, jsonl_log):
    """fastscan's JSON Lines scan and DuckDB's GROUP BY taken in turns, 2 x ROUNDS pairs, each of
    the file in the page cache: the ratio of each pair and their median. The best rounds above
    can come minutes apart, and this machine's speed changes over minutes (a bench run saw
    `zstd -dc` at 870 and 1,984 MB/s): a ratio of neighbours moves much less."""
    pytest.importorskip("duckdb")
    import time

    import fastscan

    ratios = []
    for _ in range(2 * ROUNDS):
        seconds = []
        for run in (lambda: fastscan.scan([jsonl_log]), lambda: duckdb_group_by(jsonl_log)):
            cached(jsonl_log)()
            t = time.perf_counter()
            run()
            seconds.append(time.perf_counter() - t)
        ratios.append(seconds[1] / seconds[0])  # fastscan's speed over DuckDB's
    assert len(ratios) == 2 * ROUNDS and all(r > 0 for r in ratios)
    RESULTS["scan jsonl / duckdb, interleaved"] = {
        "median_ratio": round(float(np.median(ratios)), 3),
        "min_ratio": round(min(ratios), 3),
        "max_ratio": round(max(ratios), 3),
        "pairs": len(ratios),
    }


def test_peer_polars(benchmark, jsonl_log, jsonl_report):
    pytest.importorskip("polars")
    want = jsonl_report
    got = _polars(jsonl_log)
    assert _requests_by_account(got["account_id"].to_list(), got["requests"].to_list()) == _requests_by_account(
        want.column("account_id").to_pylist(), want.column("requests").to_pylist()
    )
    benchmark.pedantic(_polars, setup=cached(jsonl_log), rounds=ROUNDS, iterations=1)
    fig = record(
        benchmark, "polars group by", os.path.getsize(jsonl_log), int(sum(want.column("requests").to_pylist()))
    )
    benchmark.extra_info["fastscan_over_polars"] = ratio("scan jsonl", "polars group by")
    fig["fastscan_over_peer"] = benchmark.extra_info["fastscan_over_polars"]


def _needed(path) -> list[str]:
    """The fields fastscan's flat decoder asks for on this log (its lean schema; the rest of each
    line is skipped, as the scan skips it), so the peer decodes what the scan decodes."""
    from fastscan.read import ReadStats, RejectLog
    from fastscan.read.jsonl_decode import JsonlDecoder
    from fastscan.read.shape import FLAT, raw_schema

    with open(path, "rb") as fh:
        first = json.loads(fh.readline())
    decoder = JsonlDecoder(str(path), FLAT, raw_schema(FLAT, first), RejectLog(), ReadStats())
    return decoder.decode_options.explicit_schema.names


def _msgspec(path, needed):
    import msgspec

    fields = {name: (str | int | float | bool | None, None) for name in needed}
    rec = msgspec.defstruct("Rec", [(k, t, d) for k, (t, d) in fields.items()], forbid_unknown_fields=False)
    decoder = msgspec.json.Decoder(rec)
    counts: dict = {}
    with open(path, "rb") as fh:
        while True:
            lines = fh.readlines(16 << 20)
            if not lines:
                break
            for r in decoder.decode_lines(b"".join(lines)):
                a = r.account_id  # type: ignore[attr-defined]  # a struct made at run time
                counts[a] = counts.get(a, 0) + 1
    return counts


def test_peer_msgspec(benchmark, jsonl_log, jsonl_report):
    """msgspec decoding the fields a scan decodes, one thread, and counting requests per account:
    the speed of a fast JSON decoder that does no text work at all."""
    pytest.importorskip("msgspec")
    want = jsonl_report
    needed = _needed(jsonl_log)
    got = _msgspec(jsonl_log, needed)
    assert sorted(got.items()) == sorted(
        zip(want.column("account_id").to_pylist(), want.column("requests").to_pylist())
    )
    benchmark.pedantic(_msgspec, setup=cached(jsonl_log, needed), rounds=ROUNDS, iterations=1)
    fig = record(benchmark, "msgspec decode", os.path.getsize(jsonl_log), int(sum(got.values())), fields=len(needed))
    fig["fastscan_over_peer"] = ratio("scan jsonl", "msgspec decode")


@pytest.mark.parametrize("fmt, tool", [("gz", ["zcat"]), ("zst", ["zstd", "-dc"])])
def test_peer_decompress(benchmark, log_formats, jsonl_log, fmt, tool):
    """The command-line decompressor alone, to /dev/null: the floor of a scan of a compressed log."""
    import shutil

    if shutil.which(tool[0]) is None:
        pytest.skip(f"{tool[0]} is not installed")

    def run(path):
        with open(os.devnull, "wb") as out:
            subprocess.run([*tool, str(path)], stdout=out, check=True)

    benchmark.pedantic(run, setup=cached(log_formats[fmt]), rounds=ROUNDS, iterations=1)
    name = " ".join(tool)
    fig = record(benchmark, name, os.path.getsize(jsonl_log))
    fig["fastscan_over_peer"] = ratio(f"scan {fmt}", name)


# --------------------------------------------------------------------------- MinHash vs datasketch

_WORD = re.compile(rb"[0-9A-Za-z\x80-\xdf]+|[\xe0-\xef][\x80-\xbf]{0,2}|[\xf0-\xff][\x80-\xbf]{0,3}")
SAMPLE = 2000


def _py_shingles(text: bytes, k: int = SHINGLE) -> set:
    words = [w.lower() for w in _WORD.findall(text)]
    if not words:
        return set()
    if len(words) < k:
        return {b" ".join(words)}
    return {b" ".join(words[i : i + k]) for i in range(len(words) - k + 1)}


@pytest.fixture(scope="module")
def prompt_sample(jsonl_log):
    with open(jsonl_log, "rb") as fh:
        data = fh.read(32 << 20)
    data = data[: data.rfind(b"\n") + 1]
    t = pajson.read_json(
        io.BytesIO(data),
        parse_options=pajson.ParseOptions(
            explicit_schema=pa.schema([("prompt", pa.string())]), unexpected_field_behavior="ignore"
        ),
    )
    prompts = [p for p in t.column("prompt").to_pylist() if p]
    rng = np.random.default_rng(0)
    pick = rng.choice(len(prompts), min(SAMPLE, len(prompts)), replace=False)
    return [prompts[i] for i in pick]


def _datasketch(texts):
    from datasketch import MinHash

    out = []
    for t in texts:
        m = MinHash(num_perm=K)
        for s in _py_shingles(t.encode()):
            m.update(s)
        out.append(m)
    return out


def _fastscan_minhash(arrays):
    from fastscan.kernels import unfused

    off, data, valid, rows, a, b, out = arrays
    unfused.minhash_signatures(off, data, valid, rows, SHINGLE, a, b, out)
    return out


def _near_dup_pairs(texts, rng):
    """(original, edited) pairs: one word in ten replaced, a Jaccard of about 0.6-0.9."""
    pairs = []
    for t in texts:
        w = t.split(" ")
        if len(w) < 12:
            continue
        for i in rng.choice(len(w), max(1, len(w) // 10), replace=False):
            w[i] = "zzz"
        pairs.append((t, " ".join(w)))
    return pairs


def test_peer_datasketch(benchmark, warm, prompt_sample):
    pytest.importorskip("datasketch")
    from fastscan.buffers import string_buffers
    from fastscan.kernels import unfused
    from fastscan.kernels.hashing import minhash_params

    nbytes = sum(len(t.encode()) for t in prompt_sample)
    a, b = minhash_params(K, CONFIG.minhash_seed)
    off, data, valid = string_buffers(pa.array(prompt_sample, pa.string()))
    rows = np.arange(len(prompt_sample), dtype=np.int64)
    arrays = (off, data, valid, rows, a, b, np.empty((len(rows), K), np.uint32))

    # accuracy at the near-duplicate threshold: |estimated - true Jaccard| over edited pairs
    pairs = _near_dup_pairs(prompt_sample[:300], np.random.default_rng(1))
    flat = [x for p in pairs for x in p]
    fo, fd, fv = string_buffers(pa.array(flat, pa.string()))
    sig = np.empty((len(flat), K), np.uint32)
    unfused.minhash_signatures(fo, fd, fv, np.arange(len(flat), dtype=np.int64), SHINGLE, a, b, sig)
    cnt = np.empty(len(flat), np.int64)
    shingles.count_shingles(fo, fd, fv, SHINGLE, cnt)
    so = np.zeros(len(flat) + 1, np.int64)
    np.cumsum(cnt, out=so[1:])
    sh = np.empty(int(so[-1]), np.uint64)
    shingles.hash_shingles(fo, fd, fv, SHINGLE, so, sh)
    ds = _datasketch(flat)
    err_fs, err_ds = [], []
    for i in range(len(pairs)):
        x, y = set(sh[so[2 * i] : so[2 * i + 1]].tolist()), set(sh[so[2 * i + 1] : so[2 * i + 2]].tolist())
        true_fs = len(x & y) / max(1, len(x | y))
        err_fs.append(abs(float(np.mean(sig[2 * i] == sig[2 * i + 1])) - true_fs))
        px, py = _py_shingles(flat[2 * i].encode()), _py_shingles(flat[2 * i + 1].encode())
        true_ds = len(px & py) / max(1, len(px | py))
        err_ds.append(abs(ds[2 * i].jaccard(ds[2 * i + 1]) - true_ds))
    # the same number of permutations, the same accuracy: neither estimator is off by much
    assert np.mean(err_fs) < 0.08 and np.mean(err_ds) < 0.08

    t0 = __import__("time").perf_counter()
    _datasketch(prompt_sample)
    ds_seconds = __import__("time").perf_counter() - t0
    benchmark.pedantic(_fastscan_minhash, args=(arrays,), rounds=ROUNDS, iterations=1, warmup_rounds=1)
    record(
        benchmark,
        "minhash fastscan",
        nbytes,
        len(prompt_sample),
        mean_abs_jaccard_error=round(float(np.mean(err_fs)), 4),
        pairs=len(pairs),
        num_perm=K,
    )
    RESULTS["minhash datasketch"] = {
        "seconds": round(ds_seconds, 4),
        "mb_per_s": round(nbytes / 1e6 / ds_seconds, 2),
        "mean_abs_jaccard_error": round(float(np.mean(err_ds)), 4),
    }
    benchmark.extra_info["datasketch_mb_per_s"] = RESULTS["minhash datasketch"]["mb_per_s"]
    benchmark.extra_info["datasketch_mean_abs_jaccard_error"] = RESULTS["minhash datasketch"]["mean_abs_jaccard_error"]
    benchmark.extra_info["fastscan_over_datasketch"] = ratio("minhash fastscan", "minhash datasketch")


# --------------------------------------------------------------------------- fresh processes

_CHILD = textwrap.dedent("""
    import json, resource, sys, time
    def high_water():
        # Linux: this process's peak RSS. getrusage's ru_maxrss is kept across exec, so in a child
        # of a large process (the bench's, holding its logs) it says the parent's: a fallback only
        try:
            with open("/proc/self/status") as fh:
                return next(int(l.split()[1]) / 1024 for l in fh if l.startswith("VmHWM:"))
        except (OSError, StopIteration):
            return None
    t0 = time.perf_counter()
    import fastscan, fastscan.kernels
    fastscan.kernels.warmup()
    rss0 = high_water() or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    try:     # Linux: reset the high-water mark, so VmHWM below is the scan's own peak
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass
    t1 = time.perf_counter()
    import fastscan.run.local as local
    from fastscan.config import ScanConfig
    finish, kept = local.finish, {}
    def counting(partial, *args):  # the distinct prompts the scan kept, when finish() took them
        partial.state.sample.compact()  # as finish() does first
        kept["sample_rows"] = len(partial.state.sample.account)
        return finish(partial, *args)
    local.finish = counting
    budget = {"sample_budget": int(sys.argv[2])} if len(sys.argv) > 2 else {}
    report = fastscan.scan([sys.argv[1]], config=ScanConfig(**budget))
    t2 = time.perf_counter()
    scan_peak = high_water()
    peak = max(rss0, scan_peak) if scan_peak else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"start_s": t1 - t0, "scan_s": t2 - t1, "total_s": t2 - t0,
                      "records": report.stats.records_read, "rss_after_warmup_mb": rss0,
                      "accounts": len(report.accounts), "sample_rows": kept.get("sample_rows"),
                      "sample_level": report.stats.sample_level,
                      "scan_peak_rss_mb": scan_peak, "peak_rss_mb": peak}))
""")


def _child(path, env_extra=None, sample_budget: int | None = None) -> dict:
    env = dict(os.environ)
    env.pop("FASTSCAN_NUMBA_CACHE", None)
    env.update(env_extra or {})
    budget = [] if sample_budget is None else [str(sample_budget)]
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), *budget], env=env, capture_output=True, check=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def tiny_log():
    return bench_log(2_000_000, seed=2, fmt="flat")


@pytest.mark.parametrize("cache", ["off", "on", "empty"], ids=["no-cache", "numba-cache", "first-run"])
def test_cold_start(benchmark, tiny_log, tmp_path_factory, cache):
    """A fresh process's compile (or load) of the kernels and first scan: without the disk cache
    (the library's default), from a filled cache, and into an empty one (the CLI's first run of a
    version, whose compile warmup() shares between processes)."""
    env = {}
    if cache == "on":
        env = {"FASTSCAN_NUMBA_CACHE": "1", "NUMBA_CACHE_DIR": str(tmp_path_factory.mktemp("numba-cache"))}
        _child(tiny_log, env)  # fills the cache; the timed runs below read it
    result = {}

    def run():
        if cache == "empty":
            env.update(FASTSCAN_NUMBA_CACHE="1", NUMBA_CACHE_DIR=str(tmp_path_factory.mktemp("numba-cache")))
        result.update(_child(tiny_log, env))

    benchmark.pedantic(run, rounds=ROUNDS, iterations=1)
    assert result["records"] > 0
    record(
        benchmark,
        f"cold start {dict(off='uncached', on='cached', empty='first run')[cache]}",
        None,
        None,
        compile_s=round(result["start_s"], 2),
        first_scan_s=round(result["scan_s"], 2),
        log_mb=round(os.path.getsize(tiny_log) / 1e6, 1),
    )


def _scan_peak(r: dict) -> float:
    """A _child's scan peak in MB: its own high-water mark, else the whole process's."""
    return r["scan_peak_rss_mb"] or r["peak_rss_mb"]


@pytest.fixture(scope="module")
def filled_cache(tiny_log, tmp_path_factory) -> dict:
    """The environment of a fresh process that loads the kernels from a numba cache filled first
    (by a scan of the tiny log): a process that compiles them keeps the compiler's memory, and
    its peak is the compiler's, not the scan's (a quarter-size log "took" 458 MB, the whole 373)."""
    env = {"FASTSCAN_NUMBA_CACHE": "1", "NUMBA_CACHE_DIR": str(tmp_path_factory.mktemp("numba-cache"))}
    _child(tiny_log, env)
    return env


def _two_scans(benchmark, env: dict, small_log, big_log) -> tuple[dict, dict]:
    """What _child says of a scan of `small_log`, then of `big_log` (the benchmark's one round),
    each in a fresh process of environment `env`."""
    small = _child(small_log, env)
    result = {}

    def run():
        result["big"] = _child(big_log, env)

    benchmark.pedantic(run, rounds=1, iterations=1)
    return small, result["big"]


def test_peak_memory(benchmark, jsonl_log, small_log, filled_cache):
    """Peak RSS of a whole scan in a fresh process: the bench log vs a quarter-size log."""
    small, big = _two_scans(benchmark, filled_cache, small_log, jsonl_log)
    figures = dict(
        log_mb=round(os.path.getsize(jsonl_log) / 1e6),
        peak_rss_mb=round(big["peak_rss_mb"]),
        quarter_log_mb=round(os.path.getsize(small_log) / 1e6),
        quarter_peak_rss_mb=round(small["peak_rss_mb"]),
        rss_after_warmup_mb=round(big["rss_after_warmup_mb"]),
        rss_growth=round(big["peak_rss_mb"] / small["peak_rss_mb"], 2),
    )
    if big["scan_peak_rss_mb"] and small["scan_peak_rss_mb"]:  # the scan's own high-water mark
        figures.update(
            scan_peak_rss_mb=round(big["scan_peak_rss_mb"]),
            quarter_scan_peak_rss_mb=round(small["scan_peak_rss_mb"]),
            scan_rss_growth=round(big["scan_peak_rss_mb"] / small["scan_peak_rss_mb"], 2),
        )
    record(benchmark, "peak rss", None, None, **figures)


def test_peak_memory_same_accounts(benchmark, filled_cache):
    """Peak RSS of a whole scan in a fresh process: the same accounts over 28 days and over 7
    (about the bench log's bytes, and a quarter of them). What a scan keeps is bounded by the
    accounts (per account its sums, hours, settings and at most `sample_size` distinct prompts),
    so the file adds memory only while the accounts' prompt samples fill."""
    month, week = same_accounts(BENCH_BYTES, 28), same_accounts(BENCH_BYTES, 7)
    small, big = _two_scans(benchmark, filled_cache, week, month)
    assert big["accounts"] == small["accounts"] and big["records"] > 3 * small["records"]
    peak, quarter_peak = _scan_peak(big), _scan_peak(small)
    record(
        benchmark,
        "peak rss, same accounts",
        None,
        None,
        accounts=big["accounts"],
        log_mb=round(os.path.getsize(month) / 1e6),
        quarter_log_mb=round(os.path.getsize(week) / 1e6),
        scan_peak_rss_mb=round(peak),
        quarter_scan_peak_rss_mb=round(quarter_peak),
        rss_after_warmup_mb=round(big["rss_after_warmup_mb"]),
        scan_rss_growth=round(peak / quarter_peak, 2),
        sample_rows=big["sample_rows"],
        quarter_sample_rows=small["sample_rows"],
    )


def test_peak_memory_same_accounts_4x_the_days(benchmark, filled_cache):
    """Peak RSS of a whole scan in a fresh process over the same accounts for 28 days and for 112
    (issue 12's "2 GB vs 8 GB of the same accounts"), at the default sample budget and at one of
    100 prompts an account: past its budget the sample stops growing with the file."""
    month, quad = same_accounts(BENCH_BYTES, 28), same_accounts(BENCH_BYTES, 112)
    accounts = max(200, BENCH_BYTES // 475_000)  # same_accounts' own count
    budget = 100 * accounts
    free = {days: _child(log, filled_cache) for days, log in ((28, month), (112, quad))}
    held = {28: _child(month, filled_cache, budget)}
    result = {}

    def run():
        result["quad"] = _child(quad, filled_cache, budget)

    benchmark.pedantic(run, rounds=1, iterations=1)
    held[112] = result["quad"]
    assert all(r["accounts"] == accounts for r in (*free.values(), *held.values()))
    assert held[112]["sample_rows"] <= budget < free[112]["sample_rows"]

    figures: dict = dict(accounts=accounts, log_mb=round(os.path.getsize(month) / 1e6))
    figures["log_4x_days_mb"] = round(os.path.getsize(quad) / 1e6)
    for name, runs in (("default", free), ("budget", held)):
        peak = {days: round(_scan_peak(r)) for days, r in runs.items()}
        figures[f"{name}_peak_rss_mb"] = [peak[28], peak[112]]
        figures[f"{name}_sample_rows"] = [runs[28]["sample_rows"], runs[112]["sample_rows"]]
        figures[f"{name}_sample_level"] = [runs[28]["sample_level"], runs[112]["sample_level"]]
        figures[f"{name}_rss_growth"] = round(peak[112] / peak[28], 2)
    figures["sample_budget"] = budget
    record(benchmark, "peak rss, same accounts 4x the days", None, None, **figures)


def test_peak_memory_by_threads(benchmark, jsonl_log, filled_cache):
    """Peak RSS of a whole scan of the bench log in a fresh process on 2 and on 8 worker threads
    (OMP_NUM_THREADS, which pyarrow's CPU count and so fastscan's follow), as a program that embeds
    fastscan runs it and with glibc held to two malloc arenas, as the command runs (MALLOC_ARENA_MAX
    does what buffers.few_malloc_arenas does): issue 12's "independent of core count"."""
    runs: dict = {}

    def scan(how: str, threads: int) -> None:
        env = dict(filled_cache, OMP_NUM_THREADS=str(threads))
        if how == "command":
            env["MALLOC_ARENA_MAX"] = "2"
        runs[how, threads] = _child(jsonl_log, env)

    for how, threads in (("library", 2), ("library", 8), ("command", 2)):
        scan(how, threads)
    benchmark.pedantic(lambda: scan("command", 8), rounds=1, iterations=1)
    assert len({r["accounts"] for r in runs.values()}) == 1

    figures: dict = dict(log_mb=round(os.path.getsize(jsonl_log) / 1e6))
    for how in ("library", "command"):
        peak = [round(_scan_peak(runs[how, threads])) for threads in (2, 8)]
        figures[f"{how}_peak_rss_mb"] = peak
        figures[f"{how}_growth_8_over_2"] = round(peak[1] / peak[0], 3)
    record(benchmark, "peak rss, 2 and 8 threads", None, None, **figures)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc arenas (Linux)")
def test_scan_with_two_malloc_arenas_in_turns(jsonl_log, filled_cache):
    """The bench log's scan in fresh processes, in turns as a program embedding the library runs it
    and with glibc held to two malloc arenas as the command runs it (MALLOC_ARENA_MAX=2, what
    buffers.few_malloc_arenas sets): the figures above are the library's, in this process."""
    pairs = []
    for _ in range(ROUNDS + 1):
        default = _child(jsonl_log, filled_cache)
        two = _child(jsonl_log, dict(filled_cache, MALLOC_ARENA_MAX="2"))
        pairs.append((default, two))
    ratios = [two["scan_s"] / default["scan_s"] for default, two in pairs]  # time with two arenas
    mb = os.path.getsize(jsonl_log) / 1e6
    RESULTS["scan jsonl, two malloc arenas, in turns"] = {
        "median_time_ratio": round(float(np.median(ratios)), 3),
        "min_time_ratio": round(min(ratios), 3),
        "max_time_ratio": round(max(ratios), 3),
        "pairs": len(ratios),
        "best_mb_per_s": [round(mb / min(p[k]["scan_s"] for p in pairs), 1) for k in (0, 1)],
        "peak_rss_mb": [round(min(_scan_peak(p[k]) for p in pairs)) for k in (0, 1)],
    }
    assert all(r > 0 for r in ratios)
