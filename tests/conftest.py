from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/logs.py, tests/reference.py

import os
import subprocess

import pytest


@pytest.fixture(scope="session")
def cli_env(tmp_path_factory):
    """Environment for fastscan subprocesses: kernels compiled once into a session cache
    (opt-in FASTSCAN_NUMBA_CACHE), so each CLI run does not spend seconds compiling."""
    return dict(os.environ, FASTSCAN_NUMBA_CACHE="1", NUMBA_CACHE_DIR=str(tmp_path_factory.mktemp("numba-cache")))


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
    """Run `python -m fastscan ARGS` with the session's kernel cache; the CompletedProcess."""

    def run(*args, stdin=None, timeout=300):
        return subprocess.run(
            [sys.executable, "-m", "fastscan", *map(str, args)],
            capture_output=True,
            text=True,
            env=cli_env,
            stdin=stdin,
            timeout=timeout,
        )

    return run
