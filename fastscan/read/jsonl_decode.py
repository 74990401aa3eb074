"""The JSON Lines decoder of one chunk: fastscan's strict record decoder first (read.jsonl_fast),
pyarrow.json in bulk for what it refuses, one record at a time (orjson) for the lines both refuse;
one verdict per line whichever path decodes it."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.json as pajson

from fastscan.buffers import as_array, validity
from fastscan.read.canonical import extract, normalize
from fastscan.read.coerce import RecordCoercer, Rejected, loads_wide, rows_to_columns
from fastscan.read.jsonl_fast import RecordDecoder, fast_cols, plan_for
from fastscan.read.rejects import ReadStats, RejectLog
from fastscan.read.shape import NO_SHAPE, Shape

_BLOCK_BYTES = 1 << 20  # pyarrow.json block size (see JsonlDecoder._bulk)
_SMALL_PIECE_LINES = 32  # below this many lines a refused piece is decoded line by line
_MAX_REFUSED_RUNS = 64  # more runs of lines the fast decoder refuses: Arrow decodes the chunk


def line_bounds(chunk: bytes | memoryview) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, bool]:
    """(starts, ends, line_index, lines, utf8) of the non-blank lines of a chunk that ends with a
    newline.

    line_index counts every line of the chunk, blank ones included, so file line numbers follow;
    `lines` is how many lines (newlines) the chunk has in all; `utf8` whether all of it is valid
    UTF-8 (found in the same pass as the newlines).
    """
    from fastscan.kernels import jsonl

    arr = np.frombuffer(chunk, dtype=np.uint8)
    # room for lines of 128 bytes on average (a request log's are thousands); more: a second pass
    nl = np.empty(len(arr) // 128 + 1024, dtype=np.int64)
    utf8 = np.ones(1, dtype=np.bool_)
    count = jsonl.newline_positions(arr, nl, utf8)
    if count > len(nl):
        nl = np.empty(count, dtype=np.int64)
        jsonl.newline_positions(arr, nl, utf8)
    nl = nl[:count]
    starts, ends, idx = (np.empty(count, dtype=np.int64) for _ in range(3))
    m = jsonl.line_spans(arr, nl, starts, ends, idx)  # blank lines left out, in one pass
    return starts[:m], ends[:m], idx[:m], count, bool(utf8[0])


class JsonlDecoder:
    """Decodes chunks of one JSON Lines file into canonical batches, isolating bad lines."""

    def __init__(self, source: str, shape: Shape, schema: pa.Schema, rejects: RejectLog, stats: ReadStats):
        self.source = source
        self.shape = shape
        self.schema = schema
        self.rejects = rejects
        self.stats = stats
        self.coercer = RecordCoercer(shape, schema)
        self._fast: RecordDecoder | None = None  # the fast decoder, made at first use
        self._planned = False  # whether that was tried (a shape it does not decode has none)
        self.parse_options = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
        # When the completion can be left unread (Shape.lean_completion), chunks are decoded
        # without it, and it is decoded afterwards for just the records lacking a count.
        lean = shape.lean_completion(schema.names)
        self.lean = lean is not None
        if lean is not None:
            self.c_name, self.ct_name = lean
            self.lean_options = pajson.ParseOptions(
                explicit_schema=pa.schema([f for f in schema if f.name != self.c_name]),
                unexpected_field_behavior="ignore",
            )
            self.completion_options = pajson.ParseOptions(
                explicit_schema=pa.schema([schema.field(self.c_name)]), unexpected_field_behavior="ignore"
            )
        # what a chunk's lines are decoded with (by the flat decoder or by Arrow)
        self.decode_options = self.lean_options if self.lean else self.parse_options

    def _flat(self, chunk: bytes | memoryview, starts: np.ndarray, ends: np.ndarray):
        """(table of the lines it took, bool mask of the lines it refused) by the strict record
        decoder (read.jsonl_fast, kernels/json_records.py), which refuses a line it cannot decode
        exactly as Arrow would; None when the shape is not one it decodes."""
        if not self._planned:
            plan = plan_for(self.shape, self.schema)
            self._fast = RecordDecoder(plan) if plan is not None else None
            self._planned = True
        if self._fast is None:
            return None
        return self._fast.decode(chunk, starts, ends)

    def _bulk(self, piece: bytes, n_lines: int, longest: int = 0, options=None):
        """Raw table of a piece, or None when the bulk decoder refuses it.

        Blocks of about 1 MiB (but always longer than the longest line, which must fit in one)
        decode faster than one big block even on one thread, and in parallel on several.
        """
        try:
            table = pajson.read_json(
                pa.BufferReader(piece),
                read_options=pajson.ReadOptions(use_threads=True, block_size=max(_BLOCK_BYTES, longest + 2)),
                parse_options=self.parse_options if options is None else options,
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError, OverflowError):
            return None
        if table.num_rows != n_lines:  # e.g. two objects on one line
            return None
        return table

    def decode(
        self,
        chunk: bytes | memoryview,
        first_line: int,
        where: Callable[[int], tuple[str, int, ReadStats]] | None = None,
    ) -> list[pa.RecordBatch]:
        """The canonical batches of a chunk of whole lines, its first line numbered `first_line`;
        `where(line)`: the (source, line, statistics) a rejected line is reported at and counted
        in, when the chunk holds several files' lines (fastscan.read.small), else this decoder's
        source and statistics. `read_starts`: where the chunk's lines that count as records read
        begin."""
        starts, ends, line_idx, self.newlines, utf8 = line_bounds(chunk)
        self.read_starts = starts
        self.stats.records_read += len(starts)
        out: list[pa.RecordBatch] = []
        self._rejected: list[tuple] = []
        if not utf8:
            bad = invalid_utf8_lines(chunk, starts, ends)
            for i in np.flatnonzero(bad):
                raw = bytes(chunk[starts[i] : ends[i]])
                self._reject(int(line_idx[i] + first_line), json_reason(raw, None), raw)
            starts, ends, line_idx = starts[~bad], ends[~bad], line_idx[~bad]
        obj = object_lines(chunk, starts, ends)
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
            source, at, stats = (self.source, line, self.stats) if where is None else where(line)
            self.rejects.add(stats, source, at, reason, raw)
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
            self._emit(fast_cols(table, self.shape), lines, out, chunk, starts, ends)
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
                cols = fast_cols(table.slice(taken, b - a), self.shape)
                self._emit(cols, lines[a:b], out, chunk, starts[a:b], ends[a:b])
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
        piece: Any = memoryview(chunk)[starts[0] : ends[-1] + 1]  # no copy: pyarrow reads the view
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
        sub = b"\n".join([bytes(chunk[starts[i] : ends[i]]) for i in idx]) + b"\n"
        part = self._bulk(sub, len(idx), longest, self.completion_options)
        keep = None
        if part is not None:
            values = as_array(part.column(self.c_name))
        else:  # some completion is not a string: judge each like the one-record path does
            keep = np.ones(n, dtype=np.bool_)
            texts = []
            for i in idx:
                raw = bytes(chunk[starts[i] : ends[i]])
                try:
                    texts.append(self.coercer._coerce("completion", orjson.loads(raw).get(self.c_name)))
                except Rejected as e:
                    self._reject(int(lines[i]), str(e), raw)
                    keep[i] = False
                    texts.append(None)
                except orjson.JSONDecodeError as e:
                    # nesting orjson refuses: the one-by-one path tries Arrow on the whole line,
                    # which refuses a completion that is not text, and rejects it with this reason
                    self._reject(int(lines[i]), json_reason(raw, e), raw)
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
            raw = bytes(chunk[starts[i] : ends[i]])
            try:
                rec = orjson.loads(raw)
            except orjson.JSONDecodeError as e:
                # orjson refuses some lines the bulk decoder takes (nesting deeper than 1024 in a
                # field nobody reads, integers beyond 64 bits there): a line must get the same
                # verdict whichever path it takes, or the chunk size would change the report
                table = None
                if self.shape is not NO_SHAPE and raw.lstrip().startswith(b"{"):
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
                rec = loads_wide(raw, e)
                if rec is None:
                    self._reject(int(lines[i]), json_reason(raw, e), raw)
                    continue
            rec = self._exact_ids(rec, raw)
            try:
                rows.append(self.coercer.row(rec))
            except Rejected as e:
                self._reject(int(lines[i]), str(e), raw)
                continue
            row_lines.append(lines[i])
            row_idx.append(i)
        if rows:
            idx = np.asarray(row_idx)
            self._emit(rows_to_columns(rows, self.shape), np.asarray(row_lines), out, chunk, starts[idx], ends[idx])

    def _exact_ids(self, rec, raw: bytes):
        """orjson reads an integer beyond 64 bits as a float; an account id of any size is text,
        so such a line is read again with Python's json, which keeps integers exact."""
        path = self.shape.paths.get("account_id")
        v = rec
        for k in path or ():
            v = v.get(k) if isinstance(v, dict) and isinstance(k, str) else None
        if isinstance(v, float):
            with contextlib.suppress(ValueError, RecursionError):
                return json.loads(raw)
        return rec

    def _emit(self, cols, lines, out, chunk, starts, ends):
        batch, keep, reasons = normalize(cols, self.shape)
        for row, reason in reasons:
            self._reject(int(lines[row]), reason, bytes(chunk[starts[row] : ends[row]]))
        if batch.num_rows:
            self.stats.records_scored += batch.num_rows
            out.append(batch)


def object_lines(chunk: bytes | memoryview, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """bool mask of the lines whose first non-blank byte is `{`."""
    arr = np.frombuffer(chunk, dtype=np.uint8)
    first = arr[starts] if len(starts) else np.zeros(0, dtype=np.uint8)
    obj = first == 123
    blank = (first == 32) | ((first >= 9) & (first <= 13) & (first != 10))
    for i in np.flatnonzero(blank):  # leading blanks: look past them
        obj[i] = bytes(chunk[starts[i] : ends[i]]).lstrip().startswith(b"{")
    return obj


def invalid_utf8_lines(chunk: bytes | memoryview, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """bool mask of the lines holding invalid UTF-8 (the bulk JSON decoder does not check), for a
    chunk that line_bounds found is not all UTF-8.

    Linear in the chunk whatever the number of bad lines: blocks of lines are checked whole and
    only a failing block line by line (one re-decode of the rest per bad line was quadratic).
    """
    bad = np.zeros(len(starts), dtype=np.bool_)
    mv = memoryview(chunk)
    i0 = 0
    block = 256
    for b0 in range(i0, len(starts), block):
        b1 = min(len(starts), b0 + block)
        try:
            str(mv[starts[b0] : ends[b1 - 1]], "utf-8")
            continue
        except UnicodeDecodeError:
            pass
        for i in range(b0, b1):
            try:
                str(mv[starts[i] : ends[i]], "utf-8")
            except UnicodeDecodeError:
                bad[i] = True
    return bad


def json_reason(raw: bytes, err: Exception | None) -> str:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as u:
        return f"invalid UTF-8: byte {u.start}"
    msg = str(err).split(":", 1)[0]
    return f"malformed JSON: {msg}"
