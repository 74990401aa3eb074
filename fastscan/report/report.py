"""What a scan returns: the per-account table, the run's statistics and the ring evidence."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from fastscan.errors import OutputError
from fastscan.report.tables import write_table

__all__ = ["LEAD_COLUMNS", "NEAR_THRESHOLD", "Explanation", "Report", "ScanStats"]

NEAR_THRESHOLD = 0.8  # accounts scoring this share of the flag threshold or more are "near" it

LEAD_COLUMNS = (
    "account_id",
    "requests",
    "prompt_tokens",
    "completion_tokens",
    "first_seen",
    "last_seen",
    "exact_dup_rate",
    "near_dup_rate",
    "template_rate",
    "extraction_score",
    "flagged",
    "reasons",
)


def _ordered(table: pa.Table) -> pa.Table:
    lead = [c for c in LEAD_COLUMNS if c in table.column_names]
    rest = [c for c in table.column_names if c not in lead]
    return table.select(lead + rest)


@dataclass
class ScanStats:
    """The run's numbers. Always `records_read == records_scored + records_rejected`.

    A Dask scan also sets `pieces`, `workers` and `task_seconds`; there `seconds` is the client's
    wall time and `peak_rss_mb` the largest of any worker.
    """

    files: int  # inputs read (a file cut into byte ranges counts once)
    bytes_read: int  # bytes of input consumed (compressed size for .gz/.zst)
    bytes_decoded: int  # bytes of JSON (or Arrow) after decompression
    records_read: int
    records_scored: int
    records_rejected: int
    rejected_by_reason: dict[str, int]  # the kind of reason (text before its first colon) -> count
    accounts: int
    seconds: float
    mb_per_s: float  # bytes_decoded per second
    records_per_s: float
    peak_rss_mb: float
    state_mb: float  # the per-account state's size in memory
    # the most distinct prompts an account's sample kept, and the most it may keep (the config's
    # sample_size): the first is less only where the sample budget bound (docs/bounds.md)
    sample_level: int | None = None
    sample_size: int | None = None
    pieces: int | None = None  # Dask only: tasks the input was cut into
    workers: int | None = None  # Dask only: worker threads of the cluster
    task_seconds: float | None = None  # Dask only: seconds summed over its tasks

    def to_dict(self) -> dict[str, Any]:
        """The statistics as a JSON-ready dict (what `--stats` writes); Dask-only keys when set."""
        d = {k: v for k, v in self.__dict__.items() if v is not None}
        d["rejected_by_reason"] = dict(self.rejected_by_reason)
        return d


@dataclass
class Report:
    """What a scan returns: `accounts` (one row per account) and `stats` (the run's numbers)."""

    accounts: pa.Table
    stats: ScanStats
    rejected_examples: list[dict] = field(default_factory=list)  # {file, line, reason} of the first ones
    file_errors: list[dict] = field(default_factory=list)  # {file, line, reason}: not one record
    shared_templates: pa.Table | None = None  # skeleton_hash, accounts, account_ids (+ skeleton with text)
    near_dup_links: pa.Table | None = None  # account_id, other_account_id, shared_near_dups
    activity: pa.Table | None = None  # account_id, hour, requests: the accounts near the threshold
    models: pa.Table | None = None  # model, requests, accounts, completion_tokens
    hour_of_day: pa.Table | None = None  # hour (0-23, UTC), requests: the whole log
    prompt_excerpts: pa.Table | None = None  # account_id, count, excerpt: only with include_text
    campaigns: pa.Table | None = None  # one row per campaign of 2+ accounts (fastscan.score.campaigns)
    threshold: float = 0.5  # the extraction_score that flagged
    min_requests: int = 50

    def __post_init__(self) -> None:
        self.accounts = _ordered(self.accounts)

    @property
    def flagged(self) -> pa.Table:
        return self.accounts.filter(self.accounts.column("flagged"))

    def write(self, path: str | os.PathLike[str]) -> None:
        """The accounts table as Parquet, CSV or JSON Lines, by the extension of `path`."""
        write_table(self.accounts, path)

    def write_stats(self, path: str | os.PathLike[str]) -> None:
        data = orjson.dumps(self.stats.to_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
        try:
            with open(path, "wb") as fh:
                fh.write(data)
        except OSError as e:
            raise OutputError(f"{os.fspath(path)}: cannot write the statistics: {e.strerror or e}") from None

    def top(self, n: int = 20) -> pa.Table:
        """The n highest-scoring accounts (ties by requests, then account_id)."""
        idx = pc.sort_indices(
            self.accounts,
            sort_keys=[("extraction_score", "descending"), ("requests", "descending"), ("account_id", "ascending")],
        )
        return self.accounts.take(idx[:n])


@dataclass
class Explanation:
    """One account of a scan, explained: its report row, every signal, and example prompts."""

    account_id: str
    row: dict[str, Any]  # the account's report row (features, extraction_score, flagged, reasons)
    signals: list[dict[str, Any]]  # fastscan.score.model.explain_account: signal, group, value, contribution, ...
    prompts: list[tuple[int, str]]  # up to `examples` (count, prompt) pairs, most frequent first
    distinct_prompts: int  # distinct prompts seen for the account in this scan
    report: Report
    linked: dict[str, list[str]] = field(default_factory=dict)  # kind of link -> linked account ids
