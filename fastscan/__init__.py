"""fastscan: find the accounts that harvest an LLM API's outputs, in request logs, at disk speed.

    import fastscan
    report = fastscan.scan(["logs/2025-09/*.jsonl.zst"])
    report.accounts          # pyarrow.Table, one row per account
    report.stats             # files, bytes, records read / scored / rejected, seconds (ScanStats)

Importing fastscan compiles nothing (and never imports Dask); `fastscan.kernels.warmup()`
compiles every kernel. The layout, in the order data flows: `read` (inputs to canonical
batches), `state` (mergeable per-account state, `Partial`), `score` (`finish(partial) -> Report`),
`report` (tables, terminal), `run` (local, resumable and Dask runners), `synth` (the demo's logs).
"""

from __future__ import annotations

from fastscan import kernels  # the kernel package: compiles nothing until a kernel module is used
from fastscan.config import ScanConfig
from fastscan.errors import ClusterError, FastscanError, InputError, OutputError, SchemaError, StateError
from fastscan.read import Shape
from fastscan.report import Explanation, Report, ScanStats
from fastscan.run import Scanner, explain, scan

__version__ = "0.1.0"

__all__ = [
    "ClusterError",
    "Explanation",
    "FastscanError",
    "InputError",
    "OutputError",
    "Report",
    "ScanConfig",
    "ScanStats",
    "Scanner",
    "SchemaError",
    "Shape",
    "StateError",
    "__version__",
    "explain",
    "kernels",
    "scan",
]
