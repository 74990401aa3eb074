"""Where a scan's time goes, from the outside: the read phase and the scoring apart."""

from __future__ import annotations

import time

FIGURES = ("read_s", "read_cores", "finish_s", "finish_cores")  # what Phases.figures gives


class Phases:
    """A scan's progress object (fastscan.scan(progress=...)) that notes where the read ends and the
    scoring (`finish()`) begins, in wall and CPU seconds of the whole process."""

    def __init__(self) -> None:
        self.start = (time.perf_counter(), time.process_time())
        self.scoring: tuple[float, float] | None = None
        self.end: tuple[float, float] | None = None

    def __call__(self, nbytes: int) -> None:
        pass

    def stage(self, name: str) -> None:
        if name == "scoring":
            self.scoring = (time.perf_counter(), time.process_time())

    def done(self) -> None:
        self.end = (time.perf_counter(), time.process_time())

    def figures(self) -> dict:
        """The read phase's and finish()'s wall seconds, and the cores each kept busy (CPU / wall)."""
        if self.scoring is None or self.end is None:
            return {}
        (w0, c0), (w1, c1), (w2, c2) = self.start, self.scoring, self.end
        values = (w1 - w0, (c1 - c0) / max(w1 - w0, 1e-9), w2 - w1, (c2 - c1) / max(w2 - w1, 1e-9))
        return {k: round(v, 3 if k.endswith("_s") else 2) for k, v in zip(FIGURES, values)}
