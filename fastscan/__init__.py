"""fastscan: find the accounts that harvest an LLM API's outputs, in request logs, at disk speed.

    import fastscan
    report = fastscan.scan(["logs/2025-09/*.jsonl.zst"])
    report.accounts          # pyarrow.Table, one row per account
    report.stats             # files, bytes, records read / scored / rejected, seconds

Importing fastscan compiles nothing; `fastscan.kernels.warmup()` compiles every kernel.
"""
from __future__ import annotations

from .errors import FastscanError, InputError, SchemaError, StateError

__version__ = "0.1.0"
__all__ = ["scan", "Scanner", "explain", "ScanConfig", "Report", "FastscanError", "InputError", "SchemaError",
           "StateError", "__version__"]


def __getattr__(name):
    if name in ("scan", "Scanner", "explain"):
        from . import runner as _scan
        return getattr(_scan, name)
    if name == "ScanConfig":
        from .state import ScanConfig
        return ScanConfig
    if name == "Report":
        from .report import Report
        return Report
    if name == "kernels":
        import importlib
        return importlib.import_module(".kernels", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
