"""A progress line on stderr, only when stderr is a terminal: bytes, MB/s and ETA; the file being
read (k of n); records and records/s, accounts and rejects so far; and the scoring stage."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


class Progress:
    """Called with the bytes read so far; the runners also tell it, where it listens, which file
    starts (`file`), what was folded (`folded`), the counts to watch (`watch`), the stage (`stage`)."""

    def __init__(self, total_bytes: int, stream: TextIO | None = None, enabled: bool | None = None, every: float = 0.2):
        self.stream = stream or sys.stderr
        self.total = total_bytes
        self.done = 0
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.start = time.perf_counter()
        self.every = every
        self._last = 0.0
        self.where = ""  # "file 2/5"
        self.accounts = 0
        self.stats: Any = None  # a ReadStats, read live
        self.now = ""  # the stage after reading

    def __call__(self, nbytes: int) -> None:
        self.done += nbytes
        self._tick()

    def file(self, k: int, n: int, name: str) -> None:
        self.where = f"file {k}/{n}" if n > 1 else ""
        self._tick()

    def folded(self, rows: int, accounts: int) -> None:
        self.accounts = accounts
        self._tick()

    def watch(self, stats: Any) -> None:
        self.stats = stats

    def stage(self, name: str) -> None:
        self.now = name
        self._tick(force=True)

    def _tick(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and now - self._last < self.every:
            return
        self._last = now
        self.stream.write("\r" + self.line(now)[:160].ljust(100))
        self.stream.flush()

    def line(self, now: float) -> str:
        el = max(now - self.start, 1e-9)
        rate = self.done / el
        if self.total:
            frac = min(1.0, self.done / self.total)
            eta = (self.total - self.done) / rate if rate > 0 else 0.0
            head = (
                f"[{'#' * int(frac * 20):20s}] {self.done / 1e6:,.0f}/{self.total / 1e6:,.0f} MB {rate / 1e6:,.0f} MB/s"
            )
            head += f" ETA {eta:,.0f}s"
        else:
            head = f"{self.done / 1e6:,.0f} MB {rate / 1e6:,.0f} MB/s"
        parts = [head]
        if self.where:
            parts.append(self.where)
        if self.stats is not None:
            parts.append(f"{self.stats.records_read:,} records ({self.stats.records_read / el:,.0f}/s)")
            parts.append(f"{self.accounts:,} accounts, {self.stats.records_rejected:,} rejected")
        if self.now:
            parts.append(f"{self.now}…")
        return " | ".join(parts)

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * 160 + "\r")
            self.stream.flush()
