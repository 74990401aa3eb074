"""The same scan on a Dask cluster, with the same report as on one machine.

    from dask.distributed import Client
    report = fastscan.scan(["s3://bucket/logs/2025-09/"], client=Client("tcp://scheduler:8786"))

How the work is cut and put back together:
1. The inputs are listed on a worker (so a path only the cluster can see works) into Sources.
2. Each file is one piece; a plain JSON Lines file larger than `split_bytes` is cut into byte
   ranges of about that size, each owning the lines that START in it (readers.ByteRange).
   Compressed files, Parquet and Arrow are one piece per file. Consecutive small JSON Lines files
   (fastscan.read.small.is_small) make one piece of up to `split_bytes`, read together as a
   local scan reads them: a task per file of 87 KB made 500 of them 15x slower than one file.
3. A piece is a task that reads its bytes into a partial per-account state (AccountState), its
   read statistics and its rejects, with line numbers counted from the start of its range.
4. Partials are merged in a tree on the workers, `fanin` adjacent pieces at a time (adjacent, so
   the first rejected examples stay in file order); the root scores the merged state and only
   the Report comes back. AccountState merges associatively and the report is computed from the
   merged state, so it is identical to the single-process scan's, byte for byte.
5. Reject line numbers of a range are shifted by the lines of the ranges of the same file before
   it (each range counts the lines it owned while reading it; no extra pass over the file).

Tasks are pure: a piece reads a file, a merge builds a new partial and never changes its inputs.
A task re-run after a worker is lost (Dask re-runs it on its own) gives the same result.

Errors are those of a single-process scan, raised from `DaskScan.result()`: bad records are
rejected with file and line; a file that cannot be read at all on a worker raises the same
InputError (or SchemaError) the single-process scan raises, naming the file, and the rest of the
scan is cancelled. A piece that kills its worker again and again (Dask gives up after
`distributed.scheduler.allowed-failures` deaths, 3 by default) raises ClusterError, and so does
a scan whose tasks are cancelled or whose client loses the scheduler.

The task functions (`scan_piece`, `merge_partials`, `finish_partial`) know nothing of Dask: they
are plain functions of picklable values, usable from any other task runner. This module imports
Dask only inside the functions that talk to a Client, so it loads without Dask installed.
"""

from __future__ import annotations

import concurrent.futures
import heapq
import os
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from fastscan.config import ScanConfig
from fastscan.errors import ClusterError, InputError
from fastscan.partial import KEEP_EXAMPLES, Partial, line_offsets
from fastscan.read import (
    DEFAULT_CHUNK_BYTES,
    ByteRange,
    ReadStats,
    RejectLog,
    Shape,
    Source,
    as_shape,
    expand_sources,
    is_url,
    read_source,
)
from fastscan.read.small import is_small, read_small_files
from fastscan.report import Report
from fastscan.run.loop import fold
from fastscan.run.outputs import check_outputs
from fastscan.score import FLAG_THRESHOLD, MIN_REQUESTS, finish
from fastscan.score.finish import peak_rss_mb
from fastscan.state import AccountState

__all__ = [
    "DEFAULT_FANIN",
    "DEFAULT_SPLIT_BYTES",
    "ClusterError",
    "DaskScan",
    "Piece",
    "finish_partial",
    "merge_partials",
    "plan_pieces",
    "scan_piece",
    "scan_dask",
    "submit_scan",
]

DEFAULT_SPLIT_BYTES = 128 << 20  # a plain JSONL file larger than this is cut into byte ranges
DEFAULT_FANIN = 8  # partials merged per merge task
_TO_EOF = sys.maxsize  # the end of a file's last range: whatever the file holds


@dataclass(frozen=True)
class Piece:
    """One task's share of the input: a whole file, or the lines starting in [start, end)."""

    index: int  # position in the scan (pieces of one file are consecutive)
    file_index: int  # position of its file among the scan's sources (of its first, for a group)
    source: Source
    start: int = 0
    end: int | None = None  # None: the whole file
    group: tuple[Source, ...] = ()  # whole small files read together (the first is `source`)

    def byte_range(self) -> ByteRange | None:
        return None if self.end is None else ByteRange(self.start, self.end)

    @property
    def nbytes(self) -> int:
        if self.group:
            return sum(src.size for src in self.group)
        if self.end is None:
            return self.source.size
        return max(0, min(self.end, self.source.size) - self.start)


def plan_pieces(
    sources: list[Source], split_bytes: int = DEFAULT_SPLIT_BYTES, chunk_bytes: int = DEFAULT_CHUNK_BYTES
) -> list[Piece]:
    """Pieces of about `split_bytes` each: byte ranges of large plain JSONL files, runs of small
    JSON Lines files (`is_small` for `chunk_bytes`) of at most `split_bytes` in all, else whole
    files."""
    if split_bytes < 1:
        raise ValueError("split_bytes must be positive")
    for src in sources:
        if src.path == "-":
            raise InputError("-: standard input cannot be scanned on a cluster (give a path or URL)")
        if src.stream:
            raise InputError(f"{src.name}: a named pipe or device cannot be scanned on a cluster (give a file)")
    pieces: list[Piece] = []
    fi = 0
    while fi < len(sources):
        src, end, held = sources[fi], fi, 0
        while end < len(sources) and is_small(sources[end], chunk_bytes) and held + sources[end].size <= split_bytes:
            held += sources[end].size
            end += 1
        if end - fi > 1:
            pieces.append(Piece(len(pieces), fi, src, group=tuple(sources[fi:end])))
        elif src.fmt == "jsonl" and not src.compression and src.size > split_bytes:
            k = -(-src.size // split_bytes)
            step = -(-src.size // k)
            for j in range(k):
                last = _TO_EOF if j == k - 1 else (j + 1) * step
                pieces.append(Piece(len(pieces), fi, src, j * step, last))
        else:
            pieces.append(Piece(len(pieces), fi, src))
        fi = max(end, fi + 1)
    return pieces


class _PieceRejects(RejectLog):
    """A piece's rejects: counted; as examples the `keep_examples` first by file (of a group
    piece's, in `files` order) and line (the order in which a chunk's rejects are found depends
    on where chunks and ranges are cut, line order does not); with keep_all, every rejected record
    in memory as (line, reason, raw, file), for the client's reject file."""

    def __init__(self, keep_examples: int, keep_all: bool, files: list[Source] | None = None):
        super().__init__(None, keep_examples=keep_examples)
        self.all: list | None = [] if keep_all else None
        self._order = {src.name: k for k, src in enumerate(files or ())}
        self._heap: list = []  # (-file, -line, seq, entry): the kept examples, the last on top
        self._seq = 0

    def add(self, stats, source, line, reason, raw):
        super().add(stats, source, line, reason, raw)
        self.examples = []  # kept in the heap instead
        item = (-self._order.get(source, 0), -line, self._seq, {"file": source, "line": line, "reason": reason})
        self._seq += 1
        if len(self._heap) < self.keep_examples:
            heapq.heappush(self._heap, item)
        elif self._heap and item[:2] > self._heap[0][:2]:
            heapq.heapreplace(self._heap, item)
        if self.all is not None:
            self.all.append((line, reason, raw, source))

    def first_examples(self) -> list[dict]:
        return [e for _, _, _, e in sorted(self._heap, key=lambda t: (-t[0], -t[1], t[2]))]


def scan_piece(
    piece: Piece,
    config: ScanConfig,
    shape: Shape | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    keep_examples: int = KEEP_EXAMPLES,
    keep_rejects: bool = False,
):
    """Read one piece into a Partial; with keep_rejects, (Partial, [(line, reason, raw), ...])."""
    t0 = time.perf_counter()
    state = AccountState(config)
    stats = ReadStats()
    rejects = _PieceRejects(keep_examples, keep_rejects, list(piece.group))
    rng = piece.byte_range()
    if piece.group:
        group = list(piece.group)
        batches = read_small_files(group, shape, chunk_bytes, rejects, [stats] * len(group), None)
    else:
        batches = read_source(
            piece.source, shape=shape, chunk_bytes=chunk_bytes, rejects=rejects, stats=stats, byte_range=rng
        )
    fold(state, batches, prefetch=False)
    state.compact()
    part = Partial(
        state,
        stats,
        examples=[(piece.index, e) for e in rejects.first_examples()],
        file_errors=[(piece.index, e) for e in rejects.file_errors],
        lines={piece.index: rng.lines} if rng is not None else {},
        peak_rss_mb=peak_rss_mb(),
        task_seconds=time.perf_counter() - t0,
    )
    return (part, rejects.all) if keep_rejects else part


def merge_partials(config: ScanConfig, *partials: Partial, keep_examples: int = KEEP_EXAMPLES) -> Partial:
    """A new Partial holding `partials` (adjacent, in piece order); the inputs are not changed."""
    t0 = time.perf_counter()
    out = Partial(AccountState(config))
    for p in partials:
        out.merge(p, keep_examples)
    out.state.compact()
    out.peak_rss_mb = max(out.peak_rss_mb, peak_rss_mb())
    out.task_seconds += time.perf_counter() - t0
    return out


def finish_partial(
    partial: Partial, piece_files: list[int], flag_threshold: float = FLAG_THRESHOLD, min_requests: int = MIN_REQUESTS
) -> tuple[Report, list[int]]:
    """(Report of the merged partial, per-piece line offsets): the root of the merge tree."""
    report = finish(partial, flag_threshold, min_requests, piece_files)
    report.stats.peak_rss_mb = max(partial.peak_rss_mb, peak_rss_mb())
    report.stats.task_seconds = round(partial.task_seconds + report.stats.seconds, 3)
    return report, line_offsets(piece_files, partial.lines)


def _take(pair, i):
    return pair[i]


# --------------------------------------------------------------------------- the client side


def list_inputs(paths: list[str]) -> tuple[list[Source], list[dict]]:
    """The scan's Sources as a worker sees them, and the inputs it skipped (duplicates)."""
    notes: list[dict] = []
    return expand_sources(paths, notes), notes


def _worker_paths(paths) -> list[str]:
    """Local paths made absolute (a worker's working directory is not the client's); URLs as given."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out = []
    for p in paths:
        p = os.fspath(p)
        if p == "-":
            raise InputError("-: standard input cannot be scanned on a cluster (give a path or URL)")
        out.append(p if is_url(p) else os.path.abspath(p))
    return out


class DaskScan:
    """A scan submitted to a Dask cluster. `result()` waits for it and returns the Report."""

    def __init__(
        self,
        client,
        pieces: list[Piece],
        piece_futures: list,
        final,
        reject_futures: list | None,
        reject_log: RejectLog | None,
        progress: Callable[[int], None] | None,
        t0: float,
        notes: list[dict] | None = None,
    ):
        self.client = client
        self.pieces = pieces
        self.piece_futures = piece_futures
        self.final = final
        self._reject_futures = reject_futures
        self._reject_log = reject_log
        self._progress = progress
        self._t0 = t0
        self._notes = notes or []  # inputs skipped when listed (duplicates), for the report

    def _all_futures(self) -> list:
        return [f for f in (self.final, *(self._reject_futures or []), *self.piece_futures) if f is not None]

    def cancel(self) -> None:
        """Stop the scan: its tasks are released, so the ones not started never run."""
        # released rather than client.cancel()ed: cancelling a task together with its dependents
        # trips an assertion in the scheduler when one of them has already erred
        for fut in self._all_futures():
            fut.release()
        self.piece_futures, self._reject_futures, self.final = [], None, None
        if self._reject_log is not None:
            self._reject_log.close()

    def result(self) -> Report:
        from distributed import KilledWorker, as_completed

        try:
            if self._progress is not None:
                by_key = {f.key: p for f, p in zip(self.piece_futures, self.pieces)}
                for fut in as_completed(self.piece_futures):
                    self._progress(by_key[fut.key].nbytes)
            report, offsets = self.final.result()
            report.file_errors[:0] = self._notes
            if self._reject_log is not None:
                self._write_rejects(offsets)
        except KilledWorker as e:
            self.cancel()
            raise ClusterError(
                f"a scan task kept killing its workers ({e}); the input is too large for "
                f"a worker's memory or a worker crashes on it"
            ) from None
        except concurrent.futures.CancelledError as e:
            # the scan's tasks were cancelled, or the client lost its scheduler
            self.cancel()
            raise ClusterError(f"the scan was cancelled on the cluster: {e}") from None
        except BaseException:
            self.cancel()
            raise
        finally:
            if self._reject_log is not None:
                self._reject_log.close()
        wall = max(time.perf_counter() - self._t0, 1e-9)
        st = report.stats
        st.seconds = round(wall, 3)
        st.mb_per_s = round(st.bytes_decoded / 1e6 / wall, 1)
        st.records_per_s = round(st.records_read / wall, 1)
        st.pieces = len(self.pieces)
        st.workers = len(self.client.nthreads())
        self.piece_futures, self._reject_futures, self.final = [], None, None
        return report

    def _write_rejects(self, offsets: list[int]) -> None:
        log, scratch = self._reject_log, ReadStats()
        assert log is not None and self._reject_futures is not None
        for piece, fut in zip(self.pieces, self._reject_futures):
            for line, reason, raw, source in fut.result():
                log.add(scratch, source, line + offsets[piece.index], reason, raw)
            fut.release()


def submit_scan(
    client,
    paths,
    *,
    config: ScanConfig | None = None,
    mapping=None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    split_bytes: int = DEFAULT_SPLIT_BYTES,
    fanin: int = DEFAULT_FANIN,
    reject_file: str | os.PathLike | None = None,
    progress: Callable[[int], None] | None = None,
    flag_threshold: float = FLAG_THRESHOLD,
    min_requests: int = MIN_REQUESTS,
    outputs: Mapping[str, str | os.PathLike[str] | None] | None = None,
) -> DaskScan:
    """Submit a scan to the cluster behind `client` (a dask.distributed.Client) and return at once."""
    if fanin < 2:
        raise ValueError("fanin must be at least 2")
    t0 = time.perf_counter()
    config = config or ScanConfig()
    config.check()
    shape = as_shape(mapping)
    tag = uuid.uuid4().hex[:12]
    # listed on a worker: the paths are the ones the workers can reach
    sources, notes = client.submit(list_inputs, _worker_paths(paths), key=f"fastscan-list-{tag}").result()
    check_outputs(sources, {"reject file": reject_file, **(outputs or {})})
    pieces = plan_pieces(sources, split_bytes, chunk_bytes)
    reject_log = RejectLog(reject_file) if reject_file is not None else None
    keep = reject_log is not None
    piece_futures = [
        client.submit(
            scan_piece,
            p,
            config,
            shape,
            chunk_bytes,
            KEEP_EXAMPLES,
            keep,
            key=f"fastscan-piece-{tag}-{p.index}",
            priority=-p.index,
        )
        for p in pieces
    ]
    reject_futures = None
    level = piece_futures
    if keep:
        level = [client.submit(_take, f, 0, key=f"fastscan-partial-{tag}-{i}") for i, f in enumerate(piece_futures)]
        reject_futures = [
            client.submit(_take, f, 1, key=f"fastscan-rejects-{tag}-{i}") for i, f in enumerate(piece_futures)
        ]
    depth = 0
    while len(level) != 1:
        depth += 1
        # merges run before new pieces start, so partials do not pile up in worker memory
        level = [
            client.submit(
                merge_partials,
                config,
                *level[i : i + fanin],
                key=f"fastscan-merge-{tag}-{depth}-{i // fanin}",
                priority=depth,
            )
            if len(level[i : i + fanin]) != 1
            else level[i]
            for i in range(0, max(len(level), 1), fanin)
        ]
    final = client.submit(
        finish_partial,
        level[0],
        [p.file_index for p in pieces],
        flag_threshold,
        min_requests,
        key=f"fastscan-finish-{tag}",
        priority=depth + 1,
    )
    return DaskScan(client, pieces, piece_futures, final, reject_futures, reject_log, progress, t0, notes)


def scan_dask(client, paths, **kw) -> Report:
    """Scan request logs on a Dask cluster; the same Report as `fastscan.scan(paths)`.

    `client` is a dask.distributed.Client; paths and URLs are as the workers see them (local paths
    are made absolute). Keywords as `submit_scan` (config, mapping, chunk_bytes, split_bytes,
    fanin, reject_file, progress, flag_threshold, min_requests). The reject file is written on
    the client, from every piece's rejects, with the same lines as a single-process scan.
    """
    job = submit_scan(client, paths, **kw)
    return job.result()
