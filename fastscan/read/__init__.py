"""Streaming readers: request logs in, canonical RecordBatches out, bad records set aside.

JSON Lines (plain, .gz, .zst) is read in byte chunks finished at a newline (read.jsonl) and
decoded by fastscan's strict flat decoder or in bulk by `pyarrow.json` against the raw schema of
the log's shape (read.jsonl_decode); no Python object per record. When the bulk decoder refuses
a chunk (a malformed line, a wrong type, invalid UTF-8), the chunk is split until the bad lines are
isolated, and only those are decoded one record at a time (read.coerce), so every bad record is
rejected with its file, line and reason (read.rejects) and every good one is kept. Arrow IPC
(file and stream) and Parquet are read batch by batch (read.columnar). All field mapping lives in
read.shape; the canonical schema and the step into it in read.canonical.

Memory is bounded by the chunk size (plus the decoded batch), never by the file size.

A plain (uncompressed) JSON Lines file can also be read in byte ranges (`ByteRange`), so several
workers share one large file; inputs named by URL (file://, s3://, ...) are read through fsspec
(read.streams).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pyarrow as pa

from fastscan.errors import InputError
from fastscan.read.canonical import CANONICAL
from fastscan.read.columnar import read_arrow, read_parquet, slices, table_batches
from fastscan.read.discover import expand_sources
from fastscan.read.jsonl import DEFAULT_CHUNK_BYTES, read_jsonl
from fastscan.read.rejects import ReadStats, RejectLog
from fastscan.read.shape import FLAT, OPENAI, Shape, as_shape, shape_from_mapping
from fastscan.read.source import Source
from fastscan.read.streams import ByteRange, is_url

__all__ = [
    "CANONICAL",
    "DEFAULT_CHUNK_BYTES",
    "FLAT",
    "OPENAI",
    "ByteRange",
    "ReadStats",
    "RejectLog",
    "Shape",
    "Source",
    "as_shape",
    "batch_rows_of",
    "expand_sources",
    "is_url",
    "read_source",
    "shape_from_mapping",
    "slices",
    "table_batches",
]


def batch_rows_of(chunk_bytes: int) -> int:
    """Rows a columnar batch is read or folded in, for chunks of `chunk_bytes`: one per 2 KiB."""
    return max(1024, chunk_bytes // 2048)


def read_source(
    src: Source,
    *,
    shape: Shape | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    rejects: RejectLog | None = None,
    stats: ReadStats | None = None,
    progress: Callable[[int], None] | None = None,
    byte_range: ByteRange | None = None,
    start: tuple[int, int] | None = None,
    on_chunk: Callable[[int, int, Shape], None] | None = None,
    max_line_bytes: int | None = None,
) -> Iterator[pa.RecordBatch]:
    """Canonical RecordBatches of one source; bad records go to `rejects` and are counted.

    `byte_range` reads only the lines of a plain JSON Lines file that start in it (ByteRange).
    JSON Lines only: `start=(offset, line)` resumes at a decoded byte offset that begins line
    `line`; `on_chunk(offset, line, shape)` is called after the batches of each chunk have been
    consumed, with the position right after that chunk (a place to checkpoint and resume from);
    a line longer than `max_line_bytes` (default 256 MiB) is rejected once that much of it is read,
    and the rest of it is skipped unread (memory stays within it plus a chunk).
    """
    rejects = rejects if rejects is not None else RejectLog()
    stats = stats if stats is not None else ReadStats()
    if byte_range is not None and src.fmt != "jsonl":
        raise InputError(f"{src.name}: only a plain JSON Lines file can be read by byte range")
    if byte_range is None or byte_range.start == 0:
        stats.files += 1
    # a columnar file's records are read in batches of about one row per 2 KiB of the chunk size
    batch_rows = batch_rows_of(chunk_bytes)
    if src.fmt == "parquet":
        yield from read_parquet(src, shape, batch_rows, rejects, stats, progress)
    elif src.fmt == "arrow":
        yield from read_arrow(src, shape, batch_rows, rejects, stats, progress)
    else:
        yield from read_jsonl(
            src, shape, chunk_bytes, rejects, stats, progress, byte_range, start, on_chunk, max_line_bytes
        )
