"""The JSON Lines chunk loop: a file read in byte chunks finished at a newline, decoded chunk by
chunk; memory is bounded by the chunk size, never by the file size."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

import orjson
import pyarrow as pa

from fastscan.errors import InputError, SchemaError
from fastscan.read.jsonl_decode import JsonlDecoder
from fastscan.read.rejects import ReadStats, RejectLog
from fastscan.read.shape import NO_SHAPE, Shape, detect_shape, detect_shape_of, raw_schema
from fastscan.read.source import Source
from fastscan.read.streams import ByteRange, open_bytes, open_raw, read_chunk, short_error

DEFAULT_CHUNK_BYTES = 16 << 20
MAX_LINE_BYTES = 1 << 30  # a longer line is rejected unread, so memory stays bounded


def _first_record(chunk: bytes):
    """The first record of the chunk whose log shape is known, else the first object (whose
    shape is then reported unknown), else None: a line that is not an object (`5`, `null`)
    is a bad record, not a reason to stop reading the file."""
    first_obj = None
    for line in chunk.split(b"\n"):
        got = object_of(line)
        if got is None:
            continue
        rec, known = got
        if known:
            return rec
        if first_obj is None:
            first_obj = rec
    return first_obj


def object_of(line: bytes):
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


def head_record(src: Source, chunk_bytes: int):
    """The record a whole-file read takes the log's shape and raw schema from, so every byte range
    of a file decodes exactly as the whole file: in the first chunk that holds an object (a line
    belongs to the chunk of its newline's position // chunk_bytes), the first object of known
    shape, else the first object (see _first_record); None if the file holds no object."""
    pos = 0
    group = None
    first_obj = None
    with io.BufferedReader(open_raw(src.path), 1 << 16) as fh:
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
            got = object_of(body)
            if got is None:
                continue
            rec, known = got
            if known:
                return rec
            if first_obj is None:
                first_obj, group = rec, g
    return first_obj


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
    if byte_range is not None and (src.path == "-" or src.compression or start is not None):
        raise InputError(f"{src.name}: only a plain JSON Lines file can be read by byte range")
    offset, next_line = start if start is not None else (0, 1)
    max_line = max(max_line_bytes or MAX_LINE_BYTES, chunk_bytes)
    try:
        head = head_record(src, chunk_bytes) if byte_range is not None else None
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
                            b"".join(carry)[:4096],
                        )
                        carry, carry_len, skipping = [], 0, True
                else:
                    chunk = b"".join([*carry, memoryview(data)[: nl + 1]])  # one copy, not two
                    carry = [data[nl + 1 :]]
                    carry_len = len(carry[0])
            if chunk:
                if decoder is None or decoder.shape is NO_SHAPE:
                    first = head if byte_range is not None else _first_record(chunk)
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
