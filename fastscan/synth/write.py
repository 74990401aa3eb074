"""Writing a log: sized by target bytes, generated block by block in time order, streamed to disk."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from fastscan.synth.base import FORMATS, S_CALIBRATE, S_POOLS, S_TEXT, SynthSummary
from fastscan.synth.generator import Generator, iso_times
from fastscan.synth.plan import plan_accounts, schedule_requests
from fastscan.synth.rand import Rand, make_rng
from fastscan.synth.text import Text

_BLOCK_RECORDS = 2048
_CALIBRATION_REQUESTS = 1500  # requests per population rendered to learn bytes per request


def _calibrate(pools: Text, seed: int, accounts: int, days: int, fmt: str, start: int) -> dict:
    """Mean bytes of a request of each population, measured by rendering a sample of them."""
    plan = plan_accounts(accounts, seed, days)
    gen = Generator(pools.with_rand(Rand(make_rng(seed, S_CALIBRATE))), seed, fmt, pools)
    iso = iso_times(np.array([start], dtype=np.int64))[0]
    sums: dict = {}
    for a in plan:
        done, nbytes = sums.get(a.pop.key, (0, 0))
        # at most an eighth of the sample from one account, so that several accounts are seen
        for _ in range(min(a.n, _CALIBRATION_REQUESTS // 8, _CALIBRATION_REQUESTS - done)):
            nbytes += len(gen.line(a, done, start, iso))
            done += 1
        sums[a.pop.key] = (done, nbytes)
    return {k: b / max(1, n) for k, (n, b) in sums.items()}


def _accounts_for(target_bytes: int, accounts: int, pools: Text, seed: int, days: int, fmt: str, start: int) -> int:
    """The account count whose planned requests are expected to make about `target_bytes`."""
    mean = _calibrate(pools, seed, accounts, days, fmt, start)
    tried = {}
    n = accounts
    for _ in range(8):
        est = sum(a.n * mean[a.pop.key] for a in plan_accounts(n, seed, days))
        tried[n] = abs(est - target_bytes)
        if tried[n] <= 0.01 * target_bytes:
            break
        n = max(1, round(n * target_bytes / max(est, 1.0)))
        if n in tried:
            break
    return min(tried, key=lambda k: (tried[k], k))


# --------------------------------------------------------------------------- output


class _Sink:
    """A file written through a temporary name; plain, gzip (.gz) or zstandard (.zst)."""

    def __init__(self, path: str):
        self.path = path
        self.tmp = path + ".part"
        self.raw = open(self.tmp, "wb")  # noqa: SIM115 (closed by commit() or abort())
        if path.endswith(".gz"):
            # mtime=0 and no file name in the header: the same log gives the same bytes
            self.fh: Any = gzip.GzipFile(filename="", mode="wb", fileobj=self.raw, compresslevel=6, mtime=0)
        elif path.endswith(".zst"):
            import zstandard

            self.fh = zstandard.ZstdCompressor(level=3).stream_writer(self.raw, closefd=False)
        else:
            self.fh = self.raw

    def write(self, data: bytes | bytearray) -> None:
        self.fh.write(data)

    def commit(self) -> None:
        if self.fh is not self.raw:
            self.fh.close()
        self.raw.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        try:
            if self.fh is not self.raw:
                self.fh.close()
            self.raw.close()
        finally:
            if os.path.exists(self.tmp):
                os.remove(self.tmp)


def _parse_start(start: str) -> int:
    try:
        t = dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"start: not an ISO-8601 time: {start!r}") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return int(t.timestamp() * 1000)


def write_log(
    path,
    *,
    accounts: int = 300,
    seed: int = 0,
    fmt: str = "flat",
    target_bytes: int | None = None,
    days: int = 7,
    start: str = "2025-09-01T00:00:00Z",
    progress: Callable[[int], None] | None = None,
) -> SynthSummary:
    """Write a synthetic, labelled request log as JSON Lines, sorted by time.

    path: where to write; a name ending in .gz is gzip-compressed, one ending in .zst zstandard.
    accounts: about how many accounts (populations keep their shares, see the module docstring).
    fmt: "flat" records have request_id, account_id, ts (ISO-8601 UTC, ms, Z), model, prompt,
        completion, prompt_tokens, completion_tokens, max_tokens, temperature, n, logprobs,
        finish_reason; a multi-message prompt is flattened to "role: content" blocks joined by a
        blank line. "openai" records have id, created (epoch s), user, request{model, messages,
        max_tokens, temperature, n, logprobs and top_logprobs when asked}, response{choices,
        usage{prompt_tokens, completion_tokens, total_tokens, completion_tokens_details when there
        are reasoning tokens}}. Both formats of one seed describe the same requests.
    target_bytes: when given, `accounts` is only the starting point: the account count is chosen
        so that about this many bytes of JSON (before compression) are written.
    days, start: the time the log covers.
    progress: called with the number of uncompressed bytes after each block is written.

    Returns a SynthSummary with the counts, the time taken and every account's label.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if int(accounts) < 1 or int(days) < 1:
        raise ValueError("accounts and days must be at least 1")
    if int(seed) < 0:
        raise ValueError("seed must be a non-negative integer")
    if target_bytes is not None and target_bytes <= 0:
        raise ValueError("target_bytes must be positive")
    accounts, days, seed, path = int(accounts), int(days), int(seed), os.fspath(path)
    t_start = time.perf_counter()
    start_ms = _parse_start(start)

    pools = Text(Rand(make_rng(seed, S_POOLS)))
    if target_bytes is not None:
        accounts = _accounts_for(int(target_bytes), accounts, pools, seed, days, fmt, start_ms)
    plan = plan_accounts(accounts, seed, days)
    ts, acct = schedule_requests(plan, seed, days, start_ms)
    gen = Generator(pools.with_rand(Rand(make_rng(seed, S_TEXT))), seed, fmt, pools)
    line = gen.line

    sink = _Sink(path)
    nbytes = 0
    try:
        for b0 in range(0, len(ts), _BLOCK_RECORDS):
            block_ts = ts[b0 : b0 + _BLOCK_RECORDS]
            block = zip(
                range(b0, b0 + len(block_ts)),
                acct[b0 : b0 + _BLOCK_RECORDS].tolist(),
                block_ts.tolist(),
                iso_times(block_ts),
            )
            # appended one by one: orjson's bytes keep spare capacity, a list of 2048 of them is ~40 MB
            data = bytearray()
            for i, j, t, iso in block:
                data += line(plan[j], i, t, iso)
            sink.write(data)
            nbytes += len(data)
            if progress is not None:
                progress(len(data))
        sink.commit()
    except BaseException:
        sink.abort()
        raise
    counts = np.bincount(acct, minlength=len(plan))
    labels = tuple(a.label(int(c)) for a, c in zip(plan, counts.tolist()))
    return SynthSummary(
        path=path,
        fmt=fmt,
        seed=seed,
        records=int(len(ts)),
        bytes_written=nbytes,
        file_bytes=os.path.getsize(path),
        seconds=time.perf_counter() - t_start,
        labels=labels,
    )


def write_labels(path, summary: SynthSummary) -> None:
    """Write the accounts' labels as CSV: account_id,label,kind,campaign,requests (sorted by account)."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["account_id", "label", "kind", "campaign", "requests"])
        for a in sorted(summary.labels, key=lambda a: a.account_id):
            w.writerow([a.account_id, a.label, a.kind, a.campaign, a.requests])
