"""Inputs: files, folders, globs, URLs and stdin become `Source`s (path, format, compression, size)."""

from __future__ import annotations

import glob
import os
import stat
from collections.abc import Callable, Iterable

from fastscan.errors import InputError
from fastscan.read.source import GZIP_MAGIC, STATE_MARKER, ZSTD_MAGIC, Source
from fastscan.read.streams import expand_url, is_url, open_raw

_JSON_EXT = (".jsonl", ".ndjson")  # a folder scan takes these; a file named on its own may be any name
_PARQUET_EXT = (".parquet", ".pq")
_ARROW_EXT = (".arrow", ".feather", ".ipc", ".arrows")

LOG_EXTENSIONS = ", ".join(
    [*_JSON_EXT, *(e + c for e in _JSON_EXT for c in (".gz", ".zst")), *_PARQUET_EXT, *_ARROW_EXT]
)

# --------------------------------------------------------------------------- sources


def _by_extension(path: str) -> tuple[str, str]:
    """(format, compression) that the name says."""
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
    return "jsonl", comp


def sniff(path: str) -> tuple[str, str]:
    """(format, compression) of a regular file, from its first bytes where they tell (a gzip or
    zstd frame, Parquet's or Arrow's magic), else from its name. A URL is known by its name."""
    fmt, comp = _by_extension(path)
    if is_url(path):
        return fmt, comp
    try:
        with open_raw(path) as fh:
            head = fh.read(8)
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from None
    if head.startswith(GZIP_MAGIC):
        return (fmt if comp else "jsonl"), "gzip"
    if head.startswith(ZSTD_MAGIC):
        return (fmt if comp else "jsonl"), "zstd"
    if head.startswith(b"PAR1"):
        return "parquet", ""
    if head.startswith(b"ARROW1") or head.startswith(b"\xff\xff\xff\xff"):
        return "arrow", ""
    return fmt, ""


def is_log_file(path: str) -> bool:
    low = path.lower()
    for comp in ("", ".gz", ".zst", ".zstd"):
        if comp and not low.endswith(comp):
            continue
        base = low[: len(low) - len(comp)] if comp else low
        if base.endswith(_JSON_EXT + _PARQUET_EXT + _ARROW_EXT):
            return True
    return False


def _is_state_dir(path: str) -> bool:
    """A fastscan state directory (it holds the marker, or, made before the marker, a lock and a
    manifest): never scanned as input."""
    return os.path.exists(os.path.join(path, STATE_MARKER)) or (
        os.path.exists(os.path.join(path, "lock")) and os.path.exists(os.path.join(path, "manifest.json"))
    )


def _folder_files(folder: str) -> list[str]:
    files = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not _is_state_dir(os.path.join(root, d)))
        files += [os.path.join(root, n) for n in names if is_log_file(n) and os.path.isfile(os.path.join(root, n))]
    return sorted(files)


def file_identity(path: str, st: os.stat_result, real_path: Callable[[str], str] = os.path.realpath) -> object:
    """What makes a file the same file by any name (a symbolic or a hard link, the same path
    twice), from its stat: its device and inode; its real path where the file system gives no
    inode. The listing's and the outputs' check's one rule."""
    return (st.st_dev, st.st_ino) if st.st_ino else real_path(path)


class RealPaths:
    """os.path.realpath of many files, each folder resolved once: the real path of a file that is
    not itself a symbolic link is its folder's real path joined with its name."""

    def __init__(self) -> None:
        self._folders: dict[str, str] = {}

    def __call__(self, path: str | os.PathLike[str]) -> str:
        path = os.fspath(path)
        folder, name = os.path.split(path)
        if name in ("", ".", "..") or os.path.islink(path):
            return os.path.realpath(path)
        real = self._folders.get(folder)
        if real is None:
            real = self._folders[folder] = os.path.realpath(folder or os.curdir)
        return os.path.join(real, name)


def expand_sources(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    notes: list[dict] | None = None,
    exclude: Iterable[str | os.PathLike[str]] = (),
) -> list[Source]:
    """Files, folders (every log file below, sorted) and globs -> Sources, in a stable order.

    One file is one file: a path that resolves to a file already listed (a symlink, the same path
    given twice) is skipped, and so is anything inside a folder of `exclude` or inside a fastscan
    state directory; each skip is added to `notes` as {file, line: 0, reason}. A named pipe or
    other non-regular file is a stream, read once. Raises InputError naming the first path that
    does not exist or cannot be read.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    excluded = [os.path.realpath(os.fspath(e)) for e in exclude]
    real_path = RealPaths()
    seen: dict[object, str] = {}  # "-", a URL, or a file's (device, inode): the name it came by
    out: list[Source] = []

    def skip(name: str, reason: str) -> None:
        if notes is not None:
            notes.append({"file": name, "line": 0, "reason": reason})

    for p in paths:
        p = os.fspath(p)
        if p == "-":
            if "-" in seen:
                skip("<stdin>", "skipped: standard input was given twice")
                continue
            seen["-"] = "-"
            out.append(Source("-", "jsonl", "", 0, stream=True))
            continue
        if is_url(p):
            for url, size in expand_url(p, is_log_file):
                if url in seen:
                    skip(url, f"skipped: the same input as {seen[url]}")
                    continue
                seen[url] = url
                fmt, comp = sniff(url)
                out.append(Source(url, fmt, comp, size))
            continue
        if any(ch in p for ch in "*?[") and not os.path.exists(p):
            matches = sorted(glob.glob(p, recursive=True))
            if not matches:
                raise InputError(f"{p}: no file matches this pattern")
            files = [m for m in matches if os.path.isfile(m)]
        elif os.path.isdir(p):
            files = _folder_files(p)
            if not files:
                raise InputError(f"{p}: folder holds no log files ({LOG_EXTENSIONS})")
        else:
            files = [p]
        for f in files:
            try:
                st = os.stat(f)
            except FileNotFoundError:
                raise InputError(f"{f}: no such file") from None
            except OSError as e:
                raise InputError(f"{f}: cannot read: {e.strerror or e}") from None
            if stat.S_ISDIR(st.st_mode):
                raise InputError(f"{f}: a folder, not a file")
            if not os.access(f, os.R_OK):
                raise InputError(f"{f}: permission denied")
            if excluded:
                real = real_path(f)
                if any(real == e or real.startswith(e + os.sep) for e in excluded):
                    skip(f, "skipped: inside the state directory")
                    continue
            # one file by whatever name (a symbolic or hard link, the same path twice): its device
            # and inode, from the stat above (os.path.realpath took 46 us a file, a third of the
            # listing of 20,000 small files)
            same = file_identity(f, st, real_path)
            if same in seen:
                skip(f, f"skipped: the same file as {seen[same]}")
                continue
            seen[same] = f
            if not stat.S_ISREG(st.st_mode):  # a named pipe, a device: sniffing would consume it
                out.append(Source(f, "jsonl", "", 0, stream=True))
                continue
            fmt, comp = sniff(f)
            out.append(Source(f, fmt, comp, st.st_size))
    return out
