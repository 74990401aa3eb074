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
            yield from pf.iter_batches(batch_size=batch_rows, columns=cols, row_groups=[i])

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


def _lean_row_groups(pf, sh: Shape) -> list[str | None]:
    """Per row group: the completion column when it need not be read, else None: when the
    completion can be left unread at all (Shape.lean_completion) and the row group's
    completion_tokens column is an integer column with no null (its statistics say so), so every
    record there has a count. The JSON Lines decoder leaves completions undecoded likewise."""
    lean = sh.lean_completion(pf.schema_arrow.names)
    if lean is None:
        return [None] * pf.metadata.num_row_groups
    c_name, ct_name = lean
    t = pf.schema_arrow.field(ct_name).type
    if not pa.types.is_integer(t) or t == pa.uint64():  # a uint64 past int64 is no count
        return [None] * pf.metadata.num_row_groups
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


def read_arrow(src, shape, rejects, stats, progress):
    try:
        fh = _arrow_input(src)
        try:
            reader = pa.ipc.open_file(fh)
            batches_iter: Iterator[pa.RecordBatch] = (reader.get_batch(i) for i in range(reader.num_record_batches))
        except pa.ArrowInvalid:
            fh = _arrow_input(src)
            reader = pa.ipc.open_stream(fh)
            batches_iter = _streams(reader, fh)
    except (OSError, pa.ArrowInvalid) as e:
        raise InputError(f"{src.name}: not a readable Arrow IPC file: {short_error(e)}") from None
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
            rejects.file_error(src.name, done + 1, f"truncated file: {short_error(e)}")

    yield from table_batches(src.name, shape, batches(), names, rejects, stats)
