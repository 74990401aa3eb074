"""Running a scan: sources -> canonical batches -> per-account state -> scored report.

`scan(paths)` is the one-call form; `Scanner` is the streaming form for a caller's own pipeline
(update with RecordBatches or Tables, merge scanners, finish into a Report).
"""
from __future__ import annotations

import os
import queue
import resource
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable

import pyarrow as pa

from .errors import SchemaError, StateError
from .coordination import coordination_columns
from .features import account_features
from .neardup import cross_account, near_duplicate_flags
from .readers import (DEFAULT_CHUNK_BYTES, ReadStats, RejectLog, Source, _table_batches,
                      expand_sources, read_source)
from .report import Report
from .schema import CANONICAL, Shape, shape_from_mapping
from .score import FLAG_THRESHOLD, MIN_REQUESTS, score_accounts
from .state import AccountState, ScanConfig

__all__ = ["scan", "Scanner", "explain", "Explanation"]


def _as_shape(mapping) -> Shape | None:
    if mapping is None or isinstance(mapping, Shape):
        return mapping
    if isinstance(mapping, str):
        from .schema import FLAT, OPENAI
        named = {"flat": FLAT, "openai": OPENAI}
        if mapping not in named:
            raise SchemaError(f"unknown log shape {mapping!r}: use flat, openai or a field mapping")
        return named[mapping]
    return shape_from_mapping(dict(mapping))


class Scanner:
    """Streaming per-account scan.

    >>> s = Scanner(); s.update(batch); ...; report = s.finish()

    `update` takes canonical RecordBatches (fastscan.schema.CANONICAL) or RecordBatches/Tables of a
    log shape (flat, OpenAI-style, or `mapping`). Scanners of the same config `merge`.
    """

    def __init__(self, config: ScanConfig | None = None, *, mapping=None,
                 flag_threshold: float = FLAG_THRESHOLD, min_requests: int = MIN_REQUESTS):
        self.config = config or ScanConfig()
        self.state = AccountState(self.config)
        self.shape = _as_shape(mapping)
        self.stats = ReadStats()
        self.rejects = RejectLog()
        self.flag_threshold = flag_threshold
        self.min_requests = min_requests
        self.seconds = 0.0

    def update(self, data) -> None:
        t0 = time.perf_counter()
        if isinstance(data, pa.Table):
            batches = data.to_batches()
        elif isinstance(data, pa.RecordBatch):
            batches = [data]
        else:
            raise TypeError(f"expected a pyarrow RecordBatch or Table, got {type(data).__name__}")
        for b in batches:
            if b.schema.equals(CANONICAL):
                self.stats.records_read += b.num_rows
                self.stats.records_scored += b.num_rows
                self.state.update(b)
            else:
                src = Source("<caller>", "arrow", "", 0)
                for cb in _table_batches(src, self.shape, [b], b.schema.names, self.rejects, self.stats):
                    self.state.update(cb)
        self.seconds += time.perf_counter() - t0

    def update_canonical(self, batch: pa.RecordBatch) -> None:
        """Fold a batch already in the canonical schema (readers call this)."""
        self.state.update(batch)

    def merge(self, other: "Scanner") -> "Scanner":
        self.state.merge(other.state)
        self.stats.merge(other.stats)
        for e in other.rejects.examples:
            if len(self.rejects.examples) < self.rejects.keep_examples:
                self.rejects.examples.append(e)
        self.rejects.file_errors.extend(other.rejects.file_errors)
        return self

    def finish(self) -> Report:
        t0 = time.perf_counter()
        near = near_duplicate_flags(self.state)
        cross = cross_account(self.state, near)
        features = account_features(self.state, cross, near)
        for name, values in coordination_columns(features).items():
            features = features.append_column(name, pa.array(values, pa.int64()))
        accounts = score_accounts(features, self.flag_threshold, self.min_requests)
        self.seconds += time.perf_counter() - t0
        return Report(accounts, self._stats_dict(), list(self.rejects.examples), list(self.rejects.file_errors),
                      shared_templates=cross.shared_templates, near_dup_links=cross.near_dup_links)

    def _stats_dict(self) -> dict:
        st = self.stats
        secs = max(self.seconds, 1e-9)
        return {
            "files": st.files,
            "bytes_read": st.bytes_read,
            "bytes_decoded": st.bytes_decoded,
            "records_read": st.records_read,
            "records_scored": st.records_scored,
            "records_rejected": st.records_rejected,
            "rejected_by_reason": dict(sorted(st.rejected_by_reason.items())),
            "accounts": self.state.n_accounts,
            "seconds": round(self.seconds, 3),
            "mb_per_s": round(st.bytes_decoded / 1e6 / secs, 1),
            "records_per_s": round(st.records_read / secs, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "state_mb": round(self.state.nbytes / 1e6, 1),
        }


@dataclass
class Explanation:
    """One account of a scan, explained: its report row, every signal, and example prompts."""
    account_id: str
    row: dict                  # the account's report row (features, extraction_score, flagged, reasons)
    signals: list              # fastscan.score.explain_account: signal, group, value, contribution, ...
    prompts: list              # up to `examples` (count, prompt) pairs, most frequent first
    distinct_prompts: int      # distinct prompts seen for the account in this scan
    report: Report


def explain(paths, account_id: str, *, examples: int = 5, config: ScanConfig | None = None, mapping=None,
            chunk_bytes: int = DEFAULT_CHUNK_BYTES, flag_threshold: float = FLAG_THRESHOLD,
            min_requests: int = MIN_REQUESTS) -> Explanation:
    """Scan `paths` and explain one account: the whole scan is needed, since the reasons compare
    the account with the rest of the population. Example prompts are gathered in the same pass
    (only this account's, and only when `examples` > 0). Raises KeyError if the account is absent."""
    import pyarrow.compute as pc

    from .score import explain_account
    sources = expand_sources(paths)
    scanner = Scanner(config, mapping=mapping, flag_threshold=flag_threshold, min_requests=min_requests)
    counts: dict[str, int] = {}
    t0 = time.perf_counter()
    for src in sources:
        for batch in read_source(src, shape=scanner.shape, chunk_bytes=chunk_bytes,
                                 rejects=scanner.rejects, stats=scanner.stats):
            scanner.update_canonical(batch)
            if examples > 0:
                mine = batch.filter(pc.equal(batch.column("account_id"), account_id))
                for p in mine.column("prompt").to_pylist():
                    if p is not None:
                        counts[p] = counts.get(p, 0) + 1
    scanner.seconds += time.perf_counter() - t0
    report = scanner.finish()
    signals = explain_account(report.accounts, account_id, min_requests)
    ids = report.accounts.column("account_id").to_pylist()
    row = report.accounts.slice(ids.index(account_id), 1).to_pylist()[0]
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:examples]
    return Explanation(account_id, row, signals, [(c, p) for p, c in top], len(counts), report)


DEFAULT_CHECKPOINT_BYTES = 256 << 20


def scan(paths, *, config: ScanConfig | None = None, mapping=None, chunk_bytes: int = DEFAULT_CHUNK_BYTES,
         reject_file: str | os.PathLike | None = None, progress: Callable[[int], None] | None = None,
         flag_threshold: float = FLAG_THRESHOLD, min_requests: int = MIN_REQUESTS, client=None,
         split_bytes: int | None = None, state_dir: str | os.PathLike | None = None,
         checkpoint_bytes: int = DEFAULT_CHECKPOINT_BYTES) -> Report:
    """Scan request logs (files, folders, globs, "-" for stdin) and return the per-account Report.

    With `client` (a dask.distributed.Client, from `pip install fastscan[dask]`) the scan runs on
    that Dask cluster (fastscan.distributed) and returns the same report; `split_bytes` sets the
    size of the byte ranges large plain JSONL files are cut into there.

    With `state_dir`, the scan is resumable and incremental: files already scanned into that
    directory are skipped, a file left half-done resumes at its last checkpoint (after each file,
    and every `checkpoint_bytes` of decoded JSON inside one), and the report covers everything
    the directory holds. See fastscan.statedir.

    Raises fastscan.InputError when a path does not exist or cannot be read, SchemaError when a
    log's shape is unknown, StateError when the state directory is in use, of another
    configuration, or a file in it changed; bad records never raise: they are counted and set aside.
    """
    if client is not None:
        if state_dir is not None:
            raise StateError("a state directory cannot be used with a Dask client (not resumable yet)")
        from .distributed import DEFAULT_SPLIT_BYTES, scan_dask
        return scan_dask(client, paths, config=config, mapping=mapping, chunk_bytes=chunk_bytes,
                         reject_file=reject_file, progress=progress, flag_threshold=flag_threshold,
                         min_requests=min_requests, split_bytes=split_bytes or DEFAULT_SPLIT_BYTES)
    sources = expand_sources(paths)
    scanner = Scanner(config, mapping=mapping, flag_threshold=flag_threshold, min_requests=min_requests)
    t0 = time.perf_counter()
    if state_dir is not None:
        # read on this thread: a checkpoint must see exactly the batches folded in so far
        _scan_into_state(scanner, sources, state_dir, chunk_bytes, reject_file, progress, checkpoint_bytes)
        scanner.seconds += time.perf_counter() - t0
        return scanner.finish()
    if reject_file is not None:
        scanner.rejects = RejectLog(reject_file)

    def batches():
        for src in sources:
            yield from read_source(src, shape=scanner.shape, chunk_bytes=chunk_bytes,
                                   rejects=scanner.rejects, stats=scanner.stats, progress=progress)

    try:
        for batch in _prefetch(batches()):
            scanner.update_canonical(batch)
    finally:
        scanner.rejects.close()
    scanner.seconds += time.perf_counter() - t0
    return scanner.finish()


def _scan_into_state(scanner: Scanner, sources, state_dir, chunk_bytes, reject_file, progress,
                     checkpoint_bytes) -> None:
    """scan() with a state directory: skip what it holds, resume what it left, checkpoint."""
    from .statedir import StateDir, shape_from_dict, shape_to_dict, stats_from_dict, stats_to_dict
    with StateDir(state_dir, scanner.config, scanner.shape) as sd:
        sd.check_partial(sources)
        scanner.state = sd.state
        scanner.stats = sd.stats              # statistics of the files finished so far
        resume_at = None
        if reject_file is not None and sd.reject_file is not None and \
                sd.reject_file["path"] == os.path.abspath(reject_file):
            resume_at = sd.reject_file["size"]
        rejects = RejectLog(reject_file, resume_at=resume_at)
        rejects.examples, rejects.file_errors, rejects.count = list(sd.examples), list(sd.file_errors), sd.rejected
        scanner.rejects = rejects
        files = dict(sd.files)
        try:
            for src in sources:
                status, rec = sd.lookup(src)
                if status == "done":
                    if progress is not None:
                        progress(src.size)
                    continue
                key = sd.key(src)
                fstats, start, shape = ReadStats(), None, scanner.shape
                if status == "partial":
                    fstats = stats_from_dict(rec["stats"])
                    start = (rec["offset"], rec["line"])
                    shape = shape or shape_from_dict(rec["shape"])
                since = [0]

                def on_chunk(offset, line, detected, src=src, key=key, rec=rec, fstats=fstats, since=since):
                    if offset - since[0] < checkpoint_bytes:
                        return
                    since[0] = offset
                    snap = stats_to_dict(fstats)
                    # the part of the file before `offset`; a resumed read adds the rest
                    snap["bytes_decoded"] = offset
                    snap["bytes_read"] = 0 if src.compression else offset
                    files[key] = {"status": "partial", "fingerprint": rec["fingerprint"], "offset": offset,
                                  "line": line, "shape": shape_to_dict(detected), "stats": snap}
                    sd.save(scanner.state, scanner.stats, rejects, files)

                if start is not None:
                    since[0] = start[0]
                    fstats.files -= 1   # read_source counts the file again
                for batch in read_source(src, shape=shape, chunk_bytes=chunk_bytes, rejects=rejects,
                                         stats=fstats, progress=progress, start=start, on_chunk=on_chunk):
                    scanner.update_canonical(batch)
                scanner.stats.merge(fstats)
                files[key] = {"status": "done", "fingerprint": rec["fingerprint"]}
                sd.save(scanner.state, scanner.stats, rejects, files)
        finally:
            rejects.close()


_DONE = object()


def _prefetch(items, depth: int = 2):
    """Iterate `items` on a second thread, up to `depth` items ahead.

    Reading, decompressing and pyarrow's JSON decoding release the GIL, and so do the numba
    kernels, so decoding chunk i + 1 overlaps with folding chunk i into the state. Order is kept;
    an exception on the reading thread is raised here; memory stays bounded by `depth` batches.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run():
        try:
            for item in items:
                if not put((item, None)):
                    return
        except BaseException as e:     # handed to the consumer, which raises it
            put((_DONE, e))
            return
        put((_DONE, None))

    worker = threading.Thread(target=run, name="fastscan-reader", daemon=True)
    worker.start()
    try:
        while True:
            item, err = q.get()
            if item is _DONE:
                if err is not None:
                    raise err
                return
            yield item
    finally:
        stop.set()
        worker.join()
        close = getattr(items, "close", None)
        if close is not None:
            close()


def total_size(paths: Iterable) -> int:
    return sum(s.size for s in expand_sources(paths))
