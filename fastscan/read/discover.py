"""Inputs: files, folders, globs, URLs and stdin become `Source`s (path, format, compression, size)."""

from __future__ import annotations

import glob
import os
import stat
from pathlib import Path

from fastscan.errors import InputError
from fastscan.read.source import GZIP_MAGIC, ZSTD_MAGIC, Source
from fastscan.read.streams import expand_url, is_url, open_raw

_JSON_EXT = (".jsonl", ".ndjson", ".json", ".log", ".txt")
_PARQUET_EXT = (".parquet", ".pq")
_ARROW_EXT = (".arrow", ".feather", ".ipc", ".arrows")

# --------------------------------------------------------------------------- sources


def sniff(path: str) -> tuple[str, str]:
    low = path.lower()
    comp = ""
    base = low
    if low.endswith(".gz"):
        comp, base = "gzip", low[:-3]
    elif low.endswith(".zst") or low.endswith(".zstd"):
        comp, base = "zstd", low.rsplit(".", 1)[0]
    if base.endswith(_PARQUET_EXT):
        return "parquet", comp
    if base.endswith(_ARROW_EXT):
        return "arrow", comp
    if base.endswith(_JSON_EXT):
        return "jsonl", comp
    try:
        with open_raw(path) as fh:
            head = fh.read(8)
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from None
    if head.startswith(b"PAR1"):
        return "parquet", ""
    if head.startswith(b"ARROW1") or head.startswith(b"\xff\xff\xff\xff"):
        return "arrow", ""
    if head.startswith(GZIP_MAGIC):
        return "jsonl", "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "jsonl", "zstd"
    return "jsonl", comp


def is_log_file(path: str) -> bool:
    low = path.lower()
    for comp in ("", ".gz", ".zst", ".zstd"):
        if comp and not low.endswith(comp):
            continue
        base = low[: len(low) - len(comp)] if comp else low
        if base.endswith(_JSON_EXT + _PARQUET_EXT + _ARROW_EXT):
            return True
    return False


def expand_sources(paths) -> list[Source]:
    """Files, folders (every log file below, sorted) and globs -> Sources, in a stable order.

    Raises InputError naming the first path that does not exist or cannot be read.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out: list[Source] = []
    for p in paths:
        p = os.fspath(p)
        if p == "-":
            out.append(Source("-", "jsonl", "", 0))
            continue
        if is_url(p):
            for url, size in expand_url(p, is_log_file):
                fmt, comp = sniff(url)
                out.append(Source(url, fmt, comp, size))
            continue
        if any(ch in p for ch in "*?[") and not os.path.exists(p):
            matches = sorted(glob.glob(p, recursive=True))
            if not matches:
                raise InputError(f"{p}: no file matches this pattern")
            files = [m for m in matches if os.path.isfile(m)]
        elif os.path.isdir(p):
            files = sorted(str(f) for f in Path(p).rglob("*") if f.is_file() and is_log_file(str(f)))
            if not files:
                raise InputError(f"{p}: folder holds no log files (.jsonl[.gz|.zst], .parquet, .arrow)")
        else:
            files = [p]
        for f in files:
            try:
                st = os.stat(f)
            except FileNotFoundError:
                raise InputError(f"{f}: no such file") from None
            except OSError as e:
                raise InputError(f"{f}: cannot read: {e.strerror or e}") from None
            if not stat.S_ISREG(st.st_mode) and not stat.S_ISFIFO(st.st_mode):
                raise InputError(f"{f}: not a regular file")
            if not os.access(f, os.R_OK):
                raise InputError(f"{f}: permission denied")
            fmt, comp = sniff(f)
            out.append(Source(f, fmt, comp, st.st_size))
    return out


# --------------------------------------------------------------------------- byte streams
