"""Small JSON Lines files decoded together (fastscan.read.small): the report, the statistics, the
rejects with their file and line, and the reject file are those of each file read on its own."""

from __future__ import annotations

import gzip
import os
import random
import threading
import time

import fsspec
import orjson
import pytest
import zstandard
from fsspec.implementations.local import LocalFileSystem
from hypothesis import given, settings
from hypothesis import strategies as st
from logs import COUNTS, records

from fastscan import Scanner, scan
from fastscan.config import ScanConfig
from fastscan.errors import InputError
from fastscan.read import ReadStats, RejectLog, Source, expand_sources, read_source, small
from fastscan.read.jsonl_decode import JsonlDecoder
from fastscan.read.small import read_small_files

SMALL = ScanConfig(sample_size=32)
EXAMPLES = 25 * (40 if os.environ.get("FASTSCAN_FUZZ") == "long" else 1)  # docs/bad-input.md
BAD = [b"{nope", b"null", b"5", b'{"account_id": "x", "prompt": "bad \xff"}', b'{"account_id": "", "prompt": "none"}']


def one_by_one(paths, reject_file, chunk_bytes, sources=None):
    """(accounts, stats, examples) of reading each file on its own (read_source), folded in order."""
    rejects, stats = RejectLog(reject_file), ReadStats()
    s = Scanner(SMALL)
    for src in sources or expand_sources(paths):
        for b in read_source(src, chunk_bytes=chunk_bytes, rejects=rejects, stats=stats):
            s.update_canonical(b)
    rejects.close()
    return s.finish().accounts, stats, rejects.examples


def assert_alike(paths, tmp_path, chunk_bytes, sources=None, before_scan=None):
    want, stats, examples = one_by_one(paths, tmp_path / "want.jsonl", chunk_bytes, sources)
    if before_scan is not None:
        before_scan()
    got = scan(paths, config=SMALL, chunk_bytes=chunk_bytes, reject_file=tmp_path / "got.jsonl")
    assert got.accounts.equals(want)
    read = [k for k in COUNTS if k != "accounts"]  # files, bytes, records, rejects by reason
    assert {k: getattr(got.stats, k) for k in read} == {k: getattr(stats, k) for k in read}
    assert got.rejected_examples == examples
    assert (tmp_path / "got.jsonl").read_bytes() == (tmp_path / "want.jsonl").read_bytes()
    return got


def flat_lines(n, seed):
    return [orjson.dumps(r) for r in records(8, -(-n // 8), seed=seed)[:n]]


def test_a_mix_of_small_files_reports_as_each_file_alone(tmp_path, monkeypatch):
    """Files of every kind a rotated archive holds, among them some read on their own: a byte
    order mark, no newline at the end, CRLF lines, empty, blank, junk only, junk before the first
    record, another log shape, times written as numbers (another raw schema), bad lines, a gzip."""
    d = tmp_path / "logs"
    d.mkdir()
    rng = random.Random(5)
    lines = flat_lines(600, 1)
    files: list[tuple[str, bytes]] = []
    at = 0
    for k in range(24):
        n = rng.randint(1, 30)
        part = lines[at : at + n]
        at += n
        if k % 5 == 2:
            part = part[:1] + [BAD[k % len(BAD)]] + part[1:]
        files.append((f"a{k:02d}.jsonl", b"\n".join(part) + b"\n"))
    files[3] = (files[3][0], b"\xef\xbb\xbf" + files[3][1])
    files[4] = (files[4][0], files[4][1].rstrip(b"\n"))
    files[5] = (files[5][0], files[5][1].replace(b"\n", b"\r\n"))
    files += [("b-empty.jsonl", b""), ("b-blank.jsonl", b"\n  \n\n"), ("b-junk.jsonl", b"{nope\nnull\n[1]\n")]
    files.append(("b-late.jsonl", b"{bad\n7\n" + b"\n".join(lines[at : at + 5]) + b"\n"))
    openai = [
        orjson.dumps({"user": f"o{i % 3}", "request": {"messages": [{"role": "user", "content": f"say {i}"}]}})
        for i in range(6)
    ]
    files.append(("c-openai.jsonl", b"\n".join(openai) + b"\n"))
    numeric: list[bytes] = []
    for raw in lines[at + 5 : at + 25]:
        rec = orjson.loads(raw)
        rec["ts"] = 1756684800 + len(numeric)
        numeric.append(orjson.dumps(rec))
    files.append(("a05n-numeric-ts.jsonl", b"\n".join(numeric) + b"\n"))  # among the a files
    files += [(f"e{k}.jsonl", b"\n".join(lines[at + 25 + 5 * k : at + 30 + 5 * k]) + b"\n") for k in range(3)]
    for name, data in files:
        (d / name).write_bytes(data)
    with gzip.open(d / "f.jsonl.gz", "wb") as fh:
        fh.write(b"\n".join(lines[at + 40 : at + 60]) + b"\n")
    # compressed small files: whole, empty, cut short, damaged, one that decompresses to more
    # than a chunk of 4 KiB
    zipped = gzip.compress(b"\n".join(lines[at + 70 : at + 90]) + b"\n")
    (d / "f1.jsonl.gz").write_bytes(zipped)
    (d / "f2.jsonl.gz").write_bytes(gzip.compress(b""))
    (d / "f3.jsonl.gz").write_bytes(zipped[: len(zipped) * 2 // 3])
    (d / "f4.jsonl.gz").write_bytes(zipped[:20] + bytes(40) + zipped[60:])
    (d / "f5.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(b"\n".join(lines[at + 90 : at + 110]) + b"\n"))
    (d / "f6.jsonl.gz").write_bytes(gzip.compress(b"\n".join(lines[at + 110 : at + 160]) + b"\n"))
    for name in ("g1.jsonl", "g2.jsonl"):
        (d / name).write_bytes(b"\n".join(lines[at + 60 : at + 70]) + b"\n")

    from fastscan.read import jsonl_decode

    calls = [0]
    decode = jsonl_decode.JsonlDecoder.decode

    def counted(self, *a, **k):
        calls[0] += 1
        return decode(self, *a, **k)

    monkeypatch.setattr(jsonl_decode.JsonlDecoder, "decode", counted)
    paths = sorted(d.iterdir())
    got = assert_alike(paths, tmp_path, 16 << 20)
    assert got.stats.records_rejected > 8 and got.stats.files == len(paths)
    assert {e["file"] for e in got.file_errors} >= {str(d / "f3.jsonl.gz"), str(d / "f4.jsonl.gz")}
    assert {e["file"] for e in got.rejected_examples} >= {str(d / "b-junk.jsonl"), str(d / "b-late.jsonl")}
    calls[0] = 0
    scan([p for p in paths if p.name.startswith("a") and "numeric" not in p.name], config=SMALL)
    assert calls[0] == 1  # the 24 small files of one shape and schema, decoded together
    # a chunk smaller than the run: runs cut at a chunk's bytes
    assert_alike(paths, tmp_path, 4096)


def test_a_file_grown_since_it_was_listed_is_read_on_its_own(tmp_path, monkeypatch):
    """A file listed small that holds more than a chunk when it is read (a log still written) is
    read as any file: chunk by chunk, all of it."""
    lines = flat_lines(120, 2)
    paths = []
    for k in range(3):
        paths.append(tmp_path / f"p{k}.jsonl")
        paths[-1].write_bytes(b"\n".join(lines[40 * k : 40 * k + 40]) + b"\n")
    sources = [Source(str(p), "jsonl", "", 100) for p in paths]  # listed at 100 bytes each
    assert os.path.getsize(paths[1]) > 4096
    monkeypatch.setattr("fastscan.run.local.expand_sources", lambda paths, notes=None: list(sources))
    assert_alike(paths, tmp_path, 4096, sources)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.data())
def test_any_cut_into_small_files_reports_as_each_file_alone(tmp_path_factory, data):
    """Lines, good and bad, cut into files anywhere (a cut inside a record leaves two bad lines),
    each read on its own or with the others: the same report, counts, rejects and reject file."""
    tmp_path = tmp_path_factory.mktemp("cut")
    lines = flat_lines(data.draw(st.integers(1, 80)), data.draw(st.integers(0, 9)))
    for _ in range(data.draw(st.integers(0, 6))):
        lines.insert(data.draw(st.integers(0, len(lines))), data.draw(st.sampled_from(BAD)))
    blob = b"\n".join(lines) + b"\n"
    cuts = sorted(set(data.draw(st.lists(st.integers(0, len(blob)), max_size=12))))
    paths = []
    for k, (lo, hi) in enumerate(zip([0, *cuts], [*cuts, len(blob)])):
        paths.append(tmp_path / f"part{k:02d}.jsonl")
        paths[-1].write_bytes(blob[lo:hi])
    assert_alike(paths, tmp_path, data.draw(st.sampled_from([4096, 16 << 10, 16 << 20])))


def small_files(tmp_path, n, per_file=10):
    lines = flat_lines(n * per_file, 3)
    paths = []
    for k in range(n):
        paths.append(tmp_path / f"f{k:03d}.jsonl")
        paths[-1].write_bytes(b"\n".join(lines[per_file * k : per_file * (k + 1)]) + b"\n")
    return paths


def read_together(paths, chunk_bytes, stats=None):
    sources = expand_sources(paths)
    stats = stats or [ReadStats() for _ in sources]
    return read_small_files(sources, None, chunk_bytes, RejectLog(), stats, None)


def reading_threads():
    return [t for t in threading.enumerate() if t.name == "fastscan-read-small"]


def test_files_are_read_ahead_into_two_arenas_at_most(tmp_path, monkeypatch):
    """The files are read on a thread of their own while the ones before are decoded, into two
    arenas of a chunk that take turns (never more memory than that), and the thread ends with
    the read."""
    paths = small_files(tmp_path, 60)
    arenas: list = []
    made = small._Arena.__init__

    def count(self, chunk_bytes):
        arenas.append(chunk_bytes)
        made(self, chunk_bytes)

    monkeypatch.setattr(small._Arena, "__init__", count)
    chunk = 6 * max(os.path.getsize(p) for p in paths)
    rows = sum(b.num_rows for b in read_together(paths, chunk))
    assert rows == 600
    assert arenas == [chunk, chunk]
    assert not reading_threads()


def test_files_that_outgrow_their_place_move_to_another_arena(tmp_path, monkeypatch):
    """Files that hold more than they were listed with (still written, or compressed: a gzip of
    a few hundred bytes decodes to kilobytes) and no longer fit where they were placed are
    moved to the start of the other arena; one larger than a chunk is read on its own."""
    lines = flat_lines(400, 4)
    paths = []
    for k in range(24):
        blob = b"\n".join(lines[16 * k : 16 * k + (50 if k == 9 else 5 + k * 7 % 8)]) + b"\n"  # 5 to 12, or 50
        p = tmp_path / (f"g{k:02d}.jsonl" + (".gz" if k % 5 == 3 else ""))
        p.write_bytes(gzip.compress(blob) if k % 5 == 3 else blob)
        paths.append(p)
    sources = expand_sources(paths)
    listed = [
        Source(s.path, s.fmt, s.compression, s.size // (3 + 5 * (k == 9)) if k % 2 else s.size)
        for k, s in enumerate(sources)
    ]
    monkeypatch.setattr("fastscan.run.local.expand_sources", lambda paths, notes=None: list(listed))
    for chunk in (12 << 10, 24 << 10):
        assert_alike(paths, tmp_path, chunk, listed)


def test_a_file_that_cannot_be_read_fails_in_its_turn(tmp_path):
    """A file gone since it was listed fails the read where it comes, as it would read in turn:
    the files before it are read, none after it, and no reading thread is left behind."""
    paths = small_files(tmp_path, 12)
    sources = expand_sources(paths)
    os.remove(paths[7])
    stats = [ReadStats() for _ in sources]
    with pytest.raises(InputError, match=r"f007\.jsonl: cannot read"):
        for _ in read_small_files(sources, None, 1 << 20, RejectLog(), stats, None):
            pass
    assert [s.files for s in stats] == [1] * 8 + [0] * 4
    assert not reading_threads()


def test_a_read_stopped_early_ends_its_reading_thread(tmp_path):
    """A caller that stops taking batches (a scan stopped early) closes the read: the reading
    thread stops at the file it is reading and ends."""
    paths = small_files(tmp_path, 40)
    batches = read_together(paths, 2 * os.path.getsize(paths[0]))
    assert next(batches).num_rows > 0
    assert reading_threads()
    batches.close()
    assert not reading_threads()


class SlowFiles(LocalFileSystem):
    """Local files behind a URL that answers each open after a delay (an object store), counting
    the opens under way at once; `fail` names files whose first open fails."""

    protocol = "slowfile"
    root_marker = "/"
    delay = 0.05
    lock = threading.Lock()
    open_now = most = 0
    fail: set[str] = set()
    hang: dict[str, float] = {}  # files whose open takes this long instead

    @classmethod
    def _strip_protocol(cls, path):
        return super()._strip_protocol(path.removeprefix("slowfile://"))

    def unstrip_protocol(self, name):
        return "slowfile://" + name

    def _open(self, path, mode="rb", **kw):
        cls = type(self)
        with cls.lock:
            cls.open_now += 1
            cls.most = max(cls.most, cls.open_now)
        try:
            time.sleep(cls.hang.get(path, cls.delay))
            if path in cls.fail:
                cls.fail.discard(path)
                raise OSError(f"{path}: connection reset")
            return super()._open(path, mode, **kw)
        finally:
            with cls.lock:
                cls.open_now -= 1


fsspec.register_implementation("slowfile", SlowFiles, clobber=True)


def test_small_files_behind_urls_are_fetched_several_at_once(tmp_path, monkeypatch):
    """Small files behind URLs (an object store's) are read together as local ones are, and
    fetched URL_FETCHES at once ahead of the decoding; a fetch that fails is left to the file's
    own read, which tries again. The report, counts and rejects are those of each file alone."""
    paths = small_files(tmp_path, 24)
    paths[5].write_bytes(paths[5].read_bytes() + b"{nope\n")
    gz = tmp_path / "f099.jsonl.gz"
    gz.write_bytes(gzip.compress(paths[9].read_bytes()))
    paths[9].unlink()
    files = sorted([*paths[:9], gz, *paths[10:]])
    urls = ["slowfile://" + str(p) for p in files]
    decodes = []
    decode = JsonlDecoder.decode

    def counted(self, *a):
        decodes.append(1)
        return decode(self, *a)

    def before_scan():
        SlowFiles.most, SlowFiles.fail = 0, {str(files[12])}
        monkeypatch.setattr(JsonlDecoder, "decode", counted)

    got = assert_alike(urls, tmp_path, 1 << 20, before_scan=before_scan)
    assert got.stats.files == 24 and got.stats.records_rejected == 1
    assert got.rejected_examples[0]["file"] == urls[5]
    assert 3 <= SlowFiles.most <= small.URL_FETCHES + 1  # + 1: the failed file's own read
    assert not SlowFiles.fail  # the failed fetch was tried again
    assert len(decodes) < 24 + 6  # alone: 24 decodes; together: a few runs (the gzip and the failed one apart)


def test_a_read_stopped_while_a_fetch_hangs_ends_at_once(tmp_path):
    """A read stopped early while the fetch it waits for hangs (an object store that does not
    answer) ends without waiting for that fetch."""
    paths = small_files(tmp_path, 8)
    recs = [orjson.loads(line) for line in paths[1].read_bytes().splitlines()]
    for k, rec in enumerate(recs):
        rec["ts"] = f"2025-09-01T00:00:{k:02d}Z"  # another raw schema: the run before is decoded first
    paths[1].write_bytes(b"\n".join(map(orjson.dumps, recs)) + b"\n")
    urls = ["slowfile://" + str(p) for p in paths]
    SlowFiles.hang = {str(paths[2]): 3.0}
    try:
        batches = read_together(urls, 1 << 20)
        assert next(batches).num_rows > 0
        started = time.monotonic()
        batches.close()
        assert time.monotonic() - started < 1.5
        assert not reading_threads()
    finally:
        SlowFiles.hang = {}
