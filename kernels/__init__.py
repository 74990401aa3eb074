"""Numba kernels of fastscan, installed as `fastscan.kernels`.

The kernel modules compile when first imported, so this package imports them lazily:
`import fastscan` compiles nothing, `warmup()` compiles every kernel a scan uses, and
`enable_disk_cache()` keeps compiled kernels on disk in the folder the CLI uses.
"""

from __future__ import annotations

import gc
import importlib
import os
import subprocess
import sys
from pathlib import Path

from fastscan.kernels.cache import cache_enabled, enable_disk_cache, kernels_on_disk

_MODULES = (
    "text",
    "aggregate",
    "messages",
    "reasoning",
    "prompts",
    "neardup",
    "links",
    "buckets",
    "json_values",
    "jsonl",
    "json_records",
    "timing",
)
_UNUSED_BY_SCANS = ("unfused",)  # the prompt pass's separate kernels: tests and benchmarks (see there)
# The modules whose imports compile all of _MODULES (prompts imports text and reasoning,
# json_records messages and json_values, links neardup), with the seconds each took to compile
# on its own on the 2-core CI machine, its imports included: what a first compile shares out
# between processes.
_COMPILE_SECONDS = {
    "json_records": 17,
    "prompts": 16,
    "aggregate": 12,
    "buckets": 7,
    "links": 9,
    "timing": 3,
    "jsonl": 2,
}
MAX_COMPILERS = 3  # processes sharing a first compile, this one included (largest share: 32 of 63 s on 2, 22 on 3)

__all__ = ["enable_disk_cache", "warmup", *_MODULES, *_UNUSED_BY_SCANS]


def warmup(processes: int | None = None) -> None:
    """Compile every kernel a scan uses now (CLI start, benchmarks, long-lived services).

    When they compile into an empty disk cache (the first run of a version: see
    enable_disk_cache), the work is shared with `processes` - 1 other Python processes (default:
    one per core this process may run on, at most MAX_COMPILERS in all, as each holds about 300 MB
    while it compiles; never more than the modules of _COMPILE_SECONDS) that compile their share
    into the cache while this one compiles its own, and this one then loads theirs from it.
    Compiling is one core's work per process. A process that fails leaves its share to this one."""
    if processes is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        processes = min(cores, MAX_COMPILERS)
    processes = min(processes, len(_COMPILE_SECONDS))
    on_disk = kernels_on_disk()  # as the cache was when this began: its folder is walked once
    if processes > 1 and cache_enabled() and on_disk is False and not _imported():
        _compile_shared(processes)
    # Kernels loaded from the disk cache are objects that live as long as the process: the
    # collector's passes over them while they load find nothing (about 60 of the 570 ms a load
    # took), so it waits. Not while kernels compile (a first run, a share another process
    # failed to compile): that makes garbage, for tens of seconds.
    pause = gc.isenabled() and on_disk is True
    if pause:
        gc.disable()
    try:
        for name in _MODULES:
            importlib.import_module(f"{__name__}.{name}")
    finally:
        if pause:
            gc.enable()


def _imported() -> bool:
    return any(f"{__name__}.{name}" in sys.modules for name in _MODULES)


def _shares(processes: int) -> list[list[str]]:
    """The modules of _COMPILE_SECONDS in `processes` shares: the longest first, each to the share
    with the least to compile so far."""
    shares: list[list[str]] = [[] for _ in range(processes)]
    load = [0] * processes
    for name, seconds in sorted(_COMPILE_SECONDS.items(), key=lambda kv: -kv[1]):
        k = load.index(min(load))
        shares[k].append(name)
        load[k] += seconds
    return shares


def _compiler(share: list[str]) -> tuple[list[str], dict[str, str]]:
    """(argv, environment) of a Python process that compiles the modules of `share` into the disk
    cache this process uses (the environment names it) and exits."""
    env = dict(os.environ)
    root = str(Path(__file__).absolute().parents[2])  # where `fastscan` imports from (.../fastscan/kernels)
    env["PYTHONPATH"] = os.pathsep.join([root, env["PYTHONPATH"]]) if env.get("PYTHONPATH") else root
    code = "import importlib\n" + "".join(f"importlib.import_module('{__name__}.{m}')\n" for m in share)
    return [sys.executable, "-c", code], env


def _compile_shared(processes: int) -> None:
    """Compile the modules of _COMPILE_SECONDS into the disk cache in `processes` processes, this
    one among them (_shares)."""
    shares = _shares(processes)
    others = []
    for share in shares[1:]:
        argv, env = _compiler(share)
        try:
            others.append(subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        except OSError:
            continue  # its share is compiled here, by warmup's imports
    done = False
    try:
        for name in shares[0]:
            importlib.import_module(f"{__name__}.{name}")
        done = True
    finally:
        for proc in others:
            if not done:
                proc.kill()
            proc.wait()


def __getattr__(name):
    if name in _MODULES or name in _UNUSED_BY_SCANS:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
