"""Running independent pieces of work on the machine's cores.

The numba kernels release the GIL (kernels/_jit.py) and so do numpy's sorts, so plain threads
run them in parallel. How many: pyarrow's CPU thread count (`pyarrow.set_cpu_count`, or the
OMP_NUM_THREADS it reads at start), so one setting governs decoding and the kernels alike.
Results come back in the order of the work items, whatever order the threads finish in, so
nothing that follows depends on the thread count. A thread that is one stage of a pipeline
(the scan loop's reading thread, and the fold beside it) splits its work only while the other
stage waits for it (`split_when`): two busy stages that also split queue behind each other.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import pyarrow as pa

__all__ = ["workers", "map_ordered", "row_ranges", "split_when", "in_background"]

T = TypeVar("T")
R = TypeVar("R")

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


_local = threading.local()


def workers() -> int:
    """Threads to split work across: pyarrow's CPU count; 1 on a worker thread itself (work that
    splits can then call work that splits), and on a thread inside `split_when` whose condition
    is false at the time."""
    if getattr(_local, "worker", False):  # a worker thread waiting for parts of its own work
        return 1  # could wait behind them forever: it does its work itself
    gate = getattr(_local, "gate", None)
    if gate is not None and not gate():
        return 1
    return max(1, pa.cpu_count())


def _mark_worker() -> None:
    _local.worker = True


@contextlib.contextmanager
def split_when(gate: Callable[[], bool]) -> Iterator[None]:
    """Within the block, work this thread asks to split goes to the worker threads only while
    `gate()` is true, and otherwise runs on this thread, one item after another (the results are
    the same either way). For a thread that is one of two stages of a pipeline: it splits its
    work only while the other stage waits for it."""
    before = getattr(_local, "gate", None)
    _local.gate = gate
    try:
        yield
    finally:
        _local.gate = before


def _executor(n: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size != n:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="fastscan", initializer=_mark_worker)
            _pool_size = n
        return _pool


def map_ordered(fn: Callable[[T], R], items: Iterable[T], most: int | None = None) -> list[R]:
    """[fn(x) for x in items], on `workers()` threads, and no more than `most` calls at once when
    it is given (work whose memory is per call: its peak then stays the same on any number of
    cores); an exception in any call is raised here (the first item's that raised)."""
    items = list(items)
    n = min(workers(), len(items), most if most is not None else len(items))
    if n <= 1:
        return [fn(x) for x in items]
    pool = _executor(max(1, pa.cpu_count()))  # one pool of the machine's size, whatever n
    # n strands on it, each taking the next item not yet taken when it has finished one
    out: list = [None] * len(items)
    failed: dict[int, BaseException] = {}
    taken = iter(range(len(items)))
    lock = threading.Lock()

    def strand() -> None:
        while True:
            with lock:
                i = next(taken, None)
                if i is None or failed:
                    return
            try:
                out[i] = fn(items[i])
            except BaseException as e:  # raised below, once every strand has stopped
                with lock:
                    failed[i] = e
                return

    for f in [pool.submit(strand) for _ in range(n)]:
        f.result()
    if failed:
        raise failed[min(failed)]
    return out


MIN_ROWS_PER_THREAD = 2048  # below this a batch is not worth splitting across threads


def row_ranges(n: int) -> list[tuple[int, int]]:
    """[lo, hi) ranges of about equal rows, one per worker thread."""
    parts = max(1, min(workers(), n // MIN_ROWS_PER_THREAD))
    cuts = [n * k // parts for k in range(parts + 1)]
    return list(zip(cuts[:-1], cuts[1:]))


def in_background(fn: Callable[[], R]) -> Future[R]:
    """Run fn() on a thread of its own, now; its result (or its exception) comes from the returned
    future's result(). For work that splits across the worker threads itself (a worker thread
    waiting for the split parts of its own work could wait behind them forever), while the
    calling thread does something else."""
    future: Future[R] = Future()

    def run() -> None:
        try:
            future.set_result(fn())
        except BaseException as e:  # handed to whoever asks for the result
            future.set_exception(e)

    threading.Thread(target=run, name="fastscan-background", daemon=True).start()
    return future
