"""Streaming readers: request logs in, canonical RecordBatches out, bad records set aside.

JSON Lines (plain, .gz, .zst) is read in byte chunks finished at a newline and decoded in bulk by
`pyarrow.json` against the raw schema of the log's shape; no Python object per record. When the
bulk decoder refuses a chunk (a malformed line, a wrong type, invalid UTF-8), the chunk is split in
halves until the bad lines are isolated, and only those small pieces are decoded one record at a
time, so every bad record is rejected with its file, line and reason and every good one is kept.
Arrow IPC (file and stream) and Parquet are read batch by batch.

Memory is bounded by the chunk size (plus the decoded batch), never by the file size.

A plain (uncompressed) JSON Lines file can also be read in byte ranges (`ByteRange`), so several
workers share one large file; inputs named by URL (file://, s3://, ...) are read through fsspec.
"""
from __future__ import annotations

import glob
import gzip
import io
import os
import stat
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.json as pajson

from .buffers import validity
from .errors import InputError, SchemaError
from .remote import expand_url, is_url, open_url
from .schema import (CANONICAL, RecordCoercer, Rejected, Shape, _to_array, detect_shape, extract, normalize,
                     raw_schema, rows_to_columns)

__all__ = ["Source", "ByteRange", "expand_sources", "read_source", "RejectLog", "ReadStats",
           "DEFAULT_CHUNK_BYTES"]

DEFAULT_CHUNK_BYTES = 16 << 20
MAX_LINE_BYTES = 1 << 30         # a longer line is rejected unread, so memory stays bounded
_BLOCK_BYTES = 1 << 20          # pyarrow.json block size (see _JsonlDecoder._bulk)
_SMALL_PIECE_LINES = 32          # below this many lines a refused piece is decoded line by line
_MAX_REFUSED_RUNS = 64           # more runs of lines the fast decoder refuses: Arrow decodes the chunk
_JSON_EXT = (".jsonl", ".ndjson", ".json", ".log", ".txt")
_PARQUET_EXT = (".parquet", ".pq")
_ARROW_EXT = (".arrow", ".feather", ".ipc", ".arrows")
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@dataclass(frozen=True)
class Source:
    """One input: a path (or "-" for stdin) and its format."""
    path: str
    fmt: str            # "jsonl", "parquet", "arrow"
    compression: str    # "", "gzip", "zstd"
    size: int           # bytes on disk (0 for stdin)

    @property
    def name(self) -> str:
        return "<stdin>" if self.path == "-" else self.path


@dataclass
class ReadStats:
    """Counts a read keeps; `records_read == records_scored + records_rejected` always."""
    files: int = 0
    bytes_read: int = 0          # bytes of input consumed (compressed size for .gz/.zst)
    bytes_decoded: int = 0       # bytes of JSON (or Arrow) after decompression
    records_read: int = 0
    records_scored: int = 0
    records_rejected: int = 0
    rejected_by_reason: dict = field(default_factory=dict)

    def merge(self, other: "ReadStats") -> None:
        for k in ("files", "bytes_read", "bytes_decoded", "records_read", "records_scored", "records_rejected"):
            setattr(self, k, getattr(self, k) + getattr(other, k))
        for k, v in other.rejected_by_reason.items():
            self.rejected_by_reason[k] = self.rejected_by_reason.get(k, 0) + v


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


def _reason_key(reason: str) -> str:
    """The kind of a reason, for counting (the text before the first colon)."""
    return reason.split(":", 1)[0].strip()


class RejectLog:
    """Where rejected records go: counted by reason, the first few kept as examples, and all of
    them optionally written to a JSON Lines reject file (created readable by its owner only)."""

    def __init__(self, path: str | os.PathLike | None = None, keep_examples: int = 20, *,
                 resume_at: int | None = None):
        """`resume_at`: continue an existing reject file cut back to that many bytes (a resumed
        scan drops what it wrote after its last checkpoint, then writes those records again)."""
        self.path = os.fspath(path) if path is not None else None
        self.keep_examples = keep_examples
        self.examples: list[dict] = []
        self.count = 0
        self.file_errors: list[dict] = []    # problems that are not one record (a cut-off stream)
        self._fh = None
        if self.path is not None:
            flags = os.O_WRONLY | os.O_CREAT | (0 if resume_at is not None else os.O_TRUNC)
            fd = os.open(self.path, flags, 0o600)
            os.fchmod(fd, 0o600)
            if resume_at is not None:
                os.ftruncate(fd, min(resume_at, os.fstat(fd).st_size))
                os.lseek(fd, 0, os.SEEK_END)
            self._fh = os.fdopen(fd, "wb")

    def flush(self) -> None:
        if self._fh is not None:
            self._fh.flush()

    def tell(self) -> int:
        return self._fh.tell() if self._fh is not None else 0

    def add(self, stats: ReadStats, source: str, line: int, reason: str, raw: bytes | None) -> None:
        stats.records_rejected += 1
        key = _reason_key(reason)
        stats.rejected_by_reason[key] = stats.rejected_by_reason.get(key, 0) + 1
        self.count += 1
        entry = {"file": source, "line": line, "reason": reason}
        if len(self.examples) < self.keep_examples:
            self.examples.append(entry)
        if self._fh is not None:
            rec = dict(entry)
            if raw is not None:
                rec["record"] = raw.decode("utf-8", errors="backslashreplace")
            self._fh.write(orjson.dumps(rec) + b"\n")

    def file_error(self, source: str, line: int, reason: str) -> None:
        self.file_errors.append({"file": source, "line": line, "reason": reason})

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


# --------------------------------------------------------------------------- sources

def _sniff(path: str) -> tuple[str, str]:
    low = path.lower()
    comp = ""
    base = low
    if low.endswith(".gz"):
        comp, base = "gzip", low[:-3]
    elif low.endswith(".zst") or low.endswith(".zstd"):
        comp, base = "zstd", low.rsplit(".", 1)[0]
    if base.endswith(_PARQUET_EXT):
        return "parquet", comp
    if base.endswith(_ARROW_EXT):
        return "arrow", comp
    if base.endswith(_JSON_EXT):
        return "jsonl", comp
    try:
        with _open_raw(path) as fh:
            head = fh.read(8)
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from None
    if head.startswith(b"PAR1"):
        return "parquet", ""
    if head.startswith(b"ARROW1") or head.startswith(b"\xff\xff\xff\xff"):
        return "arrow", ""
    if head.startswith(_GZIP_MAGIC):
        return "jsonl", "gzip"
    if head.startswith(_ZSTD_MAGIC):
        return "jsonl", "zstd"
    return "jsonl", comp


def _is_log_file(path: str) -> bool:
    low = path.lower()
    for comp in ("", ".gz", ".zst", ".zstd"):
        if comp and not low.endswith(comp):
            continue
        base = low[: len(low) - len(comp)] if comp else low
        if base.endswith(_JSON_EXT + _PARQUET_EXT + _ARROW_EXT):
            return True
    return False


def expand_sources(paths) -> list[Source]:
    """Files, folders (every log file below, sorted) and globs -> Sources, in a stable order.

    Raises InputError naming the first path that does not exist or cannot be read.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out: list[Source] = []
    for p in paths:
        p = os.fspath(p)
        if p == "-":
            out.append(Source("-", "jsonl", "", 0))
            continue
        if is_url(p):
            for url, size in expand_url(p, _is_log_file):
                fmt, comp = _sniff(url)
                out.append(Source(url, fmt, comp, size))
            continue
        if any(ch in p for ch in "*?[") and not os.path.exists(p):
            matches = sorted(glob.glob(p, recursive=True))
            if not matches:
                raise InputError(f"{p}: no file matches this pattern")
            files = [m for m in matches if os.path.isfile(m)]
        elif os.path.isdir(p):
            files = sorted(str(f) for f in Path(p).rglob("*") if f.is_file() and _is_log_file(str(f)))
            if not files:
                raise InputError(f"{p}: folder holds no log files (.jsonl[.gz|.zst], .parquet, .arrow)")
        else:
            files = [p]
        for f in files:
            try:
                st = os.stat(f)
            except FileNotFoundError:
                raise InputError(f"{f}: no such file") from None
            except OSError as e:
                raise InputError(f"{f}: cannot read: {e.strerror or e}") from None
            if not stat.S_ISREG(st.st_mode) and not stat.S_ISFIFO(st.st_mode):
                raise InputError(f"{f}: not a regular file")
            if not os.access(f, os.R_OK):
                raise InputError(f"{f}: permission denied")
            fmt, comp = _sniff(f)
            out.append(Source(f, fmt, comp, st.st_size))
    return out


# --------------------------------------------------------------------------- byte streams

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


def _open_raw(path: str):
    """An unbuffered binary file: local paths directly, URLs through fsspec."""
    if is_url(path):
        return open_url(path)
    return open(path, "rb", buffering=0)


class _RangeReader(io.RawIOBase):
    """The bytes of the lines that start in [start, end) of a seekable file (see ByteRange)."""

    def __init__(self, fh, start: int, end: int):
        self.fh = fh
        self.start, self.end = start, end
        self.pos = -1        # file position of the next byte to return
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
            view = view[:min(len(view), self.end - self.pos)]
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


def _open_bytes(src: Source, byte_range: ByteRange | None = None, offset: int = 0):
    """(binary stream of decoded bytes, counter of raw bytes read); a plain file starts at `offset`."""
    if src.path == "-":
        raw = sys.stdin.buffer
        peek = raw.peek(4)[:4] if hasattr(raw, "peek") else b""
        counter = _CountingReader(raw)
        buffered = io.BufferedReader(counter, 1 << 20)
        comp = "gzip" if peek.startswith(_GZIP_MAGIC) else "zstd" if peek.startswith(_ZSTD_MAGIC) else ""
    else:
        raw = _open_raw(src.path)
        if byte_range is not None:
            raw = _RangeReader(raw, byte_range.start, byte_range.end)
        elif offset and not src.compression:
            raw.seek(offset)
        counter = _CountingReader(raw)
        buffered = io.BufferedReader(counter, 1 << 20)
        comp = src.compression
    if comp == "gzip":
        return gzip.GzipFile(fileobj=buffered, mode="rb"), counter
    if comp == "zstd":
        import zstandard
        return _ZstdStream(buffered), counter
    return buffered, counter


class _ZstdStream:
    """A zstd stream that says when it was cut short (python-zstandard just stops)."""

    def __init__(self, fh):
        import zstandard
        self._fh = fh
        self._d = zstandard.ZstdDecompressor().decompressobj()
        self._fed = False       # has the current frame's decompressor been given any input?
        self._pending = b""
        self._eof = False

    def read(self, size: int) -> bytes:
        import zstandard
        out = [self._pending]
        have = len(self._pending)
        while have < size and not self._eof:
            data = self._fh.read(1 << 20)
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
            while self._d.eof:     # several concatenated frames
                rest = self._d.unused_data
                self._d = zstandard.ZstdDecompressor().decompressobj()
                self._fed = bool(rest)
                if not rest:
                    break
                chunk += self._d.decompress(rest)
            out.append(chunk)
            have += len(chunk)
        buf = b"".join(out)
        self._pending = buf[size:]
        return buf[:size]

    def close(self):
        self._fh.close()


# --------------------------------------------------------------------------- JSON Lines

def _line_bounds(chunk: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(starts, ends, line_index, lines) of the non-blank lines of a chunk that ends with a newline.

    line_index counts every line of the chunk, blank ones included, so file line numbers follow;
    `lines` is how many lines (newlines) the chunk has in all.
    """
    arr = np.frombuffer(chunk, dtype=np.uint8)
    nl = np.flatnonzero(arr == 10)
    ends = nl
    starts = np.empty_like(nl)
    if len(nl):
        starts[0] = 0
        starts[1:] = nl[:-1] + 1
    lengths = ends - starts
    nonblank = lengths > 0
    short = np.flatnonzero(nonblank & (lengths <= 16))
    for i in short:     # whitespace-only lines are blank too; only short lines can be cheap to check
        if not chunk[starts[i]:ends[i]].strip():
            nonblank[i] = False
    if len(nl) and (lengths > 16).any():
        # long whitespace-only lines are rare; check the first byte class only when needed
        first = arr[starts[lengths > 16]]
        ws = np.isin(first, (9, 13, 32))
        if ws.any():
            for i in np.flatnonzero(lengths > 16)[ws]:
                if not chunk[starts[i]:ends[i]].strip():
                    nonblank[i] = False
    idx = np.flatnonzero(nonblank)
    return starts[idx], ends[idx], idx, len(nl)


class _JsonlDecoder:
    """Decodes chunks of one JSON Lines file into canonical batches, isolating bad lines."""

    def __init__(self, source: str, shape: Shape, schema: pa.Schema, rejects: RejectLog, stats: ReadStats):
        self.source = source
        self.shape = shape
        self.schema = schema
        self.rejects = rejects
        self.stats = stats
        self.coercer = RecordCoercer(shape, schema)
        self._plan = None       # the flat decoder's plan, made at first use (see _flat_plan)
        self.parse_options = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
        # Completions are often most of a log's bytes but only needed to estimate the tokens of
        # records that lack completion_tokens. When both are top-level keys, chunks are decoded
        # without the completion, and it is decoded afterwards for just the records lacking a count.
        c_path, ct_path = shape.paths.get("completion"), shape.paths.get("completion_tokens")
        self.lean = (c_path is not None and ct_path is not None and len(c_path) == 1 and len(ct_path) == 1
                     and c_path[0] in schema.names and ct_path[0] in schema.names
                     and sum(1 for p in shape.paths.values() if p[0] == c_path[0]) == 1
                     and not (shape.messages and shape.messages[0] == c_path[0]))
        if self.lean:
            self.c_name, self.ct_name = c_path[0], ct_path[0]
            self.lean_options = pajson.ParseOptions(
                explicit_schema=pa.schema([f for f in schema if f.name != self.c_name]),
                unexpected_field_behavior="ignore")
            self.completion_options = pajson.ParseOptions(
                explicit_schema=pa.schema([schema.field(self.c_name)]), unexpected_field_behavior="ignore")
        # what a chunk's lines are decoded with (by the flat decoder or by Arrow)
        self.decode_options = self.lean_options if self.lean else self.parse_options

    def _flat(self, chunk: bytes, starts: np.ndarray, ends: np.ndarray):
        """(raw table of the lines it took, bool mask of the lines it refused) by the strict
        flat-object decoder (kernels/jsonl.py), which refuses a line it cannot decode exactly as
        Arrow would; None when the decode schema is not one it decodes."""
        if self._plan is None:
            self._plan = self._flat_plan()
        plan = self._plan
        if not plan:
            return None
        from .kernels import jsonl
        from .parallel import map_ordered, row_ranges
        schema = self.decode_options.explicit_schema
        names_off, names_data, ftypes = plan
        n, nf = len(starts), len(ftypes)
        data = np.frombuffer(chunk, dtype=np.uint8)
        words = data[:len(data) // 8 * 8].view(np.uint64)
        if words.ctypes.data % 8:         # the word view must start at byte 0 of an 8-aligned buffer
            data = np.frombuffer(bytearray(chunk), dtype=np.uint8)   # (bytes objects normally are)
            words = data[:len(data) // 8 * 8].view(np.uint64)
        valid = np.empty((n, nf), dtype=np.bool_)
        ivals = np.zeros((n, nf), dtype=np.int64)
        fvals = np.zeros((n, nf), dtype=np.float64)
        text_end = np.zeros((n, nf), dtype=np.int64)
        starts, ends = starts.astype(np.int64), ends.astype(np.int64)
        refused = np.zeros(n, dtype=np.bool_)
        has_text = ftypes == jsonl.T_STRING
        slots = np.where(has_text, np.cumsum(has_text) - 1, -1).astype(np.int64)

        def part(r):
            lo, hi = r
            # decoded strings are never longer than their JSON: the part's bytes bound each field
            span = int(ends[hi - 1] - starts[lo]) if hi > lo else 0
            text = np.empty((int(has_text.sum()), span), dtype=np.uint8)
            res = jsonl.scan_flat(data, words, starts[lo:hi], ends[lo:hi], names_off, names_data, ftypes, slots,
                                  valid[lo:hi], ivals[lo:hi], fvals[lo:hi], text, text_end[lo:hi],
                                  refused[lo:hi])
            return res, text

        ranges = row_ranges(n)
        parts = map_ordered(part, ranges)
        if sum(res for res, _ in parts) == n:
            return pa.table({}).slice(0, 0), refused
        texts = {}
        for f in np.flatnonzero(has_text):
            bufs, offs, base = [], [np.zeros(1, dtype=np.int64)], 0
            for (lo, hi), (_, text) in zip(ranges, parts):
                used = int(text_end[hi - 1, f]) if hi > lo else 0
                bufs.append(text[slots[f], :used])
                offs.append(text_end[lo:hi, f] + base)
                base += used
            if base >= 1 << 31:
                return None
            texts[f] = (np.concatenate(offs).astype(np.int32), np.concatenate(bufs))
        del parts
        arrays = []
        for f, fld in enumerate(schema):
            ok = np.ascontiguousarray(valid[:, f])
            mask = None if ok.all() else pa.py_buffer(np.packbits(ok, bitorder="little"))
            t = ftypes[f]
            if t == jsonl.T_STRING:
                off, buf = texts[f]
                arr = pa.StringArray.from_buffers(n, pa.py_buffer(off), pa.py_buffer(buf), mask)
            elif t == jsonl.T_BOOL:
                arr = pa.array(np.ascontiguousarray(ivals[:, f]) != 0, pa.bool_(), mask=~ok)
            else:
                values, typ = (ivals, pa.int64()) if t == jsonl.T_INT else (fvals, pa.float64())
                arr = pa.Array.from_buffers(typ, n, [mask, pa.py_buffer(np.ascontiguousarray(values[:, f]))])
            arrays.append(arr)
        table = pa.Table.from_arrays(arrays, schema=schema)
        if refused.any():
            table = table.filter(pa.array(~refused))
        return table, refused

    def _flat_plan(self):
        """(names_off, names_data, ftypes) when every field of the decode schema is a top-level
        string, int64, float64 or bool (kernels/jsonl.py decodes those), else ()."""
        from .kernels import jsonl
        codes = {pa.string(): jsonl.T_STRING, pa.int64(): jsonl.T_INT, pa.float64(): jsonl.T_FLOAT,
                 pa.bool_(): jsonl.T_BOOL}
        schema = self.decode_options.explicit_schema
        if self.shape.messages is not None or not all(f.type in codes for f in schema):
            return ()
        names = [f.name.encode() for f in schema]
        off = np.zeros(len(names) + 1, dtype=np.int64)
        np.cumsum([len(x) for x in names], out=off[1:])
        return (off, np.frombuffer(b"".join(names), dtype=np.uint8).copy(),
                np.array([codes[f.type] for f in schema], dtype=np.int8))

    def _bulk(self, piece: bytes, n_lines: int, longest: int = 0, options=None):
        """Raw table of a piece, or None when the bulk decoder refuses it.

        Blocks of about 1 MiB (but always longer than the longest line, which must fit in one)
        decode faster than one big block even on one thread, and in parallel on several.
        """
        try:
            table = pajson.read_json(pa.BufferReader(piece), read_options=pajson.ReadOptions(
                use_threads=True, block_size=max(_BLOCK_BYTES, longest + 2)),
                parse_options=self.parse_options if options is None else options)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError, OverflowError):
            return None
        if table.num_rows != n_lines:   # e.g. two objects on one line
            return None
        return table

    def decode(self, chunk: bytes, first_line: int) -> list[pa.RecordBatch]:
        starts, ends, line_idx, self.newlines = _line_bounds(chunk)
        self.stats.records_read += len(starts)
        out: list[pa.RecordBatch] = []
        self._rejected: list[tuple] = []
        bad = _invalid_utf8_lines(chunk, starts, ends)
        if bad is not None:
            for i in np.flatnonzero(bad):
                raw = chunk[starts[i]:ends[i]]
                self._reject(int(line_idx[i] + first_line), _json_reason(raw, None), raw)
            starts, ends, line_idx = starts[~bad], ends[~bad], line_idx[~bad]
        obj = _object_lines(chunk, starts, ends)
        if not obj.all():
            # a line that is not an object never reaches the bulk decoder: pyarrow 26 crashes
            # (SIGSEGV) on a block whose first value is `null`, and reads a `null` line elsewhere
            # as an empty record
            self._one_by_one(chunk, starts[~obj], ends[~obj], line_idx[~obj] + first_line, out)
            starts, ends, line_idx = starts[obj], ends[obj], line_idx[obj]
        if len(starts):
            self._decode_range(chunk, starts, ends, line_idx + first_line, out)
        # in line order, whichever path found them, so the reject file does not depend on chunking
        for line, reason, raw in sorted(self._rejected, key=lambda r: r[0]):
            self.rejects.add(self.stats, self.source, line, reason, raw)
        self._rejected = []
        return out

    def _reject(self, line: int, reason: str, raw: bytes | None) -> None:
        self._rejected.append((line, reason, raw))

    def _decode_range(self, chunk, starts, ends, lines, out):
        got = self._flat(chunk, starts, ends)
        if got is None:
            self._decode_arrow(chunk, starts, ends, lines, out)
            return
        table, refused = got
        if not refused.any():
            self._decoded(table, chunk, starts, ends, lines, out)
            return
        # runs of taken and refused lines, in line order (so batches keep the file's order); the
        # refused ones go to Arrow (and from there to the one-by-one path). When they are many,
        # Arrow takes the whole range, as it would without the fast decoder.
        cuts = np.flatnonzero(refused[1:] != refused[:-1]) + 1
        if len(cuts) > _MAX_REFUSED_RUNS:
            self._decode_arrow(chunk, starts, ends, lines, out)
            return
        taken = 0
        for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(refused)]):
            if refused[a]:
                self._decode_arrow(chunk, starts[a:b], ends[a:b], lines[a:b], out)
            else:
                self._decoded(table.slice(taken, b - a), chunk, starts[a:b], ends[a:b], lines[a:b], out)
                taken += b - a

    def _decoded(self, table, chunk, starts, ends, lines, out):
        """Emit a raw table decoded from these lines (the completion added where it is needed)."""
        if self.lean:
            longest = int((ends - starts).max())
            table, keep = self._with_completion(table, chunk, starts, ends, lines, longest)
            if keep is not None:
                starts, ends, lines = starts[keep], ends[keep], lines[keep]
            if table.num_rows == 0:
                return
        self._emit(extract(table, self.shape), lines, out, chunk, starts, ends)

    def _decode_arrow(self, chunk, starts, ends, lines, out):
        n = len(starts)
        piece = memoryview(chunk)[starts[0]:ends[-1] + 1]     # no copy: pyarrow reads the view
        longest = int((ends - starts).max())
        table = self._bulk(piece, n, longest, self.decode_options)
        if table is not None:
            self._decoded(table, chunk, starts, ends, lines, out)
            return
        if n <= _SMALL_PIECE_LINES:
            self._one_by_one(chunk, starts, ends, lines, out)
            return
        h = n // 2
        self._decode_arrow(chunk, starts[:h], ends[:h], lines[:h], out)
        self._decode_arrow(chunk, starts[h:], ends[h:], lines[h:], out)

    def _with_completion(self, table, chunk, starts, ends, lines, longest):
        """(table + the completion column, keep mask or None): the completion decoded only for the
        records without completion_tokens; one of those whose completion is not text is rejected."""
        n = table.num_rows
        need = ~validity(table.column(self.ct_name))
        field = pa.field(self.c_name, pa.string())
        if not need.any():
            return table.append_column(field, pa.nulls(n, pa.string())), None
        idx = np.flatnonzero(need)
        sub = b"\n".join([chunk[starts[i]:ends[i]] for i in idx]) + b"\n"
        part = self._bulk(sub, len(idx), longest, self.completion_options)
        keep = None
        if part is not None:
            values = _to_array(part.column(self.c_name))
        else:    # some completion is not a string: judge each like the one-record path does
            keep = np.ones(n, dtype=np.bool_)
            texts = []
            for i in idx:
                raw = chunk[starts[i]:ends[i]]
                try:
                    texts.append(self.coercer._coerce("completion", orjson.loads(raw).get(self.c_name)))
                except Rejected as e:
                    self._reject(int(lines[i]), str(e), raw)
                    keep[i] = False
                    texts.append(None)
                except orjson.JSONDecodeError as e:
                    # nesting orjson refuses: the one-by-one path tries Arrow on the whole line,
                    # which refuses a completion that is not text, and rejects it with this reason
                    self._reject(int(lines[i]), _json_reason(raw, e), raw)
                    keep[i] = False
                    texts.append(None)
            values = pa.array(texts, pa.string())
        pos = np.full(n, -1, dtype=np.int64)
        pos[idx] = np.arange(len(idx))
        table = table.append_column(field, values.take(pa.array(pos, mask=pos < 0)))
        if keep is not None:
            table = table.filter(pa.array(keep))
        return table, keep

    def _one_by_one(self, chunk, starts, ends, lines, out):
        rows, row_lines, row_idx = [], [], []
        for i in range(len(starts)):
            raw = chunk[starts[i]:ends[i]]
            try:
                rec = orjson.loads(raw)
            except orjson.JSONDecodeError as e:
                # orjson refuses some lines the bulk decoder takes (nesting deeper than 1024 in a
                # field nobody reads, integers beyond 64 bits there): a line must get the same
                # verdict whichever path it takes, or the chunk size would change the report
                table = None
                if self.shape is not _NO_SHAPE and raw.lstrip().startswith(b"{"):
                    # exactly what the bulk path does with this line alone (lean schema included)
                    table = self._bulk(raw + b"\n", 1, len(raw), self.decode_options)
                if table is not None:
                    one = slice(i, i + 1)
                    if self.lean:
                        table, _ = self._with_completion(table, chunk, starts[one], ends[one], lines[one], len(raw))
                        if table.num_rows == 0:
                            continue
                    self._emit(extract(table, self.shape), lines[one], out, chunk, starts[one], ends[one])
                    continue
                self._reject(int(lines[i]), _json_reason(raw, e), raw)
                continue
            try:
                rows.append(self.coercer.row(rec))
            except Rejected as e:
                self._reject(int(lines[i]), str(e), raw)
                continue
            row_lines.append(lines[i])
            row_idx.append(i)
        if rows:
            idx = np.asarray(row_idx)
            self._emit(rows_to_columns(rows, self.shape), np.asarray(row_lines), out, chunk,
                       starts[idx], ends[idx])

    def _emit(self, cols, lines, out, chunk, starts, ends):
        batch, keep, reasons = normalize(cols, self.shape)
        for row, reason in reasons:
            self._reject(int(lines[row]), reason, chunk[starts[row]:ends[row]])
        if batch.num_rows:
            self.stats.records_scored += batch.num_rows
            out.append(batch)


def _object_lines(chunk: bytes, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """bool mask of the lines whose first non-blank byte is `{`."""
    arr = np.frombuffer(chunk, dtype=np.uint8)
    first = arr[starts] if len(starts) else np.zeros(0, dtype=np.uint8)
    obj = first == 123
    for i in np.flatnonzero(np.isin(first, (9, 11, 12, 13, 32))):   # leading blanks: look past them
        obj[i] = chunk[starts[i]:ends[i]].lstrip().startswith(b"{")
    return obj


def _valid_utf8(chunk: bytes) -> bool:
    """Whether `chunk` is valid UTF-8: Arrow's validator, an order of magnitude faster than
    bytes.decode, and it builds no str (Python's codec rules: no surrogates, no overlongs)."""
    arr = pa.LargeStringArray.from_buffers(1, pa.py_buffer(np.array([0, len(chunk)], dtype=np.int64)),
                                           pa.py_buffer(chunk))
    try:
        arr.validate(full=True)
        return True
    except pa.ArrowInvalid:
        return False


def _invalid_utf8_lines(chunk: bytes, starts: np.ndarray, ends: np.ndarray) -> np.ndarray | None:
    """bool mask of the lines holding invalid UTF-8 (the bulk JSON decoder does not check), or None.

    Linear in the chunk whatever the number of bad lines: blocks of lines are checked whole and
    only a failing block line by line (one re-decode of the rest per bad line was quadratic).
    """
    if _valid_utf8(chunk):
        return None
    bad = np.zeros(len(starts), dtype=np.bool_)
    mv = memoryview(chunk)
    i0 = 0
    block = 256
    for b0 in range(i0, len(starts), block):
        b1 = min(len(starts), b0 + block)
        try:
            str(mv[starts[b0]:ends[b1 - 1]], "utf-8")
            continue
        except UnicodeDecodeError:
            pass
        for i in range(b0, b1):
            try:
                str(mv[starts[i]:ends[i]], "utf-8")
            except UnicodeDecodeError:
                bad[i] = True
    return bad


def _json_reason(raw: bytes, err: Exception | None) -> str:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as u:
        return f"invalid UTF-8: byte {u.start}"
    msg = str(err).split(":", 1)[0]
    return f"malformed JSON: {msg}"


def _first_record(chunk: bytes):
    """The first record of the chunk whose log shape is known, else the first object (whose
    shape is then reported unknown), else None: a line that is not an object (`5`, `null`)
    is a bad record, not a reason to stop reading the file."""
    first_obj = None
    for line in chunk.split(b"\n"):
        got = _object_of(line)
        if got is None:
            continue
        rec, known = got
        if known:
            return rec
        if first_obj is None:
            first_obj = rec
    return first_obj


def _object_of(line: bytes):
    """(record, its shape is known) for a line holding a JSON object, else None."""
    if not line.strip():
        return None
    try:
        rec = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(rec, dict):
        return None
    try:
        detect_shape(rec)
        return rec, True
    except SchemaError:
        return rec, False


def _head_record(src: Source, chunk_bytes: int):
    """The record a whole-file read takes the log's shape and raw schema from, so every byte range
    of a file decodes exactly as the whole file: in the first chunk that holds an object (a line
    belongs to the chunk of its newline's position // chunk_bytes), the first object of known
    shape, else the first object (see _first_record); None if the file holds no object."""
    pos = 0
    group = None
    first_obj = None
    with io.BufferedReader(_open_raw(src.path), 1 << 16) as fh:
        for line in fh:
            begin = pos
            pos += len(line)
            ended = line.endswith(b"\n")
            g = (pos - 1) // chunk_bytes if ended else -1
            if first_obj is not None and g != group:
                return first_obj
            body = line[:-1] if ended else line
            if begin == 0 and body.startswith(b"\xef\xbb\xbf"):
                body = body[3:]
            got = _object_of(body)
            if got is None:
                continue
            rec, known = got
            if known:
                return rec
            if first_obj is None:
                first_obj, group = rec, g
    return first_obj


def _read_jsonl(src: Source, shape: Shape | None, chunk_bytes: int, rejects: RejectLog,
                stats: ReadStats, progress: Callable[[int], None] | None,
                byte_range: ByteRange | None = None, start: tuple[int, int] | None = None,
                on_chunk: Callable[[int, int, Shape], None] | None = None,
                max_line_bytes: int | None = None) -> Iterator[pa.RecordBatch]:
    if byte_range is not None and (src.path == "-" or src.compression or start is not None):
        raise InputError(f"{src.name}: only a plain JSON Lines file can be read by byte range")
    offset, next_line = start if start is not None else (0, 1)
    max_line = max(max_line_bytes or MAX_LINE_BYTES, chunk_bytes)
    try:
        head = _head_record(src, chunk_bytes) if byte_range is not None else None
        fh, counter = _open_bytes(src, byte_range, offset)
    except OSError as e:
        raise InputError(f"{src.name}: cannot read: {e.strerror or e}") from None
    decoder = None
    carry: list[bytes] = []     # the start of a line that has not ended yet
    carry_len = 0
    skipping = False            # inside a line longer than max_line, which is rejected unread
    pos = offset                # decoded offset of the first byte of `carry` (a line start)
    read_pos = offset           # decoded offset of the end of what was read
    reported = 0
    try:
        if src.compression and offset:   # a compressed stream cannot seek: decode and drop
            read_pos = 0
            while read_pos < offset:
                data, truncated = _read_chunk(fh, min(chunk_bytes, offset - read_pos))
                read_pos += len(data)
                if truncated is not None or not data:
                    return
        while True:
            data, truncated = _read_chunk(fh, chunk_bytes)
            stats.bytes_decoded += len(data)
            if progress is not None:
                progress(counter.count - reported)
                reported = counter.count
            data_start = read_pos
            read_pos += len(data)
            if data_start == 0 and (byte_range is None or byte_range.start == 0) and data.startswith(b"\xef\xbb\xbf"):
                data = b"   " + data[3:]    # a byte order mark: blanked, so offsets stay true
            last = truncated is not None or len(data) < chunk_bytes
            if skipping:
                nl = data.find(b"\n")
                if nl < 0:
                    data = b""
                else:
                    skipping = False
                    next_line += 1
                    pos = data_start + nl + 1
                    data = data[nl + 1:]
            chunk = b""
            cut_off = None
            if skipping:
                pass
            elif last:
                chunk = b"".join(carry) + data
                carry, carry_len = [], 0
                if chunk and not chunk.endswith(b"\n"):
                    if truncated is not None:
                        # the line the stream was cut in is not a record we can trust
                        cut = chunk.rfind(b"\n") + 1
                        partial = chunk[cut:]
                        chunk = chunk[:cut]
                        if partial.strip():
                            cut_off = (next_line + chunk.count(b"\n"),
                                       f"truncated file: last line cut off ({_short(truncated)})", partial)
                    else:
                        chunk += b"\n"
            else:
                nl = data.rfind(b"\n")
                if nl < 0:
                    carry.append(data)
                    carry_len += len(data)
                    if carry_len > max_line:
                        stats.records_read += 1
                        rejects.add(stats, src.name, next_line,
                                    f"line too long: more than {max_line:,} bytes", b"".join(carry)[:4096])
                        carry, carry_len, skipping = [], 0, True
                else:
                    chunk = b"".join([*carry, memoryview(data)[:nl + 1]])   # one copy, not two
                    carry = [data[nl + 1:]]
                    carry_len = len(carry[0])
            if chunk:
                if decoder is None or decoder.shape is _NO_SHAPE:
                    first = head if byte_range is not None else _first_record(chunk)
                    if first is None and shape is None:
                        # nothing decodable yet: this chunk is rejected line by line, and the shape
                        # is looked for again in the next one
                        decoder = _JsonlDecoder(src.name, _NO_SHAPE, raw_schema(_NO_SHAPE), rejects, stats)
                    else:
                        sh = shape or _detect(first, src)
                        decoder = _JsonlDecoder(src.name, sh, raw_schema(sh, first), rejects, stats)
                for batch in decoder.decode(chunk, next_line):
                    yield batch
                next_line += decoder.newlines
                pos += len(chunk)
                if on_chunk is not None and not last and decoder.shape is not _NO_SHAPE:
                    # every batch of this chunk has been consumed: a consistent place to resume
                    on_chunk(pos, next_line, decoder.shape)
            if cut_off is not None:
                stats.records_read += 1
                rejects.add(stats, src.name, *cut_off)
            if truncated is not None:
                rejects.file_error(src.name, next_line, f"truncated file: {_short(truncated)}")
            if last:
                break
    finally:
        stats.bytes_read += counter.count
        if byte_range is not None:
            byte_range.lines = next_line - 1
        fh.close()


def _read_chunk(fh, size: int, head: bytes = b"") -> tuple[bytes, Exception | None]:
    """`head` + up to `size` decoded bytes, in pieces, so a stream cut short loses nothing it had."""
    pieces = [head]
    have = 0
    read = getattr(fh, "read1", None) or fh.read
    # a plain file is read in one call (one copy); a decompressed stream in pieces of 1 MiB, so
    # that a cut in it loses at most the piece being decoded
    step = size if isinstance(fh, io.BufferedReader) else 1 << 20
    while have < size:
        try:
            piece = read(min(step, size - have))
        except (EOFError, zlib.error, gzip.BadGzipFile, TruncatedInput, OSError) as e:
            if isinstance(e, TruncatedInput) and getattr(fh, "_pending", b""):
                pieces.append(fh._pending)
                fh._pending = b""
            return b"".join(pieces), e
        if not piece:
            break
        pieces.append(piece)
        have += len(piece)
    if len(pieces) == 2 and not head:
        return pieces[1], None
    return b"".join(pieces), None


def _short(e: Exception) -> str:
    return str(e).strip() or type(e).__name__


def _detect(first, src: Source) -> Shape:
    try:
        return detect_shape(first)
    except SchemaError as e:
        raise SchemaError(f"{src.name}: {e}") from None


# A shape for a file whose first chunk has no decodable record at all: every line is rejected
# one by one (the coercer needs some shape; account_id is all it checks before giving up).
_NO_SHAPE = Shape("unknown", {"account_id": ("account_id",), "prompt": ("prompt",)})


# --------------------------------------------------------------------------- Arrow and Parquet

def _detect_columns(names, shape: Shape | None, src: Source) -> Shape:
    if shape is not None:
        return shape
    from .schema import FLAT, OPENAI
    cols = set(names)
    if {"user", "request"} <= cols:
        return OPENAI
    if "account_id" in cols and ("prompt" in cols or "messages" in cols):
        return FLAT
    raise SchemaError(f"{src.name}: unknown log shape (columns {sorted(cols)[:12]}): give a field mapping (--map)")


def _table_batches(src: Source, shape: Shape | None, batches, names, rejects: RejectLog,
                   stats: ReadStats) -> Iterator[pa.RecordBatch]:
    sh = _detect_columns(names, shape, src)
    row0 = 0
    for rb in batches:
        n = rb.num_rows
        stats.records_read += n
        table = pa.Table.from_batches([rb])
        try:
            cols = extract(table, sh)
            batch, keep, reasons = normalize(cols, sh)
            rows = np.arange(n)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, KeyError, TypeError):
            # a column of an unexpected type: coerce record by record, as for JSON
            coercer = RecordCoercer(sh, raw_schema(sh))
            good, rows = [], []
            for i, rec in enumerate(table.to_pylist()):
                try:
                    good.append(coercer.row(rec))
                    rows.append(i)
                except Rejected as e:
                    rejects.add(stats, src.name, row0 + i + 1, str(e), None)
            rows = np.asarray(rows, dtype=np.int64)
            if not good:
                row0 += n
                continue
            batch, keep, reasons = normalize(rows_to_columns(good, sh), sh)
        for r, reason in reasons:
            rejects.add(stats, src.name, row0 + int(rows[r]) + 1, reason, None)
        row0 += n
        if batch.num_rows:
            stats.records_scored += batch.num_rows
            yield batch


def _read_parquet(src, shape, batch_rows, rejects, stats, progress):
    import pyarrow.parquet as pq
    try:
        pf = pq.ParquetFile(_open_raw(src.path) if is_url(src.path) else src.path)
    except (OSError, pa.ArrowInvalid) as e:
        raise InputError(f"{src.name}: not a readable Parquet file: {_short(e)}") from None
    names = pf.schema_arrow.names
    sh = _detect_columns(names, shape, src)
    wanted = sorted(sh.top_keys() & set(names))
    stats.bytes_read += src.size
    total_rows = max(1, pf.metadata.num_rows)
    done = 0

    def batches():
        nonlocal done
        try:
            for rb in pf.iter_batches(batch_size=batch_rows, columns=wanted):
                if progress is not None:
                    step = int(src.size * rb.num_rows / total_rows)
                    progress(step)
                done += rb.num_rows
                stats.bytes_decoded += rb.nbytes
                yield rb
        except (OSError, pa.ArrowInvalid) as e:
            # records past the cut are unknown, so none is counted: a warning, as for JSON Lines
            rejects.file_error(src.name, done + 1, f"truncated file: {_short(e)}")

    yield from _table_batches(src, sh, batches(), names, rejects, stats)


def _arrow_input(src):
    if is_url(src.path):
        fh = pa.PythonFile(_open_raw(src.path), mode="r")
        return fh if src.compression == "" else pa.CompressedInputStream(fh, src.compression)
    return pa.memory_map(src.path) if src.compression == "" else pa.input_stream(src.path, compression=src.compression)


def _read_arrow(src, shape, rejects, stats, progress):
    try:
        fh = _arrow_input(src)
        try:
            reader = pa.ipc.open_file(fh)
            batches_iter = (reader.get_batch(i) for i in range(reader.num_record_batches))
        except pa.ArrowInvalid:
            fh = _arrow_input(src)
            reader = pa.ipc.open_stream(fh)
            batches_iter = iter(reader)
    except (OSError, pa.ArrowInvalid) as e:
        raise InputError(f"{src.name}: not a readable Arrow IPC file: {_short(e)}") from None
    names = reader.schema.names
    stats.bytes_read += src.size
    done = 0

    def batches():
        nonlocal done
        try:
            for rb in batches_iter:
                if progress is not None and src.size:
                    progress(min(src.size, rb.nbytes))
                done += rb.num_rows
                stats.bytes_decoded += rb.nbytes
                yield rb
        except (OSError, pa.ArrowInvalid) as e:
            # records past the cut are unknown, so none is counted: a warning, as for JSON Lines
            rejects.file_error(src.name, done + 1, f"truncated file: {_short(e)}")

    yield from _table_batches(src, shape, batches(), names, rejects, stats)


def read_source(src: Source, *, shape: Shape | None = None, chunk_bytes: int = DEFAULT_CHUNK_BYTES,
                rejects: RejectLog | None = None, stats: ReadStats | None = None,
                progress: Callable[[int], None] | None = None, byte_range: ByteRange | None = None,
                start: tuple[int, int] | None = None, on_chunk: Callable[[int, int, Shape], None] | None = None,
                max_line_bytes: int | None = None) -> Iterator[pa.RecordBatch]:
    """Canonical RecordBatches of one source; bad records go to `rejects` and are counted.

    `byte_range` reads only the lines of a plain JSON Lines file that start in it (ByteRange).
    JSON Lines only: `start=(offset, line)` resumes at a decoded byte offset that begins line
    `line`; `on_chunk(offset, line, shape)` is called after the batches of each chunk have been
    consumed, with the position right after that chunk (a place to checkpoint and resume from);
    a line longer than `max_line_bytes` (default 1 GiB) is rejected without being held in memory.
    """
    rejects = rejects if rejects is not None else RejectLog()
    stats = stats if stats is not None else ReadStats()
    if byte_range is not None and src.fmt != "jsonl":
        raise InputError(f"{src.name}: only a plain JSON Lines file can be read by byte range")
    if byte_range is None or byte_range.start == 0:
        stats.files += 1
    if src.fmt == "parquet":
        yield from _read_parquet(src, shape, max(1024, chunk_bytes // 2048), rejects, stats, progress)
    elif src.fmt == "arrow":
        yield from _read_arrow(src, shape, rejects, stats, progress)
    else:
        yield from _read_jsonl(src, shape, chunk_bytes, rejects, stats, progress, byte_range, start, on_chunk,
                               max_line_bytes)
