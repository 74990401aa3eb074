"""Byte streams of an input: plain files, .gz and .zst, byte ranges of a plain file, and URLs
(through fsspec); a stream cut short says so (TruncatedInput) and keeps what it had."""

from __future__ import annotations

import gzip
import io
import queue
import sys
import threading
import zlib
from dataclasses import dataclass
from typing import Any

from isal.igzip import IGzipFile
from isal.isal_zlib import error as IsalError

from fastscan.errors import InputError
from fastscan.read.source import GZIP_MAGIC, ZSTD_MAGIC, Source

# what reading a damaged compressed stream raises (zlib's and ISA-L's inflate, gzip's framing)
DAMAGED: tuple[Any, ...] = (EOFError, zlib.error, IsalError, gzip.BadGzipFile)


@dataclass
class ByteRange:
    """The lines of a plain JSON Lines file that START in bytes [start, end).

    The line holding byte `start` belongs to the range before, unless start == 0 or byte
    start - 1 is a newline; the last line that starts before `end` is read to its newline. So
    ranges that tile a file read every line exactly once, whatever the split points. Lines are
    numbered from 1 within the range (in reject reports); after the read, `lines` holds the
    number of lines the range owned (its newlines), so a caller shifts the line numbers of a
    range by the sum of `lines` of the ranges before it. Only the range with start == 0
    counts the file in `ReadStats.files`; `bytes_read` counts the bytes the range owned.
    """

    start: int
    end: int
    lines: int = 0


class _CountingReader(io.RawIOBase):
    """Counts the bytes pulled from the underlying (compressed) file, for progress and stats."""

    def __init__(self, fh):
        self.fh = fh
        self.count = 0

    def readable(self):
        return True

    def readinto(self, b):
        n = self.fh.readinto(b)
        if n:
            self.count += n
        return n

    def close(self):
        self.fh.close()
        super().close()


def open_raw(path: str):
    """An unbuffered binary file: local paths directly, URLs through fsspec."""
    if is_url(path):
        return open_url(path)
    return open(path, "rb", buffering=0)


class _RangeReader(io.RawIOBase):
    """The bytes of the lines that start in [start, end) of a seekable file (see ByteRange)."""

    def __init__(self, fh, start: int, end: int):
        self.fh = fh
        self.start, self.end = start, end
        self.pos = -1  # file position of the next byte to return
        self.done = False

    def readable(self):
        return True

    def _begin(self) -> None:
        self.pos = 0
        if self.start > 0:
            # skip to just after the first newline at or after start - 1
            pos = self.start - 1
            self.fh.seek(pos)
            while True:
                block = self.fh.read(1 << 16)
                if not block:
                    self.pos, self.done = pos, True
                    return
                i = block.find(b"\n")
                if i >= 0:
                    pos += i + 1
                    break
                pos += len(block)
            self.fh.seek(pos)
            self.pos = pos
        if self.pos >= self.end:
            self.done = True

    def readinto(self, b):
        if self.pos < 0:
            self._begin()
        if self.done:
            return 0
        view = memoryview(b).cast("B")
        before_end = self.pos < self.end
        if before_end:
            view = view[: min(len(view), self.end - self.pos)]
        n = self.fh.readinto(view)
        if not n:
            self.done = True
            return 0
        if not before_end:
            # past `end` only to finish the line that started before it
            i = bytes(view[:n]).find(b"\n")
            if i >= 0:
                n = i + 1
                self.done = True
        elif self.pos + n == self.end and view[n - 1] == 10:
            self.done = True
        self.pos += n
        return n

    def close(self):
        self.fh.close()
        super().close()


class TruncatedInput(Exception):
    """The compressed stream ended before its end marker."""


def open_bytes(src: Source, byte_range: ByteRange | None = None, offset: int = 0, raw: Any = None):
    """(binary stream of decoded bytes, counter of raw bytes read); a plain file starts at `offset`.
    `raw`: the file's bytes as a binary file object, when they were fetched already."""
    if src.stream:  # stdin or a named pipe: opened once, its compression told by its first bytes
        try:
            raw = sys.stdin.buffer if src.path == "-" else open_raw(src.path)
        except OSError as e:
            raise InputError(f"{src.name}: cannot read: {e.strerror or e}") from None
        counter = _CountingReader(raw)
        buffered = io.BufferedReader(counter, 1 << 20)
        peek = buffered.peek(8)[:8]
        if peek.startswith((b"PAR1", b"ARROW1", b"\xff\xff\xff\xff")):
            buffered.close()
            raise InputError(f"{src.name}: Parquet or Arrow data cannot be read from a stream; write it to a file")
        comp = "gzip" if peek.startswith(GZIP_MAGIC) else "zstd" if peek.startswith(ZSTD_MAGIC) else ""
    else:
        raw = open_raw(src.path) if raw is None else raw
        if byte_range is not None:
            raw = _RangeReader(raw, byte_range.start, byte_range.end)
        elif offset and not src.compression:
            raw.seek(offset)
        counter = _CountingReader(raw)
        buffered = io.BufferedReader(counter, 1 << 20)
        comp = src.compression
    if comp == "gzip":
        return _GzipStream(fileobj=buffered, mode="rb"), counter
    if comp == "zstd":
        return _ZstdStream(buffered), counter
    return buffered, counter


class _GzipStream(IGzipFile):
    """A gzip stream that closes the stream it reads (GzipFile leaves a given fileobj open).

    ISA-L's inflate (isal.igzip, the GzipFile interface over Intel's ISA-L): it decompresses a
    log about twice as fast as zlib's."""

    def close(self) -> None:
        inner: Any = self.fileobj
        try:
            super().close()
        finally:
            if inner is not None:
                inner.close()


class _ZstdStream:
    """A zstd stream that says when it was cut short (python-zstandard just stops).

    What a feed decompressed beyond the size asked for waits as a view of its output
    (`_pending`), each read taking its share from the front: cutting the rest off as a copy at
    every read copied a feed's output about five times over (64 KiB reads of the 640 KB one 64 KiB
    feed gives: memmove was 15% of a `.zst` scan's samples, more than the decompression)."""

    def __init__(self, fh):
        import zstandard

        self._fh = fh
        self._d = zstandard.ZstdDecompressor().decompressobj()
        self._fed = False  # has the current frame's decompressor been given any input?
        self._pending: bytes | memoryview = b""
        self._eof = False

    def read(self, size: int) -> bytes:
        out = self.read_pieces(size)
        return out[0] if len(out) == 1 and isinstance(out[0], bytes) else b"".join(out)

    def read_pieces(self, size: int) -> list[bytes | memoryview]:
        """Up to `size` bytes as the pieces the decompressor gave them, not joined ([] at the
        end): ReadAhead hands them on as they are. On an error, what was read before it waits in
        `_pending` (joined), and the error is raised."""
        import zstandard

        take = self._pending[:size]
        self._pending = self._pending[len(take) :]
        out: list[bytes | memoryview] = [take] if len(take) else []
        have = len(take)
        while have < size and not self._eof:
            # small feeds: each one's output is still in the cache when it is joined (1 MiB feeds
            # decompressed at a third of the speed)
            data = self._fh.read(1 << 16)
            if not data:
                self._eof = True
                if self._fed and not self._d.eof:
                    self._pending = b"".join(out)
                    raise TruncatedInput("zstd stream ends before its end marker")
                break
            self._fed = True
            try:
                chunk = self._d.decompress(data)
            except zstandard.ZstdError as e:
                self._pending = b"".join(out)
                raise TruncatedInput(f"zstd: {e}") from None
            while self._d.eof:  # several concatenated frames
                rest = self._d.unused_data
                self._d = zstandard.ZstdDecompressor().decompressobj()
                self._fed = bool(rest)
                if not rest:
                    break
                chunk += self._d.decompress(rest)
            if not chunk:
                continue
            if have + len(chunk) > size:  # the rest waits, a view of the output: no copy
                view = memoryview(chunk)
                out.append(view[: size - have])
                self._pending = view[size - have :]
                have = size
            else:
                out.append(chunk)
                have += len(chunk)
        return out

    def readinto(self, b) -> int:
        k = 0
        for piece in self.read_pieces(len(b)):  # each piece copied once, into b (no join first)
            b[k : k + len(piece)] = piece
            k += len(piece)
        return k

    def close(self):
        self._fh.close()


class ReadAhead:
    """A decompressing stream read on a thread of its own, up to about `ahead` bytes ahead of
    its reader, so that decompression overlaps decoding (zlib, ISA-L and zstd release the GIL).

    The thread reads the stream `STEP` bytes at a time, so that a cut in it loses at most the
    piece being decoded (a stream with `read_pieces`, which keeps what it read before a cut, a
    batch at a time), and hands them on in batches of about BATCH bytes. When a read fails,
    everything read before the failure is delivered first (a TruncatedInput's `_pending` bytes
    too), and then the error is raised by `readinto`.
    """

    STEP = 1 << 16
    BATCH = 1 << 20

    def __init__(self, inner, ahead: int = 16 << 20):
        self._inner = inner
        self._q: queue.Queue = queue.Queue(maxsize=max(1, ahead // self.BATCH))
        self._stop = threading.Event()
        self._piece = memoryview(b"")
        self._pieces: list[bytes | memoryview] = []
        self._error: BaseException | None = None
        self._done = False
        self._thread = threading.Thread(target=self._run, name="fastscan-decompress", daemon=True)
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        batch: list[bytes | memoryview] = []
        have = 0
        # a stream that keeps what it read before an error (_ZstdStream) is read a batch at a
        # time, in the pieces it gives: the zstd bench log's stream alone 2.34 -> 1.79 CPU-s
        pieces = getattr(self._inner, "read_pieces", None)
        try:
            while not self._stop.is_set():
                got = pieces(self.BATCH - have) if pieces is not None else [self._inner.read(self.STEP)]
                if not got or not len(got[0]):
                    break
                batch += got
                have += sum(len(p) for p in got)
                if have >= self.BATCH:
                    if not self._put((batch, None)):
                        return
                    batch, have = [], 0
        except BaseException as e:  # handed to the reader, after what was read before it
            pending = getattr(self._inner, "_pending", b"")
            if isinstance(e, TruncatedInput) and pending:
                batch.append(pending)
                self._inner._pending = b""
            self._put((batch, e))
            return
        self._put((batch, None))
        self._put(None)  # the end

    def readinto(self, b) -> int:
        """Up to len(b) bytes into b; 0 at the end; the stream's error once all before it is given."""
        while not len(self._piece):
            if self._pieces:
                self._piece = memoryview(self._pieces.pop())
                continue
            if self._error is not None:
                err, self._error = self._error, None
                raise err
            if self._done:
                return 0
            item = self._q.get()
            if item is None:
                self._done = True
                continue
            batch, self._error = item
            self._pieces = batch[::-1]
        k = min(len(b), len(self._piece))
        b[:k] = self._piece[:k]
        self._piece = self._piece[k:]
        return k

    def close(self) -> None:
        self._stop.set()
        # a thread waiting on a slow pipe is not waited for long: it stops at its next piece
        self._thread.join(timeout=1.0)
        self._inner.close()


# --------------------------------------------------------------------------- JSON Lines


def short_error(e: Exception) -> str:
    return str(e).strip() or type(e).__name__


def is_url(path: str) -> bool:
    """True for "protocol://..." (a Windows drive letter "C:\\..." is not a URL)."""
    head, sep, _ = path.partition("://")
    return bool(sep) and len(head) > 1 and head.replace("+", "").replace("-", "").isalnum()


def _fs(url: str):
    try:
        import fsspec
    except ImportError:
        raise InputError(f"{url}: reading a URL needs fsspec: pip install 'fastscan[dask]'") from None
    try:
        return fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as e:
        # an unknown protocol, or one whose backend (s3fs, gcsfs, ...) is not installed
        raise InputError(f"{url}: cannot open this URL: {e}") from None


def expand_url(url: str, is_log_file) -> list[tuple[str, int]]:
    """(url, size) of every file a URL names: one file, every log file below a folder (sorted),
    or the files a glob matches (sorted). Raises InputError when nothing is there."""
    fs, path = _fs(url)
    try:
        if any(ch in path for ch in "*?["):
            found = sorted(fs.glob(path, detail=True).items())
            files = [(p, info) for p, info in found if info.get("type") == "file"]
            if not files:
                raise InputError(f"{url}: no file matches this pattern")
        elif fs.isdir(path):
            found = sorted(fs.find(path, detail=True).items())
            files = [(p, info) for p, info in found if info.get("type") == "file" and is_log_file(p)]
            if not files:
                raise InputError(f"{url}: folder holds no log files (.jsonl[.gz|.zst], .parquet, .arrow)")
        else:
            files = [(path, fs.info(path))]
    except FileNotFoundError:
        raise InputError(f"{url}: no such file") from None
    except PermissionError:
        raise InputError(f"{url}: permission denied") from None
    except OSError as e:
        raise InputError(f"{url}: cannot read: {e.strerror or e}") from None
    return [(fs.unstrip_protocol(p), int(info.get("size") or 0)) for p, info in files]


def open_url(url: str):
    """A seekable binary file object for `url` (the caller closes it)."""
    fs, path = _fs(url)
    try:
        return fs.open(path, "rb")
    except FileNotFoundError:
        raise InputError(f"{url}: no such file") from None
    except PermissionError:
        raise InputError(f"{url}: permission denied") from None
