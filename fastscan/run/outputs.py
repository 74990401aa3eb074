"""Outputs are checked before a byte is read: none may overwrite an input or land in the state
directory, each must name a writable place, and a report's extension must be one we write."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from fastscan.errors import InputError
from fastscan.read import Source
from fastscan.read.discover import file_identity
from fastscan.report.tables import REPORT_EXTENSIONS

__all__ = ["check_outputs", "check_report_path"]


def _real(path: str | os.PathLike[str]) -> str:
    return os.path.realpath(os.fspath(path))


def _identity(path: str) -> object | None:
    """The file's identity (discover.file_identity), or None when there is no file."""
    try:
        return file_identity(path, os.stat(path))
    except OSError:
        return None


def check_report_path(path: str | os.PathLike[str], what: str = "report") -> None:
    """The report writers know the format by the extension: refuse any other before the scan."""
    if not os.fspath(path).lower().endswith(REPORT_EXTENSIONS):
        raise InputError(f"{os.fspath(path)}: unknown {what} format (use .parquet, .csv or .jsonl)")


def check_outputs(
    sources: Iterable[Source],
    outputs: Mapping[str, str | os.PathLike[str] | None],
    state_dir: str | os.PathLike[str] | None = None,
) -> None:
    """Refuse, before anything is opened for writing, an output (name -> path; None: not asked
    for) that is an input of the scan, lies inside the state directory, is a folder, or whose
    folder does not exist or cannot be written."""
    asked = [(what, os.fspath(path)) for what, path in outputs.items() if path is not None]
    # only an output that exists can be an input (each input is looked at only then: a realpath
    # of each of 20,000 inputs took a second)
    existing = {p: same for _, p in asked if (same := _identity(p)) is not None}
    inputs: dict[object, str] = {}
    if existing:
        for src in sources:
            if not src.stream and "://" not in src.path and (same := _identity(src.path)) is not None:
                inputs.setdefault(same, src.path)
    state = _real(state_dir) if state_dir is not None else None
    for what, p in asked:
        real = _real(p)
        if p in existing and existing[p] in inputs:
            raise InputError(
                f"{p}: the {what} would overwrite an input of this scan ({inputs[existing[p]]}); choose another path"
            )
        if state is not None and (real == state or real.startswith(state + os.sep)):
            raise InputError(f"{p}: the {what} cannot be written inside the state directory {state_dir}")
        if os.path.isdir(p):
            raise InputError(f"{p}: the {what} path is a folder")
        folder = os.path.dirname(os.path.abspath(p))
        if not os.path.isdir(folder):
            raise InputError(f"{p}: the folder of the {what} does not exist")
        if not os.access(folder, os.W_OK):
            raise InputError(f"{p}: the folder of the {what} cannot be written (permission denied)")
