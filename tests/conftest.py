import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))   # tests/logs.py, tests/reference.py

import os

import pytest


@pytest.fixture(scope="session")
def cli_env(tmp_path_factory):
    """Environment for fastscan subprocesses: kernels compiled once into a session cache
    (opt-in FASTSCAN_NUMBA_CACHE), so each CLI run does not spend seconds compiling."""
    return dict(os.environ, FASTSCAN_NUMBA_CACHE="1", NUMBA_CACHE_DIR=str(tmp_path_factory.mktemp("numba-cache")))
