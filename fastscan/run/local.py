"""Running a scan in this process: sources -> canonical batches -> per-account state -> Report.

`scan_local(paths)` reads files; `Scanner` is the streaming form for a caller's own pipeline
(update with RecordBatches or Tables, merge scanners, finish into a Report).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping

import pyarrow as pa

from fastscan.config import ScanConfig
from fastscan.partial import Partial
from fastscan.read import (
    CANONICAL,
    DEFAULT_CHUNK_BYTES,
    ReadStats,
    RejectLog,
    Shape,
    as_shape,
    batch_rows_of,
    expand_sources,
    slices,
    table_batches,
)
from fastscan.report import Report
from fastscan.run.loop import announce, fold, read_all
from fastscan.run.outputs import check_outputs
from fastscan.score import FLAG_THRESHOLD, MIN_REQUESTS, finish
from fastscan.state import AccountState

__all__ = ["Mapping_", "Paths", "Scanner", "scan_local", "total_size"]

Paths = str | os.PathLike[str] | Iterable[str | os.PathLike[str]]
Mapping_ = Shape | str | Mapping[str, str] | None


class Scanner:
    """Streaming per-account scan.

    >>> s = Scanner(); s.update(batch); ...; report = s.finish()

    `update` takes canonical RecordBatches (fastscan.read.CANONICAL) or RecordBatches/Tables of a
    log shape (flat, OpenAI-style, or `mapping`). Scanners of the same config `merge`.
    """

    def __init__(
        self,
        config: ScanConfig | None = None,
        *,
        mapping: Mapping_ = None,
        flag_threshold: float = FLAG_THRESHOLD,
        min_requests: int = MIN_REQUESTS,
    ) -> None:
        self.config = config or ScanConfig()
        self.partial = Partial(AccountState(self.config))
        self.shape = as_shape(mapping)
        self.rejects = RejectLog()
        self.flag_threshold = flag_threshold
        self.min_requests = min_requests

    @property
    def state(self) -> AccountState:
        return self.partial.state

    @state.setter
    def state(self, state: AccountState) -> None:
        self.partial.state = state

    @property
    def stats(self) -> ReadStats:
        return self.partial.stats

    def update(self, data: pa.RecordBatch | pa.Table) -> None:
        t0 = time.perf_counter()
        if isinstance(data, pa.Table):
            batches = data.to_batches()
        elif isinstance(data, pa.RecordBatch):
            batches = [data]
        else:
            raise TypeError(f"expected a pyarrow RecordBatch or Table, got {type(data).__name__}")
        # a large batch is folded in slices, as a file's is (the fold's arrays are per row); a
        # batch's rejected records keep their row numbers in it
        rows = batch_rows_of(DEFAULT_CHUNK_BYTES)
        for b in batches:
            if b.schema.equals(CANONICAL):
                self.stats.records_read += b.num_rows
                self.stats.records_scored += b.num_rows
                for piece in slices(b, rows):
                    self.state.update(piece)
            else:
                for cb in table_batches(
                    "<caller>", self.shape, slices(b, rows), b.schema.names, self.rejects, self.stats
                ):
                    self.state.update(cb)
        self.partial.seconds += time.perf_counter() - t0

    def update_canonical(self, batch: pa.RecordBatch) -> None:
        """Fold a batch already in the canonical schema (readers call this)."""
        self.state.update(batch)

    def merge(self, other: Scanner) -> Scanner:
        """Add what `other` scanned (after what this one scanned); returns self."""
        self.partial.merge(other.result())
        return self

    def result(self) -> Partial:
        """What this scanner holds, as the partial result every runner merges and finishes."""
        p = self.partial
        own = [(0, e) for e in self.rejects.examples]
        keep = max(0, self.rejects.keep_examples - len(own))
        return Partial(
            p.state,
            p.stats,
            own + p.examples[:keep],
            [(0, e) for e in self.rejects.file_errors] + p.file_errors,
            seconds=p.seconds,
        )

    def finish(self) -> Report:
        return finish(self.result(), self.flag_threshold, self.min_requests)


def scan_local(
    paths: Paths,
    *,
    config: ScanConfig | None = None,
    mapping: Mapping_ = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    reject_file: str | os.PathLike[str] | None = None,
    progress: Callable[[int], None] | None = None,
    flag_threshold: float = FLAG_THRESHOLD,
    min_requests: int = MIN_REQUESTS,
    outputs: Mapping[str, str | os.PathLike[str] | None] | None = None,
) -> Report:
    """Scan `paths` in this process, reading one chunk ahead on a second thread."""
    notes: list[dict] = []
    sources = expand_sources(paths, notes)
    check_outputs(sources, {"reject file": reject_file, **(outputs or {})})
    scanner = Scanner(config, mapping=mapping, flag_threshold=flag_threshold, min_requests=min_requests)
    t0 = time.perf_counter()
    if reject_file is not None:
        scanner.rejects = RejectLog(reject_file)
    scanner.rejects.file_errors.extend(notes)
    announce(progress, "watch", scanner.stats)
    try:
        fold(
            scanner.state,
            read_all(
                sources,
                shape=scanner.shape,
                chunk_bytes=chunk_bytes,
                rejects=scanner.rejects,
                stats=scanner.stats,
                progress=progress,
            ),
            progress=progress,
        )
    finally:
        scanner.rejects.close()
    scanner.partial.seconds += time.perf_counter() - t0
    announce(progress, "stage", "scoring")
    return scanner.finish()


def total_size(paths: Paths) -> int:
    """Bytes on disk of every input `paths` names (the progress bar's total)."""
    return sum(s.size for s in expand_sources(paths))
