"""One input of a scan: its path, format, compression and size (read.sources finds them)."""

from __future__ import annotations

from dataclasses import dataclass

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
STATE_MARKER = ".fastscan-state"  # a file every state directory holds; folder scans skip such folders


@dataclass(frozen=True)
class Source:
    """One input: a path (or "-" for stdin) and its format."""

    path: str
    fmt: str  # "jsonl", "parquet", "arrow"
    compression: str  # "", "gzip", "zstd"
    size: int  # bytes on disk (0 for stdin)
    stream: bool = False  # stdin, a named pipe, a device: read once, from the start, never reopened

    @property
    def name(self) -> str:
        return "<stdin>" if self.path == "-" else self.path
