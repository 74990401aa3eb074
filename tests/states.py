"""Saved states rewritten, for the tests that check what reading one back refuses or keeps."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import numpy as np
import pyarrow as pa

__all__ = ["rewritten_state"]


def rewritten_state(
    data: bytes,
    columns: Mapping[str, Callable[[np.ndarray], np.ndarray]] | None = None,
    meta: dict[bytes, bytes] | None = None,
    drop: Iterable[bytes] = (),
) -> bytes:
    """The saved state `data` (AccountState.to_bytes) with each named column's values passed
    through its function (values -> values), the schema's metadata updated by `meta` and without
    the keys of `drop`. A state is one record batch of one row, each column a list of values."""
    batch = pa.ipc.open_stream(pa.py_buffer(data)).read_next_batch()
    cols = dict(zip(batch.schema.names, batch.columns))
    for name, change in (columns or {}).items():
        values = change(cols[name].values.to_numpy(zero_copy_only=False).copy())
        cols[name] = pa.LargeListArray.from_arrays(pa.array([0, len(values)], pa.int64()), pa.array(values))
    kept = {k: v for k, v in batch.schema.metadata.items() if k not in set(drop)}
    out = pa.RecordBatch.from_arrays(list(cols.values()), names=list(cols))
    out = out.replace_schema_metadata({**kept, **(meta or {})})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, out.schema) as w:
        w.write_batch(out)
    return sink.getvalue().to_pybytes()
