"""Resumable and incremental scans (--state), determinism, privacy, adversarial scale."""

from __future__ import annotations

import gzip
import json
import os
import pickle
import signal
import stat
import subprocess
import sys
import time
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import reference
from logs import COUNTS, records, write_jsonl
from states import rewritten_state

from fastscan import Scanner, StateError, scan
from fastscan.config import ScanConfig
from fastscan.read import expand_sources, read_source
from fastscan.run.statedir import StateDir
from fastscan.sketches import SIG_DTYPE, key_hour
from fastscan.state import AccountState

SMALL = ScanConfig(sample_size=32)
SECRET = "zebracorn"  # a word only prompts hold: it must never reach a report or a state


def hostile_lines(seed):
    return [
        b"{nope",
        b'{"account_id": "x", "prompt": "bad \xff"}',
        b"null",
        b"5",
        orjson.dumps({"account_id": "", "prompt": "no account"}),
        orjson.dumps({"account_id": f"h{seed}", "prompt": "t", "ts": "yesterday"}),
    ]


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """Five files of several formats, interleaved accounts, a few bad lines, one secret word."""
    import zstandard

    d = tmp_path_factory.mktemp("archive")
    recs = records(30, 60, seed=11)
    for i, r in enumerate(recs):
        if i % 50 == 0:
            r["prompt"] += f" {SECRET}"
    parts = [recs[k::5] for k in range(5)]
    paths = []
    p = d / "day1-a.jsonl"
    write_jsonl(p, [orjson.dumps(r) for r in parts[0]] + hostile_lines(0))
    paths.append(p)
    p = d / "day1-b.jsonl.gz"
    with gzip.open(p, "wb") as fh:
        fh.write(b"\n".join([orjson.dumps(r) for r in parts[1]] + hostile_lines(1)) + b"\n")
    paths.append(p)
    p = d / "day1-c.parquet"
    pq.write_table(pa.Table.from_pylist(parts[2]), p, row_group_size=50)
    paths.append(p)
    p = d / "day2-d.jsonl.zst"
    p.write_bytes(
        zstandard.ZstdCompressor().compress(b"\n".join([orjson.dumps(r) for r in parts[3]] + hostile_lines(3)) + b"\n")
    )
    paths.append(p)
    p = d / "day2-e.jsonl"
    write_jsonl(p, [orjson.dumps(r) for r in parts[4]])
    paths.append(p)
    return paths


def report_bytes(report, d, tag):
    out = {}
    for ext in ("jsonl", "csv", "parquet"):
        p = d / f"{tag}.{ext}"
        report.write(p)
        out[ext] = p.read_bytes()
    return out


def counts(report):
    return {k: getattr(report.stats, k) for k in COUNTS}


# --------------------------------------------------------------------------- serialization


def scanned(paths) -> Scanner:
    """A Scanner of SMALL's config that has folded every record of `paths`."""
    s = Scanner(SMALL)
    for src in expand_sources(paths):
        for b in read_source(src):
            s.update_canonical(b)
    return s


def test_state_round_trips_through_bytes_and_pickle(archive):
    s = scanned(archive)
    want = s.finish().accounts
    data = s.state.to_bytes()
    back = AccountState.from_bytes(data)
    assert back.to_bytes() == data
    for st in (back, pickle.loads(pickle.dumps(s.state))):
        t = Scanner(SMALL)
        t.state = st
        assert t.finish().accounts.equals(want)
    # a restored state keeps merging like the original
    half, rest = scanned(archive[:1]), scanned(archive[1:])
    half.state = AccountState.from_bytes(half.state.to_bytes()).merge(AccountState.from_bytes(rest.state.to_bytes()))
    assert half.finish().accounts.equals(want)
    assert AccountState.from_bytes(AccountState(SMALL).to_bytes()).n_accounts == 0
    # every SparseCounts of a state is serialized (a new one must be added to _SPARSE)
    from fastscan.counts import SparseCounts
    from fastscan.state import _SPARSE

    assert {k for k, v in vars(AccountState()).items() if isinstance(v, SparseCounts)} == set(_SPARSE)
    with pytest.raises(ValueError):
        AccountState.from_bytes(b"not a state")


def test_batches_prepared_ahead_fold_to_the_same_state(archive, tmp_path):
    """A batch prepared on another thread (the scan loop's reading thread) folds as the batch
    would: prepared all before any is folded, split across two threads (word hashes of several
    parts packed into one array), the state is byte for byte the one update() makes."""
    from fastscan.prepared import Prepared, prepare

    big = tmp_path / "big.jsonl"
    write_jsonl(big, [orjson.dumps(r) for r in records(100, 60, seed=5)])
    batches = [b for src in expand_sources([*archive, big]) for b in read_source(src)]
    assert max(b.num_rows for b in batches) >= 6000
    before = pa.cpu_count()
    pa.set_cpu_count(2)
    try:
        want, got = AccountState(SMALL), AccountState(SMALL)
        for b in batches:
            want.update(b)
        ahead = [prepare(b, SMALL) for b in batches]
    finally:
        pa.set_cpu_count(before)
    assert all(isinstance(p, Prepared) and p.num_rows == b.num_rows for p, b in zip(ahead, batches))
    for p in ahead:
        got.update(p)
    assert got.to_bytes() == want.to_bytes()


def _state_of_format(data: bytes, version: bytes, high_bits: bool) -> bytes:
    """The state `data` relabelled as of format `version`; with high_bits, its signatures written
    as format 7 wrote them: 32-bit values (these with noise in the 16 bits format 8 drops)."""

    def wide(low: np.ndarray) -> np.ndarray:
        noise = np.random.default_rng(7).integers(0, 2**16, len(low)).astype(np.uint32)
        return low.astype(np.uint32) | (noise << np.uint32(16))

    columns = {"sample_sig": wide} if high_bits else None
    return rewritten_state(data, columns, meta={b"fastscan.state_format": version})


def test_a_format_7_state_reads_back_as_the_16_bit_signatures_it_holds(archive):
    """Format 7 kept each MinHash value in 32 bits, format 8 keeps their low 16 bits: a format-7
    state reads back as the same state, with the same report (a --state directory survives the
    upgrade); a format this version does not read is one error that names the ones it does, and a
    column of another type than its format's is refused."""
    from fastscan.errors import StateFormatError

    s = scanned(archive)
    want = s.finish().accounts
    data = s.state.to_bytes()
    assert s.state.sample.store.dtype == np.uint16 and len(s.state.sample.account) > 100
    back = AccountState.from_bytes(_state_of_format(data, b"7", high_bits=True))
    assert back.to_bytes() == data
    t = Scanner(SMALL)
    t.state = back
    assert t.finish().accounts.equals(want)
    for version in (b"6", b"10"):
        with pytest.raises(StateFormatError, match=f"state of format {version.decode()},.*reads 7, 8 and 9$"):
            AccountState.from_bytes(_state_of_format(data, version, high_bits=False))
    # a column of another type than its format's is refused, not converted (32-bit values in format 9)
    with pytest.raises(ValueError, match="state column sample_sig of type uint32, not uint16"):
        AccountState.from_bytes(_state_of_format(data, b"9", high_bits=True))


# --------------------------------------------------------------------------- resume


class Interrupt(Exception):
    pass


def interrupting(after):
    n = [0]

    def progress(nbytes):
        n[0] += 1
        if n[0] > after:
            raise Interrupt

    return progress


def resumed_until_done(paths, state, after: int, step: int, **kw):
    """The report of a scan into `state` interrupted after `after` progress calls, run again
    until it ends, each run interrupted `step` calls later than the one before (the files
    already done count one call each); it must have been interrupted at least once."""
    runs = 0
    while True:
        runs += 1
        try:
            got = scan(paths, state_dir=state, progress=interrupting(after + step * runs), **kw)
            break
        except Interrupt:
            assert runs < 200
    assert runs > 1
    return got


@pytest.mark.parametrize("after", [3, 17, 60])
def test_interrupted_scan_resumes_to_the_same_report(archive, tmp_path, after):
    kw: dict = dict(config=SMALL, chunk_bytes=4096)
    want = scan(archive, reject_file=tmp_path / "want-rejects.jsonl", **kw)
    want_bytes = report_bytes(want, tmp_path, "want")
    state = tmp_path / "state"
    got = resumed_until_done(
        archive, state, after, 5, checkpoint_bytes=8192, reject_file=tmp_path / "rejects.jsonl", **kw
    )
    assert report_bytes(got, tmp_path, "got") == want_bytes
    assert counts(got) == counts(want)
    assert (tmp_path / "rejects.jsonl").read_bytes() == (tmp_path / "want-rejects.jsonl").read_bytes()
    # a finished state scanned again reads nothing and reports the same
    again = scan(archive, state_dir=state, **kw)
    assert report_bytes(again, tmp_path, "again") == want_bytes and counts(again) == counts(want)


def test_a_scan_held_by_its_sample_budget_resumes_to_the_same_report(archive, tmp_path, monkeypatch):
    """Interrupted and resumed from checkpoints, a scan whose sample budget binds reports as one
    that ran through: each checkpoint keeps the level the budget held the accounts to, and the
    level only falls, so the parts scanned after a resume end at the same one. (The least an
    account keeps is lowered from 64 to 8 here: the archive's accounts send at most 60 prompts.)"""
    monkeypatch.setattr("fastscan.sketches.MIN_SAMPLE", 8)
    kw: dict = dict(config=ScanConfig(sample_size=32, sample_budget=300), chunk_bytes=4096)
    want = scan(archive, **kw)
    level = want.stats.sample_level
    assert level is not None and 8 <= level < 32 and want.stats.sample_size == 32
    got = resumed_until_done(archive, tmp_path / "state", 17, 5, checkpoint_bytes=8192, **kw)
    want_bytes = report_bytes(want, tmp_path, "want")
    assert report_bytes(got, tmp_path, "got") == want_bytes
    assert got.stats.sample_level == want.stats.sample_level
    # the finished state read back and scored again, nothing new to fold: the same level, report
    again = scan(archive, state_dir=tmp_path / "state", **kw)
    assert report_bytes(again, tmp_path, "again") == want_bytes
    assert again.stats.sample_level == want.stats.sample_level


@pytest.fixture(scope="module")
def small_files(tmp_path_factory):
    """120 files of a few records each (a log rotated every minute), every seventh with bad lines;
    the thirteenth large enough to be read in several chunks of 8 KiB."""
    d = tmp_path_factory.mktemp("small-files")
    recs = records(24, 25, seed=23)
    paths = []
    for k in range(120):
        part = recs[5 * k : 5 * k + 5] if k != 12 else recs[120:130] * 20
        lines = [orjson.dumps(r) for r in part] + (hostile_lines(k) if k % 7 == 3 else [])
        paths.append(d / f"m{k:02d}.jsonl")
        write_jsonl(paths[-1], lines)
    return paths


def test_a_state_scan_of_small_files_joins_their_batches_and_every_checkpoint_is_whole(
    small_files, tmp_path, monkeypatch
):
    """A scan into a state directory decodes small files together and joins their batches as a
    plain scan does (each decode and each batch has a fixed cost). A checkpoint asked for while
    batches are held is taken once they are folded, with the files, statistics and rejects of
    that moment: every checkpoint's state holds exactly the records its manifest counts, and its
    reject file the rejects it counts. Interrupted anywhere and resumed, the scan gives the report
    and the reject file of one uninterrupted plain scan."""
    from fastscan.state import F

    kw: dict = dict(config=SMALL, chunk_bytes=8 << 10)
    want = scan(small_files, reject_file=tmp_path / "want-rejects.jsonl", **kw)
    want_bytes = report_bytes(want, tmp_path, "want")
    assert 0 < want.stats.records_rejected < want.stats.records_read

    saves: list[tuple[int, int, str]] = []
    real_save = StateDir.save

    def checked_save(self, state, stats, rejects, files):
        partial = [f["stats"] for f in files.values() if f["status"] == "partial"]
        scored = stats.records_scored + sum(p["records_scored"] for p in partial)
        rejected = stats.records_rejected + sum(p["records_rejected"] for p in partial)
        assert int(state.sums[: state.n_accounts, F["requests"]].sum()) == scored
        assert rejects.count == rejected
        if rejects.path is not None:
            rejects.flush()
            assert (tmp_path / "rejects.jsonl").read_bytes()[: rejects.tell()].count(b"\n") == rejected
        saves.append((scored, rejected, type(rejects).__name__))
        real_save(self, state, stats, rejects, files)

    monkeypatch.setattr(StateDir, "save", checked_save)
    folds = [0]
    real_update = AccountState.update

    def counted_update(self, batch):
        folds[0] += 1
        real_update(self, batch)

    monkeypatch.setattr(AccountState, "update", counted_update)
    for after in (2, 9, 23, 41):
        state = tmp_path / f"state-{after}"
        rejects = tmp_path / "rejects.jsonl"
        got = resumed_until_done(small_files, state, after, 7, checkpoint_bytes=3000, reject_file=rejects, **kw)
        assert report_bytes(got, tmp_path, "got") == want_bytes and counts(got) == counts(want)
        assert (tmp_path / "rejects.jsonl").read_bytes() == (tmp_path / "want-rejects.jsonl").read_bytes()
    # checkpoints were taken all along, some of them asked for while batches were held
    assert len({s[:2] for s in saves}) > 20 and sum(s[2] == "RejectMark" for s in saves) >= 4
    # checkpoints far apart (the default), chunks of 1 MiB: the files reach the fold joined
    folds[0] = 0
    scan(small_files, state_dir=tmp_path / "whole", config=SMALL, chunk_bytes=1 << 20)
    assert 0 < folds[0] < len(small_files) / 10


def test_incremental_days_equal_all_at_once(archive, tmp_path):
    want = scan(archive, config=SMALL)
    day1 = [p for p in archive if "day1" in p.name]
    first = scan(day1, config=SMALL, state_dir=tmp_path / "st")
    assert first.stats.files == 3
    got = scan(archive, config=SMALL, state_dir=tmp_path / "st")
    assert report_bytes(got, tmp_path, "got") == report_bytes(want, tmp_path, "want")
    assert counts(got) == counts(want)


def test_changed_file_is_reported_not_double_counted(archive, tmp_path, cli_env):
    p = tmp_path / "log.jsonl"
    p.write_bytes(archive[4].read_bytes())
    scan([p], state_dir=tmp_path / "st")
    with open(p, "ab") as fh:
        fh.write(orjson.dumps(records(1, 1, seed=5)[0]) + b"\n")
    with pytest.raises(StateError, match="changed since it was scanned"):
        scan([p], state_dir=tmp_path / "st")
    r = cli_process("scan", p, "--state", tmp_path / "st", "--top", "0", env=cli_env)
    assert r.returncode == 2 and "changed since it was scanned" in r.stderr and r.stdout == ""


def test_state_of_another_config_or_shape_or_a_foreign_dir(archive, tmp_path):
    scan(archive[:1], config=SMALL, state_dir=tmp_path / "st")
    with pytest.raises(StateError, match="another scan configuration"):
        scan(archive[:1], config=ScanConfig(sample_size=64), state_dir=tmp_path / "st")
    with pytest.raises(StateError, match="log shape"):
        scan(archive[:1], config=SMALL, mapping="flat", state_dir=tmp_path / "st")
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "photo.jpg").write_bytes(b"x")
    with pytest.raises(StateError, match="not a fastscan state directory"):
        scan(archive[:1], state_dir=tmp_path / "foreign")


def test_partial_file_must_be_among_the_inputs(archive, tmp_path):
    with pytest.raises(Interrupt):
        scan(archive[:1], state_dir=tmp_path / "st", chunk_bytes=4096, checkpoint_bytes=4096, progress=interrupting(4))
    with pytest.raises(StateError, match="partial scan"):
        scan(archive[1:2], state_dir=tmp_path / "st")


def test_concurrent_use_fails_clearly(archive, tmp_path, cli_env):
    with StateDir(tmp_path / "st", ScanConfig(), None):
        with pytest.raises(StateError, match="in use by another scan"):
            scan(archive[:1], state_dir=tmp_path / "st")
        r = cli_process("scan", archive[0], "--state", tmp_path / "st", "--top", "0", env=cli_env)
        assert r.returncode == 2, r.stderr
        assert r.stderr.strip().splitlines()[-1].startswith("fastscan: error: ")
        assert "in use by another scan (pid" in r.stderr and r.stdout == ""
    scan(archive[:1], state_dir=tmp_path / "st")  # released: usable again


def cli_process(*args, env=None):
    """`python -m fastscan.cli ARGS` in a process of its own (one that holds no lock of this one's)."""
    return subprocess.run(
        [sys.executable, "-m", "fastscan.cli", *map(str, args)], capture_output=True, text=True, env=env
    )


def test_killed_cli_scan_resumes(tmp_path, cli_env, run_cli):
    """SIGKILL a CLI scan after a checkpoint inside a file; the rerun ends with the same report."""
    log = tmp_path / "big.jsonl"
    write_jsonl(log, records(40, 200, seed=21))
    st = tmp_path / "st"
    args = ["scan", log, "--chunk-size", "4K", "--checkpoint-every", "64K", "--top", "0", "--no-progress"]
    ref = run_cli(*args, "--out", tmp_path / "want.jsonl", "--stats", tmp_path / "want.json")
    assert ref.returncode == 0, ref.stderr
    proc = subprocess.Popen(
        [sys.executable, "-m", "fastscan.cli", *map(str, args), "--state", st, "--out", tmp_path / "got.jsonl"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=cli_env,
    )
    deadline = time.time() + 120
    killed = False
    while time.time() < deadline and proc.poll() is None:
        try:
            m = json.loads((st / "manifest.json").read_bytes())
        except (OSError, ValueError):
            m = None
        if m and any(f["status"] == "partial" and f["offset"] > 100_000 for f in m["files"].values()):
            proc.send_signal(signal.SIGKILL)
            killed = True
            break
        time.sleep(0.02)
    proc.wait()
    if not killed:
        pytest.skip("the scan finished before it could be killed (machine too fast for this log)")
    assert proc.returncode == -signal.SIGKILL
    r = run_cli(*args, "--state", st, "--out", tmp_path / "got.jsonl", "--stats", tmp_path / "got.json")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "got.jsonl").read_bytes() == (tmp_path / "want.jsonl").read_bytes()
    want, got = (json.loads((tmp_path / f"{k}.json").read_text()) for k in ("want", "got"))
    assert {k: got[k] for k in COUNTS} == {k: want[k] for k in COUNTS}


# --------------------------------------------------------------------------- determinism


def test_same_bytes_whatever_chunk_size_and_file_order(archive, tmp_path):
    want = report_bytes(scan(archive, config=SMALL), tmp_path, "want")
    for i, (chunk, order) in enumerate(
        [(4096, archive[::-1]), (70_000, archive[2:] + archive[:2]), (1 << 24, archive)]
    ):
        assert report_bytes(scan(order, config=SMALL, chunk_bytes=chunk), tmp_path, f"r{i}") == want


def test_same_bytes_whatever_thread_count(archive, tmp_path, cli_env):
    code = (
        "import sys, pyarrow as pa, fastscan; from fastscan.config import ScanConfig; "
        "pa.set_cpu_count(int(sys.argv[1])); pa.set_io_thread_count(int(sys.argv[1])); "
        "r = fastscan.scan(sys.argv[3:], config=ScanConfig(sample_size=32)); "
        "[r.write(sys.argv[2] + e) for e in ('.jsonl', '.csv', '.parquet')]"
    )
    outs = []
    for threads in (1, 4):
        env = dict(cli_env, NUMBA_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
        base = tmp_path / f"t{threads}"
        subprocess.run(
            [sys.executable, "-c", code, str(threads), str(base), *map(str, archive)],
            check=True,
            env=env,
            capture_output=True,
        )
        outs.append([(tmp_path / f"t{threads}{e}").read_bytes() for e in (".jsonl", ".csv", ".parquet")])
    assert outs[0] == outs[1]


# --------------------------------------------------------------------------- privacy


def test_no_prompt_text_in_state_or_report_and_private_modes(archive, tmp_path):
    old = os.umask(0)  # even with a permissive umask
    try:
        r = scan(
            archive,
            state_dir=tmp_path / "st",
            reject_file=tmp_path / "rj.jsonl",
            chunk_bytes=4096,
            checkpoint_bytes=4096,
        )
    finally:
        os.umask(old)
    st = tmp_path / "st"
    assert stat.S_IMODE(os.stat(st).st_mode) == 0o700
    files = sorted(os.listdir(st))
    assert {"manifest.json", "lock", ".fastscan-state", "report-cache.bin"} < set(files) and len(files) == 5
    assert any(f.startswith("state-") for f in files)
    for f in files:
        assert stat.S_IMODE(os.stat(st / f).st_mode) == 0o600, f
        assert SECRET.encode() not in (st / f).read_bytes(), f
    assert stat.S_IMODE(os.stat(tmp_path / "rj.jsonl").st_mode) == 0o600
    for ext, data in report_bytes(r, tmp_path, "rep").items():
        assert SECRET.encode() not in data, ext
    assert SECRET not in json.dumps(r.stats.to_dict()) + json.dumps(r.rejected_examples) + json.dumps(r.file_errors)
    # the archive does hold the word, so the checks above could fail
    assert SECRET.encode() in archive[0].read_bytes()


# --------------------------------------------------------------------------- adversarial scale

SCALE = 10 if os.environ.get("FASTSCAN_SCALE") == "full" else 1
# docs/bounds.md: per account slot 184 B (slots grow by doubling, at least 1024), the id plus
# 60 B, 16 B per (account, hour), (account, model, hour) and twice per (account, model) pair,
# 4 * num_perm + 56 B per sampled distinct prompt (at most sample_size per account), and spare
# rows of the signature store (a quarter of the sampled prompts and 4,096 more, at most); plus,
# while batches are folded in, the sample's pending rows and each of the six sparse tables'
# waiting pairs (a hash table of 16 B slots, max(65,536, its pairs) rounded up to a power of two)
SLOT = 184
PER_ID = 60
PER_PAIR = 16
# account, hash, counts, words, skeletons, store row (56 B); and, when its text is not shared, a
# signature, the store row's count of rows and text hash (12 B), and up to 8 entries of the text table
PER_SAMPLED = SIG_DTYPE().itemsize * ScanConfig().num_perm + 56 + 12 + 8 * 4
# a spare signature row, its count, text hash and free-list entry, and its entries of the text table
STORE_ROW = SIG_DTYPE().itemsize * ScanConfig().num_perm + 8 + 12 + 8 * 4
PENDING = 32_768 * PER_SAMPLED + 6 * (1 << 16) * PER_PAIR


def flat_table(account, prompt, ts):
    n = len(account)
    return pa.table(
        {
            "account_id": account,
            "prompt": prompt,
            "ts": ts,
            "completion_tokens": pa.array(np.full(n, 20, dtype=np.int64)),
        }
    )


def bound(state: AccountState, hours: int, models: int, sampled: int) -> int:
    n = state.n_accounts
    # pairs: (account, hour), (account, model, hour), and (account, model) twice (requests, tokens)
    return (
        SLOT * max(1024, 2 * n)
        + sum(len(a) + PER_ID for a in state.ids)
        + PER_PAIR * (2 * hours + 2 * models)
        + PER_SAMPLED * sampled
        + STORE_ROW * (sampled // 4 + 4096)
    )


def test_one_account_with_very_many_requests():
    n, step = 200_000 * SCALE, 50_000
    s = Scanner()
    peak = 0
    for i in range(0, n, step):
        idx = np.arange(i, i + step)
        s.update(
            flat_table(
                pa.array(["whale"] * step),
                pa.array([f"tell me about item {k}" for k in idx]),
                pa.array(1756684800 + idx // 10),
            )
        )
        peak = max(peak, s.state.nbytes)
    hours = n // 36_000 + 1
    assert peak <= bound(s.state, hours, 1, 512) + PENDING
    s.state.compact()
    assert s.state.nbytes <= bound(s.state, hours, 1, 512)
    row = s.finish().accounts.to_pylist()[0]
    assert row["requests"] == n
    assert abs(row["distinct_prompts"] - n) / n < 0.2  # bottom-k estimate, ~4.4% error


def test_very_many_accounts_with_one_request_each():
    n, step = 100_000 * SCALE, 50_000
    s = Scanner()
    for i in range(0, n, step):
        idx = np.arange(i, i + step)
        s.update(
            flat_table(
                pa.array([f"acct-{k:08d}" for k in idx]),
                pa.array([f"hello {k}" for k in idx]),
                pa.array(np.full(step, 1756684800)),
            )
        )
    s.state.compact()
    assert s.state.n_accounts == n
    assert s.state.nbytes <= bound(s.state, n, n, n)
    rep = s.finish()
    assert rep.accounts.num_rows == n and not any(rep.accounts.column("flagged").to_pylist())


@pytest.mark.parametrize("prompt", ["please repeat this exact prompt", ""])
def test_every_prompt_identical_or_empty(prompt):
    n = 100_000 * SCALE
    s = Scanner()
    accounts = pa.array([f"a{k % 10}" for k in range(n)])
    s.update(flat_table(accounts, pa.array([prompt] * n), pa.array(np.full(n, 1756684800))))
    s.state.compact()
    assert len(s.state.sample.account) == 10  # one distinct prompt per account
    assert s.state.nbytes <= bound(s.state, 10, 10, 10)
    rows = s.finish().accounts.to_pylist()
    assert [r["requests"] for r in rows] == [n // 10] * 10
    for r in rows:
        assert r["distinct_prompts"] == 1
        assert r["exact_dup_rate"] == pytest.approx(1 - 10 / n)
        assert r["near_dup_rate"] == (1.0 if prompt else 0.0)


def _sample_rows(rng, n, k):
    """Columns of n sample rows over 5 accounts, in the order PromptSample.add takes them."""
    account = rng.integers(0, 5, n).astype(np.int64)
    phash = rng.choice(np.array([1, 2, 3, 2**63, 2**64 - 1], dtype=np.uint64), n)
    return (
        account,
        phash,
        rng.integers(1, 4, n),
        rng.integers(0, 2, n),
        rng.integers(1, 50, n),
        rng.integers(0, 2**63, n).astype(np.uint64),
        rng.integers(0, 2**63, n).astype(np.uint64),
        rng.integers(0, 2**16, (n, k), dtype=SIG_DTYPE),
    )


def test_sample_compaction_keeps_the_same_rows_whatever_the_order_of_the_live_ones():
    """Live rows in another order than compaction leaves them (a state built elsewhere) give
    the same sample and the same counts when new rows come."""
    from fastscan.sketches import _AT, PromptSample

    rng = np.random.default_rng(7)
    first, second = _sample_rows(rng, 60, 8), _sample_rows(rng, 40, 8)
    ordered, shuffled = PromptSample(3, 8), PromptSample(3, 8)
    for s in (ordered, shuffled):
        s.ensure_accounts(5)
        s.add(*first)
        s.compact()
    perm = rng.permutation(len(shuffled.account))
    for name in list(_AT)[:-1]:  # every column but the text, which this sample does not keep
        setattr(shuffled, name, getattr(shuffled, name)[perm])
    for s in (ordered, shuffled):
        s.add(*second)
        s.compact()
    for name in list(_AT)[:-1]:
        assert np.array_equal(getattr(ordered, name), getattr(shuffled, name)), name
    # counts summed over both parts: every request of a kept prompt is counted once
    kept = set(zip(ordered.account.tolist(), ordered.prompt_hash.tolist()))
    want: dict[tuple[int, int], int] = {}
    for cols in (first, second):
        for a, h, c in zip(cols[0].tolist(), cols[1].tolist(), cols[2].tolist()):
            if (a, h) in kept:
                want[(a, h)] = want.get((a, h), 0) + c
    assert dict(zip(zip(ordered.account.tolist(), ordered.prompt_hash.tolist()), ordered.count.tolist())) == want


@pytest.mark.parametrize("mapped", [False, True])
def test_sample_signatures_follow_their_rows_through_compactions_and_shrinks(mapped, monkeypatch):
    """Each kept row's signature is the one added with it, whatever store row it was written to,
    reused or moved to; the store is cut back after compactions that drop many rows. `mapped`:
    the store in reserved address space (where a large one goes), else a plain array."""
    import fastscan.sketches
    from fastscan.sketches import PromptSample

    monkeypatch.setattr(fastscan.sketches, "MAPPED_STORE_BYTES", 1 if mapped else 1 << 40)

    rng = np.random.default_rng(3)
    k = 8
    s = PromptSample(3, k)
    s.ensure_accounts(20)

    def sig_of(account, phash):  # the same prompt always comes with the same signature
        return ((account[:, None] * 1_000_003 + phash[:, None] * np.arange(1, k + 1)) % 2**16).astype(SIG_DTYPE)

    for size in (3000, 2500, 40, 6000, 7, 3000):
        account = rng.integers(0, 20, size).astype(np.int64)
        phash = rng.integers(0, 2**63, size).astype(np.uint64)
        n = np.ones(size, dtype=np.int64)
        s.add(account, phash, n, n, n.astype(np.int32), phash, phash, sig_of(account, phash))
        s.compact()
        assert np.array_equal(s.signatures(), sig_of(s.account, s.prompt_hash))
        assert s.store_rows <= len(s.account) * 5 // 4 + 4096 and s.store_rows <= len(s.store)
        assert sorted(s.slot.tolist() + s._free.tolist()) == list(range(s.store_rows))  # every row once
        assert s._mapped == mapped
    assert len(s.account) == 60


@pytest.mark.parametrize("mapped", [False, True])
def test_rows_of_one_text_share_its_signature_through_compactions_and_shrinks(mapped, monkeypatch):
    """Rows of one prompt hash, of any accounts and batches, share one store row (its signature
    written once, by the first row of the text new to the store); each store row in use counts the
    rows that use it, and is free again, and reused, when none does. Checked against the rows
    after every compaction, over batches that shrink the store and some that share little."""
    import fastscan.sketches
    from fastscan.sketches import PromptSample

    monkeypatch.setattr(fastscan.sketches, "MAPPED_STORE_BYTES", 1 if mapped else 1 << 40)
    rng = np.random.default_rng(11)
    k = 8
    s = PromptSample(3, k)
    s.ensure_accounts(40)
    pool = rng.integers(0, 2**64, 300, dtype=np.uint64)  # texts many accounts send

    def sig_of(phash):  # a signature depends on the text alone
        return ((phash[:, None] >> np.uint64(7)) * np.arange(1, k + 1, dtype=np.uint64) % np.uint64(65521)).astype(
            SIG_DTYPE
        )

    written = 0
    for size, shared in ((3000, 0.9), (2500, 0.5), (40, 1.0), (9000, 0.05), (7, 0.0), (3000, 0.9), (6000, 0.3)):
        account = rng.integers(0, 40, size).astype(np.int64)
        phash = np.where(rng.random(size) < shared, rng.choice(pool, size), rng.integers(0, 2**64, size, np.uint64))
        for lo in range(0, size, 1000):  # batches of a fold: (account, text) distinct within one
            a, h = account[lo : lo + 1000], phash[lo : lo + 1000]
            _, first = np.unique(np.stack([a.astype(np.uint64), h]), axis=1, return_index=True)
            a, h = a[np.sort(first)], h[np.sort(first)]
            slots, fresh = s.text_slots(h)
            assert len(np.unique(h[fresh])) == len(fresh)  # one signature per new text
            pairs = np.unique(np.stack([h, slots.astype(np.uint64)]), axis=1).shape[1]
            assert pairs == len(np.unique(h)) == len(np.unique(slots))  # a store row per text, a text per row
            s.store[slots[fresh]] = sig_of(h[fresh])
            written += len(fresh)
            n = np.ones(len(a), dtype=np.int64)
            s.add_slots(a, h, n, n, n.astype(np.int32), h, h, slots)
        s.compact()
        assert np.array_equal(s.signatures(), sig_of(s.prompt_hash))
        used = np.unique(s.slot)
        assert len(used) == len(np.unique(s.prompt_hash))  # one store row per text kept
        assert np.array_equal(s._refs[: s.store_rows], np.bincount(s.slot, minlength=s.store_rows))
        assert sorted(used.tolist() + s._free.tolist()) == list(range(s.store_rows))  # each row once
        assert s.store_rows <= len(used) * 5 // 4 + 4096 and s.store_rows <= len(s.store)
        assert s._mapped == mapped
    assert written < 3000 + 2500 + 40 + 9000 + 7 + 3000 + 6000 - 2000  # shared texts were not hashed again


def test_a_text_lookup_cut_short_leaves_the_table_sound(monkeypatch):
    """A lookup whose store rows are refused (memory) leaves marks for rows it never gave; the
    next lookups still give each text one row, and only rows that hold it."""
    from fastscan.sketches import PromptSample

    s = PromptSample(8, 4)
    s.ensure_accounts(3)
    one = np.ones(3, dtype=np.int64)

    def add(account, phash):
        slots, fresh = s.text_slots(phash)
        s.store[slots[fresh]] = (phash[fresh, None] % np.uint64(60000)).astype(SIG_DTYPE)
        s.add_slots(account, phash, one, one, one.astype(np.int32), phash, phash, slots)

    add(np.array([0, 1, 2]), np.array([5, 6, 7], dtype=np.uint64))
    real = PromptSample.reserve
    monkeypatch.setattr(PromptSample, "reserve", lambda self, m: (_ for _ in ()).throw(MemoryError()))
    with pytest.raises(MemoryError):
        s.text_slots(np.array([5, 9, 8], dtype=np.uint64))  # marks 9 and 8 as its rows 1 and 2
    monkeypatch.setattr(PromptSample, "reserve", real)
    add(np.array([0, 1, 2]), np.array([8, 8, 8], dtype=np.uint64))  # row 2 would meet the mark of 1
    add(np.array([1, 0, 2]), np.array([9, 5, 8], dtype=np.uint64))
    s.compact()
    assert np.array_equal(s.signatures()[:, 0], (s.prompt_hash % np.uint64(60000)).astype(SIG_DTYPE))
    assert len(np.unique(s.slot)) == len(np.unique(s.prompt_hash)) == 5


def test_a_state_whose_sample_columns_differ_in_length_is_refused():
    """A state file whose sample's prompt hashes are one short (the rest as written) is refused
    in one line, before anything indexes the sample by them."""
    st = AccountState(SMALL)
    st._map_ids(["a", "b"])
    st.sample.ensure_accounts(2)
    one = np.ones(3, dtype=np.int64)
    sig = np.zeros((3, SMALL.num_perm), dtype=SIG_DTYPE)
    st.sample.add(np.array([0, 1, 1]), np.array([3, 4, 5], np.uint64), one, one, one.astype(np.int32), one, one, sig)
    batch = pa.ipc.open_stream(st.to_bytes()).read_next_batch()
    at = batch.schema.get_field_index("sample_prompt_hash")
    short = pa.array([[3, 4]], batch.schema.field(at).type)
    bad = batch.set_column(at, batch.schema.field(at), short)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, bad.schema) as w:
        w.write_batch(bad)
    with pytest.raises(ValueError, match="columns of unequal lengths"):
        AccountState.from_bytes(sink.getvalue().to_pybytes())


def test_compact_tables_leaves_the_sample_to_another_thread():
    """finish() compacts the sparse tables on a thread of its own while its own thread compacts
    the prompt sample: compact_tables merges every table's waiting pairs and touches nothing of
    the sample's; the two together are compact()."""
    from fastscan.read.canonical import CANONICAL
    from fastscan.state import _SPARSE

    st, whole = AccountState(ScanConfig(sample_size=16)), AccountState(ScanConfig(sample_size=16))
    for lo in range(0, 1200, 400):
        cols = {f.name: pa.nulls(400, f.type) for f in CANONICAL}
        cols["account_id"] = pa.array([f"acct{i % 23}" for i in range(lo, lo + 400)], pa.string())
        cols["prompt"] = pa.array([f"prompt {i % 97} of a few words" for i in range(lo, lo + 400)], pa.string())
        cols["model"] = pa.array([f"model-{i % 3}" for i in range(lo, lo + 400)], pa.string())
        for state in (st, whole):
            state.update(pa.RecordBatch.from_pydict(cols, schema=CANONICAL))
    pending = len(st.sample._pending)
    assert pending and any(getattr(st, name)._waiting[0] for name in _SPARSE)
    st.compact_tables()
    assert not any(getattr(st, name)._waiting[0] for name in _SPARSE)
    assert len(st.sample._pending) == pending
    st.sample.compact()
    whole.compact()
    assert st.to_bytes() == whole.to_bytes()


def test_a_fold_keeps_one_signature_per_text_and_it_is_the_texts():
    """Scanned prompts that many accounts send: the sample keeps one store row per distinct text,
    and every row's signature is the MinHash of its own prompt (kernels.unfused, from the text)."""
    from fastscan.buffers import string_buffers
    from fastscan.kernels import unfused
    from fastscan.read.canonical import CANONICAL

    texts = [f"please explain step by step how topic {i} works in detail for me" for i in range(40)]
    recs = [
        {"account_id": f"acct{i % 23}", "prompt": texts[(i * 7) % 40] if i % 3 else f"own prompt {i} of mine", "ts": i}
        for i in range(3000)
    ]
    st = AccountState(ScanConfig(sample_size=16))
    for lo in range(0, len(recs), 400):
        part = recs[lo : lo + 400]
        cols = {f.name: pa.nulls(len(part), f.type) for f in CANONICAL}
        for name in ("account_id", "prompt"):
            cols[name] = pa.array([r[name] for r in part], pa.string())
        st.update(pa.RecordBatch.from_pydict(cols, schema=CANONICAL))
    s = st.sample
    s.compact()
    assert len(np.unique(s.slot)) == len(np.unique(s.prompt_hash)) < len(s.account)
    prompts = sorted({str(r["prompt"]) for r in recs})
    off, data, valid = string_buffers(pa.array(prompts, pa.string()))
    h = np.empty(len(prompts), np.uint64)
    nw = np.empty(len(prompts), np.int32)
    unfused.hash_prompts(off, data, valid, st.config.skeleton_words, h, nw, np.empty_like(h), np.empty_like(h))
    a, b = st.minhash_params()
    sig = np.empty((len(prompts), st.config.num_perm), dtype=np.uint32)
    unfused.minhash_signatures(off, data, valid, np.arange(len(prompts)), st.config.shingle_words, a, b, sig)
    by_hash = dict(zip(h.tolist(), (sig & 0xFFFF).astype(SIG_DTYPE)))
    assert all(np.array_equal(row, by_hash[ph]) for row, ph in zip(s.signatures(), s.prompt_hash.tolist()))


@pytest.mark.parametrize("accounts", [1, 2, 300, 2**31 + 5, 2**32 + 5])
@pytest.mark.parametrize("n", [100, 5000, 60000])
def test_order_by_account_hash_is_lexsort(accounts, n):
    """The sample's sort by (account, prompt hash) gives np.lexsort's order exactly: equal pairs in
    their order, hashes that agree on their top bits (which the packed key drops) included."""
    from fastscan.sketches import order_by_account_hash

    rng = np.random.default_rng(n + accounts)
    account = rng.integers(0, accounts, n).astype(np.int64)
    phash = rng.integers(0, 2**64, n, dtype=np.uint64)
    phash[: n // 4] = rng.integers(0, 64, n // 4).astype(np.uint64) << np.uint64(58)  # top bits only
    phash[n // 4 : n // 2] &= np.uint64(0xFF)  # low bits only: top bits tie
    phash[n // 2 : n // 2 + n // 8] = phash[: n // 8]  # the same hashes again
    account[n // 2 : n // 2 + n // 8] = account[: n // 8]  # some of them of the same account
    for perm in (np.arange(n), rng.permutation(n)):
        a, h = account[perm], phash[perm]
        assert np.array_equal(order_by_account_hash(a, h), np.lexsort((h, a)))
    assert np.array_equal(order_by_account_hash(account * 0, phash), np.lexsort((phash, account * 0)))
    # a few accounts far apart, and a few next to each other far from 0 (a log sorted by account)
    for few in (np.where(account % 2 == 0, 3, 100_000), 100_000 + account % 5):
        assert np.array_equal(order_by_account_hash(few, phash), np.lexsort((phash, few)))
    # strided views (every other row), as a caller may hand them
    assert np.array_equal(order_by_account_hash(account[::2], phash[::2]), np.lexsort((phash[::2], account[::2])))


@pytest.mark.parametrize("batches", [1, 3, 40])
def test_sparse_counts_and_minima_match_a_dictionary(batches):
    """Per (account, key): the sum of counts and the smallest value, whatever the batches and
    compactions (many small batches compact between them), and whatever the arrays' types and
    layout (int32 accounts, as a state numbers them; counts a column of a 2-d array)."""
    from fastscan.counts import SparseCounts, SparseMin

    rng = np.random.default_rng(batches)
    sums, mins, seen = SparseCounts(), SparseMin(), SparseCounts()
    want_sum: dict[tuple[int, int], int] = {}
    want_min: dict[tuple[int, int], int] = {}
    want_seen: dict[tuple[int, int], int] = {}
    for _ in range(batches):
        n = int(rng.integers(0, 30000))
        acct = rng.integers(0, 50, n)
        key = rng.integers(0, 2**32, n) % rng.choice([3, 1000, 2**32])
        val = rng.integers(-(2**40), 2**40, n)
        cnt = rng.integers(1, 5, (n, 2))[:, 1]  # strided
        if _ % 2:
            acct = acct.astype(np.int32)
        sums.add(acct, key, cnt)
        mins.add(acct, key, val)
        seen.add(acct, key)  # no counts: each pair once
        for a, k, v, c in zip(acct.tolist(), key.tolist(), val.tolist(), cnt.tolist()):
            want_sum[(a, k)] = want_sum.get((a, k), 0) + c
            want_min[(a, k)] = min(want_min.get((a, k), v), v)
            want_seen[(a, k)] = want_seen.get((a, k), 0) + 1
    for sketch, want in ((sums, want_sum), (mins, want_min), (seen, want_seen)):
        a, k, v = sketch.items()
        assert list(zip(a.tolist(), k.tolist())) == sorted(want)  # sorted by account, then key
        assert dict(zip(zip(a.tolist(), k.tolist()), v.tolist())) == want


def test_sparse_counts_wait_in_bounded_memory_and_refuse_unequal_values():
    """The waiting pairs live in a hash table of max(65,536, the table's pairs) slots rounded up
    to a power of two, 16 B each, merged when half full; compact() gives it back."""
    from fastscan.counts import SparseCounts, SparseMin

    sc = SparseCounts()
    rng = np.random.default_rng(3)
    most = 0
    for _ in range(12):
        key = rng.integers(0, 2**32, 50_000)
        sc.add(np.zeros(len(key), dtype=np.int64), key)
        slots = 1 << 16
        while slots < len(sc.keys):
            slots *= 2
        most = max(most, sc.nbytes - 16 * len(sc.keys))
        assert sc.nbytes - 16 * len(sc.keys) <= 16 * slots
    assert most > 0 and len(sc.keys) > 1 << 17  # the waiting table grew with the table
    sc.compact()
    assert sc.nbytes == 16 * len(sc.keys) and sc.items()[2].sum() == 12 * 50_000
    with pytest.raises(ValueError, match="3 keys but 2 values"):
        sc.add(np.zeros(3, dtype=np.int64), np.arange(3), np.ones(2, dtype=np.int64))
    with pytest.raises(ValueError, match="3 keys but 0 values"):  # not read as "1 each"
        SparseMin().add(np.zeros(3, dtype=np.int64), np.arange(3), np.zeros(0, dtype=np.int64))


def test_state_with_a_damaged_sparse_table_is_refused():
    """The sparse tables merge as sorted tables of distinct keys: a state whose table is not one
    (or has more keys than counts) is refused when read, not merged into wrong totals."""
    from fastscan.counts import SparseCounts

    st = AccountState()
    st._map_ids(["a", "b"])  # accounts 0 and 1
    st.hours.add(np.array([0, 0, 1]), np.array([5, 7, 5]))
    good = AccountState.from_bytes(st.to_bytes())
    assert good.hours.items()[2].tolist() == [1, 1, 1]
    for keys, counts in (([3, 2], [1, 1]), ([2, 2], [1, 1]), ([1, 2, 3], [1, 1])):
        st.hours = SparseCounts()
        st.hours.keys, st.hours.counts = np.array(keys, np.int64), np.array(counts, np.int64)
        with pytest.raises(ValueError, match="state table"):
            AccountState.from_bytes(st.to_bytes())


def _set(at: int, value: int):
    def change(v):
        v[at] = value
        return v

    return change


@pytest.mark.parametrize(
    "name, change, match",
    [
        ("sample_account", _set(0, 10**9), "state sample of an account the state does not name"),
        ("sample_account", _set(0, -1), "state sample of an account the state does not name"),
        ("sample_prompt_hash", lambda v: np.repeat(v[:1], len(v)), "holds one prompt of an account twice"),
        ("sample_count", _set(0, 0), "state sample of a prompt of no request"),
        ("sample_count0", _set(0, 10**6), "state sample of a prompt of no request, or of a negative count"),
        ("sample_n_words", _set(0, -3), "state sample of a prompt of no request, or of a negative count"),
        ("sample_threshold", lambda v: v[:-1], "thresholds for"),
        ("sums", _set(3, -7), "state of a negative count"),
        ("hours_keys", lambda v: v - (1 << 40), "state table of an account it does not name"),
        ("hours_keys", lambda v: v + (10**6 << 32), "state table of an account it does not name"),
        ("model_tokens_counts", _set(0, -1), "state table of an account it does not name, or of a negative count"),
        ("model_counts_keys", lambda v: v + 999, "state table of a model the state does not name"),
        ("hours_counts", _set(0, 2**62), "state table of a count past 2\\*\\*53"),
        ("sums", _set(0, 2**62), "state of a negative count, or of one past 2\\*\\*53"),
        ("sample_count", _set(0, 2**62), "state sample of a count past 2\\*\\*53"),
    ],
)
def test_a_state_whose_values_no_scan_could_leave_is_refused(archive, name, change, match):
    """A state read back must hold what a scan can leave: rows of the accounts and models it
    names, no negative count nor one past 2**53 (scored as float64), each sampled prompt of an
    account once, a threshold per account.
    Anything else is refused when read (one ValueError that says what), not scored into a
    crash deep in finish() or into wrong totals."""
    data = scanned(archive).state.to_bytes()
    assert AccountState.from_bytes(data).to_bytes() == data
    with pytest.raises(ValueError, match=match):
        AccountState.from_bytes(rewritten_state(data, {name: change}))


def test_a_state_with_any_one_number_changed_is_refused_or_reports(archive):
    """Any one integer of a state changed (to its type's largest or smallest value, 0, a flipped
    bit, swapped with another, or a column cut by one): reading it back and scoring it either is
    refused with a ValueError or gives a report - never another exception or a warning (the
    tests make warnings errors: a NaN cast would be one). 2,400 changes in the long fuzz run."""
    import random

    data = scanned(archive).state.to_bytes()
    batch = pa.ipc.open_stream(pa.py_buffer(data)).read_next_batch()
    names = [n for n in batch.schema.names if pa.types.is_integer(batch.schema.field(n).type.value_type)]
    rng = random.Random(62)
    outcomes = {"refused": 0, "reported": 0}
    for _ in range(60 * (40 if os.environ.get("FASTSCAN_FUZZ") == "long" else 1)):  # docs/bad-input.md
        name, kind = rng.choice(names), rng.choice(["largest", "smallest", "zero", "bit", "swap", "cut"])

        def change(v, kind=kind):
            if len(v) < 2:
                return v[:0] if kind == "cut" else v
            i, j = rng.randrange(len(v)), rng.randrange(len(v))
            info = np.iinfo(v.dtype)
            if kind in ("largest", "smallest", "zero"):
                v[i] = {"largest": info.max, "smallest": info.min, "zero": 0}[kind]
            elif kind == "bit":
                v[i] ^= v.dtype.type(1 << rng.randrange(8 * v.dtype.itemsize - 1))
            elif kind == "swap":
                v[i], v[j] = v[j], v[i]
            return v[:-1] if kind == "cut" else v

        try:
            st = AccountState.from_bytes(rewritten_state(data, {name: change}))
            scanner = Scanner(SMALL)
            scanner.state = st
            scanner.finish()
            outcomes["reported"] += 1
        except ValueError:
            outcomes["refused"] += 1
    assert outcomes["refused"] > 0 and outcomes["reported"] > 0, outcomes


@pytest.mark.parametrize("live", [0, 1, 700])
@pytest.mark.parametrize("new", [0, 1, 3000])
def test_merge_order_of_live_and_new_rows_is_lexsort(live, new):
    """A compaction's order from the live rows (sorted, distinct) and a sort of the new rows alone
    is np.lexsort's over both: pairs held by both, the live row first; not when live is unsorted."""
    from fastscan.kernels.aggregate import merge_order
    from fastscan.sketches import order_by_account_hash

    rng = np.random.default_rng(live + new)
    a = rng.integers(0, 20, live + new).astype(np.int64)
    h = rng.integers(0, 40, live + new).astype(np.uint64)
    k = min(live, new // 2)
    a[live : live + k], h[live : live + k] = a[:k], h[:k]  # pairs the live rows hold too
    keep = np.lexsort((h[:live], a[:live]))
    first = np.ones(len(keep), dtype=np.bool_)
    first[1:] = (a[:live][keep][1:] != a[:live][keep][:-1]) | (h[:live][keep][1:] != h[:live][keep][:-1])
    la, lh = a[:live][keep][first], h[:live][keep][first]  # the live rows: sorted and distinct
    na, nh = a[live:], h[live:]
    all_a, allh = np.concatenate([la, na]), np.concatenate([lh, nh])
    out = np.empty(len(all_a), dtype=np.int64)
    assert merge_order(la, lh, na, nh, order_by_account_hash(na, nh), out)
    assert np.array_equal(out, np.lexsort((allh, all_a)))
    if len(la) > 2:
        assert not merge_order(la[::-1].copy(), lh[::-1].copy(), na, nh, order_by_account_hash(na, nh), out)


@pytest.mark.parametrize("size", [1, 3, 50])
def test_bottom_k_matches_the_reference(size):
    """The compaction kernel against tests/reference.py: one row per (account, hash), its first
    row's, counts summed, an account's `size` smallest hashes; the rest gone, the size-th marked."""
    from fastscan.kernels.aggregate import bottom_k

    rng = np.random.default_rng(size)
    n = 3000
    a = rng.integers(0, 30, n).astype(np.int64)
    h = rng.choice(np.array([0, 1, 7, 2**40, 2**63, 2**64 - 1] + list(range(100, 160)), dtype=np.uint64), n)
    c, c0 = rng.integers(1, 9, n), rng.integers(0, 3, n)
    order = np.lexsort((h, a))
    src, acct, cnt, cnt0 = (np.full(n, -1, dtype=np.int64) for _ in range(4))
    hsh, gone, full = np.zeros(n, dtype=np.uint64), np.zeros(n, dtype=np.bool_), np.zeros(n, dtype=np.bool_)
    k = bottom_k(a, h, order, size, c, c0, src, acct, hsh, cnt, cnt0, gone, full)
    want = reference.bottom_k(list(zip(a.tolist(), h.tolist(), c.tolist(), c0.tolist())), size)
    got = list(zip(src[:k].tolist(), acct[:k].tolist(), hsh[:k].tolist(), cnt[:k].tolist(), cnt0[:k].tolist()))
    assert got == want
    assert sorted(np.flatnonzero(~gone).tolist()) == sorted(src[:k].tolist())
    per_account = np.bincount(acct[:k], minlength=30)
    assert np.array_equal(acct[:k][full[:k]], np.flatnonzero(per_account == size))  # the last of a full account
    assert (acct[:k][full[:k]] == np.unique(acct[:k][full[:k]])).all()


@pytest.mark.parametrize("ranges", [1, 2, 3, 7])
def test_bottom_k_split_across_threads_is_one_call(monkeypatch, ranges):
    """A compaction's pass in ranges of its rows (sketches._bottom_k) gives what one call of the
    kernel gives, where the ranges would begin inside an account (one holds a third of the rows)
    and where an account spans several of them."""
    from fastscan import sketches
    from fastscan.kernels.aggregate import bottom_k

    monkeypatch.setattr(
        sketches, "row_ranges", lambda n: [(n * k // ranges, n * (k + 1) // ranges) for k in range(ranges)]
    )
    rng = np.random.default_rng(ranges)
    n = 5000
    a = np.where(rng.random(n) < 0.35, 4, rng.integers(0, 40, n)).astype(np.int64)
    h = rng.integers(0, 400, n).astype(np.uint64)
    c, c0 = rng.integers(1, 9, n), rng.integers(0, 3, n)
    order = np.lexsort((h, a))
    for size in (1, 5, 60, 10_000):
        want = [np.full(n, -1, dtype=np.int64) for _ in range(4)] + [np.zeros(n, np.uint64)]
        want += [np.zeros(n, np.bool_), np.zeros(n, np.bool_)]
        got = [w.copy() for w in want]
        k = bottom_k(a, h, order, size, c, c0, want[0], want[1], want[4], want[2], want[3], want[5], want[6])
        k2 = sketches._bottom_k(a, h, order, size, c, c0, got[0], got[1], got[4], got[2], got[3], got[5], got[6])
        assert k2 == k
        for w, g in zip(want[:5] + want[6:], got[:5] + got[6:]):
            assert np.array_equal(w[:k], g[:k])  # src, account, counts, hash, full
        assert np.array_equal(want[5], got[5])  # gone, for every row


def test_sample_signatures_restored_in_row_order_and_refused_when_short():
    """A state read back keeps each sampled prompt's signature, and grows its store from there;
    a sample whose signatures are too few for its rows is refused."""
    from fastscan.sketches import PromptSample

    s = PromptSample(4, 8)
    s.ensure_accounts(3)
    rng = np.random.default_rng(5)
    sig = rng.integers(0, 2**16, (6, 8), dtype=SIG_DTYPE)
    one = np.ones(6, dtype=np.int64)
    s.add(np.array([2, 0, 1, 0, 2, 1]), np.arange(6, dtype=np.uint64), one, one, one.astype(np.int32), one, one, sig)
    s.compact()
    back = PromptSample(4, 8)
    back.account, back.prompt_hash = s.account.copy(), s.prompt_hash.copy()
    back.restore_signatures(s.signatures().ravel().copy())
    assert np.array_equal(back.signatures(), s.signatures()) and back.store_rows == 6
    assert back.reserve(2).tolist() == [6, 7] and back.store.shape[0] >= 8  # grows from the rows it has
    with pytest.raises(ValueError, match="unequal counts"):
        PromptSample(4, 8).restore_signatures(np.zeros(8, dtype=SIG_DTYPE))


def test_model_tables_count_each_account_and_model(tmp_path):
    """The per-(account, model) tables (requests, completion tokens, requests with a time and the
    first hour), in batches where some requests have no time and where none do, against a count
    of the records themselves."""
    rng = np.random.default_rng(3)
    recs = []
    for i in range(600):
        r: dict[str, Any] = {
            "account_id": f"a{rng.integers(0, 7)}",
            "model": ["m-small", "m-large", None][rng.integers(0, 3)],
            "prompt": f"question {i}",
            "completion_tokens": int(rng.integers(1, 500)),
        }
        if i < 400 and rng.random() < 0.7:  # the last 200 (a batch of their own) have no time
            r["ts"] = int(1756684800 + rng.integers(0, 86400 * 3))
        recs.append(r)
    log = tmp_path / "models.jsonl"
    write_jsonl(log, recs)
    (src,) = expand_sources([str(log)])
    table = pa.Table.from_batches(list(read_source(src))).combine_chunks()
    state = AccountState(ScanConfig())
    for batch in table.slice(0, 400).to_batches() + table.slice(400).to_batches():
        state.update(batch)  # times here and there, then none at all
    want: dict = {}
    for r in recs:
        w = want.setdefault((r["account_id"], r["model"] or ""), [0, 0, 0, None])
        w[0] += 1
        w[1] += r["completion_tokens"]
        if "ts" in r:
            w[2] += 1
            hour = r["ts"] // 3600
            w[3] = hour if w[3] is None else min(w[3], hour)
    got: dict = {}
    for k, table in enumerate((state.model_counts, state.model_tokens, state.model_timed, state.model_first)):
        for a, m, v in zip(*table.items()):
            g = got.setdefault((state.ids[a], state.models[m]), [0, 0, 0, None])
            g[k] = int(v) if k < 3 else int(key_hour(np.array([v]))[0])
    assert got == want


def test_id_order_is_python_order_of_the_ids_and_follows_new_accounts():
    """AccountState.id_order(): the account numbers in the ids' code-point order (Python's, which
    keeps an id's trailing NUL, where a numpy string array drops it), sorted again once an account
    is added; the report's rows follow it."""
    ids = ["b", "a\x00", "a", "\u00e9", "B", "a\x00\x00"]
    recs = [dict(r, account_id=a) for a, r in zip(ids, records(n_accounts=1, per_account=len(ids)))]
    s = Scanner()
    s.update(pa.Table.from_pylist(recs[:4]))
    st = s.state
    assert [st.ids[i] for i in st.id_order()] == sorted(ids[:4])
    s.update(pa.Table.from_pylist(recs[4:]))
    assert [st.ids[i] for i in st.id_order()] == sorted(ids) == ["B", "a", "a\x00", "a\x00\x00", "b", "\u00e9"]
    assert s.finish().accounts.column("account_id").to_pylist() == sorted(ids)


def test_model_rank_is_python_order_and_breaks_top_model_ties():
    """AccountState.model_rank(): each model's place in the names' code-point order, a trailing NUL
    kept ("m" before "m\\x00", whichever came first); an account that sends as many requests to
    each takes the one that sorts first as its top model."""
    models = ["m\x00", "m", "b"]
    recs = [dict(r, model=m) for m, r in zip(models, records(n_accounts=1, per_account=len(models)))]
    s = Scanner()
    s.update(pa.Table.from_pylist(recs))
    st = s.state
    assert st.models == models
    assert st.model_rank().tolist() == [2, 1, 0]
    assert [st.models[i] for i in np.argsort(st.model_rank())] == sorted(models)
    assert s.finish().accounts.column("top_model").to_pylist() == ["b"]
    s2 = Scanner()
    s2.update(pa.Table.from_pylist(recs[:2]))
    assert s2.finish().accounts.column("top_model").to_pylist() == ["m"]


def test_state_size_counts_each_ids_characters():
    """AccountState.nbytes counts the ids as Python strings: their characters (code points, not
    UTF-8 bytes) and 60 bytes each, added up in Arrow; a new id changes it."""
    st = AccountState()
    assert st._id_chars() == 0
    ids = ["", "a", "é", "\U0001f600x", "acct_" * 20, "名前"]
    st._map_ids(ids)
    assert st._id_chars() == sum(len(x) for x in ids) == 106
    before = st.nbytes
    st._map_ids(["zz"])
    assert st._id_chars() == 108
    assert st.nbytes >= before + 2 + 60 - 1  # (the name table may grow with it)


def test_a_callers_large_batch_is_folded_in_slices_with_its_row_numbers(monkeypatch):
    """Scanner.update folds a batch larger than a columnar file's batches in equal slices (the
    fold's arrays are per row), as a file's batch is: the same report as the records fed in small
    pieces, and a rejected record keeps its row number in the caller's batch."""
    import fastscan.run.local as local
    from fastscan.state import AccountState

    monkeypatch.setattr(local, "DEFAULT_CHUNK_BYTES", 1024 * 2048)  # slices of about 1,024 rows
    recs = records(n_accounts=25, per_account=200)  # 5,000
    for i in (1500, 3500):
        recs[i] = dict(recs[i], account_id=None)  # rejected: no account
    seen: list[int] = []
    real = AccountState.update

    def counted(self, b):
        seen.append(b.num_rows)
        return real(self, b)

    monkeypatch.setattr(AccountState, "update", counted)
    whole = Scanner()
    whole.update(pa.Table.from_pylist(recs).combine_chunks().to_batches()[0])
    assert seen == [1000, 999, 1000, 999, 1000]  # five slices of 1,000 rows, less each rejected one
    assert [e["line"] for e in whole.rejects.examples] == [1501, 3501]
    pieces = Scanner()
    for lo in range(0, 5000, 100):
        pieces.update(pa.Table.from_pylist(recs[lo : lo + 100]))
    assert whole.stats.records_read == pieces.stats.records_read == 5000
    assert whole.stats.records_rejected == pieces.stats.records_rejected == 2
    assert whole.finish().accounts.equals(pieces.finish().accounts)
    # a batch in the canonical schema, as the readers give it, likewise
    from fastscan.read import ReadStats, RejectLog, table_batches

    table = pa.Table.from_pylist(recs).combine_chunks()
    (big,) = table_batches("t", None, table.to_batches(), table.schema.names, RejectLog(), ReadStats())
    seen.clear()
    canonical = Scanner()
    canonical.update(big)
    assert big.num_rows == sum(seen) == 4998 and len(seen) == 5 and max(seen) <= 1024 * 1.5
    assert canonical.finish().accounts.equals(whole.finish().accounts)
