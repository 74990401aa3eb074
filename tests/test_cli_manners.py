"""The CLI never passes a broken scan, says what it did, and keeps its output readable (issue 14)."""

from __future__ import annotations

import json
import subprocess
import sys

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from logs import records, table_rows, write_jsonl

import fastscan.run
from fastscan import cli, scan
from fastscan.score.model import score_accounts


@pytest.fixture
def log(tmp_path):
    p = tmp_path / "log.jsonl"
    write_jsonl(p, [orjson.dumps(r) for r in records(8, 30, seed=2)])
    return p


def test_a_scan_that_read_nothing_usable_fails_the_gate(run_cli, log, tmp_path):
    csv = tmp_path / "log.csv"
    csv.write_text("account_id,prompt\na,hello\nb,world\n")
    array = tmp_path / "array.json"
    array.write_text(json.dumps(records(2, 3)))
    for args in (
        (csv, "--fail-on-flagged"),
        (array, "--fail-on-flagged"),
        (log, "--map", "account_id=no.such.field,prompt=prompt"),
    ):
        p = run_cli("scan", *args, "--top", "0")
        assert p.returncode == 2, (args, p.stderr)
        assert "rejected" in p.stderr.splitlines()[-1] and "--max-reject-rate" in p.stderr
    # a path inside a field that is itself mapped is no mapping at all: refused before reading
    p = run_cli("scan", log, "--map", "account_id=prompt.replies[0].user_id,prompt=prompt", "--top", "0")
    assert p.returncode == 2 and len(p.stderr.splitlines()) == 1 and "both a value and an object" in p.stderr
    allowed = run_cli("scan", csv, "--max-reject-rate", "1", "--top", "0")
    assert allowed.returncode == 0, allowed.stderr


def test_argument_values_are_checked(run_cli, log):
    for args in (("--threshold", "2"), ("--threshold", "0"), ("--top", "-3"), ("--max-reject-rate", "1.5")):
        p = run_cli("scan", log, *args)
        assert p.returncode == 2 and "Traceback" not in p.stderr, args


def test_folders_take_the_documented_extensions_only(run_cli, log, tmp_path):
    d = tmp_path / "logs"
    d.mkdir()
    log.rename(d / "a.jsonl")
    for name in ("notes.txt", "app.log", "config.json"):
        (d / name).write_text("not a request log\n")
    p = run_cli("scan", d, "--top", "0")
    assert p.returncode == 0, p.stderr
    assert "0 rejected" in p.stderr and "1 file(s)" in p.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("x\n")
    p = run_cli("scan", empty)
    assert p.returncode == 2 and ".jsonl.zst" in p.stderr and ".parquet" in p.stderr and ".arrows" in p.stderr


def test_a_closed_pipe_is_not_an_error(cli_env, log):
    proc = subprocess.Popen(
        [sys.executable, "-m", "fastscan", "scan", str(log), "--top", "8"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()  # as `| head -1` does
    proc.stderr.close()
    assert proc.wait(60) == 0


def test_the_table_keeps_ids_whole_and_fits_its_width(run_cli, tmp_path):
    long_id = "3f2b8c1e-9d4a-4f6b-8e2c-7a1d5b9c0e3f:org-000000000000"
    recs = [dict(r, account_id=long_id if r["account_id"] == "acct_000" else r["account_id"]) for r in records(6, 60)]
    p = tmp_path / "log.jsonl"
    write_jsonl(p, [orjson.dumps(r) for r in recs])
    out = run_cli("scan", p, "--top", "6").stdout
    assert long_id in out
    assert max(len(line) for line in out.splitlines()) <= 160
    assert table_rows(out) == 7


def test_reasons_only_above_the_typical_account():
    rows = [
        dict(requests=100, completion_tokens=50 * (k + 1), prompt_tokens=100, single_shot_rate=1.0) for k in range(9)
    ]
    rows.append(dict(requests=100, completion_tokens=2_000_000, prompt_tokens=100, single_shot_rate=1.0))
    t = score_accounts(pa.Table.from_pylist([dict(r, account_id=f"a{i}") for i, r in enumerate(rows)]))
    score, reasons = t.column("extraction_score").to_pylist(), t.column("reasons").to_pylist()
    median = sorted(score)[len(score) // 2 - 1 : len(score) // 2 + 1]
    for s, r in zip(score, reasons):
        if s <= min(median):
            assert r == "", (s, r)
    assert reasons[-1] != ""


def test_a_trait_every_account_shares_is_no_reason_on_a_small_log(tmp_path):
    p = tmp_path / "log.jsonl"
    write_jsonl(p, [orjson.dumps(r) for r in records(6, 12)])  # no account reaches 50 requests
    got = scan([p])
    assert not any("single-shot" in r for r in got.accounts.column("reasons").to_pylist())


def test_a_resumed_run_says_so_and_counts_only_its_own_bytes(run_cli, log, tmp_path):
    st = tmp_path / "st"
    first = run_cli("scan", log, "--state", st, "--stats", tmp_path / "s1.json", "--top", "0")
    assert first.returncode == 0 and "already scanned" not in first.stderr
    again = run_cli("scan", log, "--state", st, "--stats", tmp_path / "s2.json", "--top", "0")
    assert again.returncode == 0, again.stderr
    assert "1 file(s) already scanned are skipped" in again.stderr
    s1, s2 = (json.loads((tmp_path / f"s{k}.json").read_text()) for k in (1, 2))
    assert s1["mb_per_s"] > 0 and s2["mb_per_s"] == 0 and s2["records_per_s"] == 0
    assert s2["records_read"] == s1["records_read"]  # the report still covers everything


@pytest.mark.parametrize("with_state", [True, False])
def test_ctrl_c_says_what_was_saved(log, tmp_path, monkeypatch, capsys, with_state):
    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(fastscan.run, "scan", interrupted)
    args = ["scan", str(log), "--top", "0"] + (["--state", str(tmp_path / "st")] if with_state else [])
    assert cli.main(args) == 130
    err = capsys.readouterr().err
    if with_state:
        assert "saved in" in err and "run the same command again to resume" in err
    else:
        assert "nothing was saved" in err


@pytest.fixture
def busy_log(tmp_path):
    """Accounts of 70 requests: some flagged, some scoring between 0.3 and 0.5."""
    p = tmp_path / "busy.jsonl"
    write_jsonl(p, [orjson.dumps(r) for r in records(9, 70, seed=2)])
    return p


def test_an_allowlisted_account_is_reported_but_never_flagged(run_cli, busy_log, tmp_path):
    log = busy_log
    base = run_cli("scan", log, "--out", tmp_path / "base.parquet", "--top", "0")
    assert base.returncode == 0, base.stderr
    t = pq.read_table(tmp_path / "base.parquet")
    flagged = t.filter(t.column("flagged")).column("account_id").to_pylist()
    assert flagged
    (tmp_path / "allow.txt").write_text(f"# our own load tests\n{flagged[0]}\n\n")
    p = run_cli("scan", log, "--allow", tmp_path / "allow.txt", "--out", tmp_path / "r.parquet", "--top", "0")
    assert p.returncode == 0, p.stderr
    r = pq.read_table(tmp_path / "r.parquet").to_pylist()
    row = next(x for x in r if x["account_id"] == flagged[0])
    assert row["allowlisted"] and not row["flagged"] and row["reasons"]
    assert sum(x["flagged"] for x in r) == len(flagged) - 1


def test_a_baseline_says_what_changed(run_cli, busy_log, tmp_path):
    log = busy_log
    assert run_cli("scan", log, "--out", tmp_path / "old.csv", "--top", "0").returncode == 0
    p = run_cli(
        "scan",
        log,
        "--threshold",
        "0.3",
        "--baseline",
        tmp_path / "old.csv",
        "--out",
        tmp_path / "r.jsonl",
        "--top",
        "0",
    )
    assert p.returncode == 0, p.stderr
    rows = [orjson.loads(x) for x in (tmp_path / "r.jsonl").read_bytes().splitlines()]
    newly = [x for x in rows if x["change"] == "newly flagged"]
    assert newly and all(x["score_change"] == 0.0 and 0.3 <= x["extraction_score"] < 0.5 for x in newly)
    assert f"{len(newly):,} newly flagged, 0 no longer flagged" in p.stderr


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_the_top_n_can_be_machine_readable(run_cli, log, fmt):
    p = run_cli("scan", log, "--top", "3", "--format", fmt)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    if fmt == "csv":
        assert lines[0].startswith('"account_id"') and len(lines) == 4
    else:
        assert len(lines) == 3 and all("extraction_score" in orjson.loads(x) for x in lines)


def test_the_progress_line_says_file_records_accounts_rejects_and_stage(tmp_path):
    import io

    from fastscan.report.progress import Progress

    paths = []
    for k in range(2):
        p = tmp_path / f"p{k}.jsonl"
        write_jsonl(p, [orjson.dumps(r) for r in records(4, 30, seed=k)] + [b"{broken"])
        paths.append(p)
    out = io.StringIO()
    bar = Progress(sum(p.stat().st_size for p in paths), stream=out, enabled=True, every=0.0)
    scan(paths, progress=bar)
    text = out.getvalue()
    assert "file 2/2" in text and "records (" in text and "accounts, 2 rejected" in text and "scoring…" in text


def test_the_command_freezes_the_collector_after_main_and_callers_of_main_keep_it(monkeypatch, run_cli, log, tmp_path):
    """`fastscan` (cli.console) returns main()'s exit code and leaves the objects alive frozen out
    of the garbage collector, so the interpreter's exit does not walk them; main() itself, which
    programs call, freezes nothing. The command's outputs are complete with the freeze (in a
    `python -m fastscan` process, which is console())."""
    import gc

    gc.unfreeze()
    try:
        out = tmp_path / "r.parquet"
        assert cli.main(["scan", str(log), "--out", str(out), "--top", "0", "--no-progress"]) == 0
        assert gc.get_freeze_count() == 0
        monkeypatch.setattr(cli, "main", lambda argv=None: 3)
        assert cli.console() == 3
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
    p = run_cli.process("scan", log, "--out", tmp_path / "s.parquet", "--top", "0")
    assert p.returncode == 0, p.stderr
    assert pq.read_table(tmp_path / "s.parquet").equals(pq.read_table(out))


_ARENAS = """
import ctypes, os, re, sys, tempfile, threading
import numpy as np
if sys.argv[1] == "few":
    from fastscan.buffers import few_malloc_arenas
    assert few_malloc_arenas()
together = threading.Barrier(8)
def work():
    keep = [np.ones(1000) for _ in range(20)]  # 8 KB blocks: malloc's, from the thread's arena
    together.wait()
    keep += [np.ones(1000) for _ in range(20)]
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
libc = ctypes.CDLL("libc.so.6")
libc.fopen.restype = ctypes.c_void_p
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
path = os.path.join(tempfile.mkdtemp(), "info.xml")
fp = libc.fopen(path.encode(), b"w")
libc.malloc_info(0, fp)
libc.fclose(fp)
print(len(re.findall(r'<heap nr="', open(path).read())))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc arenas (Linux)")
def test_the_command_holds_malloc_to_two_arenas(cli_env, monkeypatch):
    """glibc gives each thread that allocates an arena of its own, which keeps what it freed: the
    command's process asks for two (buffers.few_malloc_arenas, from cli.console before main), so
    eight threads allocating at once share two; without it they take more."""

    def heaps(how: str) -> int:
        out = subprocess.run([sys.executable, "-c", _ARENAS, how], env=cli_env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return int(out.stdout.split()[-1])

    assert heaps("few") <= 2 < heaps("default")
    called: list[int] = []

    def noted() -> bool:
        called.append(1)
        return True

    monkeypatch.setattr("fastscan.buffers.few_malloc_arenas", noted)
    monkeypatch.setattr(cli, "main", lambda: 0)
    monkeypatch.setattr(cli.gc, "freeze", lambda: None)  # (console's own last step)
    assert cli.console() == 0 and called == [1]


_POOL = """
import pyarrow as pa
from fastscan.buffers import malloc_arrow_pool
changed = malloc_arrow_pool()
print(changed, pa.default_memory_pool().backend_name, pa.array([1, 2, 3]).buffers()[1] is not None)
"""


def test_the_command_gives_pyarrow_the_c_librarys_malloc(cli_env, monkeypatch):
    """pyarrow's bundled mimalloc asks for huge pages for its arena: the command's process has
    pyarrow allocate with malloc instead (buffers.malloc_arrow_pool, from cli.console before main),
    unless ARROW_DEFAULT_MEMORY_POOL names a pool, which is then left as it is."""

    def pool(env: dict) -> list[str]:
        out = subprocess.run([sys.executable, "-c", _POOL], env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return out.stdout.split()

    assert pool({k: v for k, v in cli_env.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}) == ["True", "system", "True"]
    if "mimalloc" in pa.supported_memory_backends():
        assert pool(dict(cli_env, ARROW_DEFAULT_MEMORY_POOL="mimalloc")) == ["False", "mimalloc", "True"]
    called: list[str] = []

    def noted(what: str, result):
        def step():
            called.append(what)
            return result

        return step

    monkeypatch.setattr("fastscan.buffers.few_malloc_arenas", noted("arenas", True))
    monkeypatch.setattr("fastscan.buffers.malloc_arrow_pool", noted("pool", True))
    monkeypatch.setattr(cli, "main", noted("main", 0))
    monkeypatch.setattr(cli.gc, "freeze", lambda: None)
    assert cli.console() == 0 and called == ["arenas", "pool", "main"]
