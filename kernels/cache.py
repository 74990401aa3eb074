"""Where compiled kernels are kept on disk: a folder named by what they were compiled from.

Importing this module imports no kernel and no numba.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import sys
import time
from importlib import metadata
from pathlib import Path

__all__ = [
    "cache_enabled",
    "cache_folder",
    "enable_disk_cache",
    "kernels_on_disk",
    "prune_stale_caches",
    "ready_folder",
]


_PREFIX, _DIGITS = "numba-", 16  # a cache folder's name: the prefix, then hex digits of its hash


def cache_enabled() -> bool:
    """Whether numba keeps compiled kernels on disk (FASTSCAN_NUMBA_CACHE, see enable_disk_cache)."""
    return os.environ.get("FASTSCAN_NUMBA_CACHE", "").strip().lower() not in ("", "0", "false", "no")


def cache_folder(kernels: Path, base: Path) -> Path | None:
    """base / numba-<hash of the numba and Python versions and of every kernel source file>, or
    None when numba is not installed."""
    h = hashlib.sha256()
    try:
        h.update(metadata.version("numba").encode())
    except metadata.PackageNotFoundError:
        return None
    h.update(sys.version.encode())
    for f in sorted(kernels.glob("*.py")):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return base / f"{_PREFIX}{h.hexdigest()[:_DIGITS]}"


def enable_disk_cache() -> None:
    """Keep compiled kernels on disk unless told not to (FASTSCAN_NUMBA_CACHE=0): a one-shot scan
    should not spend half a minute compiling every time. The CLI calls this at start; a library user (a
    service) may call it once, before the first kernel compiles, to share the CLI's cache; the
    library alone leaves numba's cache off.

    The cache lives in $XDG_CACHE_HOME/fastscan (default ~/.cache/fastscan), in a folder named by
    a hash of the numba and Python versions and of every kernel source file, so editing or
    upgrading any of them never reuses a stale cache (numba alone checks only the file that
    defines a kernel, not the helpers it inlines from others). NUMBA_CACHE_DIR, when set, is used
    as it is. Nothing is cached when the folder cannot be written. The folders of other versions
    that no run has used for STALE_DAYS days are removed (`prune_stale_caches`)."""
    if os.environ.get("FASTSCAN_NUMBA_CACHE", "").strip() != "" or "numba" in sys.modules:
        return
    if not os.environ.get("NUMBA_CACHE_DIR"):
        folder = ready_folder(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fastscan")
        if folder is None:
            return
        os.environ["NUMBA_CACHE_DIR"] = str(folder)
    os.environ["FASTSCAN_NUMBA_CACHE"] = "1"


def ready_folder(base: Path) -> Path | None:
    """This version's cache folder in `base` (cache_folder), created readable by its owner only
    and written to once, marked as used now, the stale folders beside it pruned
    (`prune_stale_caches`); None when numba is not installed or the folder cannot be written."""
    folder = cache_folder(Path(__file__).resolve().parent, base)
    if folder is None:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        probe = folder / f".probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError:
        return None
    with contextlib.suppress(OSError):
        os.utime(folder)  # used now (prune_stale_caches goes by this time)
    prune_stale_caches(base, folder)
    return folder


STALE_DAYS = 30  # a cache folder no run has used for this long is removed
_FOLDER_NAME = re.compile(f"{_PREFIX}[0-9a-f]{{{_DIGITS}}}")  # as cache_folder names them


def prune_stale_caches(base: Path, current: Path) -> None:
    """Remove the kernel cache folders in `base` (named numba-<16 hex digits>, as cache_folder names
    them) other than `current` that no run has used for STALE_DAYS days: each upgrade or edit of
    the kernels leaves one behind (5-15 MB). Nothing else in `base` is touched, and a folder that
    cannot be removed is left where it is: it is a cache."""
    cutoff = time.time() - STALE_DAYS * 86400
    try:
        entries = list(base.iterdir())
    except OSError:
        return
    for d in entries:
        try:
            if (
                _FOLDER_NAME.fullmatch(d.name)
                and d != current
                and not d.is_symlink()
                and d.is_dir()
                and d.stat().st_mtime < cutoff
            ):
                shutil.rmtree(d, ignore_errors=True)
        except OSError:
            continue


def kernels_on_disk() -> bool | None:
    """Whether the kernels will load from the disk cache: True when its folder holds kernels
    compiled from this copy of them, False when they are compiled now (the cache is off, or holds
    none from here yet: the first run of this version, or of this checkout), None when that cannot
    be told (numba's own default folder)."""
    if not cache_enabled():
        return False
    folder = os.environ.get("NUMBA_CACHE_DIR")
    if not folder:
        return None
    try:
        return any((Path(folder) / numba_subfolder(Path(__file__))).glob("*.nbi"))
    except OSError:
        return None


def numba_subfolder(source: Path) -> str:
    """The folder, inside NUMBA_CACHE_DIR, where numba keeps what it compiled from the module at
    `source`: the name of the module's folder and a SHA-1 of its absolute path, as numba's
    UserProvidedCacheLocator names it (tests/test_cli_cache.py checks the two agree). Two
    checkouts of the same kernels share NUMBA_CACHE_DIR's folder but not this one."""
    where = os.path.dirname(os.path.abspath(source))
    return f"{os.path.basename(where)}_{hashlib.sha1(where.encode()).hexdigest()}"
