"""`Partial`: the partial result of any part of a scan, the one type every runner produces and merges."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastscan.read.rejects import ReadStats
from fastscan.state import AccountState

__all__ = ["KEEP_EXAMPLES", "Partial", "line_offsets"]

KEEP_EXAMPLES = 20  # rejected records a scan keeps as examples (the reject file has them all)


def line_offsets(piece_files: list[int], lines: dict[int, int]) -> list[int]:
    """Per piece, the lines of its file before it (the sum of `lines` of the earlier ranges)."""
    offsets: list[int] = []
    seen: dict[int, int] = {}
    for i, fi in enumerate(piece_files):
        before = seen.get(fi, 0)
        offsets.append(before)
        seen[fi] = before + lines.get(i, 0)
    return offsets


@dataclass
class Partial:
    """The partial result of any part of a scan, the one type every runner produces and merges.

    A local scan is one piece (piece 0); a Dask scan has one per task, and a state directory keeps
    one between runs. Partials of adjacent pieces merge in piece order (`merge`), and
    `fastscan.score.finish` turns the merged one into a Report.

    examples, file_errors: (piece, {"file", "line", "reason"}) of the first rejected records and of
    the problems that are not one record, line numbers counted from the start of their piece;
    lines: piece -> lines its byte range owned (pieces read by byte range only), so that the
    line numbers of a range are shifted by the lines of the ranges of its file before it.
    """

    state: AccountState
    stats: ReadStats = field(default_factory=ReadStats)
    examples: list[tuple[int, dict]] = field(default_factory=list)
    file_errors: list[tuple[int, dict]] = field(default_factory=list)
    lines: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0  # wall time of the reading and folding behind it (not merged)
    peak_rss_mb: float = 0.0  # the largest of the processes that made it
    task_seconds: float = 0.0  # summed over the tasks that made it, not wall time
    prior_bytes: int = 0  # bytes decoded by earlier runs (a state directory's): not this run's speed
    prior_records: int = 0

    def merge(self, other: Partial, keep_examples: int = KEEP_EXAMPLES) -> Partial:
        """Add `other` (the piece(s) right after this one's) into this partial; returns self."""
        self.state.merge(other.state)
        self.stats.merge(other.stats)
        self.examples.extend(other.examples[: max(0, keep_examples - len(self.examples))])
        self.file_errors.extend(other.file_errors)
        self.lines.update(other.lines)
        self.peak_rss_mb = max(self.peak_rss_mb, other.peak_rss_mb)
        self.task_seconds += other.task_seconds
        return self

    def rejects(self, piece_files: list[int] | None = None) -> tuple[list[dict], list[dict]]:
        """(examples, file errors) with the line numbers of the whole file: `piece_files` gives
        each piece's file (pieces of one file consecutive); None when every piece is a whole file."""
        if piece_files is None:
            return [e for _, e in self.examples], [e for _, e in self.file_errors]
        offsets = line_offsets(piece_files, self.lines)

        def fixed(entries: list[tuple[int, dict]]) -> list[dict]:
            return [dict(e, line=e["line"] + offsets[i]) for i, e in entries]

        return fixed(self.examples), fixed(self.file_errors)
