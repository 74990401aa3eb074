"""A saved scan: the report of everything a state directory holds, without reading a log again
(`fastscan report --state DIR`, `fastscan explain ACCOUNT --state DIR`)."""

from __future__ import annotations

import os

from fastscan.config import ScanConfig
from fastscan.errors import StateError
from fastscan.read.shape import shape_from_dict
from fastscan.report import Explanation, Report
from fastscan.report.evidence import linked_accounts
from fastscan.run.statedir import StateDir, read_manifest
from fastscan.score import FLAG_THRESHOLD, MIN_REQUESTS, finish
from fastscan.score.model import explain_account

__all__ = ["explain_saved", "saved_report"]


def saved_report(
    state_dir: str | os.PathLike[str], *, flag_threshold: float = FLAG_THRESHOLD, min_requests: int = MIN_REQUESTS
) -> Report:
    """The report of every file scanned into `state_dir`, with the config and log shape it was
    scanned with; StateError when it holds no scan (or a damaged one)."""
    path = os.path.abspath(os.fspath(state_dir))
    if not os.path.exists(os.path.join(path, "manifest.json")):
        raise StateError(f"{path}: holds no saved scan (scan into it with --state first)")
    m = read_manifest(path)
    with StateDir(path, ScanConfig.from_dict(m["config"]), shape_from_dict(m["shape"])) as sd:
        partial = sd.partial
    return finish(partial, flag_threshold, min_requests)


def explain_saved(report: Report, account_id: str, min_requests: int = MIN_REQUESTS) -> Explanation:
    """One account of a saved scan explained (no example prompts: a state keeps no prompt text).
    KeyError when the account is not in it."""
    signals = explain_account(report.accounts, account_id, min_requests)
    ids = report.accounts.column("account_id").to_pylist()
    row = report.accounts.slice(ids.index(account_id), 1).to_pylist()[0]
    return Explanation(account_id, row, signals, [], 0, report, linked_accounts(report, account_id))
