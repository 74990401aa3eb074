"""Inputs named by URL (file://, s3://, gs://, abfs://, ...), read through fsspec.

fsspec is optional (it comes with `pip install fastscan[dask]`); object stores need the user's own
fsspec backend (s3fs, gcsfs, adlfs) and credentials. Plain local paths never come here: the readers
open them directly, so the core install reads local files without fsspec.
"""
from __future__ import annotations

from .errors import InputError

__all__ = ["is_url", "expand_url", "open_url"]


def is_url(path: str) -> bool:
    """True for "protocol://..." (a Windows drive letter "C:\\..." is not a URL)."""
    head, sep, _ = path.partition("://")
    return bool(sep) and len(head) > 1 and head.replace("+", "").replace("-", "").isalnum()


def _fs(url: str):
    try:
        import fsspec
    except ImportError:
        raise InputError(f"{url}: reading a URL needs fsspec: pip install 'fastscan[dask]'") from None
    try:
        return fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as e:
        # an unknown protocol, or one whose backend (s3fs, gcsfs, ...) is not installed
        raise InputError(f"{url}: cannot open this URL: {e}") from None


def expand_url(url: str, is_log_file) -> list[tuple[str, int]]:
    """(url, size) of every file a URL names: one file, every log file below a folder (sorted),
    or the files a glob matches (sorted). Raises InputError when nothing is there."""
    fs, path = _fs(url)
    try:
        if any(ch in path for ch in "*?["):
            found = sorted(fs.glob(path, detail=True).items())
            files = [(p, info) for p, info in found if info.get("type") == "file"]
            if not files:
                raise InputError(f"{url}: no file matches this pattern")
        elif fs.isdir(path):
            found = sorted(fs.find(path, detail=True).items())
            files = [(p, info) for p, info in found if info.get("type") == "file" and is_log_file(p)]
            if not files:
                raise InputError(f"{url}: folder holds no log files (.jsonl[.gz|.zst], .parquet, .arrow)")
        else:
            files = [(path, fs.info(path))]
    except FileNotFoundError:
        raise InputError(f"{url}: no such file") from None
    except PermissionError:
        raise InputError(f"{url}: permission denied") from None
    except OSError as e:
        raise InputError(f"{url}: cannot read: {e.strerror or e}") from None
    return [(fs.unstrip_protocol(p), int(info.get("size") or 0)) for p, info in files]


def open_url(url: str):
    """A seekable binary file object for `url` (the caller closes it)."""
    fs, path = _fs(url)
    try:
        return fs.open(path, "rb")
    except FileNotFoundError:
        raise InputError(f"{url}: no such file") from None
    except PermissionError:
        raise InputError(f"{url}: permission denied") from None
