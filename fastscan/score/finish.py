"""From a scan's merged partial result to its Report: the one finish every runner uses."""

from __future__ import annotations

import resource
import time

import numpy as np
import pyarrow as pa

from fastscan.buffers import no_huge_pages
from fastscan.parallel import in_background
from fastscan.partial import Partial
from fastscan.report import Report, ScanStats
from fastscan.score.activity import account_activity, hour_of_day, model_usage
from fastscan.score.campaigns import candidates, find_campaigns
from fastscan.score.coordination import coordination_columns
from fastscan.score.excerpts import prompt_excerpts, skeletons
from fastscan.score.features import account_features
from fastscan.score.model import FLAG_THRESHOLD, MIN_REQUESTS, score_accounts
from fastscan.score.neardup import cross_account, low_bits, near_duplicate_flags, repetition
from fastscan.state import AccountState

__all__ = ["finish", "peak_rss_mb"]


def peak_rss_mb() -> float:
    """The peak resident memory of this process so far, in MB."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def finish(
    partial: Partial,
    flag_threshold: float = FLAG_THRESHOLD,
    min_requests: int = MIN_REQUESTS,
    piece_files: list[int] | None = None,
    include_text: bool | None = None,
) -> Report:
    """Score the accounts of `partial`: near-duplicates, cross-account links, features, the
    extraction score and its reasons. `piece_files` (each piece's file) when pieces were byte
    ranges, so that rejected records keep the line numbers of their whole file. `include_text`:
    the report shows the skeletons of shared templates and excerpts of the prompts of suspicious
    accounts (fastscan.score.excerpts); None: when the scan kept text (`ScanConfig.keep_text`).
    ValueError when asked for and the scan kept none."""
    with no_huge_pages():
        return _finish(partial, flag_threshold, min_requests, piece_files, include_text)


def _tables_in_id_order(state: AccountState) -> np.ndarray:
    """Compact the state's sparse tables; its accounts in id order."""
    state.compact_tables()
    return state.id_order()


def _finish(
    partial: Partial,
    flag_threshold: float,
    min_requests: int,
    piece_files: list[int] | None,
    include_text: bool | None,
) -> Report:
    t0 = time.perf_counter()
    state = partial.state
    if include_text is None:
        include_text = state.sample.text is not None
    if include_text and state.sample.text is None:
        raise ValueError("the scan kept no prompt text to include (scan with keep_text / --include-text)")
    # The state's sparse tables are compacted, and its accounts put in id order, on a thread of
    # their own from the start, while this thread compacts the prompt sample on one core: the
    # near-duplicate work below reads neither (it reads the sample). Reading a table compacts it,
    # which two threads must not do at once.
    early = in_background(lambda: _tables_in_id_order(state))
    bits = low_bits(state)
    near = near_duplicate_flags(state, bits)
    # the repetition columns need only the flags: on a thread of their own while the cross-account
    # links are found (which leave the cores some time)
    rep = in_background(lambda: repetition(state, near))
    cross = cross_account(state, near, bits)
    repeated = rep.result()
    # account_features' rows are the state's accounts in id order. The campaigns' candidates by
    # fingerprint need only the state: found on a thread of their own while the accounts are
    # scored on one core (on a swarm of 197,458 accounts, find_campaigns 0.57-0.65 -> 0.37-0.42 s;
    # found from the start instead, beside the near-duplicate work, finish() took 0.1 s longer).
    at = early.result()
    found = in_background(lambda: candidates(state, at))
    features = account_features(state, cross, near, repeated)
    for name, values in coordination_columns(features).items():
        features = features.append_column(name, pa.array(values, pa.int64()))
    accounts = score_accounts(features, flag_threshold, min_requests)
    accounts, campaigns = find_campaigns(state, accounts, flag_threshold, min_requests, at, found.result())
    templates, excerpts = cross.shared_templates, None
    if include_text:
        templates = templates.append_column("skeleton", skeletons(state, cross.template_examples))
        excerpts = prompt_excerpts(state, accounts)
    examples, file_errors = partial.rejects(piece_files)
    st = partial.stats
    seconds = partial.seconds + time.perf_counter() - t0
    secs = max(seconds, 1e-9)
    stats = ScanStats(
        files=st.files,
        bytes_read=st.bytes_read,
        bytes_decoded=st.bytes_decoded,
        records_read=st.records_read,
        records_scored=st.records_scored,
        records_rejected=st.records_rejected,
        rejected_by_reason=dict(sorted(st.rejected_by_reason.items())),
        accounts=state.n_accounts,
        seconds=round(seconds, 3),
        mb_per_s=round((st.bytes_decoded - partial.prior_bytes) / 1e6 / secs, 1),
        records_per_s=round((st.records_read - partial.prior_records) / secs, 1),
        peak_rss_mb=peak_rss_mb(),
        state_mb=round(state.nbytes / 1e6, 1),
        sample_level=state.sample.size,
        sample_size=state.config.sample_size,
    )
    return Report(
        accounts,
        stats,
        examples,
        file_errors,
        shared_templates=templates,
        prompt_excerpts=excerpts,
        campaigns=campaigns,
        near_dup_links=cross.near_dup_links,
        activity=account_activity(state, accounts, flag_threshold),
        models=model_usage(state),
        hour_of_day=hour_of_day(state),
        threshold=flag_threshold,
        min_requests=min_requests,
    )
