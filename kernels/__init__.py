"""Numba kernels of fastscan, installed as `fastscan.kernels`.

The kernel modules compile when first imported, so this package imports them lazily:
`import fastscan` compiles nothing, `warmup()` compiles everything on purpose, and
`enable_disk_cache()` keeps compiled kernels on disk in the folder the CLI uses.
"""

from __future__ import annotations

import importlib

from fastscan.kernels.cache import enable_disk_cache

_MODULES = ("text", "aggregate", "messages", "reasoning", "prompts", "neardup", "json_values", "jsonl")

__all__ = ["enable_disk_cache", "warmup", *_MODULES]


def warmup() -> None:
    """Compile every kernel now (CLI start, benchmarks, long-lived services)."""
    for name in _MODULES:
        importlib.import_module(f"{__name__}.{name}")


def __getattr__(name):
    if name in _MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
