"""The classes of failure an outside audit found (issue 15), each as a test that failed before the
fix: inputs are what they are, numbers stay true, outputs never destroy an input, a state
directory survives damage and crashes, and no input, mapping or state file gives a traceback."""

from __future__ import annotations

import contextlib
import errno
import gzip
import json
import os
import threading
import tracemalloc
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from logs import records, write_jsonl

import fastscan
from fastscan import InputError, OutputError, SchemaError, StateError, scan
from fastscan.config import ScanConfig
from fastscan.read import RejectLog, expand_sources, read_source
from fastscan.read.shape import as_shape
from fastscan.run import statedir as statedir_module
from fastscan.run.resumable import scan_resumable

SMALL = ScanConfig(sample_size=32)
FUZZ = 50 if os.environ.get("FASTSCAN_FUZZ") == "long" else 1


def jsonl(path: Path, recs) -> Path:
    write_jsonl(path, [json.dumps(r).encode() if isinstance(r, dict) else r for r in recs])
    return path


@pytest.fixture(scope="module")
def recs():
    return records(8, 30, seed=5)


@pytest.fixture(scope="module")
def want(recs, tmp_path_factory):
    p = jsonl(tmp_path_factory.mktemp("want") / "log.jsonl", recs)
    return scan([p], config=SMALL)


def one_line_error(p) -> None:
    """Exit 2 and one line on stderr, no traceback."""
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr


# --------------------------------------------------------------------------- 1. Arrow timestamps


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize("tz", [None, "UTC", "Europe/Berlin"])
def test_arrow_timestamps_of_every_unit_and_zone(recs, want, tmp_path, unit, tz):
    t = pa.Table.from_pylist(recs)
    per_ms = {"s": 0, "ms": 1, "us": 1000, "ns": 1_000_000}[unit]
    # what pandas and Spark write: microseconds and nanoseconds below the millisecond (floored away)
    raw = [r["ts"] * 1000 * per_ms + (per_ms - 1) for r in recs] if per_ms else [r["ts"] for r in recs]
    ts = pa.array(raw, pa.int64()).cast(pa.timestamp(unit, tz=tz))
    t = t.set_column(t.column_names.index("ts"), "ts", ts)
    pq.write_table(t, tmp_path / "log.parquet")
    got = scan([tmp_path / "log.parquet"], config=SMALL)
    assert got.stats.records_rejected == 0
    assert got.accounts.equals(want.accounts)


# --------------------------------------------------------------------------- 2. counts


def test_counts_that_are_not_counts_are_rejected_and_sums_stay_true(recs, want, tmp_path):
    big = 2**63 - 1
    bad = [
        dict(recs[0], account_id="overflow", prompt_tokens=big),
        dict(recs[1], account_id="overflow", prompt_tokens=big),
        dict(recs[2], account_id="overflow", completion_tokens=big),
        dict(recs[3], account_id="negative", completion_tokens=-60_000),
        dict(recs[4], account_id="negative", n=-2),
    ]
    got = scan([jsonl(tmp_path / "log.jsonl", recs + bad)], config=SMALL, reject_file=tmp_path / "rj.jsonl")
    assert got.stats.records_rejected == len(bad)
    assert got.accounts.equals(want.accounts)  # neither account exists: every bad record was set aside
    reasons = [orjson.loads(x)["reason"] for x in (tmp_path / "rj.jsonl").read_bytes().splitlines()]
    assert sorted(r.split(":")[0] for r in reasons) == [
        "completion_tokens",
        "completion_tokens",
        "n",
        "prompt_tokens",
        "prompt_tokens",
    ]
    assert any("negative (-60000)" in r for r in reasons)


# --------------------------------------------------------------------------- 3 and 18. outputs


def test_an_output_that_names_an_input_is_refused_before_anything_is_written(run_cli, recs, tmp_path):
    log = jsonl(tmp_path / "in.jsonl", recs)
    before = log.read_bytes()
    for opt in ("--reject-file", "--out", "--stats"):
        p = run_cli("scan", log, opt, log, "--top", "0")
        one_line_error(p)
        assert "input of this scan" in p.stderr
        assert log.read_bytes() == before
    link = tmp_path / "alias.jsonl"
    link.symlink_to(log)
    one_line_error(run_cli("scan", log, "--out", link, "--top", "0"))
    with pytest.raises(InputError, match="input of this scan"):
        scan([log], reject_file=link)
    hard = tmp_path / "hard.jsonl"  # another name of the same bytes: writing it truncates the input
    os.link(log, hard)
    with pytest.raises(InputError, match=r"hard\.jsonl: the reject file would overwrite an input"):
        scan([log], reject_file=hard)
    assert log.read_bytes() == before


def test_an_unusable_output_is_refused_before_the_scan(run_cli, recs, tmp_path):
    log = jsonl(tmp_path / "in.jsonl", recs)
    for args in (
        ("--out", tmp_path / "r.txt"),
        ("--out", tmp_path / "missing" / "r.parquet"),
        ("--stats", tmp_path / "missing" / "s.json"),
        ("--reject-file", tmp_path),
    ):
        p = run_cli("scan", log, *args, "--top", "0")
        one_line_error(p)
        assert "records" not in p.stderr  # refused before reading: no statistics line
    assert not list(tmp_path.glob("*.part"))


def test_outputs_are_never_written_into_the_state_directory(run_cli, recs, tmp_path):
    log = jsonl(tmp_path / "in.jsonl", recs)
    (tmp_path / "st").mkdir()
    p = run_cli("scan", log, "--state", tmp_path / "st", "--out", tmp_path / "st" / "r.parquet", "--top", "0")
    one_line_error(p)


# --------------------------------------------------------------------------- 4. pipes


def _feed(fifo: Path, data: bytes) -> threading.Thread:
    def write():
        with open(fifo, "wb") as fh:
            fh.write(data)

    t = threading.Thread(target=write, daemon=True)
    t.start()
    return t


@pytest.mark.parametrize("name", ["pipe", "pipe.jsonl"])
@pytest.mark.parametrize("compress", [False, True])
def test_a_named_pipe_is_read_once_as_a_stream(recs, want, tmp_path, name, compress):
    fifo = tmp_path / name
    os.mkfifo(fifo)
    data = b"".join(orjson.dumps(r) + b"\n" for r in recs)
    writer = _feed(fifo, gzip.compress(data) if compress else data)
    got = scan([fifo], config=SMALL)
    writer.join(10)
    assert got.stats.records_read == len(recs) and got.accounts.equals(want.accounts)


def test_a_named_pipe_is_refused_with_state_without_reading_it(tmp_path):
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(StateError, match="named pipe"):
        scan([fifo], state_dir=tmp_path / "st")  # no writer: opening it would hang


# --------------------------------------------------------------------------- 5. one file is one file


def test_the_same_file_reached_twice_is_read_once(recs, want, tmp_path):
    d = tmp_path / "logs"
    d.mkdir()
    log = jsonl(d / "a.jsonl", recs)
    (d / "b.jsonl").symlink_to(log)
    os.link(log, d / "c.jsonl")  # a hard link: the same bytes by another name
    for paths in ([d], [log, log], [log, d / "b.jsonl"], [d / "c.jsonl", log]):
        got = scan(paths, config=SMALL)
        assert got.stats.records_read == len(recs) and got.stats.files == 1
        assert got.accounts.equals(want.accounts)
        assert any("skipped: the same" in e["reason"] for e in got.file_errors)
    resumable = scan([d], config=SMALL, state_dir=tmp_path / "st")
    assert resumable.accounts.equals(want.accounts)


def test_real_paths_of_many_files_are_os_realpath(tmp_path, monkeypatch):
    """The listing resolves each folder once (discover.RealPaths): the same real path as
    os.path.realpath through linked folders, linked files, `..` and relative names."""
    from fastscan.read.discover import RealPaths

    (tmp_path / "a").mkdir()
    (tmp_path / "c").mkdir()
    (tmp_path / "a" / "x.jsonl").write_bytes(b"")
    (tmp_path / "c" / "z.jsonl").write_bytes(b"")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    (tmp_path / "a" / "y.jsonl").symlink_to(Path("..") / "c" / "z.jsonl")
    monkeypatch.chdir(tmp_path / "a")
    names = ["x.jsonl", "y.jsonl", "../b/x.jsonl", "../b/y.jsonl", ".", "..", str(tmp_path / "b" / ".." / "c")]
    names += [str(tmp_path / d / f) for d in ("a", "b", "c") for f in ("x.jsonl", "y.jsonl", "z.jsonl")]
    real = RealPaths()
    assert [real(n) for n in names + names] == [os.path.realpath(n) for n in names + names]


# --------------------------------------------------------------------------- 6. compression


def test_compression_is_told_by_the_bytes_not_the_name(recs, want, tmp_path):
    import zstandard

    data = b"".join(orjson.dumps(r) + b"\n" for r in recs)
    (tmp_path / "gzip.zst").write_bytes(gzip.compress(data))
    (tmp_path / "plain.gz").write_bytes(data)
    (tmp_path / "zstd.jsonl").write_bytes(zstandard.ZstdCompressor().compress(data))
    for name in ("gzip.zst", "plain.gz", "zstd.jsonl"):
        got = scan([tmp_path / name], config=SMALL)
        assert got.stats.records_rejected == 0 and got.file_errors == [], name
        assert got.accounts.equals(want.accounts), name


# --------------------------------------------------------------------------- 7. Arrow streams


def test_concatenated_arrow_streams_are_all_read(recs, want, tmp_path):
    t = pa.Table.from_pylist(recs)
    sink = pa.BufferOutputStream()
    for part in (t.slice(0, 100), t.slice(100, 50), t.slice(150)):
        with pa.ipc.new_stream(sink, t.schema) as w:
            w.write_table(part)
    (tmp_path / "log.arrows").write_bytes(sink.getvalue().to_pybytes())
    got = scan([tmp_path / "log.arrows"], config=SMALL)
    assert got.stats.records_read == len(recs) and got.accounts.equals(want.accounts)


# --------------------------------------------------------------------------- 8. account ids of any size


@pytest.mark.parametrize("chunk", [4096, 1 << 20])
def test_integer_account_ids_of_any_size_are_text(recs, tmp_path, chunk):
    ids = [2**64, 10**30, 2**63, -(2**70)]
    lines = [dict(recs[i], account_id=ids[i % len(ids)]) for i in range(40)]
    got = scan([jsonl(tmp_path / "log.jsonl", lines)], config=SMALL, chunk_bytes=chunk)
    assert got.stats.records_rejected == 0
    assert sorted(got.accounts.column("account_id").to_pylist()) == sorted(str(i) for i in ids)


# --------------------------------------------------------------------------- 9. the epoch


def _moved_log(shift_s: int) -> list[dict]:
    """Accounts over two weeks; a model that appears on day 3 and some accounts move to it."""
    out = []
    base = 1756684800 + shift_s
    for a in range(6):
        for i in range(80):
            t = base + i * 3 * 3600 + a * 600
            model = "m-new" if (a % 2 == 0 and t >= base + 3 * 86400) else "m-old"
            out.append(
                {"account_id": f"a{a}", "prompt": f"task {i} for {a}", "ts": t, "model": model, "completion_tokens": 50}
            )
    return out


def test_time_features_do_not_depend_on_the_epoch(tmp_path):
    week = 7 * 86400
    reports = {}
    for name, shift in (("2025", 0), ("1969", -2905 * week), ("2100", 3913 * week)):
        reports[name] = scan([jsonl(tmp_path / f"{name}.jsonl", _moved_log(shift))], config=SMALL).accounts
    moving = {"first_seen", "last_seen"}
    cols = [c for c in reports["2025"].column_names if c not in moving]
    assert max(reports["2025"].column("new_model_share").to_pylist()) > 0  # the log exercises it
    for name in ("1969", "2100"):
        assert reports[name].select(cols).equals(reports["2025"].select(cols)), name


# --------------------------------------------------------------------------- 10, 11, 14. state


@pytest.fixture
def scanned_state(recs, tmp_path):
    log = jsonl(tmp_path / "log.jsonl", recs)
    st = tmp_path / "st"
    scan([log], config=SMALL, state_dir=st)
    return log, st


def test_a_flipped_bit_in_the_state_is_one_clear_error(scanned_state):
    log, st = scanned_state
    (state_file,) = st.glob("state-*.arrow")
    data = bytearray(state_file.read_bytes())
    data[len(data) // 2] ^= 0x10
    state_file.write_bytes(bytes(data))
    with pytest.raises(StateError, match="damaged state"):
        scan([log], config=SMALL, state_dir=st)


def test_a_state_of_another_version_is_one_clear_error(scanned_state, monkeypatch):
    import fastscan.state

    log, st = scanned_state
    monkeypatch.setattr(fastscan.state, "STATE_FORMAT", fastscan.state.STATE_FORMAT + 1)
    with pytest.raises(StateError, match=r"state of format \d+, from another fastscan version.*new --state directory"):
        scan([log], config=SMALL, state_dir=st)


def test_a_garbled_manifest_is_one_clear_error_never_a_second_read(scanned_state):
    log, st = scanned_state
    m = json.loads((st / "manifest.json").read_text())
    (rec,) = m["files"].values()
    rec["status"] = "dnoe"
    (st / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(StateError, match="damaged manifest"):
        scan([log], config=SMALL, state_dir=st)


def test_a_crash_in_the_first_checkpoint_leaves_a_directory_that_resumes(recs, want, tmp_path):
    log = jsonl(tmp_path / "log.jsonl", recs)
    st = tmp_path / "st"
    st.mkdir()
    (st / "lock").write_bytes(b"")
    (st / "state-000001.arrow").write_bytes(b"half a state")
    (st / "manifest.json.tmp-123").write_bytes(b'{"format": 2')
    got = scan([log], config=SMALL, state_dir=st)
    assert got.accounts.equals(want.accounts)


def test_a_folder_that_is_not_a_state_directory_is_still_refused(recs, tmp_path):
    log = jsonl(tmp_path / "log.jsonl", recs)
    st = tmp_path / "st"
    st.mkdir()
    (st / "notes.txt").write_text("mine")
    with pytest.raises(StateError, match="not a fastscan state directory"):
        scan([log], config=SMALL, state_dir=st)


@settings(max_examples=40 * FUZZ, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_manifests_never_give_a_traceback(scanned_state, data):
    log, state_dir = scanned_state
    path = state_dir / "manifest.json"
    good = json.loads(path.read_text())

    def mutate(v):
        if isinstance(v, dict) and v and data.draw(st.booleans()):
            k = data.draw(st.sampled_from(sorted(v)))
            return {**v, k: mutate(v[k])}
        if isinstance(v, list) and v and data.draw(st.booleans()):
            i = data.draw(st.integers(0, len(v) - 1))
            return [*v[:i], mutate(v[i]), *v[i + 1 :]]
        return data.draw(st.one_of(st.none(), st.booleans(), st.integers(-5, 2**65), st.text(max_size=8), st.just([])))

    m = mutate(good)
    path.write_text(json.dumps(m) if data.draw(st.booleans()) else json.dumps(m)[: data.draw(st.integers(0, 50))])
    try:
        got = scan([log], config=SMALL, state_dir=state_dir)
        assert got.stats.records_read > 0
    except StateError:
        pass
    finally:
        path.write_text(json.dumps(good))


@settings(max_examples=60 * FUZZ, deadline=None)
@given(
    mapping=st.recursive(
        st.none() | st.integers() | st.text(max_size=12),
        lambda c: st.lists(c) | st.dictionaries(st.text(max_size=12), c),
        max_leaves=6,
    )
)
def test_fuzzed_mappings_are_a_shape_or_a_schema_error(mapping):
    with contextlib.suppress(SchemaError):
        as_shape(mapping)


def test_map_values_that_are_not_paths_exit_2_in_one_line(run_cli, recs, tmp_path):
    log = jsonl(tmp_path / "in.jsonl", recs)
    for mapping in ('{"account_id": 5, "prompt": "prompt"}', "[1, 2]", "account_id=a..b,prompt=p"):
        one_line_error(run_cli("scan", log, "--map", mapping, "--top", "0"))


def test_a_file_name_that_is_not_utf8_reaches_the_reject_file(run_cli, recs, tmp_path):
    name = os.fsdecode(b"bad-\xff.jsonl")
    log = tmp_path / name
    jsonl(log, [*recs[:5], b"{broken"])
    p = run_cli("scan", log, "--reject-file", tmp_path / "rj.jsonl", "--top", "0")
    assert p.returncode == 0, p.stderr
    (line,) = (tmp_path / "rj.jsonl").read_bytes().splitlines()
    assert orjson.loads(line)["file"].endswith("bad-\\xff.jsonl")


# --------------------------------------------------------------------------- 12. the state directory as input


def test_a_state_directory_inside_the_scanned_folder_is_not_scanned(run_cli, recs, want, tmp_path):
    d = tmp_path / "logs"
    d.mkdir()
    jsonl(d / "a.jsonl", recs)
    for _ in range(2):
        p = run_cli("scan", d, "--state", d / "st", "--out", tmp_path / "r.parquet", "--top", "0")
        assert p.returncode == 0, p.stderr
        assert pq.read_table(tmp_path / "r.parquet").column("account_id").equals(want.accounts.column("account_id"))
    plain = scan([d], config=SMALL)  # and a plain scan of the folder skips it too
    assert plain.stats.files == 1 and plain.accounts.equals(want.accounts)


# --------------------------------------------------------------------------- 13. a head of {} lines


@pytest.mark.parametrize("chunk", [4096, 65536, 16 << 20])
def test_a_head_of_empty_objects_does_not_decide_the_shape(recs, tmp_path, chunk):
    log = jsonl(tmp_path / "log.jsonl", [b"{}"] * 3000 + recs)
    got = scan([log], config=SMALL, chunk_bytes=chunk)
    assert got.stats.records_rejected == 3000 and got.stats.records_scored == len(recs)
    assert got.stats.rejected_by_reason == {"missing account id": 3000}


def test_a_file_of_unknown_shape_is_still_a_schema_error(tmp_path):
    log = jsonl(tmp_path / "log.jsonl", [{"who": "x", "text": "y"}] * 10)
    with pytest.raises(SchemaError, match="unknown log shape"):
        scan([log])


# --------------------------------------------------------------------------- 15. a huge line


def test_a_line_too_long_is_not_held_twice(recs, tmp_path):
    max_line = 16 << 20
    log = tmp_path / "log.jsonl"
    with open(log, "wb") as fh:
        fh.write(orjson.dumps(recs[0]) + b"\n")
        fh.write(b'{"account_id": "x", "prompt": "' + b"a" * (48 << 20) + b'"}\n')
        fh.write(orjson.dumps(recs[1]) + b"\n")
    (src,) = expand_sources([log])
    # the reader's kernels compiled first: numba's compile-time objects are not the reader's memory
    (warm,) = expand_sources([jsonl(tmp_path / "warm.jsonl", recs[:3])])
    assert sum(b.num_rows for b in read_source(warm, rejects=RejectLog())) == 3
    tracemalloc.start()
    try:
        rejects = RejectLog()
        n = sum(b.num_rows for b in read_source(src, chunk_bytes=1 << 20, rejects=rejects, max_line_bytes=max_line))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == 2 and rejects.count == 1
    assert peak < max_line + (8 << 20), peak  # the line's kept part and a few chunks, never two copies


# --------------------------------------------------------------------------- 16. many small files


def test_checkpoints_do_not_grow_with_the_files_scanned(recs, want, tmp_path, monkeypatch):
    d = tmp_path / "logs"
    d.mkdir()
    for i in range(0, len(recs), 4):
        jsonl(d / f"part-{i:04d}.jsonl", recs[i : i + 4])
    saves: list[int] = []
    real = statedir_module.StateDir.save

    def counted(self, *a):
        saves.append(1)
        real(self, *a)

    monkeypatch.setattr(statedir_module.StateDir, "save", counted)
    got = scan([d], config=SMALL, state_dir=tmp_path / "st")
    assert len(list(d.glob("*.jsonl"))) == 60 and len(saves) == 1
    assert got.accounts.equals(want.accounts)


# --------------------------------------------------------------------------- 17. a full disk, at every write


def _count_calls(monkeypatch, fail_at: int | None) -> list[str]:
    """Count (and at call `fail_at`, fail with ENOSPC) every write, fsync and rename of the state."""
    calls: list[str] = []
    for name in ("write", "fsync", "replace"):
        real = getattr(os, name)

        def fake(*a, _real=real, _name=name):
            calls.append(_name)
            if fail_at is not None and len(calls) == fail_at:
                raise OSError(errno.ENOSPC, "No space left on device")
            return _real(*a)

        monkeypatch.setattr(statedir_module.os, name, fake, raising=True)
    return calls


def test_a_full_disk_at_any_write_of_a_checkpoint_leaves_a_state_that_resumes(recs, want, tmp_path, monkeypatch):
    d = tmp_path / "logs"
    d.mkdir()
    for i in range(3):
        jsonl(d / f"p{i}.jsonl", recs[i::3])
    with monkeypatch.context() as m:
        calls = _count_calls(m, None)
        scan_resumable([d], tmp_path / "clean", config=SMALL, checkpoint_bytes=1)
    assert len(calls) >= 6
    for k in range(1, len(calls) + 1):
        st = tmp_path / f"st{k}"
        with monkeypatch.context() as m:
            _count_calls(m, k)
            try:
                scan_resumable([d], st, config=SMALL, checkpoint_bytes=1)
            except StateError as err:  # else it fell on the folder's fsync, which is best effort
                assert str(st) in str(err) and "No space left" in str(err)
        assert not [f for f in os.listdir(st) if ".tmp-" in f], k
        again = scan_resumable([d], st, config=SMALL, checkpoint_bytes=1)
        assert again.accounts.equals(want.accounts), k


def test_a_full_disk_writing_the_report_names_it_and_leaves_nothing(want, tmp_path, monkeypatch):
    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pq, "write_table", full)
    with pytest.raises(OutputError, match=r"r\.parquet: cannot write the report: No space left"):
        want.write(tmp_path / "r.parquet")
    assert list(tmp_path.iterdir()) == []


def test_every_error_is_a_fastscan_error():
    for e in (InputError, SchemaError, StateError, OutputError, fastscan.ClusterError):
        assert issubclass(e, fastscan.FastscanError)
