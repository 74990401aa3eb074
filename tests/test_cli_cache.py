"""The CLI's default on-disk kernel cache (fastscan.kernels.enable_disk_cache): where it goes, that any
kernel source change moves it, and that it stays off when asked or when it cannot be written."""

from __future__ import annotations

import gc
import inspect
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

import fastscan.kernels
from fastscan.kernels.cache import cache_folder, numba_subfolder

PROBE = (
    "import json, os, fastscan.kernels as k; k.enable_disk_cache(); "
    "print(json.dumps({k: os.environ.get(k) for k in ('NUMBA_CACHE_DIR', 'FASTSCAN_NUMBA_CACHE')}))"
)


def ours(cache_dir: Path) -> Path:
    """Where numba keeps, inside cache_dir, the kernels of this checkout."""
    return cache_dir / numba_subfolder(Path(fastscan.kernels.cache.__file__))


def probe(env_changes: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "FASTSCAN_NUMBA_CACHE")}
    env.update(env_changes)
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_cache_goes_to_a_folder_named_by_the_kernel_sources(tmp_path):
    got = probe({"XDG_CACHE_HOME": str(tmp_path)})
    assert got["FASTSCAN_NUMBA_CACHE"] == "1"
    folder = Path(got["NUMBA_CACHE_DIR"])
    assert folder.parent == tmp_path / "fastscan" and folder.name.startswith("numba-") and folder.is_dir()
    assert oct(folder.stat().st_mode & 0o777) == oct(0o700)
    assert folder == cache_folder(Path(fastscan.kernels.__file__).resolve().parent, tmp_path / "fastscan")


def test_any_kernel_file_change_moves_the_cache(tmp_path):
    src = Path(fastscan.kernels.__file__).resolve().parent
    copy = tmp_path / "kernels"
    shutil.copytree(src, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = cache_folder(copy, tmp_path)
    assert before == cache_folder(src, tmp_path)
    helper = copy / "hashing.py"  # a helper other kernels inline
    helper.write_text(helper.read_text() + "\n# changed\n")
    assert cache_folder(copy, tmp_path) != before


def test_cache_off_when_asked_or_given(tmp_path):
    assert probe({"XDG_CACHE_HOME": str(tmp_path), "FASTSCAN_NUMBA_CACHE": "0"}) == {
        "NUMBA_CACHE_DIR": None,
        "FASTSCAN_NUMBA_CACHE": "0",
    }
    assert not (tmp_path / "fastscan").exists()
    mine = str(tmp_path / "mine")
    assert probe({"NUMBA_CACHE_DIR": mine}) == {"NUMBA_CACHE_DIR": mine, "FASTSCAN_NUMBA_CACHE": "1"}


def test_cache_folders_no_run_has_used_for_a_month_are_removed(tmp_path):
    """Each upgrade or edit of the kernels leaves a cache folder behind: those of other versions
    unused for STALE_DAYS go, and nothing else in the folder (not a name of another form, not a
    file, not a link, however old), nor the one in use however old it is."""
    import time

    from fastscan.kernels.cache import STALE_DAYS

    base = tmp_path / "fastscan"
    base.mkdir()
    stale = base / "numba-0123456789abcdef"
    stale.mkdir()
    (stale / "text.count_tokens-219.py311.nbi").write_bytes(b"")
    recent = base / "numba-fedcba9876543210"
    recent.mkdir()
    odd = base / "numba-not-a-hex-name"
    odd.mkdir()
    note = base / "notes.txt"
    note.write_text("mine")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = base / "numba-00000000000000aa"
    link.symlink_to(elsewhere)
    old = time.time() - (STALE_DAYS + 1) * 86400
    for p in (stale, odd, note, elsewhere):
        os.utime(p, (old, old))
    os.utime(link, (old, old), follow_symlinks=False)
    current = Path(probe({"XDG_CACHE_HOME": str(tmp_path)})["NUMBA_CACHE_DIR"])
    assert current.parent == base and current.is_dir()
    assert not stale.exists()
    assert recent.is_dir() and odd.is_dir() and note.read_text() == "mine"
    assert link.is_symlink() and elsewhere.is_dir()
    os.utime(current, (old, old))
    assert Path(probe({"XDG_CACHE_HOME": str(tmp_path)})["NUMBA_CACHE_DIR"]) == current
    assert current.is_dir()


def test_no_cache_when_the_folder_cannot_be_written(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    assert probe({"XDG_CACHE_HOME": str(blocker)}) == {"NUMBA_CACHE_DIR": None, "FASTSCAN_NUMBA_CACHE": None}


COMMAND_PROBE = """
import importlib.util, json, sys
from fastscan.cli import main
rc = main(["scan", sys.argv[1], "--no-progress", "--out", sys.argv[2]])
import numba
from fastscan import kernels
misses = 0
for name in kernels._MODULES:
    module = sys.modules[f"fastscan.kernels.{name}"]
    for f in vars(module).values():
        if isinstance(f, numba.core.registry.CPUDispatcher):
            misses += sum(f.stats.cache_misses.values())
has_scipy = importlib.util.find_spec("scipy") is not None
linalg = "scipy.linalg" in sys.modules
if has_scipy:
    import scipy.linalg.cython_blas  # noqa: F401  (imports as usual once the command has loaded numba)
print(json.dumps({"rc": rc, "misses": misses, "linalg": linalg}))
"""


def test_command_loads_its_kernels_from_the_cache_and_no_scipy(tmp_path, cli_env):
    """A scan by the command takes every kernel from the disk cache (numba reads where the cache is
    as it loads, so the command must say it first), and loads no scipy.linalg for numba's BLAS
    look, which the kernels do not need (_load_numba_without_blas) - while SciPy still imports."""
    log = tmp_path / "one.jsonl"
    log.write_text('{"account_id": "a", "prompt": "hello there", "completion": "hi", "ts": 1700000000}\n')
    # the session's cache folder, given as NUMBA_CACHE_DIR: the command turns it on itself
    env = {k: v for k, v in cli_env.items() if k != "FASTSCAN_NUMBA_CACHE"}
    runs = []
    for _ in range(2):  # the first run fills the cache when it is cold
        out = subprocess.run(
            [sys.executable, "-c", COMMAND_PROBE, str(log), str(tmp_path / "r.parquet")],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    last = runs[-1]
    assert last["rc"] == 0
    assert last["misses"] == 0
    assert not last["linalg"]


def test_a_terminal_is_told_when_the_kernels_are_compiled(tmp_path, monkeypatch, capsys):
    """The first run of a version compiles for half a minute before its progress bar moves: on a
    terminal, the CLI says so first; not when the kernels load from the disk cache, and never to a
    pipe (a script's stderr)."""
    from fastscan import cli

    monkeypatch.setattr(fastscan.kernels, "warmup", lambda: None)  # what is said, not the compiling
    monkeypatch.setenv("FASTSCAN_NUMBA_CACHE", "1")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    cli._warmup()  # an empty cache folder: the first run
    said = capsys.readouterr().err
    assert said.startswith("fastscan: compiling the kernels") and f"once, kept in {tmp_path}" in said
    assert len(said.splitlines()) == 1
    ours(tmp_path).mkdir()
    (ours(tmp_path) / "text.count_tokens-219.py311.nbi").write_bytes(b"")  # numba's index of one
    cli._warmup()
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("FASTSCAN_NUMBA_CACHE", "0")
    cli._warmup()
    assert "on every run: no kernel cache on disk" in capsys.readouterr().err
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    cli._warmup()
    assert capsys.readouterr().err == ""


def test_the_kernels_of_this_checkout_are_found_where_numba_keeps_them():
    """numba keeps each source folder's kernels in a subfolder of its own (named by the folder's
    path); kernels_on_disk looks in this checkout's, where numba itself files them, and so does
    not take another checkout's kernels in a shared cache folder for its own."""
    from numba.core.caching import UserProvidedCacheLocator

    from fastscan.kernels import jsonl

    source = inspect.getfile(jsonl.newline_positions.py_func)
    assert numba_subfolder(Path(source)) == UserProvidedCacheLocator.get_suitable_cache_subpath(source)
    assert numba_subfolder(Path(fastscan.kernels.cache.__file__)) == numba_subfolder(Path(source))
    folder = os.environ.get("NUMBA_CACHE_DIR")
    if fastscan.kernels.cache_enabled() and folder:  # the tests' cache, filled at their start
        assert any((Path(folder) / numba_subfolder(Path(source))).glob("jsonl.newline_positions-*.nbi"))


def test_a_first_compile_is_shared_out_longest_first():
    """Every module of a first compile goes to exactly one process, the longest first to the
    process with the least so far: no process has more than the least loaded one and the longest
    module besides."""
    seconds = fastscan.kernels._COMPILE_SECONDS
    assert set(seconds) <= set(fastscan.kernels._MODULES)
    for processes in range(1, len(seconds) + 1):
        shares = fastscan.kernels._shares(processes)
        assert len(shares) == processes and all(shares)
        assert sorted(m for share in shares for m in share) == sorted(seconds)
        loads = [sum(seconds[m] for m in share) for share in shares]
        assert max(loads) - min(loads) <= max(seconds.values())


def test_a_compiling_process_fills_the_cache_its_parent_uses(tmp_path):
    """The process warmup starts for a share compiles its modules into the parent's cache folder
    (what the environment names), from a folder where `fastscan` is not importable by itself."""
    env_before = dict(os.environ)
    try:
        os.environ.update(FASTSCAN_NUMBA_CACHE="1", NUMBA_CACHE_DIR=str(tmp_path / "cache"))
        argv, env = fastscan.kernels._compiler(["jsonl"])
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    subprocess.run(argv, env=env, cwd=tmp_path, check=True, timeout=300)
    index = [p.name for p in (tmp_path / "cache").rglob("*.nbi")]
    assert any(name.startswith("jsonl.newline_positions") for name in index), index


def test_warmup_shares_only_a_first_compile(monkeypatch, tmp_path):
    """warmup starts other processes only when the kernels compile into an empty disk cache and
    none is imported yet; each gets one share, and this process compiles its own share."""
    started: list[list[str]] = []

    class Proc:
        def __init__(self, argv, **kw):
            started.append(argv)

        def wait(self):
            return 0

        def kill(self):
            pass

    k = fastscan.kernels
    imported: list[str] = []  # (what the modules' imports would compile, not compiled here)
    monkeypatch.setattr(k, "importlib", SimpleNamespace(import_module=imported.append))
    monkeypatch.setattr(k.subprocess, "Popen", Proc)
    monkeypatch.setattr(k, "_imported", lambda: False)
    monkeypatch.setenv("FASTSCAN_NUMBA_CACHE", "1")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    k.warmup(processes=3)  # an empty cache folder
    assert len(started) == 2
    shares = k._shares(3)
    for argv, share in zip(started, shares[1:]):
        assert all(f"fastscan.kernels.{m}'" in argv[-1] for m in share)
    own = [f"fastscan.kernels.{m}" for m in shares[0]]
    assert imported == own + [f"fastscan.kernels.{m}" for m in k._MODULES]  # its share, then all
    started.clear()
    (tmp_path / "kernels_0123").mkdir()  # another checkout's kernels: still a first compile here
    (tmp_path / "kernels_0123" / "jsonl.newline_positions-18.py311.nbi").write_bytes(b"")
    k.warmup(processes=3)
    assert len(started) == 2
    started.clear()
    ours(tmp_path).mkdir()
    (ours(tmp_path) / "jsonl.newline_positions-18.py311.nbi").write_bytes(b"")
    k.warmup(processes=3)  # the cache holds kernels
    monkeypatch.setenv("FASTSCAN_NUMBA_CACHE", "0")
    k.warmup(processes=3)  # no cache
    monkeypatch.setenv("FASTSCAN_NUMBA_CACHE", "1")
    (ours(tmp_path) / "jsonl.newline_positions-18.py311.nbi").unlink()
    k.warmup(processes=1)
    assert started == []
    # by default one process per core this one may run on, MAX_COMPILERS in all at most
    monkeypatch.setattr(k.os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    k.warmup()
    assert len(started) == k.MAX_COMPILERS - 1
    started.clear()
    monkeypatch.setattr(k.os, "sched_getaffinity", lambda pid: {0}, raising=False)
    k.warmup()
    assert started == []


def test_warmup_pauses_the_collector_only_while_kernels_load_from_the_cache(monkeypatch, tmp_path):
    """Loading from a filled disk cache, the collector waits (the kernels live as long as the
    process); compiling, or with no disk cache, it runs; and it runs again after, an import that
    fails included."""
    k = fastscan.kernels
    seen: list[bool] = []

    def load(name):
        seen.append(gc.isenabled())
        if name.endswith("neardup") and fail:
            raise ImportError("a kernel that cannot load")

    fail = False
    monkeypatch.setattr(k, "importlib", SimpleNamespace(import_module=load))
    monkeypatch.setattr(k, "_imported", lambda: True)  # no compile shared out
    monkeypatch.setenv("FASTSCAN_NUMBA_CACHE", "1")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    k.warmup(processes=1)  # an empty cache folder: the kernels compile
    assert seen == [True] * len(k._MODULES) and gc.isenabled()
    ours(tmp_path).mkdir()
    (ours(tmp_path) / "jsonl.newline_positions-18.py311.nbi").write_bytes(b"")
    seen.clear()
    k.warmup(processes=1)  # the cache holds them
    assert seen == [False] * len(k._MODULES) and gc.isenabled()
    fail = True
    with pytest.raises(ImportError):
        k.warmup(processes=1)
    assert gc.isenabled()
    monkeypatch.setenv("FASTSCAN_NUMBA_CACHE", "0")
    seen.clear()
    fail = False
    k.warmup(processes=1)  # no disk cache: compiled here
    assert seen == [True] * len(k._MODULES) and gc.isenabled()
    # a caller that turned the collector off keeps it off
    gc.disable()
    try:
        monkeypatch.setenv("FASTSCAN_NUMBA_CACHE", "1")
        k.warmup(processes=1)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_kernel_modules_are_attributes_imported_when_first_asked_for(monkeypatch):
    """`fastscan.kernels.<module>` imports (compiles) the module when first asked for; no other name
    is an attribute."""
    k = fastscan.kernels
    monkeypatch.setattr(k, "importlib", SimpleNamespace(import_module=lambda name: ("imported", name)))
    for name in (*k._MODULES, *k._UNUSED_BY_SCANS):
        assert k.__getattr__(name) == ("imported", f"fastscan.kernels.{name}")
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        k.nothing  # noqa: B018
