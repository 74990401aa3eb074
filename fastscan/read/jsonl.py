"""The JSON Lines chunk loop: a file read in byte chunks finished at a newline, decoded chunk by
chunk; memory is bounded by the chunk size, never by the file size."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import orjson
import pyarrow as pa

from fastscan.errors import InputError, SchemaError
from fastscan.read.coerce import loads_wide
from fastscan.read.jsonl_decode import JsonlDecoder
from fastscan.read.rejects import ReadStats, RejectLog
from fastscan.read.shape import NO_SHAPE, Shape, detect_shape, detect_shape_of, raw_schema
from fastscan.read.source import Source
from fastscan.read.streams import (
    DAMAGED,
    ByteRange,
    ReadAhead,
    TruncatedInput,
    is_url,
    open_bytes,
    short_error,
)

# The most bytes decoded at a time. Each chunk costs the read and the fold some fixed work whatever
# its size (a few ms of CPU over both threads), and each of its records some memory and cache:
# a chunk is read to hold about READ_TARGET_LINES lines (their length as the chunk before had it),
# within FIRST_READ_BYTES..chunk_bytes. On the 2.1 GB bench log (2 KB a record) 32 MiB chunks,
# against 16, took 0.936x the wall time and 0.939x the CPU of a scan (6 rounds in turns in one
# process); on a log of 150-byte records, chunks of 4-8 MiB (26-52 K lines) took 0.9x the time
# of 16 MiB ones and 32 MiB ones 1.31x, with 130-210 MB more peak memory.
DEFAULT_CHUNK_BYTES = 32 << 20
READ_TARGET_LINES = 32_768
FIRST_READ_BYTES = 4 << 20  # the first read of a file, before its lines' length is known
# A longer line is rejected once this much of it has been read, and the rest is skipped unread:
# no LLM API takes a request near this size, and memory stays within it plus a chunk.
MAX_LINE_BYTES = 256 << 20


HEAD_LINES = 100_000  # lines of a file's head looked through for a record of a known shape
HEAD_BYTES = 64 << 20  # ... and at most this many bytes of it


def _pick(objects, shape: Shape | None):
    """The record a read takes its raw schema (and, without `shape`, its log shape) from: the
    first object of a known shape (the first object at all when a mapping gives the shape), else
    the first object (whose shape is then reported unknown), else None."""
    first_obj = None
    for got in objects:
        if got is None:
            continue
        rec, known = got
        if known or shape is not None:
            return rec
        if first_obj is None:
            first_obj = rec
    return first_obj


def _first_record(chunk: bytes, shape: Shape | None):
    """_pick over one chunk (a stream, which cannot be read twice, is looked at chunk by chunk)."""
    return _pick((object_of(line) for line in chunk.split(b"\n")), shape)


def object_of(line: bytes):
    """(record, its shape is known) for a line holding a JSON object, else None."""
    if not line.strip():
        return None
    try:
        rec = orjson.loads(line)
    except orjson.JSONDecodeError as e:
        rec = loads_wide(line, e)
    if not isinstance(rec, dict):
        return None
    try:
        detect_shape(rec)
        return rec, True
    except SchemaError:
        return rec, False


def sample_record(src: Source, shape: Shape | None, data: bytes | memoryview | None = None):
    """_pick over the file's head (HEAD_LINES lines, HEAD_BYTES bytes): the same record whatever
    the chunk size, and for every byte range of the file, so they all decode alike. `data`: the
    whole file's bytes, when they are read already."""

    def lines():
        fh = open_bytes(src)[0] if data is None else _Head(data)
        try:
            rest, read, n = b"", 0, 0
            while read < HEAD_BYTES and n < HEAD_LINES:
                piece = fh.read(min(1 << 16, HEAD_BYTES - read))
                if read == 0 and piece.startswith(b"\xef\xbb\xbf"):
                    piece = piece[3:]
                read += len(piece)
                if not piece:
                    if rest:
                        yield object_of(rest)
                    return
                # line by line: _pick mostly stops at the first (a split of the whole piece made
                # every line's object: 0.13 ms a file against 0.01 for the first line's record)
                buf, at = rest + piece, 0
                while n < HEAD_LINES and (nl := buf.find(b"\n", at)) >= 0:
                    yield object_of(buf[at:nl])
                    n, at = n + 1, nl + 1
                rest = buf[at:]
        finally:
            fh.close()

    try:
        return _pick(lines(), shape)
    except (*DAMAGED, OSError, TruncatedInput):
        return None  # the read itself meets the damage and reports it


class _Head:
    """Bytes already read, read again a piece at a time (io.BytesIO would copy all of a view)."""

    def __init__(self, data: bytes | memoryview) -> None:
        self.view, self.pos = memoryview(data), 0

    def read(self, n: int) -> bytes:
        piece = self.view[self.pos : self.pos + n].tobytes()
        self.pos += len(piece)
        return piece

    def close(self) -> None:
        pass


ALIGN = 64  # where each read goes in its window: see _Window


class _Window:
    """The bytes of a file from the start of its first unfinished line to the end of what was
    read, in one buffer kept from chunk to chunk: a chunk of whole lines is a view of its start,
    and the unfinished line after it moves to the front before the next read, which goes
    straight in after it. A plain file's bytes are so copied once, by the read, into pages that
    are already mapped (a new 16 MiB object per read and its join with the line before cost
    0.65 CPU-s on a 2.1 GB log). The decoder copies everything its batches keep. A plain file
    is read through two windows that take turns (`follow`): one is read while the other's
    chunk is decoded.

    Every read goes to an address that is a multiple of ALIGN: the window's first byte (`buf`, a
    view of the memory it owns) is placed so that the unfinished line ends there. The kernel's
    copy out of the page cache took twice as long into an address 16 past a multiple of 64 (where
    a new numpy buffer starts) and four times as long at an odd one, where the line before left
    each read of a scan.
    """

    def __init__(self, chunk_bytes: int):
        self._mem = np.empty(chunk_bytes + (1 << 16) + ALIGN, dtype=np.uint8)
        self.end = self._at = 0
        self._place(0)

    def _start(self, keep: int) -> int:
        """Where the window's first byte goes in its memory for byte `keep` to be aligned."""
        return -(self._mem.ctypes.data + keep) % ALIGN

    def _place(self, keep: int, at: int | None = None) -> None:
        """Move the window's first `keep` bytes (from `at` in its memory, else where they are) to
        where byte `keep` is aligned, and view the window from there."""
        start = self._start(keep)
        old = self._at if at is None else at
        if keep and old != start:
            self._mem[start : start + keep] = self._mem[old : old + keep]  # overlapping: numpy copies safely
        self._at = start
        self.buf = self._mem[start:]

    def read(self, fh, size: int) -> tuple[int, Exception | None]:
        """Up to `size` more decoded bytes, read straight in from `fh` (a plain file's
        BufferedReader or a ReadAhead) -> (how many, the error that cut it short: what was read
        before it stays)."""
        if self.end == 0:
            self._place(0)
        self._room(self.end + size + 1)  # + 1: a last line's missing newline
        target = self.buf.data[self.end : self.end + size]
        got, err = 0, None
        while got < size:
            try:
                k = fh.readinto(target[got:])
            except (*DAMAGED, TruncatedInput, OSError) as e:
                err = e
                break
            if not k:
                break
            got += k
        self.end += got
        return got, err

    def _room(self, need: int) -> None:
        """Room for `need` bytes: only a line longer than a chunk needs more. Grown in place
        (realloc, which moves a large block's pages without copying them), never to twice
        what the line needs: the longest line allowed is held once, not twice."""
        if need > len(self.buf):
            at = self._at
            del self.buf  # the window's own view of its memory, which would keep it from moving
            size = need + (1 << 20) + ALIGN
            try:
                self._mem.resize(size)  # refused while anything else holds it
            except ValueError:  # a new block, the kept bytes copied straight to their aligned place
                old, self._mem = self._mem, np.empty(size, dtype=np.uint8)
                start = self._start(self.end)
                self._mem[start : start + self.end] = old[at : at + self.end]
                at = start
            finally:
                self._place(self.end, at)

    def starts_with_bom(self, at: int) -> bool:
        return self.end - at >= 3 and bytes(self.buf[at : at + 3]) == b"\xef\xbb\xbf"

    def find_newline(self, lo: int) -> int:
        """The first newline at or after `lo`, or -1."""
        from fastscan.kernels.bits import find_byte

        at = int(find_byte(self.buf, lo, self.end, 10))
        return at if at < self.end else -1

    def last_newline(self, lo: int) -> int:
        """The last newline at or after `lo`, or -1 (looked for from the end, 64 KiB at a time)."""
        hi = self.end
        while hi > lo:
            at = max(lo, hi - (1 << 16))
            k = bytes(self.buf[at:hi]).rfind(b"\n")
            if k >= 0:
                return at + k
            hi = at
        return -1

    def append_newline(self) -> None:
        self.buf[self.end] = 10
        self.end += 1

    def view(self, size: int) -> memoryview:
        return self.buf.data[:size]

    def follow(self, before: _Window, keep_from: int, fh, size: int) -> tuple[int, Exception | None]:
        """This window becomes the one after `before`: its bytes from `keep_from` on (its
        unfinished line), then up to `size` more read from `fh` (see `read`)."""
        rest = before.end - keep_from
        self.end = 0
        self._room(rest + size + 1)
        self._at = self._start(rest)
        self.buf = self._mem[self._at :]
        self.buf[:rest] = before.buf[keep_from : before.end]
        self.end = rest
        return self.read(fh, size)

    def drop(self, size: int) -> None:
        """Forget the first `size` bytes: what follows moves to the front."""
        rest = self.end - size
        self._place(rest, self._at + size)
        self.end = rest


def _read_size(size: int, lines: int, chunk_bytes: int) -> int:
    """Bytes to read for the next chunk after one of `size` bytes and `lines` lines: about
    READ_TARGET_LINES lines of that length, within FIRST_READ_BYTES..chunk_bytes."""
    lines_bytes = size * READ_TARGET_LINES // max(lines, 1)
    return min(chunk_bytes, max(FIRST_READ_BYTES, lines_bytes))


def read_jsonl(
    src: Source,
    shape: Shape | None,
    chunk_bytes: int,
    rejects: RejectLog,
    stats: ReadStats,
    progress: Callable[[int], None] | None,
    byte_range: ByteRange | None = None,
    start: tuple[int, int] | None = None,
    on_chunk: Callable[[int, int, Shape], None] | None = None,
    max_line_bytes: int | None = None,
) -> Iterator[pa.RecordBatch]:
    if byte_range is not None and (src.stream or src.compression or start is not None):
        raise InputError(f"{src.name}: only a plain JSON Lines file can be read by byte range")
    offset, next_line = start if start is not None else (0, 1)
    max_line = max(max_line_bytes or MAX_LINE_BYTES, chunk_bytes)
    try:
        head = sample_record(src, shape) if not src.stream else None
        fh, counter = open_bytes(src, byte_range, offset)
        if not isinstance(fh, io.BufferedReader):  # decompressed: on a thread of its own, ahead
            fh = ReadAhead(fh)
    except OSError as e:
        raise InputError(f"{src.name}: cannot read: {e.strerror or e}") from None
    decoder = None
    win = _Window(chunk_bytes)  # the unfinished line at its start, then what was read after it
    # While a chunk is decoded, the next one is read into a second window on a thread of its own
    # (the read, a copy out of the page cache, was a sixth of this thread's time). Not from a pipe
    # or a URL: a read that waits for more input would hold up the end of a scan stopped early.
    read_ahead = not src.stream and not is_url(src.path)
    spare: _Window | None = None
    ahead: ThreadPoolExecutor | None = None
    pending: Future | None = None  # that read, under way
    skipping = False  # inside a line longer than max_line, which is rejected unread
    pos = offset  # decoded offset of the first byte of the window (a line start)
    read_pos = offset  # decoded offset of the end of what was read
    reported = 0
    want = min(chunk_bytes, FIRST_READ_BYTES)  # bytes to read next (`_read_size`)
    asked = want  # of the read that filled the window: fewer came only at the end of the input
    try:
        if src.compression and offset:  # a compressed stream cannot seek: decode and drop
            read_pos = 0
            while read_pos < offset:
                got, truncated = win.read(fh, min(chunk_bytes, offset - read_pos))
                win.end = 0
                read_pos += got
                if truncated is not None or not got:
                    return
        while True:
            if pending is not None:
                got, truncated = pending.result()
                pending = None
                assert spare is not None
                win, spare = spare, win
                new_at = win.end - got
            else:
                new_at = win.end
                asked = want
                got, truncated = win.read(fh, asked)
            stats.bytes_decoded += got
            if progress is not None:
                progress(counter.count - reported)
                reported = counter.count
            data_start = read_pos
            read_pos += got
            if data_start == 0 and (byte_range is None or byte_range.start == 0) and win.starts_with_bom(new_at):
                win.buf[new_at : new_at + 3] = 32  # a byte order mark: blanked, so offsets stay true
            last = truncated is not None or got < asked
            if skipping:  # the window held nothing before this read
                nl = win.find_newline(new_at)
                if nl < 0:
                    win.end = new_at
                else:
                    skipping = False
                    next_line += 1
                    pos = data_start + nl - new_at + 1
                    win.drop(nl + 1)
                    new_at = 0
            size = 0  # of the chunk of whole lines to decode: the window's first `size` bytes
            cut_off = None
            if skipping:
                pass
            elif last:
                size = win.end
                if size and win.buf[size - 1] != 10:
                    if truncated is not None:
                        # the line the stream was cut in is not a record we can trust
                        cut = win.last_newline(0) + 1
                        partial = bytes(win.buf[cut:size])
                        size = cut
                        if partial.strip():
                            cut_off = (
                                next_line + int(np.count_nonzero(win.buf[:cut] == 10)),
                                f"truncated file: last line cut off ({short_error(truncated)})",
                                partial,
                            )
                    else:
                        win.append_newline()
                        size += 1
            else:
                nl = win.last_newline(new_at)
                if nl >= 0:
                    size = nl + 1
                elif win.end > max_line:
                    stats.records_read += 1
                    rejects.add(
                        stats,
                        src.name,
                        next_line,
                        f"line too long: more than {max_line:,} bytes",
                        bytes(win.buf[:4096]),
                    )
                    win.end, skipping = 0, True
            if size:
                if read_ahead and not last:
                    if ahead is None:
                        ahead = ThreadPoolExecutor(1, thread_name_prefix="fastscan-read")
                        spare = _Window(chunk_bytes)
                    assert spare is not None
                    asked = want
                    pending = ahead.submit(spare.follow, win, size, fh, asked)
                chunk = win.view(size)
                if decoder is None or decoder.shape is NO_SHAPE:
                    first = head if head is not None else _first_record(bytes(chunk), shape)
                    if first is None and shape is None:
                        # nothing decodable yet: this chunk is rejected line by line, and the shape
                        # is looked for again in the next one
                        decoder = JsonlDecoder(src.name, NO_SHAPE, raw_schema(NO_SHAPE), rejects, stats)
                    else:
                        sh = shape or detect_shape_of(first, src.name)
                        decoder = JsonlDecoder(src.name, sh, raw_schema(sh, first), rejects, stats)
                yield from decoder.decode(chunk, next_line)  # batches copy what they keep
                del chunk
                if pending is None:
                    win.drop(size)
                next_line += decoder.newlines
                want = _read_size(size, decoder.newlines, chunk_bytes)
                pos += size
                if on_chunk is not None and not last and decoder.shape is not NO_SHAPE:
                    # every batch of this chunk has been consumed: a consistent place to resume
                    on_chunk(pos, next_line, decoder.shape)
            if cut_off is not None:
                stats.records_read += 1
                rejects.add(stats, src.name, *cut_off)
            if truncated is not None:
                rejects.file_error(src.name, next_line, f"truncated file: {short_error(truncated)}")
            if last:
                break
    finally:
        if ahead is not None:
            ahead.shutdown()  # a read under way ends before the file closes
        stats.bytes_read += counter.count
        if byte_range is not None:
            byte_range.lines = next_line - 1
        fh.close()
