"""A progress line on stderr (bytes, MB/s, ETA), only when stderr is a terminal."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total_bytes: int, stream=None, enabled: bool | None = None, every: float = 0.2):
        self.stream = stream or sys.stderr
        self.total = total_bytes
        self.done = 0
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.start = time.perf_counter()
        self.every = every
        self._last = 0.0

    def __call__(self, nbytes: int) -> None:
        self.done += nbytes
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self._last < self.every:
            return
        self._last = now
        self._draw(now)

    def _draw(self, now: float) -> None:
        el = max(now - self.start, 1e-9)
        rate = self.done / el
        if self.total:
            frac = min(1.0, self.done / self.total)
            eta = (self.total - self.done) / rate if rate > 0 else 0.0
            bar = "#" * int(frac * 30)
            msg = (
                f"\r[{bar:30s}] {self.done / 1e6:,.0f}/{self.total / 1e6:,.0f} MB "
                f"{rate / 1e6:,.0f} MB/s ETA {eta:,.0f}s "
            )
        else:
            msg = f"\r{self.done / 1e6:,.0f} MB {rate / 1e6:,.0f} MB/s "
        self.stream.write(msg)
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * 79 + "\r")
            self.stream.flush()
