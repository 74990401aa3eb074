"""Small JSON Lines files (plain, .gz, .zst) decoded together: the lines of consecutive small files
of one shape and raw schema, joined into one chunk, decoded in one call, each rejected line
reported at its own file and line.

Every call that decodes a chunk has a fixed cost, about 3.5 ms on a slow 2-core machine
whatever the chunk's size (the decoder's and `normalize`'s numpy and Arrow calls, dozens of
them): 463 files of 1 MB were scanned in twice the time of one file of the same records. A file
read here goes through the steps `read_jsonl` takes for a file it reads in one chunk (its byte
order mark blanked, a newline after an unfinished last line, the record its raw schema is taken
from), so its records, rejects and statistics are those it would have on its own.
"""

from __future__ import annotations

import bisect
import io
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FetchTimeout
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from fastscan.errors import InputError
from fastscan.read.jsonl import ALIGN, _first_record, read_jsonl, sample_record
from fastscan.read.jsonl_decode import JsonlDecoder
from fastscan.read.rejects import ReadStats, RejectLog
from fastscan.read.shape import Shape, detect_shape_of, raw_schema
from fastscan.read.source import Source
from fastscan.read.streams import DAMAGED, TruncatedInput, is_url, open_bytes, open_raw

__all__ = ["is_small", "read_small_files"]

_BOM = b"\xef\xbb\xbf"


SMALL_FILES_CHUNK_BYTES = 16 << 20  # the most bytes of small files decoded together


def run_bytes(chunk_bytes: int) -> int:
    """Bytes of small files decoded together for a scan of `chunk_bytes` chunks: at most
    SMALL_FILES_CHUNK_BYTES, as a decode holds whole files and cannot size itself by their lines'
    length as a large file's read does (read.jsonl.READ_TARGET_LINES): 32 MiB of 150-byte records,
    210 K lines, scanned 1.3x slower than 16 MiB."""
    return min(chunk_bytes, SMALL_FILES_CHUNK_BYTES)


def is_small(src: Source, chunk_bytes: int) -> bool:
    """Whether `src` is read with others (`read_small_files`): a JSON Lines file (plain, .gz or
    .zst) of at most a quarter of `run_bytes(chunk_bytes)` on disk, a file or a URL whose size was
    listed."""
    small = src.fmt == "jsonl" and not src.stream and src.size <= run_bytes(chunk_bytes) // 4
    return small and (src.size > 0 or not is_url(src.path))


@dataclass
class _File:
    src: Source
    stats: ReadStats  # where its records count
    decoded: int  # its decoded bytes (before a newline added at its end)
    size: int  # bytes read from disk
    data: memoryview  # its bytes as read_jsonl decodes them, in an arena: ends with a newline
    shape: Shape
    schema: pa.Schema
    arena: _Arena | None = None  # where its bytes are (None: an empty file)
    at: int = 0  # ... from here


def read_small_files(
    sources: list[Source],
    shape: Shape | None,
    chunk_bytes: int,
    rejects: RejectLog,
    stats: list[ReadStats],
    progress: Callable[[int], None] | None,
    started: Callable[[int], None] | None = None,
    ended: Callable[[list[int]], None] | None = None,
) -> Iterator[pa.RecordBatch]:
    """The canonical batches of `sources` (each `is_small`), in order: runs of files of one shape
    and raw schema, up to `run_bytes(chunk_bytes)` in all, decoded as one chunk. A file that decodes
    to more than a chunk (grown since it was listed, or compressed), is damaged or cut short, or
    holds no record to take a shape from, is read on its own (`read_jsonl`), which reports it as it
    does any file. sources[i] counts in stats[i] (one object for all, or one each); `started(i)` is
    called as it is opened, and `ended(files)` with the files whose records have just been handed
    on, in order: then every record read so far is, and no reject of a file read after them has been
    reported (a checkpoint can be taken there: fastscan.run.resumable).

    The files are read (and the record each takes its shape from looked at) on a thread of their
    own while the ones before them are decoded (`_Ahead`), into two arenas of a chunk that take
    turns (`_Arena`), and decoded where they are. On 2,018 files of 1 MB, reading them had been a
    sixth of the decoding thread's time, and their join for the decode a twelfth."""
    run: list[_File] = []
    waiting: list[int] = []  # files read, to end once the run before them is handed on

    def flush() -> Iterator[pa.RecordBatch]:
        nonlocal run, waiting
        if run:
            yield from _decoded(run, rejects)
        done, run, waiting = waiting, [], []
        if ended is not None and done:
            ended(done)

    reader = _Reader(shape, run_bytes(chunk_bytes))
    holding: _Arena | None = None  # the arena of the files taken last
    ahead = _Ahead(reader, sources, stats) if len(sources) > 1 else None
    try:
        for i, src in enumerate(sources):
            if started is not None:
                started(i)
            st = stats[i]
            st.files += 1
            one = ahead.take() if ahead is not None else reader.open(src, st)
            if one is not None and one.arena is None:  # an empty file: nothing to decode
                st.bytes_read += one.size
                if progress is not None:
                    progress(one.size)
                waiting.append(i)
                continue
            # a run is files of one shape and raw schema, side by side in one arena
            if one is None or (
                run and (one.arena, one.shape, one.schema) != (run[0].arena, run[0].shape, run[0].schema)
            ):
                yield from flush()
            if one is not None and one.arena is not holding:  # the files before are decoded
                if holding is not None and ahead is not None:
                    ahead.release(holding)
                holding = one.arena
            if one is None:  # read on its own, counted there
                yield from read_jsonl(src, shape, chunk_bytes, rejects, st, progress)
                waiting.append(i)
                yield from flush()
                continue
            st.bytes_read += one.size
            st.bytes_decoded += one.decoded
            if progress is not None:
                progress(one.size)
            run.append(one)
            waiting.append(i)
        yield from flush()
    finally:
        if ahead is not None:
            ahead.close()


class _Arena:
    """A chunk's room for small files' bytes, read in one after another (`_Reader`).

    Each file begins at an address that is a multiple of ALIGN: the copy out of the page cache
    runs 2-4x slower elsewhere (see jsonl._Window). The gap before it is filled with newlines,
    blank lines that hold no record. Files are read straight in, and decoded where they are: with
    a new bytes object per file and their join for the decode, the reads of 2,018 files of 1 MB
    took five times the one file's (fresh pages to fault in, at unaligned addresses) and the
    join a twelfth of the decoding thread's time."""

    def __init__(self, chunk_bytes: int) -> None:
        room = chunk_bytes + 2  # a file found too large (chunk_bytes + 1 bytes read), or a newline
        mem = np.empty(room + ALIGN, dtype=np.uint8)
        start = -mem.ctypes.data % ALIGN
        self.buf = mem[start : start + room]
        self.end = 0  # where the bytes of the files read into it end

    def place(self) -> int:
        """Where the next file's bytes begin: the gap up to there filled with newlines."""
        at = min(-(-self.end // ALIGN) * ALIGN, len(self.buf))
        self.buf[self.end : at] = 10
        return at


class _Reader:
    """Reads small files whole into arenas that take turns: a file goes into the arena being
    filled while it holds at most `chunk_bytes` with it, else into another, one the caller has
    released (at most two: one filled while the other's files are decoded)."""

    ARENAS = 2

    def __init__(self, shape: Shape | None, chunk_bytes: int) -> None:
        self.shape, self.chunk_bytes = shape, chunk_bytes
        self.cond = threading.Condition()
        self.free: list[_Arena] = []
        self.made = 0
        self.stop = False
        self.arena: _Arena | None = None  # the one being filled

    def fresh(self) -> _Arena:
        """An arena to fill from its start: one released, or a new one while there are fewer
        than ARENAS; the one being filled, while nothing is in it yet."""
        if self.arena is not None and self.arena.end == 0:
            return self.arena
        with self.cond:
            while not self.free and self.made >= self.ARENAS and not self.stop:
                self.cond.wait()
            if self.stop:
                raise _Stopped
            if self.free:
                arena = self.free.pop()
            else:
                self.made += 1
                arena = _Arena(self.chunk_bytes)
        arena.end = 0
        self.arena = arena
        return arena

    def release(self, arena: _Arena) -> None:
        """The caller is done with the bytes of the files it was given in `arena`."""
        with self.cond:
            self.free.append(arena)
            self.cond.notify_all()

    def open(self, src: Source, stats: ReadStats, fetched: bytes | None = None) -> _File | None:
        """The file read whole (see `_file`), or None when read_jsonl is to read it on its own:
        more than a chunk decoded (it grew since it was listed, or decompresses to more), or a
        read that failed part way (damaged or cut short: read_jsonl reports it, and the lines
        before), or no record to take a shape from. `fetched`: a URL's bytes (`_fetch`)."""
        try:
            fh, counter = open_bytes(src, raw=None if fetched is None else io.BytesIO(fetched))
        except OSError as e:
            raise InputError(f"{src.name}: cannot read: {e.strerror or e}") from None
        limit = self.chunk_bytes + 1  # bytes read of it, at most: one more than a chunk is too many
        arena = self.arena if self.arena is not None else self.fresh()
        at = arena.place()
        if at and at + src.size >= self.chunk_bytes:  # as listed, it does not fit with the others
            arena = self.fresh()
            at = 0
        got = 0
        try:
            while got < limit:
                room = min(limit, self.chunk_bytes + 1 - at)  # the arena holds a chunk at most
                if got == room:  # full: the file moves to the start of another
                    moving = arena.buf[at : at + got]
                    arena = self.fresh()
                    arena.buf[:got] = moving
                    at = 0
                    continue
                k = fh.readinto(arena.buf.data[at + got : at + room])
                if not k:
                    break
                got += k
        except (*DAMAGED, TruncatedInput, OSError):
            return None
        finally:
            fh.close()
        if got == limit:
            return None
        return _file(src, arena, at, got, counter.count, self.shape, stats)


class _Stopped(Exception):
    """The read was stopped (`_Ahead.close`) while waiting for an arena or a fetch."""


URL_FETCHES = 4  # URLs fetched at once, ahead of the one read into an arena


def _fetch(src: Source, limit: int) -> bytes | None:
    """A URL's bytes, `limit` at most, or None when the fetch fails: read_jsonl then reads it on
    its own and reports what it meets."""
    try:
        with open_raw(src.path) as fh:
            return fh.read(limit)
    except (OSError, InputError):
        return None


class _Ahead:
    """`_Reader.open` of each of `sources` in turn, on a thread of its own, while the caller
    decodes the files before: as far ahead as the arenas let it (about a chunk's bytes). After a
    file's error (handed on in its turn), nothing more is read.

    URLs are fetched whole, URL_FETCHES at once on threads of their own (an object store answers
    each request after a delay, whatever its size), at most a quarter chunk each (`is_small`)."""

    def __init__(self, reader: _Reader, sources: list[Source], stats: list[ReadStats]):
        self._reader = reader
        self._ready: deque[tuple[_File | None, BaseException | None]] = deque()
        urls = [i for i, src in enumerate(sources) if is_url(src.path)]
        self._fetches = ThreadPoolExecutor(URL_FETCHES, "fastscan-fetch") if urls else None
        self._urls = deque(urls)  # those not yet asked for
        self._fetched: dict[int, Future] = {}
        self._thread = threading.Thread(
            target=self._run, args=(sources, stats), name="fastscan-read-small", daemon=True
        )
        self._thread.start()

    def _run(self, sources: list[Source], stats: list[ReadStats]) -> None:
        cond = self._reader.cond
        for i, (src, st) in enumerate(zip(sources, stats)):
            one: _File | None = None
            err: BaseException | None = None
            try:
                one = self._reader.open(src, st, self._fetched_bytes(sources, i))
            except _Stopped:
                return
            except BaseException as e:  # handed on in its turn
                err = e
            with cond:
                self._ready.append((one, err))
                cond.notify_all()
            if err is not None or self._reader.stop:
                return

    def _fetched_bytes(self, sources: list[Source], i: int) -> bytes | None:
        """sources[i]'s bytes when it is a URL (None for a file, or a fetch that failed), the
        URLs after it asked for meanwhile."""
        if self._fetches is None:
            return None
        while self._urls and len(self._fetched) < URL_FETCHES:
            k = self._urls.popleft()
            self._fetched[k] = self._fetches.submit(_fetch, sources[k], self._reader.chunk_bytes + 1)
        got = self._fetched.pop(i, None)
        while got is not None:  # a fetch that hangs does not hold up a read that is stopped
            try:
                return got.result(timeout=0.1)
            except FetchTimeout:
                if self._reader.stop:
                    raise _Stopped from None
        return None

    def take(self) -> _File | None:
        """The next file's `_Reader.open`, or its error raised."""
        cond = self._reader.cond
        with cond:
            while not self._ready:
                cond.wait()
            one, err = self._ready.popleft()
        if err is not None:
            raise err
        return one

    def release(self, arena: _Arena) -> None:
        self._reader.release(arena)

    def close(self) -> None:
        """Stop reading (a file being read is finished first) and end the thread."""
        with self._reader.cond:
            self._reader.stop = True
            self._reader.cond.notify_all()
        self._thread.join()
        if self._fetches is not None:  # a fetch under way is not waited for
            self._fetches.shutdown(wait=False, cancel_futures=True)


def _file(
    src: Source, arena: _Arena, at: int, got: int, size: int, shape: Shape | None, stats: ReadStats
) -> _File | None:
    """The file as read_jsonl decodes a file it reads in one chunk, from its `got` bytes at `at`
    in `arena`: a byte order mark blanked, so that offsets stay true, and a newline after an
    unfinished last line; the shape and raw schema (from the same record); None when read_jsonl
    would take no shape from it (no record to tell it: it then rejects the lines one by one) -
    such a file is left to it."""
    buf = arena.buf
    raw = buf.data[at : at + got]
    if not got:
        return _File(src, stats, 0, size, raw, _NONE, pa.schema([]))  # nothing to decode
    first = sample_record(src, shape, raw)
    if got >= 3 and bytes(raw[:3]) == _BOM:
        buf[at : at + 3] = 32
    end = at + got
    if buf[end - 1] != 10:
        buf[end] = 10
        end += 1
    data = buf.data[at:end]
    if first is None:
        first = _first_record(bytes(data), shape)
    if first is None and shape is None:
        return None
    arena.end = end
    sh = shape or detect_shape_of(first, src.name)
    return _File(src, stats, got, size, data, sh, raw_schema(sh, first), arena, at)


_NONE = Shape("none", {})  # an empty file's: it has no line to decode


def _decoded(run: list[_File], rejects: RejectLog) -> list[pa.RecordBatch]:
    """The batches of a run of files, side by side in one arena, decoded as one chunk; a rejected
    line is reported at its own file and line, and each file's records and rejects count in its
    own statistics."""
    lo, hi = run[0].at, run[-1].at + len(run[-1].data)
    at = np.array([f.at - lo for f in run] + [hi - lo], dtype=np.int64)  # where each file begins
    assert run[0].arena is not None
    chunk = run[0].arena.buf[lo:hi]
    first: list[int] = []  # the line of the chunk each file's first line is (made at a reject)
    rejected = [0] * len(run)

    def where(line: int) -> tuple[str, int, ReadStats]:
        if not first:  # counted only for a run with a reject
            owner = np.searchsorted(at, np.flatnonzero(chunk == 10), "right") - 1  # the gap is the file's before
            ends = np.cumsum(np.bincount(owner, minlength=len(run)))
            first.extend((1 + np.r_[0, ends[:-1]]).tolist())
        k = bisect.bisect_right(first, line) - 1
        rejected[k] += 1
        return run[k].src.name, line - first[k] + 1, run[k].stats

    # the decoder's own counts of records read and scored are the run's: each file's are those of
    # the lines that begin in it (a line read is a record scored or a reject)
    decoder = JsonlDecoder(run[0].src.name, run[0].shape, run[0].schema, rejects, ReadStats())
    out = decoder.decode(chunk.data, 1, where)
    read = np.diff(np.searchsorted(decoder.read_starts, at))
    for f, n, bad in zip(run, read.tolist(), rejected):
        f.stats.records_read += n
        f.stats.records_scored += n - bad
    return out
