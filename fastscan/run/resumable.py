"""A resumable, incremental scan (`fastscan scan --state DIR`): the local scan loop, with a plan
that skips the files a state directory holds, resumes the one it left half-done, and checkpoints
every `checkpoint_bytes` of decoded JSON, or CHECKPOINT_SECONDS, where a file or a chunk of one
ends (run.statedir)."""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable, Mapping

from fastscan.config import ScanConfig
from fastscan.partial import Partial
from fastscan.read import DEFAULT_CHUNK_BYTES, ReadStats, RejectLog, Shape, Source, as_shape, expand_sources
from fastscan.read.rejects import RejectMark
from fastscan.read.shape import shape_from_dict, shape_to_dict
from fastscan.report import Report
from fastscan.run.local import Mapping_, Paths
from fastscan.run.loop import FileJob, announce, fold, read_all
from fastscan.run.outputs import check_outputs
from fastscan.run.saved import save_report
from fastscan.run.statedir import StateDir, stats_from_dict, stats_to_dict
from fastscan.score import FLAG_THRESHOLD, MIN_REQUESTS, finish

__all__ = ["DEFAULT_CHECKPOINT_BYTES", "scan_resumable"]

DEFAULT_CHECKPOINT_BYTES = 256 << 20
CHECKPOINT_SECONDS = 60.0  # ... or after a file once this long has passed since the last checkpoint


class _Checkpoints:
    """The FilePlan of a state directory: what to read of each file, and when to checkpoint.

    A checkpoint is asked for where a file or a chunk of one ends: every record read so far is
    then in a batch the scan loop has taken. When the loop has folded them all, it is taken at
    once. When the loop still holds some, to join them with the next (`holding`: see
    fastscan.run.loop.read_all), the plan marks what the checkpoint records there (the files
    done, the statistics, the reject log) and saves it when the loop has folded them
    (`checkpoint`); until then each place a file or a chunk ends moves the mark on, so the
    checkpoint holds all that was finished by then."""

    def __init__(
        self, sd: StateDir, partial: Partial, rejects: RejectLog, shape: Shape | None, checkpoint_bytes: int
    ) -> None:
        self.sd = sd
        self.partial = partial  # the state and the statistics of the files finished so far
        self.rejects = rejects
        self.shape = shape
        self.checkpoint_bytes = checkpoint_bytes
        self.files = dict(sd.files)
        self.recs: dict[str, dict] = {}  # what the directory holds of each file begun, till it ends
        self.unsaved = 0  # decoded bytes of the files finished since the last checkpoint
        self.saved_at = time.monotonic()
        self.dirty = False
        self.holding = False  # the scan loop holds batches not yet folded (it sets this)
        self.marked: tuple[dict, ReadStats, RejectMark] | None = None  # a checkpoint waiting

    def _save(self) -> None:
        """Checkpoint what the plan holds now: every batch read is folded."""
        self.marked = None
        self.sd.save(self.partial.state, self.partial.stats, self.rejects, self.files)

    def _mark(self) -> None:
        """A checkpoint here: saved now when every batch read is folded, else marked for
        `checkpoint` to save."""
        if not self.holding:
            self._save()
        else:
            self.marked = (dict(self.files), copy.deepcopy(self.partial.stats), self.rejects.mark())
        self.unsaved, self.saved_at, self.dirty = 0, time.monotonic(), False

    def due(self) -> bool:
        return self.marked is not None

    def checkpoint(self) -> None:
        """Save the checkpoint marked: the caller has folded every batch read before its mark,
        and none read after it."""
        if self.marked is not None:
            files, stats, rejects = self.marked
            self.marked = None
            self.sd.save(self.partial.state, stats, rejects, files)

    def finish(self) -> None:
        """The last checkpoint, for what was read since the one before (all of it folded)."""
        if self.dirty or self.marked is not None:
            self._save()
            self.dirty = False

    def begin(self, src: Source) -> FileJob | None:
        status, rec = self.sd.lookup(src)
        if status == "done":
            return None
        key = self.sd.key(src)
        self.recs[key] = rec
        job = FileJob(self.shape, ReadStats())
        if status == "partial":
            job.stats = stats_from_dict(rec["stats"])
            job.start = (rec["offset"], rec["line"])
            job.shape = self.shape or shape_from_dict(rec["shape"])
            job.stats.files -= 1  # read_source counts the file again
        since = job.start[0] if job.start is not None else 0

        def on_chunk(offset: int, line: int, detected: Shape) -> None:
            nonlocal since
            if offset - since < self.checkpoint_bytes and self.marked is None:
                return
            since = offset
            snap = stats_to_dict(job.stats)
            # the part of the file before `offset`; a resumed read adds the rest
            snap["bytes_decoded"] = offset
            snap["bytes_read"] = 0 if src.compression else offset
            self.files[key] = {
                "status": "partial",
                "fingerprint": rec["fingerprint"],
                "offset": offset,
                "line": line,
                "shape": shape_to_dict(detected),
                "stats": snap,
            }
            self._mark()

        job.on_chunk = on_chunk
        return job

    def end(self, src: Source, job: FileJob) -> None:
        """A file is done. Its checkpoint (`settled`) waits until checkpoint_bytes or
        CHECKPOINT_SECONDS have gone by, so a scan of many small files does not rewrite the whole
        state after each one (a crash re-reads the files finished since the last checkpoint: the
        result is the same)."""
        self.partial.stats.merge(job.stats)
        key = self.sd.key(src)
        self.files[key] = {"status": "done", "fingerprint": self.recs.pop(key)["fingerprint"]}
        self.dirty = True
        self.unsaved += job.stats.bytes_decoded

    def settled(self) -> None:
        """The files ended so far are whole in what was handed on: the checkpoint they ask for."""
        if (
            self.marked is not None
            or self.unsaved >= self.checkpoint_bytes
            or (self.dirty and time.monotonic() - self.saved_at >= CHECKPOINT_SECONDS)
        ):
            self._mark()


def scan_resumable(
    paths: Paths,
    state_dir: str | os.PathLike[str],
    *,
    config: ScanConfig | None = None,
    mapping: Mapping_ = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    reject_file: str | os.PathLike[str] | None = None,
    progress: Callable[[int], None] | None = None,
    flag_threshold: float = FLAG_THRESHOLD,
    min_requests: int = MIN_REQUESTS,
    checkpoint_bytes: int = DEFAULT_CHECKPOINT_BYTES,
    outputs: Mapping[str, str | os.PathLike[str] | None] | None = None,
) -> Report:
    """Scan `paths` into the state directory `state_dir` and report on everything it holds."""
    notes: list[dict] = []
    sources = expand_sources(paths, notes, exclude=[state_dir])
    check_outputs(sources, {"reject file": reject_file, **(outputs or {})}, state_dir)
    config = config or ScanConfig()
    shape = as_shape(mapping)
    t0 = time.perf_counter()
    with StateDir(state_dir, config, shape) as sd:
        sd.check_inputs(sources)
        partial = sd.partial
        prior = (partial.stats.bytes_decoded, partial.stats.records_read)  # earlier runs' work
        resume_at = None
        if (
            reject_file is not None
            and sd.reject_file is not None
            and sd.reject_file["path"] == os.path.abspath(reject_file)
        ):
            resume_at = sd.reject_file["size"]
        rejects = RejectLog(reject_file, resume_at=resume_at)
        rejects.examples = [e for _, e in partial.examples]
        rejects.file_errors = [e for _, e in partial.file_errors]
        rejects.count = sd.rejected
        announce(progress, "watch", partial.stats)
        plan = _Checkpoints(sd, partial, rejects, shape, checkpoint_bytes)
        try:
            # read on this thread: a checkpoint must see exactly the batches folded in so far
            fold(
                partial.state,
                read_all(
                    sources,
                    shape=shape,
                    chunk_bytes=chunk_bytes,
                    rejects=rejects,
                    stats=partial.stats,
                    progress=progress,
                    plan=plan,
                ),
                prefetch=False,
                progress=progress,
            )
            plan.finish()
            generation = sd.generation
        finally:
            rejects.close()
    announce(progress, "stage", "scoring")
    done = Partial(
        partial.state,
        partial.stats,
        [(0, e) for e in rejects.examples],
        [(0, e) for e in notes + rejects.file_errors],
        seconds=time.perf_counter() - t0,
        prior_bytes=prior[0],
        prior_records=prior[1],
    )
    report = finish(done, flag_threshold, min_requests)
    save_report(state_dir, report, generation)  # for report / explain --state
    return report
