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
import dataclasses
import errno
import fcntl
import hashlib
import json
import os
import re
from dataclasses import asdict
from typing import Any

from fastscan.config import ScanConfig
from fastscan.errors import StateError, StateFormatError
from fastscan.partial import Partial
from fastscan.read import ReadStats, RejectLog, Shape, Source, is_url
from fastscan.read.rejects import RejectMark
from fastscan.read.shape import shape_to_dict
from fastscan.read.source import STATE_MARKER
from fastscan.state import AccountState

__all__ = [
    "MANIFEST_FORMAT",
    "StateDir",
    "fingerprint",
    "read_manifest",
    "stats_from_dict",
    "stats_to_dict",
    "write_private",
]

MANIFEST_FORMAT = 2  # 2: checksums of the manifest and of the state file
_READS = (1, 2)
_STATE_NAME = re.compile(r"state-[0-9]{6}\.arrow")
_EDGE = 64 << 10  # bytes hashed at each end of a file for its fingerprint


def write_private(path, data: bytes) -> None:
    """Write `data` to `path` atomically (temp file, fsync, rename), mode 0600. On any failure
    (a full disk, say) the temp file is removed, `path` is as it was, and StateError names it."""
    path = os.fspath(path)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
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
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise StateError(f"{path}: cannot write: {e.strerror or e}; the last checkpoint is intact") from None


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


def _ours(name: str) -> bool:
    """A file a checkpoint writes (a state file, a temp file of one)."""
    return name.startswith("state-") or ".tmp-" in name


def _checksum(manifest: dict) -> str:
    body = {k: v for k, v in manifest.items() if k != "checksum"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _need(cond: bool, what: str) -> None:
    if not cond:
        raise ValueError(what)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_entries(entries: Any, what: str) -> None:
    _need(isinstance(entries, list), f"{what} is not a list")
    for e in entries:
        _need(isinstance(e, dict) and isinstance(e.get("file"), str), f"an entry of {what} has no file")
        _need(_is_int(e.get("line")) and isinstance(e.get("reason"), str), f"an entry of {what} is malformed")


def _check_stats(d: Any, what: str) -> None:
    _need(isinstance(d, dict), f"{what} is not an object")
    for k in ("files", "bytes_read", "bytes_decoded", "records_read", "records_scored", "records_rejected"):
        _need(_is_int(d.get(k)) and d[k] >= 0, f"{what}.{k} is not a count")
    by = d.get("rejected_by_reason")
    _need(isinstance(by, dict) and all(_is_int(v) and v >= 0 for v in by.values()), f"{what}.rejected_by_reason")
    _need(set(d) <= {*ReadStats.__dataclass_fields__}, f"{what} has unknown keys")


def _check_shape(d: Any, what: str) -> None:
    if d is None:
        return
    _need(isinstance(d, dict) and isinstance(d.get("name"), str), f"{what} is not a shape")
    paths = d.get("paths")
    _need(isinstance(paths, dict), f"{what}.paths is not an object")
    for v in [*paths.values(), d.get("messages") or []]:
        _need(isinstance(v, list) and all(isinstance(k, (str, int)) for k in v), f"{what} has a bad path")


def _check_manifest(raw: bytes) -> dict:
    """The manifest, checked: its checksum (format 2) and the type of every field a run reads.
    ValueError (or KeyError, TypeError) says what is wrong; nothing else is trusted."""
    m = json.loads(raw)
    _need(isinstance(m, dict), "not a JSON object")
    _need(m.get("format") in _READS, f"format {m.get('format')!r}; this fastscan reads {_READS}")
    if m["format"] >= 2:
        _need(m.get("checksum") == _checksum(m), "its checksum does not match its content")
        _need(isinstance(m.get("state_sha256"), str), "no state checksum")
    _need(isinstance(m.get("config"), dict), "config is not an object")
    _check_shape(m.get("shape"), "shape")
    _need(_is_int(m.get("generation")) and m["generation"] >= 0, "generation is not a count")
    _need(isinstance(m.get("state_file"), str) and _STATE_NAME.fullmatch(m["state_file"]) is not None, "state_file")
    _check_stats(m.get("stats"), "stats")
    _need(_is_int(m.get("rejected")) and m["rejected"] >= 0, "rejected is not a count")
    _check_entries(m.get("rejected_examples"), "rejected_examples")
    _check_entries(m.get("file_errors"), "file_errors")
    rj = m.get("reject_file")
    _need(
        rj is None or (isinstance(rj, dict) and isinstance(rj.get("path"), str) and _is_int(rj.get("size"))),
        "reject_file",
    )
    files = m.get("files")
    _need(isinstance(files, dict), "files is not an object")
    for key, rec in files.items():
        _need(isinstance(rec, dict) and rec.get("status") in ("done", "partial"), f"files[{key!r}].status")
        fp = rec.get("fingerprint")
        _need(isinstance(fp, dict) and _is_int(fp.get("size")) and _is_int(fp.get("mtime_ns")), f"files[{key!r}]")
        _need(isinstance(fp.get("head_sha256"), str) and isinstance(fp.get("tail_sha256"), str), f"files[{key!r}]")
        if rec["status"] == "partial":
            _need(_is_int(rec.get("offset")) and rec["offset"] >= 0, f"files[{key!r}].offset")
            _need(_is_int(rec.get("line")) and rec["line"] >= 1, f"files[{key!r}].line")
            _check_shape(rec.get("shape"), f"files[{key!r}].shape")
            _check_stats(rec.get("stats"), f"files[{key!r}].stats")
    return m


def read_manifest(path: str) -> dict:
    """The checked manifest of the state directory at `path`; StateError when it is damaged."""
    mpath = os.path.join(path, "manifest.json")
    try:
        with open(mpath, "rb") as fh:
            return _check_manifest(fh.read())
    except OSError as e:
        raise StateError(f"{mpath}: cannot read: {e.strerror or e}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise StateError(f"{mpath}: damaged manifest: {e}") from None


def check_settings(path: str, m: dict, config: ScanConfig, shape: Shape | None) -> None:
    """StateError unless the state directory `path`, of manifest `m` (read_manifest's), was
    scanned with `config` and `shape`: a run of other settings cannot add to it."""
    try:
        saved = ScanConfig.from_dict(m["config"])
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise StateError(f"{os.path.join(path, 'manifest.json')}: damaged manifest: {e}") from None
    if saved != config and saved == dataclasses.replace(config, keep_text=saved.keep_text):
        again = "give --include-text again" if saved.keep_text else "scan into it without --include-text"
        kept = "with" if saved.keep_text else "without"
        raise StateError(f"{path}: holds a scan made {kept} --include-text: {again} (or use another --state directory)")
    if saved != config:
        raise StateError(
            f"{path}: holds a state of another scan configuration ({_differences(saved, config)}); "
            "use another --state directory"
        )
    if m["shape"] != shape_to_dict(shape):
        raise StateError(
            f"{path}: holds a state scanned with another log shape / --map "
            f"({m['shape'] and m['shape']['name']}); use the same --map or another directory"
        )


def _differences(saved: ScanConfig, now: ScanConfig) -> str:
    """The settings in which the saved config differs from this run's: "sample_budget 1500, not
    4000000"."""
    a, b = saved.to_dict(), now.to_dict()
    return "; ".join(f"{k} {a[k]!r}, not {b[k]!r}" for k in a if a[k] != b[k])


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
            # a new directory, or one whose first checkpoint was cut short: only our own leftovers
            ours = [f for f in os.listdir(self.path) if _ours(f)]
            others = [f for f in os.listdir(self.path) if f not in ("lock", STATE_MARKER) and not _ours(f)]
            if others:
                raise StateError(
                    f"{self.path}: not a fastscan state directory (no manifest.json, but holds {sorted(others)[:3]})"
                )
            for f in ours:
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(self.path, f))
            write_private(os.path.join(self.path, STATE_MARKER), b"fastscan state directory\n")
            return
        try:
            with open(mpath, "rb") as fh:
                raw = fh.read()
            m = _check_manifest(raw)
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise StateError(f"{mpath}: damaged manifest: {e}") from None
        check_settings(self.path, m, self.config, self.shape)
        spath = os.path.join(self.path, m["state_file"])
        try:
            with open(spath, "rb") as fh:
                data = fh.read()
            if "state_sha256" in m and hashlib.sha256(data).hexdigest() != m["state_sha256"]:
                raise ValueError("its checksum does not match the manifest's")
            state = AccountState.from_bytes(data)
        except StateFormatError as e:
            raise StateError(f"{spath}: {e}; scan into a new --state directory") from None
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise StateError(f"{spath}: damaged state: {e}") from None
        if state.config != self.config:
            raise StateError(f"{spath}: state of another scan configuration")
        self.generation = m["generation"]
        stats = stats_from_dict(m["stats"])
        examples = [(0, e) for e in m["rejected_examples"]]
        file_errors = [(0, e) for e in m["file_errors"]]
        self.partial = Partial(state, stats, examples, file_errors)
        self.rejected = m["rejected"]
        self.files = m["files"]
        self.reject_file = m["reject_file"]
        keep = {"lock", "manifest.json", STATE_MARKER, m["state_file"]}
        for f in os.listdir(self.path):  # leftovers of a checkpoint cut short
            if f not in keep and _ours(f):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(self.path, f))
        if not os.path.exists(os.path.join(self.path, STATE_MARKER)):  # made before the marker
            write_private(os.path.join(self.path, STATE_MARKER), b"fastscan state directory\n")

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

    def save(self, state: AccountState, stats: ReadStats, rejects: RejectLog | RejectMark, files: dict) -> None:
        """Checkpoint: the state, the statistics of finished work, per-file progress; the rejects
        as the log holds them, or as it held them at a mark."""
        self.generation += 1
        name = f"state-{self.generation:06d}.arrow"
        data = state.to_bytes()
        state_sha256 = hashlib.sha256(data).hexdigest()
        write_private(os.path.join(self.path, name), data)
        rj = None
        if rejects.path is not None:
            rejects.flush()
            rj = {"path": os.path.abspath(rejects.path), "size": rejects.tell()}
        elif self.reject_file is not None:
            rj = self.reject_file
        manifest: dict = {
            "format": MANIFEST_FORMAT,
            "state_sha256": state_sha256,
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
        manifest["checksum"] = _checksum(manifest)
        write_private(self._manifest_path(), json.dumps(manifest, indent=1, sort_keys=True).encode() + b"\n")
        _fsync_dir(self.path)
        for f in os.listdir(self.path):
            if f.startswith("state-") and f != name:
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(self.path, f))
        self.files = files
        self.reject_file = rj
