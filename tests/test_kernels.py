"""Every kernel against its slow reference in tests/reference.py, plus hand-checked examples.

Integers and hashes compare exactly. Kernels read their buffers through
`fastscan.buffers.string_buffers`, which is tested here directly as well.
"""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import reference as ref
import shingles
from arrowgen import WORDS, sliced_string_arrays, string_arrays, texts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastscan.buffers import string_buffers
from fastscan.kernels import aggregate, hashing, messages, prompts, reasoning, text, unfused

# deadline=None: the first call of a kernel may compile
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Outputs start as this, so a row a kernel forgets to write shows up.
GARBAGE = 0x5A5A5A5A5A5A5A5A
GUARD = 64  # extra slots after a flat output, which a kernel must leave alone
INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min


# -- run a kernel the way the library does -----------------------------------------------------


def run_count_tokens(arr):
    offsets, data, valid = string_buffers(arr)
    out = np.full(len(arr), GARBAGE, dtype=np.int64)
    text.count_tokens(offsets, data, valid, out)
    return out.tolist()


def run_hash_prompts(arr, skeleton_words):
    offsets, data, valid = string_buffers(arr)
    n = len(arr)
    phash, head, tail = (np.full(n, GARBAGE, dtype=np.uint64) for _ in range(3))
    n_words = np.full(n, 12345, dtype=np.int32)
    unfused.hash_prompts(offsets, data, valid, skeleton_words, phash, n_words, head, tail)
    return phash.tolist(), n_words.tolist(), head.tolist(), tail.tolist()


def run_count_shingles(arr, k):
    offsets, data, valid = string_buffers(arr)
    out = np.full(len(arr), GARBAGE, dtype=np.int64)
    shingles.count_shingles(offsets, data, valid, k, out)
    return out.tolist()


def run_hash_shingles(arr, k):
    """(count per row, flat shingle hashes) as the library computes them."""
    offsets, data, valid = string_buffers(arr)
    counts = np.empty(len(arr), dtype=np.int64)
    shingles.count_shingles(offsets, data, valid, k, counts)
    out_offsets = np.zeros(len(arr) + 1, dtype=np.int64)
    np.cumsum(counts, out=out_offsets[1:])
    total = int(out_offsets[-1])
    out = np.full(total + GUARD, GARBAGE, dtype=np.uint64)
    shingles.hash_shingles(offsets, data, valid, k, out_offsets, out)
    assert np.all(out[total:] == GARBAGE), "wrote past its last shingle"
    return counts.tolist(), out[:total].tolist()


def run_minhash(arr, rows, k, num_perm, seed=1):
    offsets, data, valid = string_buffers(arr)
    a, b = hashing.minhash_params(num_perm, seed)
    out = np.full((len(rows), num_perm), 7, dtype=np.uint32)
    unfused.minhash_signatures(offsets, data, valid, np.asarray(rows, dtype=np.int64), k, a, b, out)
    return out.tolist()


def run_split_transcripts(arr):
    """Per row: (user_start, user_end, sys_start, sys_end, n_prior), positions relative to the row."""
    offsets, data, valid = string_buffers(arr)
    n = len(arr)
    us, ue, ss, se = (np.full(n, GARBAGE, dtype=np.int64) for _ in range(4))
    n_prior = np.full(n, 12345, dtype=np.int32)
    messages.split_transcripts(offsets, data, valid, us, ue, ss, se, n_prior)
    lo = offsets[:-1]
    us, ue = us - lo, ue - lo
    ss, se = np.where(ss >= 0, ss - lo, ss), np.where(se >= 0, se - lo, se)
    return list(zip(us.tolist(), ue.tolist(), ss.tolist(), se.tolist(), n_prior.tolist())), offsets


def run_pick_messages(requests, roles_arr):
    list_offsets = np.zeros(len(requests) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in requests], out=list_offsets[1:])
    r_off, r_data, r_valid = string_buffers(roles_arr)
    n = len(requests)
    user = np.full(n, GARBAGE, dtype=np.int64)
    system = np.full(n, GARBAGE, dtype=np.int64)
    n_prior = np.full(n, 12345, dtype=np.int32)
    messages.pick_messages(list_offsets, r_off, r_data, r_valid, user, system, n_prior)
    return user.tolist(), system.tolist(), n_prior.tolist()


def one(value, typ=None):
    return pa.array([value], type=pa.string() if typ is None else typ)


def bytes_of(arr):
    return np.frombuffer("".join(arr).encode(), dtype=np.uint8)


# -- fastscan.buffers.string_buffers -------------------------------------------------------------


@PROPERTY
@given(string_arrays())
def test_string_buffers_views_every_value(arr):
    offsets, data, valid = string_buffers(arr)
    values = arr.to_pylist()
    assert offsets.dtype == np.int64 and offsets.shape == (len(arr) + 1,)
    assert data.dtype == np.uint8 and data.ndim == 1
    assert valid.dtype == np.bool_ and valid.shape == (len(arr),)
    assert valid.tolist() == [v is not None for v in values]
    assert np.all(np.diff(offsets) >= 0)
    for i, v in enumerate(values):
        if v is not None:
            assert data[offsets[i] : offsets[i + 1]].tobytes() == v.encode()


@PROPERTY
@given(sliced_string_arrays())
def test_string_buffers_offsets_are_absolute_not_rebased(arr):
    offsets, data, _ = string_buffers(arr)
    raw = np.frombuffer(arr.buffers()[1], dtype=np.int64 if arr.type == pa.large_string() else np.int32)
    assert offsets.tolist() == raw[arr.offset : arr.offset + len(arr) + 1].tolist()
    if data.size:  # a view of the whole data buffer, not a copy of the slice's part
        assert data.ctypes.data == arr.buffers()[2].address and data.size == arr.buffers()[2].size


@pytest.mark.parametrize("typ", [pa.string(), pa.large_string()])
def test_string_buffers_sliced_example(typ):
    arr = pa.array(["ab", None, "cde", "", "f"], type=typ).slice(1, 3)
    offsets, data, valid = string_buffers(arr)
    assert offsets.tolist() == [2, 2, 5, 5]
    assert valid.tolist() == [False, True, True]
    assert data[2:5].tobytes() == b"cde"


@PROPERTY
@given(string_arrays(), st.sampled_from([b"length", b"", b"a"]))
def test_string_lengths_and_equals_bytes_agree_with_arrow(arr, text):
    """Read from the buffers, a null's hidden bytes (Arrow allows them) never count."""
    from fastscan.buffers import equals_bytes, string_lengths

    lengths = pc.fill_null(pc.binary_length(arr), 0).to_numpy(zero_copy_only=False)
    assert string_lengths(arr).tolist() == lengths.tolist()
    same = pc.fill_null(pc.equal(arr, pa.scalar(text.decode(), arr.type)), False)
    assert equals_bytes(arr, text).tolist() == same.to_pylist()


_NUMERIC = [pa.int8(), pa.int32(), pa.int64(), pa.uint16(), pa.float32(), pa.float64(), pa.bool_()]


@PROPERTY
@given(
    st.sampled_from(_NUMERIC),
    st.lists(st.none() | st.integers(-100, 100), max_size=40),
    st.integers(0, 9),
    st.integers(0, 40),
)
def test_values_and_validity_read_from_buffers_agree_with_arrow(typ, values, lo, size):
    """int_values, float_values, bool_values and validity read the buffers themselves where a
    column has nulls: each value, or the fill where it is null, as Arrow has them, sliced anywhere."""
    from fastscan.buffers import bool_values, float_values, int_values, validity

    if pa.types.is_boolean(typ):
        values = [None if v is None else v > 0 for v in values]
    elif pa.types.is_unsigned_integer(typ):
        values = [None if v is None else abs(v) for v in values]
    arr = pa.array(values, typ).slice(lo, size)
    assert validity(arr).tolist() == arr.is_valid().to_pylist()
    readers: tuple[tuple[Callable, object, type], ...] = (
        (int_values, 7, np.int64),
        (float_values, np.nan, np.float64),
        (bool_values, True, np.bool_),
    )
    for get, fill, np_type in readers:
        if get is bool_values and not pa.types.is_boolean(typ):
            continue
        want: np.ndarray = np.array([fill if v is None else v for v in arr.to_pylist()], dtype=np_type)
        got = get(arr, fill)
        assert got.dtype == np_type and got.shape == (len(arr),)
        np.testing.assert_array_equal(got, want)
    assert validity(pa.nulls(3)).tolist() == [False] * 3 and int_values(pa.nulls(2), 5).tolist() == [5, 5]


@PROPERTY
@given(st.lists(st.sampled_from([b"\n", b"a", b"\x8a", b"\x0b", b"\x00", b"\xff"]), max_size=300), st.integers(0, 7))
def test_newline_positions_match_numpy(pieces, skip):
    from fastscan.kernels import jsonl

    data = np.frombuffer(b"".join(pieces), dtype=np.uint8)[skip:]  # at any alignment
    want = np.flatnonzero(data == 10).tolist()
    for room in (len(want), len(want) // 2, len(want) + 3):  # room for all, too little, more
        out = np.full(room, -1, dtype=np.int64)
        utf8 = np.ones(1, dtype=np.bool_)
        assert jsonl.newline_positions(data, out, utf8) == len(want)
        assert out.tolist() == (want + [-1] * 3)[:room]  # the first ones, and nothing past them
        assert utf8[0] == _is_utf8(data.tobytes())


def _blank(line: bytes) -> bool:
    """The blank-line rule as Python wrote it before kernels.jsonl.line_spans: a line of at most 16
    bytes, or a longer one that starts with a space, \\t or \\r, that strip() leaves empty."""
    return not line or ((len(line) <= 16 or line[:1] in (b" ", b"\t", b"\r")) and not line.strip())


_LINE_PIECES = [b"\n", b" ", b"\t", b"\r", b"\x0b", b"\x0c", b"{}", b"x", b"\xc3\xa9", b" " * 20, b"\x0b" * 17]


@PROPERTY
@given(st.lists(st.sampled_from(_LINE_PIECES), max_size=200))
def test_line_bounds_leave_out_blank_lines_as_strip_does(pieces):
    """Blank lines (empty, or whitespace by bytes.strip() in the lines where it is looked for)
    are left out, every other line kept with its index among all the chunk's lines."""
    from fastscan.read.jsonl_decode import line_bounds

    chunk = b"".join(pieces) + b"\n"
    lines = chunk.split(b"\n")[:-1]
    want = [k for k, line in enumerate(lines) if not _blank(line)]
    starts, ends, index, count, _ = line_bounds(chunk)
    assert count == len(lines) and index.tolist() == want
    assert [chunk[s:e] for s, e in zip(starts.tolist(), ends.tolist())] == [lines[k] for k in want]


def test_line_bounds_of_many_short_lines():
    """More lines than line_bounds first makes room for (lines of 2 bytes): found all the same."""
    from fastscan.read.jsonl_decode import line_bounds

    chunk = b"x\n" * 5000 + b"\n" * 3000 + b" \t\n" + b"{}\n" * 7
    starts, ends, index, lines, utf8 = line_bounds(chunk)
    assert lines == 8008 and utf8
    assert len(starts) == 5007 and index.tolist() == list(range(5000)) + list(range(8001, 8008))
    assert all(chunk[s:e] in (b"x", b"{}") for s, e in zip(starts.tolist(), ends.tolist()))


@pytest.mark.parametrize("density", [0.01, 0.1, 0.5, 1.0])
def test_newline_positions_in_long_data(density):
    """Data long enough for the 64-byte steps, newlines from rare to every byte, at any alignment."""
    from fastscan.kernels import jsonl

    rng = np.random.default_rng(int(density * 100))
    for size in (64, 65, 127, 128, 300, 1000):
        raw = rng.choice(np.array([97, 0x8A, 0x0B, 0, 255], dtype=np.uint8), size)
        raw[rng.random(size) < density] = 10
        for skip in range(8):
            data = raw[skip:]
            want = np.flatnonzero(data == 10).tolist()
            for room in (len(want), len(want) // 3):
                out = np.full(room, -1, dtype=np.int64)
                utf8 = np.zeros(1, dtype=np.bool_)
                assert jsonl.newline_positions(data, out, utf8) == len(want)
                assert out.tolist() == want[:room], (size, skip)
                assert utf8[0] == _is_utf8(data.tobytes())


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


# every kind of UTF-8 sequence and its edges: the ends of each lead's second-byte range
# (overlongs, surrogates, past U+10FFFF), lone continuations, leads that are never valid
_UTF8_HEX = (
    "61 0a 00 7f c3a9 e697a5 f09f9880 c280 dfbf"  # valid: ASCII, newline, 2 to 4 bytes, edges
    " e0a080 ed9fbf efbfbf f0908080 f48fbfbf"  # valid: the ends of the restricted ranges
    " e09fbf eda080 f08fbfbf f4908080"  # overlong, surrogate, overlong, past U+10FFFF
    " 80 bf c0af c1bf c2 e180 f18080 f5808080 ff"  # stray, overlong, cut short, never a lead
)
_UTF8_PIECES = [bytes.fromhex(h) for h in _UTF8_HEX.split()]


@PROPERTY
@given(st.lists(st.sampled_from(_UTF8_PIECES), max_size=120), st.integers(0, 70))
def test_newline_positions_checks_utf8_as_python_does(pieces, pad):
    """Whatever sequences, at any place of the 64-byte steps and across them: valid UTF-8 exactly
    when Python's codec decodes it, and the newlines found as ever."""
    from fastscan.kernels import jsonl

    raw = b"a" * pad + b"".join(pieces)
    data = np.frombuffer(raw, dtype=np.uint8)
    out = np.empty(len(raw) + 1, dtype=np.int64)
    utf8 = np.zeros(1, dtype=np.bool_)
    count = jsonl.newline_positions(data, out, utf8)
    assert out[:count].tolist() == np.flatnonzero(data == 10).tolist()
    assert utf8[0] == _is_utf8(raw), raw


def test_scratch_gives_the_same_memory_again():
    from fastscan.buffers import Scratch

    s = Scratch()
    a = s.flat("w", 1000, np.uint64)
    assert a.shape == (1000,) and a.dtype == np.uint64
    b = s.flat("w", 600, np.uint64)
    assert b.shape == (600,) and b.ctypes.data == a.ctypes.data  # reused, not allocated
    c = s.flat("w", 5000, np.uint64)
    assert c.shape == (5000,)  # grown
    assert s.flat("other", 10, np.uint8).ctypes.data != c.ctypes.data  # names apart
    r = s.rows("t", 3, 100, np.uint8)
    assert r.shape[0] == 3 and r.shape[1] >= 100 and r.flags.c_contiguous
    r2 = s.rows("t", 3, 40, np.uint8)
    assert r2.ctypes.data == r.ctypes.data and r2.shape == r.shape  # each row in the same place
    assert s.rows("t", 3, 1000, np.uint8).shape[1] >= 1000
    assert s.nbytes >= 5000 * 8 + 3 * 1000


def test_no_huge_pages_is_scoped_and_yields_to_the_environment(monkeypatch):
    from fastscan import buffers

    setter = buffers.hugepage_setter()
    if setter is None:
        pytest.skip("this numpy has no huge page switch")
    monkeypatch.delenv("NUMPY_MADVISE_HUGEPAGE", raising=False)
    before = setter(True)
    try:
        with buffers.no_huge_pages():
            with buffers.no_huge_pages():
                assert setter(False) is False
            assert setter(False) is False  # the inner block put back the outer one's setting
        assert setter(True) is True  # and the outer one the caller's
        monkeypatch.setenv("NUMPY_MADVISE_HUGEPAGE", "1")  # the user's choice stands
        with buffers.no_huge_pages():
            assert setter(True) is True
    finally:
        setter(before)


def test_no_huge_pages_gives_arrow_the_system_pool_from_the_first_block_to_the_last(monkeypatch):
    """pyarrow's bundled mimalloc advises its arena huge pages: while any scan runs, Arrow's
    buffers come from malloc, and the program's pool is back when the last overlapping scan ends
    (blocks on two threads need not end in the order they began)."""
    from fastscan import buffers

    try:
        mimalloc = pa.mimalloc_memory_pool()
    except NotImplementedError:
        pytest.skip("this pyarrow has no mimalloc")
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    before = pa.default_memory_pool()
    pa.set_memory_pool(mimalloc)
    try:
        first, second = buffers.no_huge_pages(), buffers.no_huge_pages()
        first.__enter__()
        assert pa.default_memory_pool().backend_name == "system"
        second.__enter__()
        first.__exit__(None, None, None)  # the first to begin ends first: the other still runs
        assert pa.default_memory_pool().backend_name == "system"
        second.__exit__(None, None, None)
        assert pa.default_memory_pool().backend_name == "mimalloc"
        system, held = pa.system_memory_pool(), mimalloc.bytes_allocated()
        with buffers.no_huge_pages():
            had = system.bytes_allocated()
            buf = pa.allocate_buffer(1 << 20)
            assert system.bytes_allocated() - had >= 1 << 20  # from malloc...
        assert mimalloc.bytes_allocated() == held  # ...not mimalloc
        del buf  # and given back to malloc after the block
        assert system.bytes_allocated() == had
        try:
            jemalloc = pa.jemalloc_memory_pool()
        except NotImplementedError:
            jemalloc = None
        if jemalloc is not None:
            with buffers.no_huge_pages():
                pa.set_memory_pool(jemalloc)  # another pool the program chose while a scan ran...
            assert pa.default_memory_pool().backend_name == "jemalloc"  # ...stands
        pa.set_memory_pool(mimalloc)
        monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "mimalloc")  # the user's choice stands
        with buffers.no_huge_pages():
            assert pa.default_memory_pool().backend_name == "mimalloc"
    finally:
        pa.set_memory_pool(before)


def test_a_scan_folds_and_finishes_with_arrow_on_the_system_pool(tmp_path, monkeypatch):
    """The fold (and the reading thread it starts) and finish() run inside no_huge_pages."""
    import fastscan
    from fastscan.run import local

    finishing = sys.modules["fastscan.score.finish"]  # the package's `finish` is the function

    try:
        mimalloc = pa.mimalloc_memory_pool()
    except NotImplementedError:
        pytest.skip("this pyarrow has no mimalloc")
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    seen: list[str] = []
    real_finish = finishing._finish

    def noted_finish(*args, **kwargs):
        seen.append("finish " + pa.default_memory_pool().backend_name)
        return real_finish(*args, **kwargs)

    def on_batch(batch) -> None:
        seen.append("fold " + pa.default_memory_pool().backend_name)

    monkeypatch.setattr(finishing, "_finish", noted_finish)
    real_fold = local.fold
    monkeypatch.setattr(local, "fold", lambda *a, **k: real_fold(*a, **{**k, "on_batch": on_batch}))
    log = tmp_path / "log.jsonl"
    log.write_text("".join(f'{{"account_id": "a{i % 3}", "prompt": "p {i}"}}\n' for i in range(20)))
    before = pa.default_memory_pool()
    pa.set_memory_pool(mimalloc)
    try:
        report = fastscan.scan([log])
        assert pa.default_memory_pool().backend_name == "mimalloc"
    finally:
        pa.set_memory_pool(before)
    assert report.stats.records_scored == 20
    assert seen and set(seen) == {"fold system", "finish system"}


def test_reserved_rows_hold_what_is_written_and_give_back_whole_pages():
    import mmap

    from fastscan import buffers

    a = buffers.reserved_rows(1 << 20, 128, np.uint32)  # 512 MiB of address space, none of it used yet
    if a is None:
        pytest.skip("no anonymous mappings here")
    assert a.shape == (1 << 20, 128) and a.flags.writeable and a.flags.c_contiguous
    per_page = mmap.PAGESIZE // 512
    a[: 10 * per_page] = 7
    buffers.release_rows(a, per_page + 1, 10 * per_page)
    assert (a[: 2 * per_page] == 7).all()  # the page holding row per_page + 1 is kept whole
    assert not a[2 * per_page : 10 * per_page].any()  # the pages after it read as zeros again
    a[5] = 9  # and take new values as before
    assert (a[5] == 9).all()
    plain = np.zeros((4, 128), dtype=np.uint32)
    buffers.release_rows(plain, 0, 4)  # not a reserved array: left alone
    assert plain.shape == (4, 128)


def test_the_signature_store_grows_into_a_mapping_without_huge_page_advice():
    # a huge page's first touch zeroes 2 MiB after the kernel finds them free in one piece: on a
    # VM that costs a third of a core-second a scan (buffers.reserved_rows)
    import mmap
    from pathlib import Path

    from fastscan.sketches import MAPPED_STORE_BYTES, SIG_DTYPE, PromptSample

    smaps = Path("/proc/self/smaps")
    if not hasattr(mmap, "MADV_HUGEPAGE") or not smaps.exists():
        pytest.skip("no huge page advice here (Linux only)")
    s = PromptSample(size=1 << 20, num_perm=128)
    n = 2 * MAPPED_STORE_BYTES // (128 * SIG_DTYPE().itemsize)
    rng = np.random.default_rng(5)
    z = np.zeros(n, dtype=np.int64)
    sig = rng.integers(0, 1 << 16, size=(n, 128)).astype(SIG_DTYPE)
    phash = rng.integers(1, 1 << 63, size=n, dtype=np.int64).astype(np.uint64)
    s.add(z, phash, z + 1, z, z.astype(np.int32) + 5, phash * 0, phash * 0, sig)
    s.compact()
    if not s._mapped:
        pytest.skip("no anonymous mappings here")
    assert np.array_equal(s.signatures()[np.argsort(np.argsort(phash))], sig)  # what was written
    at = s.store.ctypes.data
    inside = False
    for line in smaps.read_text().splitlines():
        head = line.split(" ", 1)[0]
        if "-" in head and ":" not in head:
            lo, hi = (int(x, 16) for x in head.split("-"))
            inside = lo <= at < hi
        elif inside and line.startswith("VmFlags:"):
            assert "hg" not in line.split()[1:]
            return
    raise AssertionError("the store's mapping is not in smaps")


def test_reservable_bytes_leave_room_under_an_address_space_limit(monkeypatch):
    resource = pytest.importorskip("resource")
    from fastscan import buffers

    assert buffers.reservable_bytes() > 0
    monkeypatch.setattr(resource, "getrlimit", lambda what: (1 << 30, resource.RLIM_INFINITY))
    assert buffers.reservable_bytes() <= 1 << 28


def test_string_buffers_data_is_read_only():
    _, data, _ = string_buffers(pa.array(["abc", "de"]))
    assert not data.flags.writeable


@pytest.mark.parametrize(
    "arr",
    [
        pa.array([], pa.string()),
        pa.array(["", ""], pa.large_string()),
        pa.array([None, None], pa.string()),
        pa.nulls(3, pa.string()),
    ],
)
def test_string_buffers_without_data(arr):
    offsets, data, valid = string_buffers(arr)
    assert offsets.shape == (len(arr) + 1,) and np.all(offsets == offsets[0])
    assert valid.tolist() == [v is not None for v in arr.to_pylist()]
    assert run_count_tokens(arr) == [0] * len(arr)


def test_string_buffers_string_view():
    arr = pa.array(["héllo", None, "a much longer string than twelve bytes"], type=pa.string_view())
    offsets, data, valid = string_buffers(arr)
    assert valid.tolist() == [True, False, True]
    assert data[offsets[0] : offsets[1]].tobytes() == "héllo".encode()
    assert data[offsets[2] : offsets[3]].tobytes() == b"a much longer string than twelve bytes"


# -- machine words (kernels/bits.py) ------------------------------------------------------------


@pytest.fixture(scope="module")
def words_kernel():
    import numba

    from fastscan.kernels.bits import load8, popcount, store8, trailing_zeros

    @numba.njit
    def run(src, dst, pos):
        w = load8(src, pos)
        store8(dst, pos, w)
        return w, trailing_zeros(w), popcount(w)

    return run


@PROPERTY
@given(st.binary(min_size=8, max_size=40), st.data())
def test_words_at_any_byte_position(words_kernel, raw, data):
    pos = data.draw(st.integers(0, len(raw) - 8))
    src = np.frombuffer(raw, dtype=np.uint8)  # read-only, as a chunk's bytes are
    dst = np.zeros((2, len(raw)), dtype=np.uint8)  # 2-d: positions count in the flat array
    w, tz, pc = words_kernel(src, dst, pos)
    want = int.from_bytes(raw[pos : pos + 8], "little")
    assert int(w) == want
    assert int(tz) == ((want & -want).bit_length() - 1 if want else 64)
    assert int(pc) == bin(want).count("1")
    flat = np.zeros(2 * len(raw), dtype=np.uint8)
    flat[pos : pos + 8] = src[pos : pos + 8]
    assert dst.ravel().tolist() == flat.tolist()  # those 8 bytes written, nothing else


@pytest.mark.parametrize("c", [10, 0, 34, 128, 255])
def test_find_byte_at_any_position(c):
    from fastscan.kernels.bits import find_byte

    # bytes next to c and c with its high bit flipped are where a SWAR compare can go wrong
    alphabet = np.array([c, c ^ 0x80, (c + 1) % 256, (c - 1) % 256, 0, 255], dtype=np.uint8)
    rng = np.random.default_rng(c)
    # short arrays (the 8-byte and byte-at-a-time paths), and long ones with c rare, so that
    # the 64-byte steps run and meet c at every place of a window, or not at all
    for size, rare in [(24, 0.6)] * 40 + [(150, 0.97)] * 6 + [(150, 1.0)]:
        arr = alphabet[rng.integers(0, len(alphabet), size)]
        swap = rng.random(size) < rare  # c made rarer: those bytes become one of the others
        arr[swap] = alphabet[1 + rng.integers(0, len(alphabet) - 1, size)][swap]
        raw = arr.tobytes()
        for p in range(len(raw) + 1):
            for end in range(p, len(raw) + 1):
                want = raw.find(bytes([c]), p, end)
                assert find_byte(arr, p, end, c) == (end if want < 0 else want), (raw, p, end)


@pytest.mark.parametrize("special", [b'"', b"\\", b"\x00", b"\x1f", b"\n"])
def test_next_special_finds_the_first_at_any_place_of_long_runs(special):
    """The first quote, backslash or control byte, in runs long enough for the 64-byte steps:
    at every place of a window, after bytes that are one off from a special (0x20, 0x21, 0x5b,
    0x5d, and high bytes), or nowhere."""
    from fastscan.kernels.json_values import next_special

    filler = np.frombuffer(b" !#[]\x7f\x80\xa2\xffab", dtype=np.uint8)
    rng = np.random.default_rng(special[0])
    for size in (63, 64, 65, 130, 200):
        base = filler[rng.integers(0, len(filler), size)]
        for at in [*range(size), -1]:
            arr = base.copy()
            if at >= 0:
                arr[at] = special[0]
            for p in {0, 1, 7, 8, 63, 64} & set(range(size + 1)):
                for end in {size, size - 1, p + 64, p + 65} & set(range(p, size + 1)):
                    want = at if p <= at < end else end
                    assert next_special(arr, p, end) == want, (size, at, p, end)


def test_next_special_kept_finds_every_special_in_turn():
    """Walking a long run special by special with the kept window finds what next_special finds
    from scratch each time, wherever the run starts and ends and however far a step jumps."""
    from fastscan.kernels.json_values import next_special, next_special_kept

    rng = np.random.default_rng(5)
    alphabet = np.frombuffer(b' !#[]\x7f\x80\xffab"\\\n\x00', dtype=np.uint8)
    for density in (0.005, 0.05, 0.3):
        for size in (40, 64, 65, 200, 400):
            arr = alphabet[rng.integers(0, 10, size)]
            hit = rng.random(size) < density
            arr[hit] = alphabet[10 + rng.integers(0, 4, hit.sum())]
            for start in (0, 1, 5, 63):
                for end in {size, size - 3, start + 64} & set(range(start, size + 1)):
                    p, win, mask = start, -1, np.uint64(0)
                    while p < end:
                        q, win, mask = next_special_kept(arr, p, end, win, np.uint64(mask))
                        assert q == next_special(arr, p, end), (density, size, start, end, p)
                        p = q + 1 + int(rng.integers(0, 14))  # past it, as an escape of up to 12 bytes moves


@PROPERTY
@given(st.binary(max_size=300), st.data())
def test_copy_bytes_writes_its_range_only(raw, data):
    from fastscan.kernels.bits import copy_bytes

    p = data.draw(st.integers(0, len(raw)))
    n = data.draw(st.integers(0, len(raw) - p))
    q = data.draw(st.integers(0, 16))
    dst = np.full(q + n + 16, 0xAB, dtype=np.uint8)
    copy_bytes(np.frombuffer(raw, dtype=np.uint8), p, dst, q, n)
    assert dst.tobytes() == b"\xab" * q + raw[p : p + n] + b"\xab" * 16


def test_prefetch_compiles_for_every_array_and_changes_nothing():
    import numba

    from fastscan.kernels.bits import prefetch

    @numba.njit
    def touch(arr, upto):
        for p in range(upto):
            prefetch(arr, p)  # past the end too: a prefetch never faults
        return arr.sum()

    for arr in (np.arange(10, dtype=np.uint64), np.arange(12, dtype=np.uint32).reshape(3, 4), np.zeros(5, np.uint16)):
        before = arr.copy()
        assert touch(arr, arr.size + 4096) == before.sum()
        assert np.array_equal(arr, before)


# -- hashing ---------------------------------------------------------------------------------------

# Published vectors: fmix64 from MurmurHash3 ports, XXH64 (seed 0) from xxHash's documentation.
FMIX64_VECTORS = [(0, 0), (1, 0xB456BCFC34C2CB2C), (0xCBF29CE484222325, 0xEFD01F60BA992926)]
XXH64_VECTORS = [(b"", 0xEF46DB3751D8E999), (b"a", 0xD24EC4F1A98C6E5B), (b"abc", 0x44BC2CF5AD770999)]


@pytest.mark.parametrize("x, expected", FMIX64_VECTORS)
def test_fmix64_known_values(x, expected):
    assert ref.fmix64(x) == expected
    assert int(hashing.fmix64(np.uint64(x))) == expected


@pytest.mark.parametrize("data, expected", XXH64_VECTORS)
def test_xxh64_known_values(data, expected):
    assert ref.xxh64(data) == expected
    phash, _, _, _ = run_hash_prompts(one(data.decode()), 1)
    assert phash == [expected]


@PROPERTY
@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1))
def test_fmix64_and_combine_match_reference(x, h):
    assert int(hashing.fmix64(np.uint64(x))) == ref.fmix64(x)
    assert int(hashing.combine(np.uint64(h), np.uint64(x))) == ref.combine(h, x)


def test_splitmix64_known_values():
    # Vigna's splitmix64.c seeded with 0
    expected = [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F, 0xF88BB8A8724C81EC]
    assert ref.splitmix64(0, 4) == expected
    assert hashing.splitmix64_sequence(0, 4).tolist() == expected


@pytest.mark.parametrize("num_perm, seed", [(8, 1), (64, 1), (16, 2**64 - 1), (8, -3)])
def test_minhash_params_are_splitmix64_pairs(num_perm, seed):
    a, b = hashing.minhash_params(num_perm, seed)
    seq = ref.splitmix64(seed, 2 * num_perm)
    assert a.dtype == b.dtype == np.uint32 and a.flags.c_contiguous and b.flags.c_contiguous
    assert a.tolist() == [(x & 0xFFFFFFFF) | 1 for x in seq[0::2]]
    assert b.tolist() == [x & 0xFFFFFFFF for x in seq[1::2]]


def test_seed_constants_match_reference():
    assert int(text.SHINGLE_SEED) == ref.SHINGLE_SEED
    assert int(text.SKELETON_SEED) == ref.SKELETON_SEED
    assert int(text.EMPTY_MIN) == ref.EMPTY_MIN


# -- words and tokens: examples ------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, words",
    [
        ("Hello, World! 42", ["Hello", "World", "42"]),
        ("don't stop", ["don", "t", "stop"]),
        ("naïve café Straße", ["naïve", "café", "Straße"]),
        ("привет,мир", ["привет", "мир"]),
        ("中文abc", ["中", "文", "abc"]),
        ("😀😀", ["😀", "😀"]),
        ("a\u00a0b", ["a\u00a0b"]),  # NBSP is a 2-byte code point: a word byte by the rule
        ("a\u2014b", ["a", "\u2014", "b"]),  # an em dash is 3 bytes: a word of its own
        ("snake_case\tx\x00y", ["snake", "case", "x", "y"]),
        ("", []),
        ("  ...  ", []),
    ],
)
def test_split_words_examples(value, words):
    assert ref.split_words(value) == words
    _, n_words, _, _ = run_hash_prompts(one(value), 1)
    assert n_words == [len(words)]


@pytest.mark.parametrize(
    "value, tokens",
    [
        ("Hello, World! 42", 7),  # hello 2 + world 2 + 42 1 + two punctuation
        ("abcdefghi", 3),  # ceil(9 / 4)
        ("привет", 3),  # 12 bytes
        ("中文", 2),
        ("😀", 1),
        ("🚀👍🏽", 3),  # one per 3/4-byte code point
        ("...", 3),
        ("a\tb c\n", 3),
        ("\x7f\x00", 0),
        ("", 0),
        (None, 0),
    ],
)
def test_count_tokens_examples(value, tokens):
    assert ref.count_tokens_all([value]) == [tokens]
    assert run_count_tokens(one(value)) == [tokens]


def test_word_hash_folds_ascii_case_only():
    # with k = 1 every word is one shingle: shingle([word_hash])
    arr = pa.array(["Hello", "hello", "HELLO", "Жук", "жук"])
    _, hashes = run_hash_shingles(arr, 1)
    assert hashes[0] == hashes[1] == hashes[2] == ref.shingle([ref.chunk_hash(b"hello")])
    assert hashes[3] != hashes[4]


# -- prompts: examples -----------------------------------------------------------------------------


def test_hash_prompts_examples():
    wh = ref.word_hash
    arr = pa.array(["a b c d e", "a b c d", None, "foobar"])
    phash, n_words, head, tail = run_hash_prompts(arr, 2)
    assert phash == [ref.xxh64(b"a b c d e"), ref.xxh64(b"a b c d"), 0, ref.xxh64(b"foobar")]
    assert n_words == [5, 4, -1, 1]
    # 5 = 2 * 2 + 1 words leave room for a payload; 4 do not
    assert head == [ref.combine(ref.combine(ref.SKELETON_SEED, wh("a")), wh("b")), 0, 0, 0]
    assert tail == [ref.combine(ref.combine(ref.SKELETON_SEED, wh("d")), wh("e")), 0, 0, 0]


def test_hash_prompts_template_shares_skeleton():
    arr = pa.array(
        [
            "Please translate this: the cat sat. Reply in French only.",
            "please TRANSLATE this — 猫が座った. Reply in French only.",
        ]
    )
    phash, _, head, tail = run_hash_prompts(arr, 3)
    assert phash[0] != phash[1]
    assert head[0] == head[1] != 0
    assert tail[0] == tail[1] != 0


# -- shingles and MinHash: examples --------------------------------------------------------------


def test_shingles_examples():
    wh = ref.word_hash
    arr = pa.array(["a b c d", "a, b", "", "!!!", None])
    counts, hashes = run_hash_shingles(arr, 3)
    assert counts == [2, 1, 0, 0, 0]
    assert hashes == [
        ref.shingle([wh("a"), wh("b"), wh("c")]),
        ref.shingle([wh("b"), wh("c"), wh("d")]),
        ref.shingle([wh("a"), wh("b")]),
    ]  # fewer than k words: one shingle


def test_minhash_examples():
    arr = pa.array(["the quick brown fox", "The quick, brown fox!", "...", None, "a b c"])
    sig = run_minhash(arr, [0, 1, 2, 3, 4], 3, 16)
    assert sig[0] == sig[1]  # same words, so same shingles
    assert sig[2] == sig[3] == [0xFFFFFFFF] * 16  # no words, null
    a, b = hashing.minhash_params(16)
    x = ref.shingle([ref.word_hash(w) for w in "abc"])
    assert sig[4] == [(int(aj) * (x >> 32) + int(bj)) % 2**32 for aj, bj in zip(a, b)]


def test_long_texts_wrap_the_kernels_ring_buffers():
    # the kernels keep the last 16 (shingles) or `skeleton_words` (tail) word hashes in a ring
    long_text = " ".join(f"{w}{i % 7}" for i, w in enumerate(WORDS * 6))
    arr = pa.array([long_text, "x " * 129, "y " * 128])
    values = arr.to_pylist()
    for k in (1, 2, 15, 16):
        assert run_hash_shingles(arr, k)[1] == ref.hash_shingles_all(values, k)
        assert run_minhash(arr, [0, 1, 2], k, 8) == ref.minhash_signatures_all(
            values, [0, 1, 2], k, *(p.tolist() for p in hashing.minhash_params(8))
        )
    for skeleton_words in (1, 7, 63, 64):
        assert run_hash_prompts(arr, skeleton_words) == ref.hash_prompts_all(values, skeleton_words)
    assert run_hash_prompts(arr, 64)[2][1:] == [ref.hash_prompt("x " * 129, 64)[2], 0]  # 129 = 2 * 64 + 1


# -- text kernels == reference ---------------------------------------------------------------------


@PROPERTY
@given(string_arrays())
def test_count_tokens_matches_reference(arr):
    assert run_count_tokens(arr) == ref.count_tokens_all(arr.to_pylist())


@PROPERTY
@given(string_arrays(), st.integers(1, 6) | st.just(64))
def test_hash_prompts_matches_reference(arr, skeleton_words):
    got = run_hash_prompts(arr, skeleton_words)
    assert got == ref.hash_prompts_all(arr.to_pylist(), skeleton_words)


@PROPERTY
@given(string_arrays(), st.integers(1, 6) | st.just(16))
def test_count_and_hash_shingles_match_reference(arr, k):
    values = arr.to_pylist()
    assert run_count_shingles(arr, k) == ref.count_shingles_all(values, k)
    counts, hashes = run_hash_shingles(arr, k)
    assert counts == ref.count_shingles_all(values, k)
    assert hashes == ref.hash_shingles_all(values, k)


# bytes where the tokenizer decides something: word bytes of each kind, separators, and the lead
# bytes of 3/4-byte sequences, which take the next bytes whatever they are (invalid UTF-8 too)
_TOKEN_BYTES = st.sampled_from(b"aZ09 .-\n\x00\x7f\x80\xbf\xc3\xdf\xe0\xef\xf0\xff")


@PROPERTY
@given(st.lists(st.lists(_TOKEN_BYTES, max_size=40).map(bytes) | st.binary(max_size=40), max_size=8))
def test_hash_prompts_on_any_bytes_match_reference(values):
    """Arrow string columns read from Parquet or IPC need not be UTF-8: on any bytes, the word
    hashes (through the skeleton and word counts) and the prompt hash follow the byte rule."""
    binary = pa.array(values, type=pa.binary())
    arr = pa.Array.from_buffers(pa.string(), len(values), binary.buffers())  # no UTF-8 check
    offsets, data, valid = string_buffers(arr)
    n = len(values)
    h, w, hh, th = np.empty(n, np.uint64), np.empty(n, np.int32), np.empty(n, np.uint64), np.empty(n, np.uint64)
    unfused.hash_prompts(offsets, data, valid, 1, h, w, hh, th)
    for i, raw in enumerate(values):
        hashes = [ref.chunk_hash(x) for x in ref.split_word_bytes(raw)]
        assert int(h[i]) == ref.xxh64(raw)
        assert int(w[i]) == len(hashes)
        if len(hashes) >= 3:
            assert (int(hh[i]), int(th[i])) == (
                ref.chain(ref.SKELETON_SEED, hashes[:1]),
                ref.chain(ref.SKELETON_SEED, hashes[-1:]),
            )
        else:
            assert (int(hh[i]), int(th[i])) == (0, 0)


def run_word_hashes(values: list[bytes], filler: int) -> tuple[list[list[int]], list[int]]:
    """Word hashes and prompt hash of each value by the scan's tokenizer (prompt_pass keeps the
    word hashes), with `filler` bytes after the last value in the same buffer: a text that ends
    64 or more bytes before the buffer's end is read in place, the others from a padded copy."""
    binary = pa.array([*values, b"." * filler], type=pa.binary())
    arr = pa.Array.from_buffers(pa.string(), len(values) + 1, binary.buffers())  # no UTF-8 check
    off, data, valid = string_buffers(arr)
    n = len(values)
    h, w, hh, th = np.empty(n, np.uint64), np.empty(n, np.int32), np.empty(n, np.uint64), np.empty(n, np.uint64)
    words = np.empty(int(off[n] - off[0]) + 1, dtype=np.uint64)
    start = np.empty(n, dtype=np.int64)
    pat_off, pat_data = reasoning.reasoning_table()
    phrase = np.empty(n, dtype=np.bool_)
    no_memo = np.zeros((0, 4), np.uint64)
    prompts.prompt_pass(
        off[: n + 1], data, valid[:n], 1, pat_off, pat_data, h, w, hh, th, phrase, 0, start, words, no_memo
    )
    return [words[start[i] : start[i] + w[i]].tolist() for i in range(n)], h.tolist()


# texts made of words of 1 to 150 bytes (so across the tokenizer's 64-byte windows), separators,
# 3/4-byte sequences (valid, and lead bytes followed by anything) and 2-byte sequences
_WORD_PIECES = st.one_of(
    st.text("aZ09", min_size=1, max_size=150).map(str.encode),
    st.text("aé0Ж", min_size=1, max_size=40).map(str.encode),
    st.sampled_from([b" ", b", ", b"\n", b"\x00", b"\x7f", "中".encode(), "😀".encode()]),
    st.sampled_from([b"\xe4a", b"\xf0", b"\xff\xff"]),  # lead bytes followed by anything
)


@PROPERTY
@given(st.lists(st.lists(_WORD_PIECES, max_size=30).map(b"".join), min_size=1, max_size=5), st.integers(0, 200))
def test_tokenizer_on_long_words_anywhere_in_the_buffer(values, filler):
    """The 64-byte-window tokenizer gives the reference's words and hashes: words longer than a
    window, words and 3/4-byte sequences across window edges, texts read in place or copied."""
    hashes, phash = run_word_hashes(values, filler)
    for raw, got, ph in zip(values, hashes, phash):
        assert got == [ref.chunk_hash(x) for x in ref.split_word_bytes(raw)]
        assert ph == ref.xxh64(raw)


def test_tokenizer_on_words_as_long_as_windows():
    """Words of 63 to 300 bytes at every offset in a window: they open in one window and end in
    the next, or cover a whole one; with and without a 3/4-byte sequence right after them."""
    values = [
        b" " * skip + b"Ab0" * (size // 3) + tail
        for skip in range(0, 70, 3)
        for size in (63, 64, 65, 127, 128, 129, 192, 300)
        for tail in (b"", b" x", "中y".encode())
    ]
    hashes, _ = run_word_hashes(values, 100)
    assert hashes == [[ref.chunk_hash(x) for x in ref.split_word_bytes(raw)] for raw in values]


_GUARD_PAGE_SCRIPT = """
import ctypes, mmap, sys
import numpy as np
from fastscan.kernels import hashing, prompts, reasoning, text, unfused

page = mmap.PAGESIZE
region = mmap.mmap(-1, 2 * page)
start = ctypes.addressof(ctypes.c_char.from_buffer(region))
if ctypes.CDLL(None).mprotect(ctypes.c_void_p(start + page), ctypes.c_size_t(page), 0) != 0:
    sys.exit(3)  # PROT_NONE refused: nothing to check here
memory = np.frombuffer(region, dtype=np.uint8, count=page)
for value, after in [(v, k) for v in sys.argv[1:] for k in (0, 1, 7, 8, 30, 63, 64, 65)]:
    raw = value.encode() + b"." * after  # the text, then a string of `after` bytes
    data = memory[page - len(raw) :]  # whose last byte is the last readable one
    data[:] = np.frombuffer(raw, dtype=np.uint8)
    data = data.view()
    data.flags.writeable = False
    off = np.array([0, len(raw) - after, len(raw)], np.int64)
    valid, rows = np.ones(2, np.bool_), np.arange(2, dtype=np.int64)
    one = lambda dtype: np.empty(2, dtype)
    unfused.hash_prompts(off, data, valid, 1, one(np.uint64), one(np.int32), one(np.uint64), one(np.uint64))
    a, b = hashing.minhash_params(8, 1)
    unfused.minhash_signatures(off, data, valid, rows, 3, a, b, np.empty((2, 8), np.uint32))
    pat_off, pat_data = reasoning.reasoning_table()
    words, start_at = np.empty(len(raw) + 2, np.uint64), one(np.int64)
    prompts.prompt_pass(off, data, valid, 1, pat_off, pat_data, one(np.uint64), one(np.int32), one(np.uint64),
                        one(np.uint64), one(np.bool_), 0, start_at, words, np.zeros((4, 4), np.uint64))
print("read nothing past the end")
"""


def test_text_kernels_read_nothing_past_the_buffer(cli_env):
    """Texts that end 0 to 65 bytes before the last readable byte of memory (the next page has no
    access): the tokenizer, the prompt hash and the phrase search read no byte past the buffer (or
    the process dies of SIGSEGV). The child loads the kernels from the session's cache, which
    conftest fills at the start (compiling them in the child took 49 s of the test run)."""
    values = ["x", "hello", "Think step by step" * 5, "a" * 200, "中文" * 30, "word " * 40 + "end"]
    script = [sys.executable, "-c", _GUARD_PAGE_SCRIPT, *values]
    done = subprocess.run(script, capture_output=True, text=True, env=cli_env)
    if done.returncode == 3:
        pytest.skip("mprotect refused PROT_NONE here")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "read nothing past the end" in done.stdout


def test_prompt_hash_is_xxh64_of_the_python_package():
    xxhash = pytest.importorskip("xxhash")
    rng = np.random.default_rng(5)
    values = [rng.integers(0, 256, size, dtype=np.uint8).tobytes() for size in [*range(70), 100, 1000, 4099]]
    _, phash = run_word_hashes(values, 0)
    assert phash == [xxhash.xxh64_intdigest(v) for v in values]


def test_word_hashes_of_up_to_8_bytes_are_distinct():
    """One chunk, one multiply: the hash is a bijection of the (length, bytes) of a short word."""
    words = [b"a", b"ab", b"ba", b"a0", b"0a", b"abcdefgh", b"abcdefgi", b"bbcdefgh", b"\xc3\xa9", b"\xc3\xa8"]
    hashes, _ = run_word_hashes([b" ".join(words), b"ABCDEFGH abcdefgh"], 64)
    assert len(set(hashes[0])) == len(words)
    assert hashes[1][0] == hashes[1][1]  # A-Z folded


@PROPERTY
@given(
    st.data(),
    string_arrays(),
    st.integers(1, 5) | st.just(16),
    st.sampled_from([3, 8, 12, 16, 24, 32, 40, 72, 128]),
    st.integers(0, 2**64 - 1),
)
def test_minhash_signatures_match_reference(data, arr, k, num_perm, seed):
    rows = data.draw(st.lists(st.integers(0, len(arr) - 1), max_size=10)) if len(arr) else []
    a, b = hashing.minhash_params(num_perm, seed)
    got = run_minhash(arr, rows, k, num_perm, seed)
    assert got == ref.minhash_signatures_all(arr.to_pylist(), rows, k, a.tolist(), b.tolist())


@PROPERTY
@given(st.data(), string_arrays(max_size=16))
def test_text_kernels_do_not_depend_on_chunking(data, arr):
    """Rows cut into chunks (each a slice of the same buffers) give the rows of the whole."""
    cuts = sorted(data.draw(st.lists(st.integers(0, len(arr)), max_size=4)))
    bounds = [0, *cuts, len(arr)]
    chunks = [arr.slice(lo, hi - lo) for lo, hi in zip(bounds[:-1], bounds[1:])]

    def joined(fn):
        parts = [fn(c) for c in chunks]
        return [sum((list(p[i]) for p in parts), []) for i in range(len(parts[0]))]

    assert joined(lambda c: (run_count_tokens(c),)) == [run_count_tokens(arr)]
    assert joined(lambda c: run_hash_prompts(c, 2)) == list(run_hash_prompts(arr, 2))
    assert joined(lambda c: run_hash_shingles(c, 3)) == list(run_hash_shingles(arr, 3))
    assert joined(lambda c: (run_split_transcripts(c)[0],)) == [run_split_transcripts(arr)[0]]


# MinHash estimates Jaccard: with K permutations the agreement count is Binomial(K, J) if the
# permutations behave like random ones, so the estimate's standard deviation is
# sqrt(J (1 - J) / K) <= 0.031 at K = 256. We allow 4 of those (a 6e-5 chance per pair for an
# unbiased estimator) plus 2/K for the 32-bit truncation and rounding. Texts and seed are fixed, so
# the test is deterministic: it fails only if the hash family is biased well beyond sampling noise.
NUM_PERM = 256
VOCAB = [f"w{i}" for i in range(1000)]


@pytest.mark.parametrize(
    "a_words, b_words",
    [
        (VOCAB[0:100], VOCAB[0:100]),  # identical: J = 1
        (VOCAB[0:100], VOCAB[500:600]),  # disjoint: J = 0
        (VOCAB[0:100], VOCAB[80:180]),  # J ~ 0.1
        (VOCAB[0:120], VOCAB[60:180]),  # J ~ 0.33
        (VOCAB[0:150], VOCAB[50:200]),  # J ~ 0.5
        (VOCAB[0:200], VOCAB[20:200]),  # J ~ 0.9, B inside A
        (VOCAB[0:60], VOCAB[0:30] + VOCAB[700:710] + VOCAB[30:60]),  # an insertion in the middle
    ],
)
@pytest.mark.parametrize("k", [1, 3])
def test_minhash_agreement_approximates_jaccard(a_words, b_words, k):
    texts_ = [" ".join(a_words), ", ".join(b_words).upper()]
    sa, sb = (set(ref.shingle_hashes(t, k)) for t in texts_)
    jaccard = len(sa & sb) / len(sa | sb)
    sig = np.array(run_minhash(pa.array(texts_), [0, 1], k, NUM_PERM))
    estimate = float(np.mean(sig[0] == sig[1]))
    tolerance = 4 * math.sqrt(jaccard * (1 - jaccard) / NUM_PERM) + 2 / NUM_PERM
    assert abs(estimate - jaccard) <= tolerance, (jaccard, estimate, tolerance)


# -- aggregation -----------------------------------------------------------------------------------


def test_sum_by_account_example():
    account = np.array([0, 2, 0, 2, 2], dtype=np.int32)
    values = np.array([[1, 10], [2, 20], [3, 30], [4, 40], [-5, 0]], dtype=np.int64)
    out = np.zeros((3, 2), dtype=np.int64)
    aggregate.sum_by_account(account, values, out)
    assert out.tolist() == [[4, 40], [0, 0], [1, 60]]
    aggregate.sum_by_account(account, values, out)  # it accumulates into what the caller passed
    assert out.tolist() == [[8, 80], [0, 0], [2, 120]]


@PROPERTY
@given(st.integers(1, 6), st.integers(1, 4), st.data())
def test_sum_by_account_matches_reference(n_accounts, n_features, data):
    rows = data.draw(
        st.lists(
            st.tuples(
                st.integers(0, n_accounts - 1),
                st.lists(st.integers(-(2**40), 2**40), min_size=n_features, max_size=n_features),
            ),
            max_size=40,
        )
    )
    account = np.array([a for a, _ in rows], dtype=np.int32)
    values = np.array([v for _, v in rows], dtype=np.int64).reshape(len(rows), n_features)
    out = np.zeros((n_accounts, n_features), dtype=np.int64)
    aggregate.sum_by_account(account, values, out)
    assert out.tolist() == ref.sum_by_account(account.tolist(), values.tolist(), n_accounts, n_features)


def test_minmax_by_account_example():
    account = np.array([1, 1, 0, 1], dtype=np.int32)
    values = np.array([5, -3, 7, 100], dtype=np.int64)
    valid = np.array([True, True, False, False])
    lo = np.full(3, INT64_MAX, dtype=np.int64)
    hi = np.full(3, INT64_MIN, dtype=np.int64)
    aggregate.minmax_by_account(account, values, valid, lo, hi)
    assert lo.tolist() == [INT64_MAX, -3, INT64_MAX]
    assert hi.tolist() == [INT64_MIN, 5, INT64_MIN]


@PROPERTY
@given(st.integers(1, 6), st.data())
def test_minmax_by_account_matches_reference(n_accounts, data):
    rows = data.draw(
        st.lists(
            st.tuples(st.integers(0, n_accounts - 1), st.integers(INT64_MIN, INT64_MAX), st.booleans()), max_size=40
        )
    )
    account = np.array([a for a, _, _ in rows], dtype=np.int32)
    values = np.array([v for _, v, _ in rows], dtype=np.int64)
    valid = np.array([ok for _, _, ok in rows], dtype=np.bool_)
    lo = np.full(n_accounts, INT64_MAX, dtype=np.int64)
    hi = np.full(n_accounts, INT64_MIN, dtype=np.int64)
    aggregate.minmax_by_account(account, values, valid, lo, hi)
    expected = ref.minmax_by_account(account.tolist(), values.tolist(), valid.tolist(), n_accounts)
    assert list(zip(lo.tolist(), hi.tolist())) == [e if e else (INT64_MAX, INT64_MIN) for e in expected]


# -- messages ------------------------------------------------------------------------------------

ROLE_NAMES = [
    "system",
    "developer",
    "user",
    "assistant",
    "tool",
    "function",
    "User",
    "users",
    "",
    "associate",
    "developed",
    "syslog",
    "took",
    "assistance",
]


@pytest.mark.parametrize("name", ROLE_NAMES)
def test_role_code(name):
    data = np.frombuffer(b"xx" + name.encode() + b"yy", dtype=np.uint8)
    assert messages.role_code(data, 2, 2 + len(name)) == ref.role_code(name)


def test_role_code_needs_the_whole_name():
    # a 3-letter prefix check once took these for roles
    for name in ["associate", "developed", "syslog", "took"]:
        data = np.frombuffer(name.encode(), dtype=np.uint8)
        assert messages.role_code(data, 0, len(name)) == 0


@pytest.mark.parametrize(
    "prefix, expected",
    [
        ("user: hi", (2, 6)),
        ("assistant: ", (3, 11)),
        ("developer: x", (1, 11)),
        ("tool: {}", (4, 6)),
        ("user:hi", (0, -1)),
        ("User: hi", (0, -1)),
        ("note: hi", (0, -1)),
        ("user:", (0, -1)),
        ("associate: x", (0, -1)),
        ("abcdefghijklmnop: x", (0, -1)),
        ("", (0, -1)),
    ],
)
def test_role_prefix(prefix, expected):
    data = np.frombuffer(b"\n\n" + prefix.encode(), dtype=np.uint8)
    code, body = messages.role_prefix(data, 2, data.size)
    assert (code, body - 2 if body >= 0 else body) == expected == ref.role_prefix(prefix.encode(), 0)


def test_pick_messages_example():
    requests: list[list] = [
        ["system", "user", "assistant", "user", "assistant"],
        [],
        ["assistant", None, "user"],
        ["developer", "system", "tool"],
        ["User", "user "],
    ]
    roles = pa.array([r for req in requests for r in req], pa.string())
    user, system, n_prior = run_pick_messages(requests, roles)
    assert user == [3, -1, 7, -1, -1]
    assert system == [0, -1, -1, 8, -1]
    assert n_prior == [2, 0, 2, 1, 2]  # system/developer messages are not turns
    assert (user, system, n_prior) == ref.pick_messages(requests)


@PROPERTY
@given(st.lists(st.lists(st.sampled_from(ROLE_NAMES) | st.none(), max_size=6), max_size=8), st.data())
def test_pick_messages_matches_reference(requests, data):
    roles = data.draw(string_arrays(values=[r for req in requests for r in req]))
    assert run_pick_messages(requests, roles) == ref.pick_messages(requests)


@pytest.mark.parametrize(
    "prompt, user, system, n_prior",
    [
        ("system: S\n\nuser: A\n\nassistant: B\n\nuser: C", "C", "S", 2),
        ("user: hi", "hi", None, 0),
        ("user: A\n\nassistant: B", "A", None, 0),
        ("system: be brief", "", "be brief", 0),
        ("developer: D\n\nuser: U", "U", "D", 0),
        ("system: S1\n\nsystem: S2\n\nuser: U", "U", "S1", 0),
        ("user: A\n\n\nuser: B", "B", None, 1),  # the extra newline stays with A
        ("user: A\nuser: B", "A\nuser: B", None, 0),  # one newline is not a blank line
        ("user: A\n\nUser: B", "A\n\nUser: B", None, 0),  # roles are lower case
        (
            "user: Define:\n\nassociate: a partner\n\ndeveloped: grown",
            "Define:\n\nassociate: a partner\n\ndeveloped: grown",
            None,
            0,
        ),
        ("user: \n\nassistant: B", "", None, 0),
        ("Hello there\n\nuser: hi", "Hello there\n\nuser: hi", None, 0),  # not a transcript
        ("assistant: A\n\nuser: B", "assistant: A\n\nuser: B", None, 0),  # must open with system/user
        ("user:hi", "user:hi", None, 0),
        ("", "", None, 0),
        ("system: Ты помощник.\n\nuser: 你好 😀", "你好 😀", "Ты помощник.", 0),
    ],
)
def test_split_transcripts_examples(prompt, user, system, n_prior):
    rows, offsets = run_split_transcripts(pa.array(["padding", prompt]).slice(1))
    us, ue, ss, se, got_prior = rows[0]
    raw = prompt.encode()
    assert raw[us:ue] == user.encode()
    assert (raw[ss:se] if ss >= 0 else None) == (system.encode() if system is not None else None)
    assert got_prior == n_prior
    assert ref.transcript_turns(prompt) == (user.encode(), system.encode() if system is not None else None, n_prior)


def test_split_transcripts_null_row():
    arr = pa.array(["user: a", None, "b"])
    rows, offsets = run_split_transcripts(arr)
    assert rows[1] == (0, int(offsets[2] - offsets[1]), -1, -1, 0)


@st.composite
def transcripts(draw):
    blocks = draw(
        st.lists(
            st.tuples(st.sampled_from(ROLE_NAMES), st.sampled_from([": ", ":", " : ", ": "]), texts(max_words=5)),
            min_size=1,
            max_size=5,
        )
    )
    out = ""
    for i, (role, colon, body) in enumerate(blocks):
        if i:
            out += draw(st.sampled_from(["\n\n", "\n\n", "\n", "\n\n\n", " ", ""]))
        out += role + colon + body
    return out


@PROPERTY
@given(st.data(), st.lists(st.none() | transcripts() | texts(), max_size=8))
def test_split_transcripts_matches_reference(data, values):
    arr = data.draw(string_arrays(values=values))
    rows, offsets = run_split_transcripts(arr)
    for r, v in enumerate(values):
        if v is None:
            assert rows[r] == (0, int(offsets[r + 1] - offsets[r]), -1, -1, 0)
        else:
            assert rows[r] == ref.split_transcript(v.encode())


@PROPERTY
@given(
    st.lists(
        st.tuples(st.integers(0, 20), st.sampled_from(["\n\n", "\n", "\n\n\n", "\n \n"]), st.sampled_from(ROLE_NAMES)),
        min_size=1,
        max_size=4,
    ),
    st.sampled_from(["user", "system"]),
)
def test_split_transcripts_finds_a_boundary_at_any_byte_position(blocks, opener):
    # bodies of every length put each blank line at every position of an 8-byte word, and
    # single newlines near it are the SWAR search's false starts
    prompt = f"{opener}: "
    for k, (pad, sep, role) in enumerate(blocks):
        prompt += "ab\nc"[: pad % 5] + "x" * pad + sep + f"{role}: body{k}"
    arr = pa.array(["padding", prompt]).slice(1)
    rows, _ = run_split_transcripts(arr)
    assert rows[0] == ref.split_transcript(prompt.encode())


def test_gather_slices_example():
    data = np.frombuffer(b"hello world", dtype=np.uint8)
    starts = np.array([6, -1, 0, 3], dtype=np.int64)
    ends = np.array([11, 99, 5, 3], dtype=np.int64)
    out_offsets = np.array([0, 5, 5, 10, 10], dtype=np.int64)
    out = np.zeros(10, dtype=np.uint8)
    messages.gather_slices(data, starts, ends, out_offsets, out)
    assert out.tobytes() == b"worldhello" == ref.gather_slices(b"hello world", starts.tolist(), ends.tolist())


@PROPERTY
@given(st.binary(max_size=64), st.data())
def test_gather_slices_matches_reference(raw, data):
    pos = st.integers(0, len(raw))
    skipped = st.tuples(st.just(-1), pos)  # start < 0: empty, whatever the end says
    slices = data.draw(st.lists(st.tuples(pos, pos).map(sorted) | skipped, max_size=10))
    starts = np.array([s for s, _ in slices], dtype=np.int64)
    ends = np.array([e for _, e in slices], dtype=np.int64)
    out_offsets = np.zeros(len(slices) + 1, dtype=np.int64)
    np.cumsum(np.where(starts >= 0, ends - starts, 0), out=out_offsets[1:])
    total = int(out_offsets[-1])
    out = np.full(total + GUARD, 0xAB, dtype=np.uint8)
    messages.gather_slices(np.frombuffer(raw, dtype=np.uint8), starts, ends, out_offsets, out)
    assert out[:total].tobytes() == ref.gather_slices(raw, starts.tolist(), ends.tolist())
    assert out[total:].tolist() == [0xAB] * GUARD  # nothing written past the last slice
    assert np.all(out[total:] == 0xAB)


# -- match_phrases ---------------------------------------------------------------------------


def run_match_phrases(arr, phrases):
    offsets, data, valid = string_buffers(arr)
    enc = [p.encode("utf-8") for p in phrases]
    pat_off = np.zeros(len(enc) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in enc], out=pat_off[1:])
    pat_data = np.frombuffer(b"".join(enc), dtype=np.uint8).copy()
    out = np.ones(len(arr), dtype=np.bool_)
    unfused.match_phrases(offsets, data, valid, pat_off, pat_data, out)
    return out.tolist()


def _values_bytes(arr):
    return [None if v is None else v.encode("utf-8") for v in arr.to_pylist()]


_PHRASE_ALPHABET = st.sampled_from(list("abAB xy.\u00e9\u4e00\u0434"))


@PROPERTY
@given(
    st.lists(st.one_of(st.none(), st.text(_PHRASE_ALPHABET, max_size=40)), max_size=30),
    st.lists(st.text(_PHRASE_ALPHABET, max_size=7), max_size=8),
)
def test_match_phrases_matches_reference(values, phrases):
    # short and empty phrases, upper-case phrase bytes, phrases at both ends of a text
    arr = pa.array(values, pa.string())
    want = [ref.match_phrases(v, [p.encode("utf-8") for p in phrases]) for v in _values_bytes(arr)]
    assert run_match_phrases(arr, phrases) == want


@PROPERTY
@given(sliced_string_arrays())
def test_reasoning_phrases_match_reference(arr):
    phrases = [p.lower() for p in reasoning.REASONING_PHRASES]
    want = [ref.match_phrases(v, [p.encode("utf-8") for p in phrases]) for v in _values_bytes(arr)]
    assert run_match_phrases(arr, phrases) == want


def test_every_reasoning_phrase_found_at_every_offset_and_case():
    """Each phrase after 0..17 bytes of padding (every position of the 8-byte key words), in its
    own case and upper case (folded back for ASCII only), whole and cut short by a byte; each
    text also last in its array, where the search folds its last bytes one at a time."""
    phrases = [p.lower() for p in reasoning.REASONING_PHRASES]
    enc = [p.encode("utf-8") for p in phrases]
    for phrase in phrases:
        texts = []
        for pad in range(18):
            for variant in (phrase, phrase.upper()):
                texts += ["q" * pad + variant + "!", "q" * pad + variant, ("q" * pad + variant)[:-1]]
        want = [ref.match_phrases(t.encode("utf-8"), enc) for t in texts]
        assert all(want[i] and want[i + 1] for i in range(0, len(texts), 6)), phrase  # found as written
        assert run_match_phrases(pa.array(texts, pa.string()), phrases) == want, phrase
        for t, w in zip(texts, want):  # alone: the text ends the data buffer
            assert run_match_phrases(pa.array([t], pa.string()), phrases) == [w], (phrase, t)


@pytest.mark.parametrize("phrases", [["step by step", "chain-of-thought", "一步一步"], ["ab", "xyz"]])
def test_a_phrase_anywhere_in_a_long_text_is_found(phrases):
    """The search runs four searches over the quarters of a text's window starts: a phrase at
    every place of texts of several lengths, across each quarter's first and last windows, is
    found, and cut short by its last byte it is not (the filler holds no phrase)."""
    enc = [p.encode("utf-8") for p in phrases]
    texts = []
    for size in (20, 37, 64, 131):
        for phrase in enc:
            for at in range(size - len(phrase) + 1):
                for cut in (0, 1):
                    body = phrase[: len(phrase) - cut]
                    t = b"q" * at + body + b"q" * (size - at - len(body))
                    texts.append(t.decode("utf-8", "ignore"))
    want = [ref.match_phrases(t.encode("utf-8"), enc) for t in texts]
    assert sum(want) == len(want) // 2  # whole: found; cut short: not
    assert run_match_phrases(pa.array(texts, pa.string()), phrases) == want


@pytest.mark.parametrize(
    "value, asks",
    [
        ("Let's think Step By Step.", True),
        ("请一步一步地推理", True),
        ("STEP BY STE", False),
        ("step-by-step", True),
        ("", False),
        ("Chain Of Thought", True),
        ("rationalE", True),
        ("no reasoning asked here", False),
    ],
)
def test_asks_for_reasoning_examples(value, asks):
    offsets, data, valid = string_buffers(pa.array([value], pa.string()))
    out = np.zeros(1, dtype=np.bool_)
    unfused.asks_for_reasoning(offsets, data, valid, out)
    assert out.tolist() == [asks]


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 2**64 - 1)), max_size=200, unique=True),
    st.lists(st.tuples(st.integers(0, 6), st.integers(0, 2**64 - 1)), max_size=20),
    st.booleans(),
    st.data(),
)
def test_find_pairs_matches_a_dict(rows, queries, in_order, data):
    rows = sorted(rows)
    # some queries that are present, and (as the sample's candidates come) sorted queries
    queries = queries + [rows[data.draw(st.integers(0, len(rows) - 1))] for _ in range(6)] if rows else queries
    if in_order:
        queries = sorted(queries)
    sa = np.array([a for a, _ in rows], dtype=np.int64)
    sh = np.array([h for _, h in rows], dtype=np.uint64)
    qa = np.array([a for a, _ in queries], dtype=np.int64)
    qh = np.array([h for _, h in queries], dtype=np.uint64)
    out = np.empty(len(queries), dtype=np.int64)
    aggregate.find_pairs(sa, sh, qa, qh, out)
    where = {r: i for i, r in enumerate(rows)}
    assert out.tolist() == [where.get(q, -1) for q in queries]


@pytest.mark.parametrize("top", [0, 1, 2**11, 2**33, 2**62, 2**63 - 1])
@pytest.mark.parametrize("n", [0, 1, 2, 1000, 70_000])
def test_radix_sort_is_numpy_sort_and_leaves_negative_values_alone(top, n):
    """Every digit count (one to six of 11 bits; a digit every value shares is skipped), a payload
    moved along as a stable argsort orders it, or none, and no sort at all when a value is negative
    (the caller sorts those with numpy)."""
    from fastscan.kernels import buckets

    rng = np.random.default_rng(n + top)
    values = rng.integers(0, top + 1, n)
    values[: n // 4] = values[n // 2 : n // 2 + n // 4]  # repeats
    got = values.copy()
    assert buckets.radix_sort(got, np.empty(n + 3, dtype=np.int64), buckets.NO_PAYLOAD, buckets.NO_PAYLOAD)
    assert np.array_equal(got, np.sort(values))
    got, payload = values.copy(), rng.integers(-(2**40), 2**40, n)
    want = payload[np.argsort(values, kind="stable")]
    assert buckets.radix_sort(got, np.empty(n, dtype=np.int64), payload, np.empty(n + 5, dtype=np.int64))
    assert np.array_equal(got, np.sort(values)) and np.array_equal(payload, want)
    if n:
        values[n // 3] = -1
        got, payload, before = values.copy(), np.arange(n), np.arange(n)
        assert not buckets.radix_sort(got, np.empty(n, dtype=np.int64), payload, np.empty(n, dtype=np.int64))
        assert np.array_equal(got, values) and np.array_equal(payload, before)
