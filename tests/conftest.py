from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/logs.py, tests/reference.py

import os
import subprocess
import tempfile

import pytest


# One disk cache of compiled kernels for the session, this process and the fastscan processes the
# tests start alike: the kernels compile once, not once here and again in the first CLI run (on a
# slow 2-core machine 62 s and 74 s of a 12-minute run). Its folder is named, as the CLI's is, by a
# hash of the numba and Python versions and of every kernel source file
# (fastscan.kernels.cache.ready_folder), under the temporary folder, never the home directory: a
# later run of the same code loads it, and nothing compiled from other sources is ever loaded.
# Set before any kernel is imported (numba decides at import whether a kernel is cached).
# FASTSCAN_NUMBA_CACHE=0 in the environment: this process compiles without a cache.
def _kernel_cache() -> str:
    from fastscan.kernels import cache  # imports no numba

    uid = os.getuid() if hasattr(os, "getuid") else 0
    folder = cache.ready_folder(Path(tempfile.gettempdir()) / f"fastscan-test-kernels-{uid}")
    if folder is None or (hasattr(os, "getuid") and folder.stat().st_uid != uid):  # another user's
        return tempfile.mkdtemp(prefix="fastscan-test-kernels-")  # this session's alone
    return str(folder)


_KERNEL_CACHE = _kernel_cache()
if os.environ.get("FASTSCAN_NUMBA_CACHE", "").strip().lower() not in ("0", "false", "no"):
    os.environ["FASTSCAN_NUMBA_CACHE"] = "1"
    os.environ["NUMBA_CACHE_DIR"] = _KERNEL_CACHE


_NO_KERNELS = {"test_layout.py", "test_docs.py"}  # test files that scan nothing


def _scans_nothing(names) -> bool:
    return all(Path(str(n).split("::")[0]).name in _NO_KERNELS for n in names)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session):
    """The kernels compiled into the session's cache before anything else: before the test
    modules are collected (some import kernels) and before pytest-xdist starts the test processes
    (`-n auto`; its own hook runs last), in a process of its own that shares the compile out
    between processes, one per core (fastscan.kernels.warmup), as a first CLI run does. Each test
    process then loads them; left to themselves, two test processes compiled the same kernels side
    by side on the same two cores. Not in pytest-xdist's test processes, not for test files that
    scan nothing, not when the cache is off (FASTSCAN_NUMBA_CACHE=0: each process compiles) or
    already filled."""
    config = session.config
    if hasattr(config, "workerinput") or os.environ.get("FASTSCAN_NUMBA_CACHE") != "1":
        return
    if config.args and _scans_nothing(config.args):
        return
    from fastscan.kernels.cache import kernels_on_disk  # imports no numba

    if kernels_on_disk():  # compiled by an earlier run of the same sources
        return
    # beside it, the kernels only the tests and benchmarks use (34 s alone here): 93 s in all, 115 after it
    # (both inherit this process's environment: the session's cache, set above)
    tests_only = subprocess.Popen([sys.executable, "-c", "import fastscan.kernels.unfused"])
    subprocess.run([sys.executable, "-c", "from fastscan import kernels; kernels.warmup()"])
    tests_only.wait()


@pytest.fixture(scope="session", autouse=True)
def _kernels_compiled_once(request):
    """Every kernel a scan uses loaded in this process at the start (fastscan.kernels.warmup),
    from the session's cache filled at its start (pytest_sessionstart); not for a run of test
    files that scan nothing."""
    if _scans_nothing(item.path.name for item in request.session.items):
        return
    from fastscan import kernels

    kernels.warmup()


@pytest.fixture(scope="session")
def cli_env():
    """Environment for fastscan subprocesses: kernels loaded from the session's cache (opt-in
    FASTSCAN_NUMBA_CACHE), so each CLI run does not spend seconds compiling."""
    return dict(os.environ, FASTSCAN_NUMBA_CACHE="1", NUMBA_CACHE_DIR=_KERNEL_CACHE)


@pytest.fixture(scope="session", autouse=True)
def _cache_home(tmp_path_factory):
    """CLI runs that bring no cache settings keep compiled kernels under a session folder, never
    in the home directory of whoever runs the tests (fastscan.kernels.enable_disk_cache)."""
    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    yield
    if old is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = old


@pytest.fixture
def run_cli(cli_env):
    """Run the command `fastscan ARGS`; a CompletedProcess with its exit code, stdout and stderr.

    In this process (fastscan.cli.main, as the command calls it), which saves the 2 s a process
    takes to start and load the kernels: the tests that run the command most check what it says
    and writes, not how a process starts. A warning is an error, as everywhere in the tests (a
    process would print it); a run that outlasts `timeout` fails the test as a process's would.
    With `stdin`, and through `run_cli.process(...)`, in a `python -m fastscan` process of its
    own (what a process alone does: the kernel cache, signals, exit, standard input)."""

    return CliRunner(cli_env)


class CliRunner:
    """run_cli's runner: runner(*args) in this process, runner.process(*args) in a process."""

    def __init__(self, env: dict[str, str]):
        self.env = env

    def __call__(self, *args, stdin=None, timeout: float = 300) -> subprocess.CompletedProcess:
        if stdin is not None:
            return self.process(*args, stdin=stdin, timeout=timeout)
        return _in_process([str(a) for a in args], timeout)

    def process(self, *args, stdin=None, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "fastscan", *map(str, args)],
            capture_output=True,
            text=True,
            env=self.env,
            stdin=stdin,
            timeout=timeout,
        )


def _in_process(argv: list[str], timeout: float) -> subprocess.CompletedProcess:
    """fastscan.cli.main(argv) on a thread of this process, its stdout and stderr caught; as
    `python -m fastscan ARGV` would end (argparse's exits included)."""
    import contextlib
    import io
    import threading

    from fastscan import cli

    out, err = io.StringIO(), io.StringIO()
    ended: list[int] = []
    failed: list[BaseException] = []

    def main():
        try:
            ended.append(cli.main(argv))
        except SystemExit as e:  # argparse: a usage error or --help
            ended.append(e.code if isinstance(e.code, int) else 0 if e.code is None else 1)
        except BaseException as e:  # a traceback: the process would have ended with 1
            failed.append(e)

    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        thread = threading.Thread(target=main, name="fastscan-cli", daemon=True)
        thread.start()
        thread.join(timeout)
    if thread.is_alive():
        raise subprocess.TimeoutExpired(["fastscan", *argv], timeout, out.getvalue(), err.getvalue())
    if failed:
        raise failed[0]
    return subprocess.CompletedProcess(["fastscan", *argv], ended[0], out.getvalue(), err.getvalue())
