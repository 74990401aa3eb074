"""Numba kernels of fastscan, installed as `fastscan.kernels`.

The kernel modules compile when first imported, so this package imports them lazily:
`import fastscan` compiles nothing, `warmup()` compiles every kernel a scan uses, and
`enable_disk_cache()` keeps compiled kernels on disk in the folder the CLI uses.
"""

from __future__ import annotations

import importlib

from fastscan.kernels.cache import enable_disk_cache

_MODULES = ("text", "aggregate", "messages", "reasoning", "prompts", "neardup", "json_values", "jsonl", "json_records")
_UNUSED_BY_SCANS = ("unfused",)  # the prompt pass's separate kernels: tests and benchmarks (see there)

__all__ = ["enable_disk_cache", "warmup", *_MODULES, *_UNUSED_BY_SCANS]


def warmup() -> None:
    """Compile every kernel a scan uses now (CLI start, benchmarks, long-lived services)."""
    for name in _MODULES:
        importlib.import_module(f"{__name__}.{name}")


def __getattr__(name):
    if name in _MODULES or name in _UNUSED_BY_SCANS:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
