"""Running independent pieces of work on the machine's cores.

The numba kernels release the GIL (kernels/_jit.py) and so do numpy's sorts, so plain threads
run them in parallel. How many: pyarrow's CPU thread count (`pyarrow.set_cpu_count`, or the
OMP_NUM_THREADS it reads at start), so one setting governs decoding and the kernels alike.
Results come back in the order of the work items, whatever order the threads finish in, so
nothing that follows depends on the thread count.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pyarrow as pa

__all__ = ["workers", "map_ordered", "row_ranges"]

T = TypeVar("T")
R = TypeVar("R")

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def workers() -> int:
    return max(1, pa.cpu_count())


def _executor(n: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size != n:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="fastscan")
            _pool_size = n
        return _pool


def map_ordered(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """[fn(x) for x in items], on `workers()` threads; an exception in any call is raised here."""
    items = list(items)
    n = min(workers(), len(items))
    if n <= 1:
        return [fn(x) for x in items]
    return list(_executor(n).map(fn, items))


MIN_ROWS_PER_THREAD = 2048  # below this a batch is not worth splitting across threads


def row_ranges(n: int) -> list[tuple[int, int]]:
    """[lo, hi) ranges of about equal rows, one per worker thread."""
    parts = max(1, min(workers(), n // MIN_ROWS_PER_THREAD))
    cuts = [n * k // parts for k in range(parts + 1)]
    return list(zip(cuts[:-1], cuts[1:]))
