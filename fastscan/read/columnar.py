"""Arrow IPC (file and stream) and Parquet inputs, read batch by batch into the canonical schema."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import pyarrow as pa

from fastscan.errors import InputError
from fastscan.read.canonical import extract, normalize
from fastscan.read.coerce import RecordCoercer, Rejected, rows_to_columns
from fastscan.read.rejects import ReadStats, RejectLog
from fastscan.read.shape import Shape, detect_columns, raw_schema
from fastscan.read.streams import is_url, open_raw, short_error


def table_batches(
    name: str,
    shape: Shape | None,
    batches: Iterable[pa.RecordBatch],
    names: list[str],
    rejects: RejectLog,
    stats: ReadStats,
) -> Iterator[pa.RecordBatch]:
    """Canonical batches of record batches of a log shape (`shape`, else detected from `names`);
    bad records are rejected under the input's `name`, numbered by row from 1."""
    sh = detect_columns(names, shape, name)
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
            good, kept = [], []
            for i, rec in enumerate(table.to_pylist()):
                try:
                    good.append(coercer.row(rec))
                    kept.append(i)
                except Rejected as e:
                    rejects.add(stats, name, row0 + i + 1, str(e), None)
            rows = np.asarray(kept, dtype=np.int64)
            if not good:
                row0 += n
                continue
            batch, keep, reasons = normalize(rows_to_columns(good, sh), sh)
        for r, reason in reasons:
            rejects.add(stats, name, row0 + int(rows[r]) + 1, reason, None)
        row0 += n
        if batch.num_rows:
            stats.records_scored += batch.num_rows
            yield batch


def read_parquet(src, shape, batch_rows, rejects, stats, progress):
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(open_raw(src.path) if is_url(src.path) else src.path)
    except (OSError, pa.ArrowInvalid) as e:
        raise InputError(f"{src.name}: not a readable Parquet file: {short_error(e)}") from None
    names = pf.schema_arrow.names
    sh = detect_columns(names, shape, src.name)
    wanted = sorted(sh.top_keys() & set(names))
    lean = _lean_row_groups(pf, sh)
    stats.bytes_read += src.size
    total_rows = max(1, pf.metadata.num_rows)
    done = 0

    def row_group_batches():
        for i, unread in enumerate(lean):
            cols = [c for c in wanted if c != unread]
            size = group_batch_rows(pf.metadata.row_group(i).num_rows, batch_rows)
            yield from pf.iter_batches(batch_size=size, columns=cols, row_groups=[i])

    def batches():
        nonlocal done
        try:
            for rb in row_group_batches():
                if progress is not None:
                    step = int(src.size * rb.num_rows / total_rows)
                    progress(step)
                done += rb.num_rows
                stats.bytes_decoded += rb.nbytes
                yield rb
        except (OSError, pa.ArrowInvalid) as e:
            # records past the cut are unknown, so none is counted: a warning, as for JSON Lines
            rejects.file_error(src.name, done + 1, f"truncated file: {short_error(e)}")

    yield from table_batches(src.name, sh, batches(), names, rejects, stats)


def _counted(schema: pa.Schema, sh: Shape) -> tuple[str, str] | None:
    """(completion key, completion_tokens key) when the completion can be left unread
    (Shape.lean_completion) and the count's column is one that can prove a count: integers, not
    uint64 (a uint64 past int64 is no count). Whether a batch or row group has a count for every
    record is then down to that column's nulls."""
    lean = sh.lean_completion(schema.names)
    if lean is None or min(schema.get_field_index(k) for k in lean) < 0:  # -1: a name used twice
        return None
    t = schema.field(lean[1]).type
    return lean if pa.types.is_integer(t) and t != pa.uint64() else None


def group_batch_rows(rows: int, batch_rows: int) -> int:
    """Rows per batch of a row group of `rows`: the group in equal batches of about `batch_rows`
    (less than 1.5x it), so that no batch is a small remainder. Each batch costs the fold some
    fixed work whatever its rows: row groups of 9,550 rows read in batches of 8,192 made every
    other batch one of 1,358 rows, and scans of the bench log's Parquet file 4% slower."""
    parts = max(1, round(rows / max(batch_rows, 1)))
    return max(1, -(-rows // parts))


def _lean_row_groups(pf, sh: Shape) -> list[str | None]:
    """Per row group: the completion column when it need not be read, else None: when the
    completion can be left unread at all (Shape.lean_completion) and the row group's
    completion_tokens column is an integer column with no null (its statistics say so), so every
    record there has a count. The JSON Lines decoder leaves completions undecoded likewise."""
    lean = _counted(pf.schema_arrow, sh)
    if lean is None:
        return [None] * pf.metadata.num_row_groups
    c_name, ct_name = lean
    leaves = [j for j in range(len(pf.schema)) if pf.schema.column(j).path == ct_name]
    leaf = leaves[0] if len(leaves) == 1 else -1
    out: list[str | None] = []
    for i in range(pf.metadata.num_row_groups):
        st = pf.metadata.row_group(i).column(leaf).statistics if leaf >= 0 else None
        counted = st is not None and st.has_null_count and st.null_count == 0
        out.append(c_name if counted else None)
    return out


def _arrow_input(src):
    if is_url(src.path):
        fh = pa.PythonFile(open_raw(src.path), mode="r")
        return fh if src.compression == "" else pa.CompressedInputStream(fh, src.compression)
    # read, not memory-mapped: a mapped file cut by another process while it is scanned ends the
    # process with SIGBUS, where a read of it fails with an error that names the file
    return pa.OSFile(src.path) if src.compression == "" else pa.input_stream(src.path, compression=src.compression)


def _streams(reader, fh) -> Iterator[pa.RecordBatch]:
    """The batches of every Arrow IPC stream written one after another into the file (each
    ends with its end-of-stream marker), not only the first's."""
    while True:
        yield from reader
        try:
            reader = pa.ipc.open_stream(fh)
        except pa.ArrowInvalid as e:
            if "null or length 0" in str(e):  # the end of the file
                return
            raise


def _file_batches(reader, fh, sh: Shape, size: int) -> Iterator[tuple[pa.RecordBatch, int]]:
    """(batch, its share of the file's `size` bytes) for every batch of an Arrow IPC file. Where
    the completion can be left unread (`_counted`) a batch is read without it (its buffers are not
    read at all: on the bench log 65% of the file's bytes), and its completion column is read
    after it only when its count column has a null, as the Parquet row groups are
    (`_lean_row_groups`): each byte read once either way."""
    n = reader.num_record_batches
    lean = _counted(reader.schema, sh)
    if lean is None:
        for i in range(n):
            yield reader.get_batch(i), size * (i + 1) // n - size * i // n
        return
    c_name, ct_name = lean
    c_at = reader.schema.get_field_index(c_name)
    slim = pa.ipc.open_file(
        fh, options=pa.ipc.IpcReadOptions(included_fields=[i for i in range(len(reader.schema)) if i != c_at])
    )
    completions = pa.ipc.open_file(fh, options=pa.ipc.IpcReadOptions(included_fields=[c_at]))
    for i in range(n):
        rb = slim.get_batch(i)
        if rb.column(ct_name).null_count:
            rb = rb.append_column(reader.schema.field(c_at), completions.get_batch(i).column(0))
        yield rb, size * (i + 1) // n - size * i // n


def slices(rb: pa.RecordBatch, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """`rb` in equal slices of about `batch_rows` rows (`group_batch_rows`; views of its buffers,
    no copy). An IPC file's batches are as its writer made them, often a whole table's rows in one,
    and the fold's memory and time grow with a batch's rows, as a JSON Lines chunk's do."""
    size = group_batch_rows(rb.num_rows, batch_rows)
    if size >= rb.num_rows:
        yield rb
        return
    for lo in range(0, rb.num_rows, size):
        yield rb.slice(lo, size)


def read_arrow(src, shape, batch_rows, rejects, stats, progress):
    try:
        fh = _arrow_input(src)
        try:
            reader = pa.ipc.open_file(fh)
            sized = True
        except pa.ArrowInvalid:
            fh = _arrow_input(src)
            reader = pa.ipc.open_stream(fh)
            sized = False
        names = reader.schema.names
        sh = detect_columns(names, shape, src.name)
        batches_iter: Iterator[tuple[pa.RecordBatch, int]] = (
            _file_batches(reader, fh, sh, src.size) if sized else ((rb, rb.nbytes) for rb in _streams(reader, fh))
        )
    except (OSError, pa.ArrowInvalid) as e:
        raise InputError(f"{src.name}: not a readable Arrow IPC file: {short_error(e)}") from None
    stats.bytes_read += src.size
    done = 0

    def batches():
        nonlocal done
        try:
            # an IPC file's batches count their share of the file, whatever columns were read
            # (a stream's, their size in memory: a compressed stream's size says nothing of it)
            for rb, nbytes in batches_iter:
                if progress is not None and src.size:
                    progress(min(src.size, nbytes))
                done += rb.num_rows
                stats.bytes_decoded += nbytes
                yield from slices(rb, batch_rows)
        except (OSError, pa.ArrowInvalid) as e:
            # records past the cut are unknown, so none is counted: a warning, as for JSON Lines
            rejects.file_error(src.name, done + 1, f"truncated file: {short_error(e)}")

    yield from table_batches(src.name, sh, batches(), names, rejects, stats)
