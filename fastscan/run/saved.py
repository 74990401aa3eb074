"""A saved scan: the report of everything a state directory holds, without reading a log again
(`fastscan report --state DIR`, `fastscan explain ACCOUNT --state DIR`)."""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable

import pyarrow as pa

from fastscan.config import ScanConfig
from fastscan.errors import StateError
from fastscan.read.shape import shape_from_dict
from fastscan.report import Explanation, Report, ScanStats
from fastscan.report.evidence import linked_accounts
from fastscan.run.statedir import StateDir, read_manifest, write_private
from fastscan.score import FLAG_THRESHOLD, MIN_REQUESTS, finish
from fastscan.score.model import explain_account

__all__ = ["CACHE_FILE", "explain_saved", "save_report", "saved_report", "without_text"]

# The report of the last scan into the directory, so report / explain --state need not finish the
# state again (4-5 s for a 2 GB log's state). Valid for that checkpoint generation and those flag
# settings only; anything else, or a damaged file, and the state is finished again.
CACHE_FILE = "report-cache.bin"
_TABLES = (
    "accounts",
    "shared_templates",
    "near_dup_links",
    "activity",
    "models",
    "hour_of_day",
    "prompt_excerpts",
    "campaigns",
)


def save_report(state_dir: str | os.PathLike[str], report: Report, generation: int) -> None:
    """Keep `report` beside the state of checkpoint `generation` (privately, atomically)."""
    blobs, spans, at = [], {}, 0
    for name in _TABLES:
        table = getattr(report, name)
        if table is None:
            continue
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as w:
            w.write_table(table)
        data = sink.getvalue().to_pybytes()
        spans[name] = [at, len(data)]
        blobs.append(data)
        at += len(data)
    head = {
        "generation": generation,
        "threshold": report.threshold,
        "min_requests": report.min_requests,
        "stats": report.stats.to_dict(),
        "rejected_examples": report.rejected_examples,
        "file_errors": report.file_errors,
        "tables": spans,
    }
    header = json.dumps(head, sort_keys=True).encode()
    blob = struct.pack("<Q", len(header)) + header + b"".join(blobs)
    write_private(os.path.join(os.fspath(state_dir), CACHE_FILE), blob)


def _cached(path: str, generation: int, threshold: float, min_requests: int) -> Report | None:
    try:
        with open(os.path.join(path, CACHE_FILE), "rb") as fh:
            data = fh.read()
        (n,) = struct.unpack("<Q", data[:8])
        head = json.loads(data[8 : 8 + n])
        if (head["generation"], head["threshold"], head["min_requests"]) != (generation, threshold, min_requests):
            return None
        body = memoryview(data)[8 + n :]
        tables = {
            name: pa.ipc.open_stream(pa.py_buffer(body[a : a + k])).read_all()
            for name, (a, k) in head["tables"].items()
        }
        return Report(
            tables.pop("accounts"),
            ScanStats(**head["stats"]),
            head["rejected_examples"],
            head["file_errors"],
            threshold=threshold,
            min_requests=min_requests,
            **tables,
        )
    except (OSError, ValueError, KeyError, TypeError, struct.error, pa.ArrowException):
        return None  # no cache, or not one to trust: the state is finished again


def without_text(report: Report) -> Report:
    """`report` without any prompt text: no template skeletons, no prompt excerpts."""
    templates = report.shared_templates
    if templates is not None and "skeleton" in templates.column_names:
        report.shared_templates = templates.drop_columns(["skeleton"])
    report.prompt_excerpts = None
    return report


def saved_report(
    state_dir: str | os.PathLike[str],
    *,
    flag_threshold: float = FLAG_THRESHOLD,
    min_requests: int = MIN_REQUESTS,
    include_text: bool = False,
    before_scoring: Callable[[], None] | None = None,
) -> Report:
    """The report of every file scanned into `state_dir`, with the config and log shape it was
    scanned with; StateError when it holds no scan (or a damaged one). `include_text`: with the
    skeletons of shared templates and excerpts of prompts (fastscan.score.excerpts), which only a
    scan with --include-text keeps (StateError otherwise). The report saved with the scan is
    used when it answers (the same threshold and minimum); otherwise the saved state is scored
    again, and `before_scoring` is called first (the CLI loads the kernels then, only then)."""
    path = os.path.abspath(os.fspath(state_dir))
    if not os.path.exists(os.path.join(path, "manifest.json")):
        raise StateError(f"{path}: holds no saved scan (scan into it with --state first)")
    m = read_manifest(path)
    config = ScanConfig.from_dict(m["config"])
    if include_text and not config.keep_text:
        raise StateError(f"{path}: the scan kept no prompt text (scan into it with --include-text to keep some)")
    cached = _cached(path, m["generation"], flag_threshold, min_requests)
    if cached is not None and (cached.prompt_excerpts is not None or not include_text):
        return cached if include_text else without_text(cached)
    if before_scoring is not None:
        before_scoring()
    with StateDir(path, config, shape_from_dict(m["shape"])) as sd:
        partial = sd.partial
    return finish(partial, flag_threshold, min_requests, include_text=include_text)


def explain_saved(report: Report, account_id: str, min_requests: int = MIN_REQUESTS) -> Explanation:
    """One account of a saved scan explained; its example prompts are the report's excerpts of it
    (a report with text only, and only for accounts above the typical one). KeyError when the
    account is not in it."""
    signals = explain_account(report.accounts, account_id, min_requests)
    ids = report.accounts.column("account_id").to_pylist()
    row = report.accounts.slice(ids.index(account_id), 1).to_pylist()[0]
    prompts: list[tuple[int, str]] = []
    if report.prompt_excerpts is not None:
        prompts = [
            (r["count"], r["excerpt"]) for r in report.prompt_excerpts.to_pylist() if r["account_id"] == account_id
        ]
    distinct = int(row.get("distinct_prompts") or 0)
    return Explanation(account_id, row, signals, prompts, distinct, report, linked_accounts(report, account_id))
