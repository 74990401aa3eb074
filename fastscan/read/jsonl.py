"""The JSON Lines chunk loop: a file read in byte chunks finished at a newline, decoded chunk by
chunk; memory is bounded by the chunk size, never by the file size."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import orjson
import pyarrow as pa

from fastscan.errors import InputError, SchemaError
from fastscan.read.coerce import loads_wide
from fastscan.read.jsonl_decode import JsonlDecoder
from fastscan.read.rejects import ReadStats, RejectLog
from fastscan.read.shape import NO_SHAPE, Shape, detect_shape, detect_shape_of, raw_schema
from fastscan.read.source import Source
from fastscan.read.streams import DAMAGED, ByteRange, TruncatedInput, open_bytes, read_chunk, short_error

DEFAULT_CHUNK_BYTES = 16 << 20
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


def sample_record(src: Source, shape: Shape | None):
    """_pick over the file's head (HEAD_LINES lines, HEAD_BYTES bytes): the same record whatever
    the chunk size, and for every byte range of the file, so they all decode alike."""

    def lines():
        fh, _ = open_bytes(src)
        try:
            rest, read, n = b"", 0, 0
            while read < HEAD_BYTES and n < HEAD_LINES:
                piece = fh.read(min(1 << 16, HEAD_BYTES - read))
                if read == 0 and piece.startswith(b"\xef\xbb\xbf"):
                    piece = piece[3:]
                read += len(piece)
                *done, rest = (rest + piece).split(b"\n") if piece else ([rest] if rest else []) + [b""]
                for line in done[: HEAD_LINES - n]:
                    yield object_of(line)
                n += len(done)
                if not piece:
                    return
        finally:
            fh.close()

    try:
        return _pick(lines(), shape)
    except (*DAMAGED, OSError, TruncatedInput):
        return None  # the read itself meets the damage and reports it


def _head(pieces: list[bytes], n: int) -> bytes:
    """The first n bytes of the concatenated pieces, without joining them all."""
    out = bytearray()
    for p in pieces:
        out += p[: n - len(out)]
        if len(out) >= n:
            break
    return bytes(out)


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
    except OSError as e:
        raise InputError(f"{src.name}: cannot read: {e.strerror or e}") from None
    decoder = None
    carry: list[bytes] = []  # the start of a line that has not ended yet
    carry_len = 0
    skipping = False  # inside a line longer than max_line, which is rejected unread
    pos = offset  # decoded offset of the first byte of `carry` (a line start)
    read_pos = offset  # decoded offset of the end of what was read
    reported = 0
    try:
        if src.compression and offset:  # a compressed stream cannot seek: decode and drop
            read_pos = 0
            while read_pos < offset:
                data, truncated = read_chunk(fh, min(chunk_bytes, offset - read_pos))
                read_pos += len(data)
                if truncated is not None or not data:
                    return
        while True:
            data, truncated = read_chunk(fh, chunk_bytes)
            stats.bytes_decoded += len(data)
            if progress is not None:
                progress(counter.count - reported)
                reported = counter.count
            data_start = read_pos
            read_pos += len(data)
            if data_start == 0 and (byte_range is None or byte_range.start == 0) and data.startswith(b"\xef\xbb\xbf"):
                data = b"   " + data[3:]  # a byte order mark: blanked, so offsets stay true
            last = truncated is not None or len(data) < chunk_bytes
            if skipping:
                nl = data.find(b"\n")
                if nl < 0:
                    data = b""
                else:
                    skipping = False
                    next_line += 1
                    pos = data_start + nl + 1
                    data = data[nl + 1 :]
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
                            cut_off = (
                                next_line + chunk.count(b"\n"),
                                f"truncated file: last line cut off ({short_error(truncated)})",
                                partial,
                            )
                    else:
                        chunk += b"\n"
            else:
                nl = data.rfind(b"\n")
                if nl < 0:
                    carry.append(data)
                    carry_len += len(data)
                    if carry_len > max_line:
                        stats.records_read += 1
                        rejects.add(
                            stats,
                            src.name,
                            next_line,
                            f"line too long: more than {max_line:,} bytes",
                            _head(carry, 4096),
                        )
                        carry, carry_len, skipping = [], 0, True
                else:
                    chunk = b"".join([*carry, memoryview(data)[: nl + 1]])  # one copy, not two
                    carry = [data[nl + 1 :]]
                    carry_len = len(carry[0])
            if chunk:
                if decoder is None or decoder.shape is NO_SHAPE:
                    first = head if head is not None else _first_record(chunk, shape)
                    if first is None and shape is None:
                        # nothing decodable yet: this chunk is rejected line by line, and the shape
                        # is looked for again in the next one
                        decoder = JsonlDecoder(src.name, NO_SHAPE, raw_schema(NO_SHAPE), rejects, stats)
                    else:
                        sh = shape or detect_shape_of(first, src.name)
                        decoder = JsonlDecoder(src.name, sh, raw_schema(sh, first), rejects, stats)
                yield from decoder.decode(chunk, next_line)
                next_line += decoder.newlines
                pos += len(chunk)
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
        stats.bytes_read += counter.count
        if byte_range is not None:
            byte_range.lines = next_line - 1
        fh.close()
