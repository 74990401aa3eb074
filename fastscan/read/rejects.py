"""Rejected records and read statistics: every bad record counted, kept as an example, or written
to a reject file with its file, line and reason; `records_read == records_scored + records_rejected`."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import orjson

from fastscan.errors import OutputError


@dataclass
class ReadStats:
    """Counts a read keeps; `records_read == records_scored + records_rejected` always."""

    files: int = 0
    bytes_read: int = 0  # bytes of input consumed (compressed size for .gz/.zst)
    bytes_decoded: int = 0  # bytes of JSON (or Arrow) after decompression
    records_read: int = 0
    records_scored: int = 0
    records_rejected: int = 0
    rejected_by_reason: dict = field(default_factory=dict)

    def merge(self, other: ReadStats) -> None:
        for k in ("files", "bytes_read", "bytes_decoded", "records_read", "records_scored", "records_rejected"):
            setattr(self, k, getattr(self, k) + getattr(other, k))
        for k, v in other.rejected_by_reason.items():
            self.rejected_by_reason[k] = self.rejected_by_reason.get(k, 0) + v


def printable(text: str) -> str:
    """Text that encodes as UTF-8: a file name that is not (kept by Python as lone surrogates)
    shows its bytes as escapes, so the reject file, the manifest and messages can hold it."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def reason_key(reason: str) -> str:
    """The kind of a reason, for counting (the text before the first colon)."""
    return reason.split(":", 1)[0].strip()


class RejectLog:
    """Where rejected records go: counted by reason, the first few kept as examples, and all of
    them optionally written to a JSON Lines reject file (created readable by its owner only)."""

    def __init__(self, path: str | os.PathLike | None = None, keep_examples: int = 20, *, resume_at: int | None = None):
        """`resume_at`: continue an existing reject file cut back to that many bytes (a resumed
        scan drops what it wrote after its last checkpoint, then writes those records again)."""
        self.path = os.fspath(path) if path is not None else None
        self.keep_examples = keep_examples
        self.examples: list[dict] = []
        self.count = 0
        self.file_errors: list[dict] = []  # problems that are not one record (a cut-off stream)
        self._fh = None
        if self.path is not None:
            with self._writing():
                flags = os.O_WRONLY | os.O_CREAT | (0 if resume_at is not None else os.O_TRUNC)
                fd = os.open(self.path, flags, 0o600)
                os.fchmod(fd, 0o600)
                if resume_at is not None:
                    os.ftruncate(fd, min(resume_at, os.fstat(fd).st_size))
                    os.lseek(fd, 0, os.SEEK_END)
                self._fh = os.fdopen(fd, "wb")

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """An OS error on the reject file (a full disk) is one OutputError that names it."""
        try:
            yield
        except OSError as e:
            raise OutputError(f"{self.path}: cannot write the reject file: {e.strerror or e}") from None

    def flush(self) -> None:
        if self._fh is not None:
            with self._writing():
                self._fh.flush()

    def tell(self) -> int:
        return self._fh.tell() if self._fh is not None else 0

    def add(self, stats: ReadStats, source: str, line: int, reason: str, raw: bytes | None) -> None:
        stats.records_rejected += 1
        key = reason_key(reason)
        stats.rejected_by_reason[key] = stats.rejected_by_reason.get(key, 0) + 1
        self.count += 1
        entry = {"file": printable(source), "line": line, "reason": printable(reason)}
        if len(self.examples) < self.keep_examples:
            self.examples.append(entry)
        if self._fh is not None:
            rec = dict(entry)
            if raw is not None:
                rec["record"] = raw.decode("utf-8", errors="backslashreplace")
            with self._writing():
                self._fh.write(orjson.dumps(rec) + b"\n")

    def file_error(self, source: str, line: int, reason: str) -> None:
        self.file_errors.append({"file": printable(source), "line": line, "reason": printable(reason)})

    def mark(self) -> RejectMark:
        """What the log holds now (its reject file flushed): what a checkpoint taken later records
        of it, when the records read since are not yet in the state it saves."""
        self.flush()
        return RejectMark(self.path, self.count, list(self.examples), list(self.file_errors), self.tell())

    def close(self) -> None:
        if self._fh is not None:
            fh, self._fh = self._fh, None
            with self._writing():
                fh.close()


@dataclass(frozen=True)
class RejectMark:
    """A RejectLog as it was at a point of a scan (RejectLog.mark): a checkpoint saves it as it
    saves the log itself."""

    path: str | None
    count: int
    examples: list[dict]
    file_errors: list[dict]
    size: int  # bytes of the reject file then

    def flush(self) -> None:
        """Nothing to write: the log was flushed when marked."""

    def tell(self) -> int:
        return self.size
