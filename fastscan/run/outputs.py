"""Outputs are checked before a byte is read: none may overwrite an input or land in the state
directory, each must name a writable place, and a report's extension must be one we write."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from fastscan.errors import InputError
from fastscan.read import Source
from fastscan.report.tables import REPORT_EXTENSIONS

__all__ = ["check_outputs", "check_report_path"]


def _real(path: str | os.PathLike[str]) -> str:
    return os.path.realpath(os.fspath(path))


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
    inputs = {_real(s.path): s.path for s in sources if not s.stream and "://" not in s.path}
    state = _real(state_dir) if state_dir is not None else None
    for what, path in outputs.items():
        if path is None:
            continue
        p = os.fspath(path)
        real = _real(p)
        if real in inputs:
            raise InputError(
                f"{p}: the {what} would overwrite an input of this scan ({inputs[real]}); choose another path"
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
