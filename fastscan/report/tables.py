"""Writing a report table: Parquet, CSV or JSON Lines, by the extension of the path."""

from __future__ import annotations

import contextlib
import os
from typing import BinaryIO

import orjson
import pyarrow as pa

from fastscan.errors import OutputError

__all__ = ["REPORT_EXTENSIONS", "write_table", "write_table_to"]

REPORT_EXTENSIONS = (".parquet", ".pq", ".csv", ".jsonl", ".json", ".ndjson")


def write_table(table: pa.Table, path: str | os.PathLike) -> None:
    """Parquet, CSV or JSON Lines, by the extension of `path` (.parquet, .csv, .jsonl/.json):
    written to `path`.part, then renamed, so `path` is never half-written. On failure (a full
    disk) the .part file is removed and OutputError names the path."""
    path = os.fspath(path)
    low = path.lower()
    if not low.endswith(REPORT_EXTENSIONS):
        raise ValueError(f"{path}: unknown report format (use .parquet, .csv or .jsonl)")
    tmp = path + ".part"
    try:
        _write(table, low, tmp)
        os.replace(tmp, path)
    except (OSError, pa.ArrowIOError) as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise OutputError(f"{path}: cannot write the report: {getattr(e, 'strerror', None) or e}") from None


def _write(table: pa.Table, low: str, tmp: str) -> None:
    if low.endswith((".parquet", ".pq")):
        import pyarrow.parquet as pq

        pq.write_table(table, tmp)
        return
    with open(tmp, "wb") as fh:
        write_table_to(table, fh, "csv" if low.endswith(".csv") else "jsonl")


def write_table_to(table: pa.Table, fh: BinaryIO, fmt: str) -> None:
    """`table` as CSV or JSON Lines (times as ISO-8601 UTC) into an open binary stream."""
    if fmt == "csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(_flat_lists(table), fh)
        return
    for batch in table.to_batches(max_chunksize=65536):
        cols = batch.schema.names
        data = [_json_column(batch.column(i)) for i in range(batch.num_columns)]
        for r in range(batch.num_rows):
            fh.write(orjson.dumps({c: data[i][r] for i, c in enumerate(cols)}) + b"\n")


def _flat_lists(table: pa.Table) -> pa.Table:
    """List columns (a campaign's members) as one space-separated string each, for CSV."""
    for i, f in enumerate(table.schema):
        if pa.types.is_list(f.type) or pa.types.is_large_list(f.type):
            joined = [None if v is None else " ".join(map(str, v)) for v in table.column(i).to_pylist()]
            table = table.set_column(i, f.name, pa.array(joined, pa.string()))
    return table


def _json_column(col: pa.Array) -> list:
    if pa.types.is_timestamp(col.type):
        return [None if v is None else v.isoformat().replace("+00:00", "Z") for v in col.to_pylist()]
    return col.to_pylist()
