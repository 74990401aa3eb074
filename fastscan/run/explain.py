"""Explaining one account: the scan loop again, gathering that account's example prompts."""

from __future__ import annotations

import time

import pyarrow as pa
import pyarrow.compute as pc

from fastscan.config import ScanConfig
from fastscan.params import entity_ids
from fastscan.read import DEFAULT_CHUNK_BYTES, expand_sources
from fastscan.report import Explanation
from fastscan.report.evidence import linked_accounts
from fastscan.run.local import Mapping_, Paths, Scanner
from fastscan.run.loop import fold, read_all
from fastscan.score import FLAG_THRESHOLD, MIN_REQUESTS
from fastscan.score.model import explain_account

__all__ = ["explain"]


def explain(
    paths: Paths,
    account_id: str,
    *,
    examples: int = 5,
    config: ScanConfig | None = None,
    mapping: Mapping_ = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    flag_threshold: float = FLAG_THRESHOLD,
    min_requests: int = MIN_REQUESTS,
) -> Explanation:
    """Scan `paths` and explain one account: the whole scan is needed, since the reasons compare
    the account with the rest of the population. Example prompts are gathered in the same pass
    (only this account's, and only when `examples` > 0). Raises KeyError if the account is absent."""
    notes: list[dict] = []
    sources = expand_sources(paths, notes)
    scanner = Scanner(config, mapping=mapping, flag_threshold=flag_threshold, min_requests=min_requests)
    scanner.rejects.file_errors.extend(notes)
    counts: dict[str, int] = {}

    def gather(batch: pa.RecordBatch) -> None:
        mine = batch.filter(pc.equal(entity_ids(batch, scanner.config.entity), account_id))
        for p in mine.column("prompt").to_pylist():
            if p is not None:
                counts[p] = counts.get(p, 0) + 1

    t0 = time.perf_counter()
    fold(
        scanner.state,
        read_all(sources, shape=scanner.shape, chunk_bytes=chunk_bytes, rejects=scanner.rejects, stats=scanner.stats),
        on_batch=gather if examples > 0 else None,
    )
    scanner.partial.seconds += time.perf_counter() - t0
    report = scanner.finish()
    signals = explain_account(report.accounts, account_id, min_requests)
    ids = report.accounts.column("account_id").to_pylist()
    row = report.accounts.slice(ids.index(account_id), 1).to_pylist()[0]
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:examples]
    return Explanation(
        account_id, row, signals, [(c, p) for p, c in top], len(counts), report, linked_accounts(report, account_id)
    )
