"""The one scan loop: sources are read into canonical batches and folded into a per-account state.

Every local runner goes through it: the plain scan, the resumable scan (with a `FilePlan` that
skips, resumes and checkpoints files) and `explain` (with a hook that sees each batch).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa

from fastscan.buffers import no_huge_pages
from fastscan.parallel import split_when
from fastscan.prepared import Prepared, prepare
from fastscan.read import ReadStats, RejectLog, Shape, Source, read_source
from fastscan.read.small import is_small, read_small_files, run_bytes
from fastscan.state import AccountState

__all__ = ["FileJob", "FilePlan", "announce", "fold", "read_all"]


@dataclass
class FileJob:
    """How one file is read: its shape, the statistics it counts into, where it starts
    (decoded byte offset, line) and what is called after each of its chunks."""

    shape: Shape | None
    stats: ReadStats
    start: tuple[int, int] | None = None
    on_chunk: Callable[[int, int, Shape], None] | None = None


class FilePlan(Protocol):
    """Decides, file by file, what a scan reads (a state directory's resume and checkpoints)."""

    holding: bool  # the scan loop holds batches read but not handed on (set by the loop)

    def begin(self, src: Source) -> FileJob | None:
        """The job for `src`, or None when it is already scanned."""

    def end(self, src: Source, job: FileJob) -> None:
        """`src` has been read to its end."""

    def settled(self) -> None:
        """Every file ended so far has had its records handed on, and nothing of a file read after
        them (a reject) has been reported: a checkpoint asked for by `end` can be taken."""

    def due(self) -> bool:
        """A checkpoint was asked for where a file or a chunk ended: it waits for every batch
        handed on before then to be folded."""

    def checkpoint(self) -> None:
        """Take the checkpoint due: the batches before it are folded, none after it."""


def announce(progress: Any, what: str, *args: Any) -> None:
    """Tell a progress object that knows `what` (watch(stats), stage(name), ...): a plain
    callable of bytes, all a library caller needs to give, is left alone."""
    method = getattr(progress, what, None)
    if method is not None:
        method(*args)


def read_all(
    sources: list[Source],
    *,
    shape: Shape | None,
    chunk_bytes: int,
    rejects: RejectLog,
    stats: ReadStats,
    progress: Callable[[int], None] | None = None,
    plan: FilePlan | None = None,
) -> Iterator[pa.RecordBatch]:
    """The canonical batches of every source in order; with `plan`, only what it asks for.
    A `progress` that has a `file(k, n, name)` method is told when each file starts.

    Consecutive small JSON Lines files are decoded a chunk's bytes of them at a time
    (fastscan.read.small): each decode has a fixed cost, about 3.5 ms. The small batches of
    consecutive files are handed on together (`_coalesced`): each batch costs the fold its fixed
    share, about 1.5 ms, whatever its size; over 500 files of 50 records, the fold took 0.8 s of a
    3.6 s scan that way and 0.04 s with them joined. A batch of a chunk of a large file (thousands
    of records) goes as it is. A plan's checkpoint must save the state with exactly the batches
    read before it folded: it is asked for once every file decoded with the ones that ended has
    ended (FilePlan.settled), the batches held to be joined are handed on first, and it is taken
    when the fold asks for the next batch. The caller folds each batch before it asks for the
    next (no read-ahead) when there is a plan."""
    batches = _batches(sources, shape, chunk_bytes, rejects, stats, progress, plan)
    return _coalesced(batches, COALESCE_ROWS, chunk_bytes, plan)


COALESCE_ROWS = 8192  # read_all joins small batches until they hold this many records
RUN_FILES = 4096  # small files begun and waiting to be read together, at most...
RUN_CHUNKS = 8  # ...and at most this many chunks' bytes of them: each chunk's files are read while
# the chunk before is decoded (fastscan.read.small), a pause only between runs


def _coalesced(
    batches: Iterator[pa.RecordBatch], rows: int, max_bytes: int, plan: FilePlan | None = None
) -> Iterator[pa.RecordBatch]:
    """`batches`, in order, with runs of consecutive small batches (fewer than rows // 8 records
    and max_bytes // 4 bytes) joined until they hold `rows` records or `max_bytes` bytes; other
    batches pass as they are, and so does a batch of another schema than the run's. The same
    records in the same order (a report does not depend on where batches begin and end), and no
    more than about `max_bytes` held.

    With a `plan`: while batches are held, `plan.holding` is set, and a checkpoint asked for then
    waits (FilePlan.due) until the batch after it is taken: the batches held are handed on first,
    and the checkpoint is taken when the caller asks for the next one (it has folded them)."""
    waiting: list[pa.RecordBatch] = []
    held = held_bytes = 0
    for batch in batches:
        if plan is not None and plan.due():
            if waiting:
                yield _joined(waiting)
                waiting, held, held_bytes = [], 0, 0
            plan.checkpoint()
        # the bytes of its buffers: pyarrow's `nbytes` looks for buffers shared between columns,
        # 0.11 ms a batch of 23 columns against 0.01 (0.1 s of a scan of 500 small files)
        size = batch.get_total_buffer_size()
        small = batch.num_rows < rows // 8 and size < max_bytes // 4
        if waiting and (not small or not batch.schema.equals(waiting[0].schema)):
            yield _joined(waiting)
            waiting, held, held_bytes = [], 0, 0
        if not small:
            _hold(plan, False)
            yield batch
            continue
        waiting.append(batch)
        held += batch.num_rows
        held_bytes += size
        if held >= rows or held_bytes >= max_bytes:
            yield _joined(waiting)
            waiting, held, held_bytes = [], 0, 0
        _hold(plan, bool(waiting))
    _hold(plan, False)
    if waiting:
        yield _joined(waiting)
    if plan is not None and plan.due():
        plan.checkpoint()


def _hold(plan: FilePlan | None, holding: bool) -> None:
    if plan is not None:
        plan.holding = holding


def _joined(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    """One batch of batches of one schema."""
    return batches[0] if len(batches) == 1 else pa.concat_batches(batches)


def _batches(
    sources: list[Source],
    shape: Shape | None,
    chunk_bytes: int,
    rejects: RejectLog,
    stats: ReadStats,
    progress: Callable[[int], None] | None,
    plan: FilePlan | None,
) -> Iterator[pa.RecordBatch]:
    run: list[tuple[int, Source, FileJob]] = []  # small files to read together
    run_held = 0  # their bytes on disk

    def read_run() -> Iterator[pa.RecordBatch]:
        nonlocal run_held
        if not run:
            return
        files, jobs = [src for _, src, _ in run], [job for _, _, job in run]
        ks = [k for k, _, _ in run]
        run.clear()
        run_held = 0

        def started(i: int) -> None:
            announce(progress, "file", ks[i] + 1, len(sources), files[i].name)

        def ended(done: list[int]) -> None:
            if plan is not None:
                for i in done:
                    plan.end(files[i], jobs[i])
                plan.settled()

        yield from read_small_files(
            files, shape, chunk_bytes, rejects, [j.stats for j in jobs], progress, started, ended
        )

    for k, src in enumerate(sources):
        job = FileJob(shape, stats) if plan is None else plan.begin(src)
        if job is None:
            announce(progress, "file", k + 1, len(sources), src.name)
            if progress is not None:
                progress(src.size)
            continue
        if is_small(src, chunk_bytes) and job.start is None and job.shape == shape:
            # a run of small JSON Lines files: decoded a few together (fastscan.read.small), read
            # a few chunks' bytes of them at a time (so that what waits stays bounded)
            run.append((k, src, job))
            run_held += src.size
            if run_held >= RUN_CHUNKS * run_bytes(chunk_bytes) or len(run) >= RUN_FILES:
                yield from read_run()
            continue
        yield from read_run()
        announce(progress, "file", k + 1, len(sources), src.name)
        yield from read_source(
            src,
            shape=job.shape,
            chunk_bytes=chunk_bytes,
            rejects=rejects,
            stats=job.stats,
            progress=progress,
            start=job.start,
            on_chunk=job.on_chunk,
        )
        if plan is not None:
            plan.end(src, job)
            plan.settled()
    yield from read_run()


def fold(
    state: AccountState,
    batches: Iterable[pa.RecordBatch],
    *,
    prefetch: bool = True,
    on_batch: Callable[[pa.RecordBatch], None] | None = None,
    progress: Any = None,
) -> None:
    """Fold `batches` into `state`, reading ahead on a second thread unless `prefetch` is False
    (a checkpoint must see exactly the batches folded so far); `on_batch` sees each batch after."""
    on_fold = getattr(progress, "folded", None)  # a progress line that counts accounts
    pipe = _Pipe()

    def ahead(batch: pa.RecordBatch) -> Prepared | pa.RecordBatch:
        return prepare(batch, state.config) if batch.num_rows else batch

    with no_huge_pages(), split_when(lambda: pipe.reader_idle or not prefetch):
        for item in _prefetch(batches, pipe=pipe, prepare=ahead) if prefetch else batches:
            state.update(item)
            batch = item.batch if isinstance(item, Prepared) else item
            if on_batch is not None:
                on_batch(batch)
            if on_fold is not None:
                on_fold(batch.num_rows, state.n_accounts)


_DONE = object()


class _Pipe:
    """What each side of `_prefetch` is doing, for the other to decide whether to split its work."""

    def __init__(self) -> None:
        self.consumer_waiting = False  # the consumer waits for the next item
        self.reader_idle = False  # the reading thread waits for room in the queue, or is done


def _prefetch(
    items: Iterable[Any], depth: int = 2, pipe: _Pipe | None = None, prepare: Callable[[Any], Any] | None = None
) -> Iterator[Any]:
    """Iterate `items` on a second thread, up to `depth` items ahead; with `prepare`, the second
    thread yields prepare(item) in place of an item whenever the consumer has another item
    waiting (it is then the slower stage), and the item itself otherwise.

    Reading, decompressing and pyarrow's JSON decoding release the GIL, and so do the numba
    kernels, so decoding chunk i + 1 overlaps with folding chunk i into the state. Order is kept;
    an exception on the reading thread is raised here; memory stays bounded by `depth` batches.

    Each side splits its work across the worker threads (`parallel.split_when`) only while the
    other side waits: the reading thread while the consumer waits for an item, the consumer (the
    fold, with `pipe`) while the reading thread waits for room or is done. Both stages already
    keep a core busy; when both also split, each one's parts waited in the shared pool's queue
    behind the other's.
    """
    pipe = pipe or _Pipe()
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            pipe.reader_idle = q.full()
            try:
                q.put(item, timeout=0.1)
                pipe.reader_idle = False
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        done: tuple[Any, BaseException | None] = (_DONE, None)
        try:
            with split_when(lambda: pipe.consumer_waiting):
                for item in items:
                    if prepare is not None and not q.empty():
                        item = prepare(item)
                    if not put((item, None)):
                        return
        except BaseException as e:  # handed to the consumer, which raises it
            done = (_DONE, e)
        put(done)
        pipe.reader_idle = True

    worker = threading.Thread(target=run, name="fastscan-reader", daemon=True)
    worker.start()
    try:
        while True:
            pipe.consumer_waiting = q.empty()
            item, err = q.get()
            pipe.consumer_waiting = False
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
