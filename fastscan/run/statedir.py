"""A state directory: what makes a scan resumable and incremental (`fastscan scan --state DIR`).

It holds the mergeable per-account state of everything scanned into it and, per input file, a
fingerprint and how far the scan got, so that
- an interrupted scan resumes where its last checkpoint stopped (after each file, and every
  `checkpoint_bytes` of decoded JSON inside a large file, at a line boundary), and
- scanning tomorrow's files into the same directory gives the report of scanning everything at once.

Layout (the directory is 0700, every file 0600; nothing in it holds prompt text):

    lock                  held with an exclusive flock for the whole scan (a second scan fails clearly)
    manifest.json         format, ScanConfig, log shape, read statistics, rejected examples, per-file
                          fingerprints and progress, the reject file's committed size, the state file
    state-NNNNNN.arrow    AccountState.to_bytes() of the checkpoint the manifest names

A checkpoint writes a new state file (temp + fsync + rename), then the manifest naming it (the
same way), then deletes the previous state file: a crash at any point leaves a manifest and the
state it names, consistent with each other.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
from dataclasses import asdict

from fastscan.config import ScanConfig
from fastscan.errors import StateError
from fastscan.partial import Partial
from fastscan.read import ReadStats, RejectLog, Shape, Source, is_url
from fastscan.read.shape import shape_to_dict
from fastscan.state import AccountState

__all__ = ["MANIFEST_FORMAT", "StateDir", "fingerprint", "stats_from_dict", "stats_to_dict", "write_private"]

MANIFEST_FORMAT = 1
_EDGE = 64 << 10  # bytes hashed at each end of a file for its fingerprint


def write_private(path, data: bytes) -> None:
    """Write `data` to `path` atomically (temp file, fsync, rename), mode 0600."""
    path = os.fspath(path)
    tmp = f"{path}.tmp-{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fingerprint(path: str) -> dict:
    """size, mtime and SHA-256 of the first and last 64 KiB: enough to tell that a file changed."""
    st = os.stat(path)
    with open(path, "rb") as fh:
        head = fh.read(_EDGE)
        if st.st_size > _EDGE:
            fh.seek(max(_EDGE, st.st_size - _EDGE))
            tail = fh.read(_EDGE)
        else:
            tail = b""
    return {
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "head_sha256": hashlib.sha256(head).hexdigest(),
        "tail_sha256": hashlib.sha256(tail).hexdigest(),
    }


def stats_to_dict(st: ReadStats) -> dict:
    d = asdict(st)
    d["rejected_by_reason"] = dict(sorted(st.rejected_by_reason.items()))
    return d


def stats_from_dict(d: dict) -> ReadStats:
    return ReadStats(**{**d, "rejected_by_reason": dict(d["rejected_by_reason"])})


class StateDir:
    """An open, locked state directory. Use as a context manager; `close()` releases the lock.

    Raises StateError when another scan holds the directory, when it is not a fastscan state
    directory, or when it was made with another ScanConfig or log shape.
    """

    def __init__(self, path, config: ScanConfig, shape: Shape | None):
        self.path = os.path.abspath(os.fspath(path))
        self.config = config
        self.shape = shape
        self._lock_fd: int | None = None
        try:
            os.makedirs(self.path, mode=0o700, exist_ok=True)
            if not os.path.isdir(self.path):
                raise StateError(f"{self.path}: not a directory")
            self._lock()
            os.chmod(self.path, 0o700)
            self._load()
        except OSError as e:
            self.close()
            raise StateError(f"{self.path}: cannot use as a state directory: {e.strerror or e}") from None
        except BaseException:
            self.close()
            raise

    # -- lock
    def _lock(self) -> None:
        lock = os.path.join(self.path, "lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = ""
            with contextlib.suppress(OSError):
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                who = f" (pid {holder})" if holder else ""
                raise StateError(
                    f"{self.path}: state directory is in use by another scan{who}; "
                    "wait for it to finish or use another --state directory"
                ) from None
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd

    def close(self) -> None:
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._lock_fd, 0)
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- manifest
    def _manifest_path(self) -> str:
        return os.path.join(self.path, "manifest.json")

    def _load(self) -> None:
        mpath = self._manifest_path()
        self.generation = 0
        self.partial = Partial(AccountState(self.config))
        self.rejected = 0
        self.files: dict = {}
        self.reject_file = None
        if not os.path.exists(mpath):
            others = [f for f in os.listdir(self.path) if f != "lock"]
            if others:
                raise StateError(
                    f"{self.path}: not a fastscan state directory (no manifest.json, but holds {sorted(others)[:3]})"
                )
            return
        try:
            with open(mpath, "rb") as fh:
                m = json.loads(fh.read())
            if m.get("format") != MANIFEST_FORMAT:
                raise StateError(f"{mpath}: manifest format {m.get('format')!r}, this fastscan reads {MANIFEST_FORMAT}")
            config = ScanConfig.from_dict(m["config"])
        except (ValueError, KeyError, TypeError) as e:
            raise StateError(f"{mpath}: unreadable manifest: {e}") from None
        if config != self.config:
            raise StateError(
                f"{self.path}: holds a state of another scan configuration ({config}); use another --state directory"
            )
        if m["shape"] != shape_to_dict(self.shape):
            raise StateError(
                f"{self.path}: holds a state scanned with another log shape / --map "
                f"({m['shape'] and m['shape']['name']}); use the same --map or another directory"
            )
        self.generation = m["generation"]
        stats = stats_from_dict(m["stats"])
        examples = [(0, e) for e in m["rejected_examples"]]
        file_errors = [(0, e) for e in m["file_errors"]]
        self.rejected = m["rejected"]
        self.files = m["files"]
        self.reject_file = m["reject_file"]
        spath = os.path.join(self.path, m["state_file"])
        try:
            with open(spath, "rb") as fh:
                state = AccountState.from_bytes(fh.read())
        except (OSError, ValueError) as e:
            raise StateError(f"{spath}: unreadable state: {e}") from None
        self.partial = Partial(state, stats, examples, file_errors)
        if state.config != self.config:
            raise StateError(f"{spath}: state of another scan configuration")
        keep = {"lock", "manifest.json", m["state_file"]}
        for f in os.listdir(self.path):  # leftovers of a checkpoint cut short
            if f not in keep and (f.startswith("state-") or ".tmp-" in f):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(self.path, f))

    # -- files
    @staticmethod
    def key(src: Source) -> str:
        return os.path.realpath(src.path)

    def lookup(self, src: Source) -> tuple[str, dict]:
        """("new" | "done" | "partial", record) for an input; StateError when the file changed
        since it was scanned into this state (its records are in the state already)."""
        if src.path == "-":
            raise StateError(
                "stdin cannot be scanned into a state directory (it cannot be resumed); scan files, or drop --state"
            )
        if src.stream:
            raise StateError(
                f"{src.path}: not a regular file (a named pipe or device): it cannot be resumed; "
                "scan it without --state"
            )
        if is_url(src.path):
            raise StateError(
                f"{src.path}: URLs cannot be scanned into a state directory yet; scan local files, or drop --state"
            )
        rec = self.files.get(self.key(src))
        fp = fingerprint(src.path)
        if rec is None:
            return "new", {"fingerprint": fp}
        if rec["fingerprint"] != fp:
            old = rec["fingerprint"]
            what = [k for k in ("size", "mtime_ns", "head_sha256", "tail_sha256") if old[k] != fp[k]]
            raise StateError(
                f"{src.path}: changed since it was scanned into {self.path} "
                f"({', '.join(what)} differ); its earlier records are in the state, so "
                "scanning it again would count them twice; use a new state directory"
            )
        return rec["status"], rec

    def check_inputs(self, sources: list[Source]) -> None:
        """Refuse, before anything is read, an input that cannot be scanned into a state directory
        (stdin, a pipe, a URL), and a file left half-scanned that is not among the inputs."""
        for src in sources:
            if src.stream or is_url(src.path):
                self.lookup(src)  # raises, without touching the input
        self.check_partial(sources)

    def check_partial(self, sources) -> None:
        """A file left half-scanned must be among the inputs, or the state would hold half of it."""
        keys = {self.key(s) for s in sources if s.path != "-"}
        for k, rec in self.files.items():
            if rec["status"] == "partial" and k not in keys:
                raise StateError(
                    f"{self.path}: holds a partial scan of {k}, which is not among the inputs; add it to finish it"
                )

    def save(self, state: AccountState, stats: ReadStats, rejects: RejectLog, files: dict) -> None:
        """Checkpoint: the state, the statistics of finished work, per-file progress."""
        self.generation += 1
        name = f"state-{self.generation:06d}.arrow"
        write_private(os.path.join(self.path, name), state.to_bytes())
        rj = None
        if rejects.path is not None:
            rejects.flush()
            rj = {"path": os.path.abspath(rejects.path), "size": rejects.tell()}
        elif self.reject_file is not None:
            rj = self.reject_file
        manifest = {
            "format": MANIFEST_FORMAT,
            "config": self.config.to_dict(),
            "shape": shape_to_dict(self.shape),
            "generation": self.generation,
            "state_file": name,
            "stats": stats_to_dict(stats),
            "rejected": rejects.count,
            "rejected_examples": rejects.examples,
            "file_errors": rejects.file_errors,
            "reject_file": rj,
            "files": files,
        }
        write_private(self._manifest_path(), json.dumps(manifest, indent=1, sort_keys=True).encode() + b"\n")
        _fsync_dir(self.path)
        for f in os.listdir(self.path):
            if f.startswith("state-") and f != name:
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(self.path, f))
        self.files = files
        self.reject_file = rj
