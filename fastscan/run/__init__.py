"""Runners: the same scan in this process (local), resumable in a state directory (resumable),
and on a Dask cluster (cluster). They import the pipeline (read, state, score, report) and are
never imported by it; `explain` reuses the local scan loop."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from fastscan.config import ScanConfig
from fastscan.errors import StateError
from fastscan.read import DEFAULT_CHUNK_BYTES
from fastscan.report import Report
from fastscan.run.cluster import DEFAULT_SPLIT_BYTES, scan_dask
from fastscan.run.explain import explain
from fastscan.run.local import Mapping_, Paths, Scanner, scan_local
from fastscan.run.resumable import DEFAULT_CHECKPOINT_BYTES, scan_resumable
from fastscan.score import FLAG_THRESHOLD, MIN_REQUESTS

if TYPE_CHECKING:
    from dask.distributed import Client

__all__ = ["DEFAULT_CHECKPOINT_BYTES", "Scanner", "explain", "scan"]


def scan(
    paths: Paths,
    *,
    config: ScanConfig | None = None,
    mapping: Mapping_ = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    reject_file: str | os.PathLike[str] | None = None,
    progress: Callable[[int], None] | None = None,
    flag_threshold: float = FLAG_THRESHOLD,
    min_requests: int = MIN_REQUESTS,
    client: Client | None = None,
    split_bytes: int | None = None,
    state_dir: str | os.PathLike[str] | None = None,
    checkpoint_bytes: int = DEFAULT_CHECKPOINT_BYTES,
    outputs: Mapping[str, str | os.PathLike[str] | None] | None = None,
) -> Report:
    """Scan request logs (files, folders, globs, "-" for stdin) and return the per-account Report.

    With `client` (a dask.distributed.Client, from `pip install fastscan[dask]`) the scan runs on
    that Dask cluster (fastscan.run.cluster) and returns the same report; `split_bytes` sets the
    size of the byte ranges large plain JSONL files are cut into there.

    With `state_dir`, the scan is resumable and incremental (fastscan.run.resumable): files
    already scanned into that directory are skipped, a file left half-done resumes at its last
    checkpoint (after each file, and every `checkpoint_bytes` of decoded JSON inside one), and the
    report covers everything the directory holds.

    `outputs` ({what: path}) names the files the caller will write after the scan (a report, say):
    like the reject file, each is refused before anything is read if it would overwrite an input,
    lie in the state directory, or land in a folder that is missing or not writable.

    Raises fastscan.InputError when a path does not exist or cannot be read, SchemaError when a
    log's shape is unknown, StateError when the state directory is in use, of another
    configuration, or a file in it changed; bad records never raise: they are counted and set aside.
    """
    common: dict[str, Any] = {
        "config": config,
        "mapping": mapping,
        "chunk_bytes": chunk_bytes,
        "reject_file": reject_file,
        "progress": progress,
        "flag_threshold": flag_threshold,
        "min_requests": min_requests,
        "outputs": outputs,
    }
    if client is not None:
        if state_dir is not None:
            raise StateError("a state directory cannot be used with a Dask client (not resumable yet)")
        return scan_dask(client, paths, split_bytes=split_bytes or DEFAULT_SPLIT_BYTES, **common)
    if state_dir is not None:
        return scan_resumable(paths, state_dir, checkpoint_bytes=checkpoint_bytes, **common)
    return scan_local(paths, **common)
