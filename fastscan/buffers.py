"""The one seam between Arrow and numpy: columns become (offsets, data, validity) views.

Offsets are cast once to int64 and honour `array.offset`, so they are absolute positions into the
data buffer; nothing is copied except those offsets and the validity bitmap. `Scratch` keeps the
kernels' work arrays from one batch to the next; `no_huge_pages` keeps numpy and Arrow from asking
for huge pages while a scan runs; `reserved_rows` gives an array room to grow without moving;
`few_malloc_arenas` keeps the C allocator from giving each thread memory of its own.
"""

from __future__ import annotations

import contextlib
import ctypes
import mmap
import os
import sys
import threading
from collections.abc import Callable, Iterator

import numpy as np
import pyarrow as pa

try:
    from numpy._core import multiarray as _multiarray
except ImportError:  # numpy 1
    from numpy.core import multiarray as _multiarray  # type: ignore[no-redef]

__all__ = [
    "Scratch",
    "no_huge_pages",
    "malloc_arrow_pool",
    "reserved_rows",
    "release_rows",
    "string_buffers",
    "string_lengths",
    "equals_bytes",
    "int_values",
    "float_values",
    "bool_values",
    "grown",
    "validity",
    "few_malloc_arenas",
]

_EMPTY_DATA = np.zeros(0, dtype=np.uint8)
_EMPTY_DATA.flags.writeable = False


def grown(a: np.ndarray, need: int) -> np.ndarray:
    """`a` when it has `need` elements, else a zeroed array of max(need, 2 * len(a)) starting
    with a's elements (doubling: growing element by element costs amortized O(1))."""
    if need <= len(a):
        return a
    out = np.zeros(max(need, 2 * len(a)), dtype=a.dtype)
    out[: len(a)] = a
    return out


def as_array(col) -> pa.Array:
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    return col


def validity(arr: pa.Array) -> np.ndarray:
    """bool[n]: True where the value is present."""
    arr = as_array(arr)
    n = len(arr)
    if arr.null_count == 0:
        return np.ones(n, dtype=np.bool_)
    bitmap = arr.buffers()[0] if arr.null_count < n else None
    if bitmap is None:  # all null (a null-type array has no bitmap)
        return np.zeros(n, dtype=np.bool_)
    return _bits(bitmap, arr.offset, n)


def _bits(buffer: pa.Buffer, offset: int, n: int) -> np.ndarray:
    """bool[n]: bits offset..offset + n - 1 of an Arrow bitmap (a validity bitmap, a boolean
    column's values), least significant bit first."""
    bits = np.frombuffer(buffer, dtype=np.uint8)
    return np.unpackbits(bits, count=offset + n, bitorder="little")[offset:].astype(np.bool_)


def string_buffers(arr) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(offsets int64[n + 1], data uint8[m] read-only, valid bool[n]) of a string array."""
    arr = as_array(arr)
    if pa.types.is_string(arr.type) or pa.types.is_binary(arr.type):
        off_type = np.int32
    elif pa.types.is_large_string(arr.type) or pa.types.is_large_binary(arr.type):
        off_type = np.int64
    elif pa.types.is_string_view(arr.type):
        return string_buffers(arr.cast(pa.large_string()))
    else:
        raise TypeError(f"expected a string array, got {arr.type}")
    n = len(arr)
    bufs = arr.buffers()
    if bufs[1] is None:
        offsets = np.zeros(n + 1, dtype=np.int64)
    else:
        offsets = np.frombuffer(bufs[1], dtype=off_type)[arr.offset : arr.offset + n + 1].astype(np.int64)
    if bufs[2] is None:
        data = _EMPTY_DATA
    else:
        data = np.frombuffer(bufs[2], dtype=np.uint8)
        data.flags.writeable = False  # a view of Arrow's memory: kernels only read it
    return offsets, data, validity(arr)


def string_lengths(arr) -> np.ndarray:
    """int64[n]: each value's length in bytes, 0 where it is null."""
    off, _, valid = string_buffers(arr)
    return np.where(valid, np.diff(off), 0)


def equals_bytes(arr, text: bytes) -> np.ndarray:
    """bool[n]: the value is `text` (never where it is null)."""
    off, data, valid = string_buffers(arr)
    same = valid & (np.diff(off) == len(text))
    at = np.flatnonzero(same)
    if len(at) and text:
        want = np.frombuffer(text, dtype=np.uint8)
        same[at] = (data[off[at][:, None] + np.arange(len(text))] == want).all(axis=1)
    return same


def _values(arr, fill, dtype) -> np.ndarray:
    """`dtype`[n] of a numeric or boolean array, nulls replaced by `fill`, read from its buffers
    where it has nulls (Arrow's fill_null and to_numpy cost 20-100 us a column of a batch,
    whatever its rows); other types through Arrow."""
    arr = as_array(arr)
    n = len(arr)
    if arr.null_count == 0:
        return np.ascontiguousarray(arr.to_numpy(zero_copy_only=False), dtype=dtype)
    typ = arr.type
    if arr.null_count == n:
        return np.full(n, fill, dtype=dtype)
    if pa.types.is_boolean(typ):
        v = _bits(arr.buffers()[1], arr.offset, n)
    elif pa.types.is_integer(typ) or pa.types.is_floating(typ):
        v = np.frombuffer(arr.buffers()[1], dtype=typ.to_pandas_dtype())[arr.offset : arr.offset + n]
    else:
        return np.ascontiguousarray(arr.fill_null(fill).to_numpy(zero_copy_only=False), dtype=dtype)
    return np.where(validity(arr), v.astype(dtype, copy=False), np.asarray(fill, dtype=dtype))


def int_values(arr, fill: int = 0) -> np.ndarray:
    """int64[n], nulls replaced by `fill`."""
    return _values(arr, fill, np.int64)


def float_values(arr, fill: float = np.nan) -> np.ndarray:
    return _values(arr, fill, np.float64)


def bool_values(arr, fill: bool = False) -> np.ndarray:
    return _values(arr, fill, np.bool_)


class Scratch:
    """Work arrays used again for every batch instead of allocated anew.

    The operating system hands out fresh memory zeroed, a page at the first touch of any byte
    of it (a whole 2 MiB where numpy advised huge pages); for arrays a kernel writes only here
    and there (a slot per word of each prompt, a row per text field) that zeroing was most of
    their cost, on every batch. An
    array given out holds whatever was written before, and is valid until the next call for the
    same name; one name per thread that writes at once.
    """

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}

    def _get(self, name: str, size: int, dtype: np.dtype) -> np.ndarray:
        a = self._arrays.get(name)
        if a is None or a.dtype != dtype or a.size < size:
            a = np.empty(max(size, a.size * 5 // 4 if a is not None else 0), dtype=dtype)  # room to grow
            self._arrays[name] = a
        return a

    def flat(self, name: str, n: int, dtype) -> np.ndarray:
        """A 1-d array of n elements."""
        return self._get(name, n, np.dtype(dtype))[:n]

    def rows(self, name: str, n_rows: int, min_width: int, dtype) -> np.ndarray:
        """A C-contiguous 2-d array of n_rows rows of at least min_width elements: the width only
        grows, so each row keeps its place in memory from one call to the next."""
        a = self._arrays.get(name)
        dtype = np.dtype(dtype)
        if a is None or a.dtype != dtype or a.ndim != 2 or a.shape[0] != n_rows or a.shape[1] < min_width:
            width = max(min_width, a.shape[1] * 5 // 4 if a is not None and a.ndim == 2 else 0)
            a = np.empty((n_rows, width), dtype=dtype)
            self._arrays[name] = a
        return a

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self._arrays.values())


def hugepage_setter() -> Callable[[bool], bool] | None:
    """numpy's switch for its huge page advice (it returns the setting it replaces), or None
    when this numpy has none."""
    return getattr(_multiarray, "_set_madvise_hugepage", None)


_scope_lock = threading.Lock()
_scope_depth = 0  # no_huge_pages blocks running, on any thread
_scope_undo: list[Callable[[], None]] = []  # what puts back the settings the first one changed


@contextlib.contextmanager
def no_huge_pages() -> Iterator[None]:
    """No huge pages for numpy's large arrays or Arrow's buffers within the block, and the
    settings as they were after it. Under Linux's transparent huge pages in "madvise" mode (and
    its default defrag setting) huge page advice has the kernel zero 2 MiB at every first touch,
    compacting memory first when it must; on a VM that ran at 0.1-0.2 GB/s (session 65).

    - numpy's advice (unless NUMPY_MADVISE_HUGEPAGE sets it) is off. A scan allocates and frees
      large arrays chunk after chunk and touches some only here and there: a whole CLI scan of
      the 2.1 GB bench log took 0.90x the wall time without the advice and 0.92x the CPU time.
    - pyarrow's default memory pool, when it is its bundled mimalloc (whose arena is advised
      huge pages) and ARROW_DEFAULT_MEMORY_POOL names none, is the C library's malloc (the
      "system" pool, as the command's whole process has: malloc_arrow_pool). Scans in one
      process, a process of 4 for each pool in turns (session 66): Arrow IPC 0.84-0.92x the wall
      time (its system time 0.30-0.36 s a scan, against 0.26-0.91 as the host backed the memory
      or not), Parquet 0.98x, JSON Lines 1.0x; the kernel's zeroing of huge pages went from 7.0%
      of an Arrow IPC scan's samples to 0.7%. A buffer is given back to the pool it came from, whatever the default is
      by then.

    Both settings are the process's: they hold for every thread while any block runs, from the
    first block that begins to the last that ends (blocks on several threads may overlap). Another
    pool set by the program while a block runs is left as it is.
    """
    global _scope_depth
    with _scope_lock:
        if _scope_depth == 0:
            _scope_undo[:] = _huge_pages_off()
        _scope_depth += 1
    try:
        yield
    finally:
        with _scope_lock:
            _scope_depth -= 1
            if _scope_depth == 0:
                for undo in reversed(_scope_undo):
                    undo()
                _scope_undo.clear()


def _huge_pages_off() -> list[Callable[[], None]]:
    """no_huge_pages' two settings changed; what puts each back."""
    undo: list[Callable[[], None]] = []
    setter = hugepage_setter()
    if setter is not None and "NUMPY_MADVISE_HUGEPAGE" not in os.environ:
        before = setter(False)

        def advice_back() -> None:
            setter(before)

        undo.append(advice_back)
    pool = pa.default_memory_pool()
    if pool.backend_name == "mimalloc" and malloc_arrow_pool():  # unless the environment names one

        def pool_back() -> None:
            if pa.default_memory_pool().backend_name == "system":  # not one the program set since
                pa.set_memory_pool(pool)

        undo.append(pool_back)
    return undo


def reservable_bytes() -> int:
    """Address space worth reserving for one growing array: the machine's physical memory (16 GiB
    where the platform does not say), and under an address-space limit (ulimit -v) a quarter of
    it, so that the reservation leaves the rest of the process its room."""
    try:
        room = int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        room = 16 << 30
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_AS)[0]
        if limit != resource.RLIM_INFINITY:
            room = min(room, limit // 4)
    except (ImportError, AttributeError, ValueError, OSError):
        pass
    return room


def reserved_rows(rows: int, width: int, dtype: type) -> np.ndarray | None:
    """An uninitialised (rows, width) array in address space reserved for it (an anonymous
    private mapping): a page becomes memory when first written, by whichever thread writes it,
    so an array with room for as many rows as memory holds costs only the rows in use, and grows
    into that room without a copy. (numpy's own growth, realloc, zeroes every new row on the
    growing thread: on the bench log 100,000 page faults there, where the writers take them in
    parallel.) None where the reservation is refused: strict overcommit, an address-space limit,
    a platform without anonymous mappings.

    The mapping asks for no huge pages (the system's default holds). The signature store was on
    them for finish()'s reads at random places (fewer TLB misses), but a huge page is zeroed
    whole at its first touch, after the kernel has found 2 MiB free in one piece: on the 2-core
    VM of session 65 that ran at 0.1-0.19 GB/s against 2 GB/s for 4 KiB pages, a third of a
    core-second of a scan of the bench log, and whole scans took 0.91x (Arrow IPC) and 0.98x
    (JSON Lines) the time without it (docs/performance.md)."""
    nbytes = rows * width * np.dtype(dtype).itemsize
    try:
        mapping = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    except (AttributeError, TypeError, ValueError, OverflowError, OSError):
        return None
    return np.frombuffer(mapping, dtype=dtype).reshape(rows, width)


def release_rows(a: np.ndarray, first: int, end: int) -> None:
    """Rows first..end-1 of a `reserved_rows` array give their whole pages back to the system
    (they read as zeros after); nothing where the platform cannot."""
    mapping = a.base
    while mapping is not None and not isinstance(mapping, mmap.mmap):
        mapping = mapping.obj if isinstance(mapping, memoryview) else getattr(mapping, "base", None)
    if mapping is None or not hasattr(mapping, "madvise"):
        return
    row, page = a.shape[1] * a.itemsize, mmap.PAGESIZE  # a mapping starts on a page
    lo = -(-first * row // page) * page
    hi = end * row // page * page
    if hi > lo:
        mapping.madvise(mmap.MADV_DONTNEED, lo, hi - lo)


MALLOC_ARENAS = 2  # the C allocator's arenas in the command's process (few_malloc_arenas)
_M_ARENA_MAX = -8  # glibc's mallopt parameter


def few_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Ask glibc's malloc for at most `arenas` arenas in this process (as MALLOC_ARENA_MAX does);
    False where it is not glibc's. glibc gives each thread that allocates an arena of its own, up
    to 8 a core, and each arena keeps memory its thread freed: the peak grew with the threads a
    scan runs on. For the command's own process (cli.console), before its threads allocate; a
    program that embeds fastscan keeps its allocator as it is (or sets MALLOC_ARENA_MAX itself).
    On the bench log, the command's peak 691 -> 631 MiB for 0.95x the wall time (6 pairs in turns),
    and the library's scan on 2, 8 and 32 threads 658, 657 and 681 MB (713, 726 and 775 without)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # another C library (musl has no such setting)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt(_M_ARENA_MAX, arenas) == 1


def malloc_arrow_pool() -> bool:
    """pyarrow's default memory pool set to the C library's malloc (its "system" pool) in place of
    the mimalloc it bundles; False, and nothing changed, when ARROW_DEFAULT_MEMORY_POOL names a
    pool. pyarrow's mimalloc reserves its arena with huge page advice (MADV_HUGEPAGE), so Arrow's
    buffers were zeroed 2 MiB at a time at their first touch, on a VM at 0.1-0.2 GB/s (the kernel's
    zeroing was 3.8% of an Arrow IPC scan's samples with the signature store already off huge
    pages). For the command's own process (cli.console), as few_malloc_arenas; a program that
    embeds fastscan has the same pool while its scans run (no_huge_pages), its own after. Whole
    commands in turns (session 65): Parquet 0.869x the wall time (8 pairs, system time 1.41 ->
    0.73 s, peak 774 -> 665 MiB), Arrow IPC 0.927x and 0.879x (12 and 8 pairs, peak 698 -> 650
    MiB), JSON Lines 0.999x (peak 632 -> 622 MiB)."""
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return False
    pa.set_memory_pool(pa.system_memory_pool())
    return True
