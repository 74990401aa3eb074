"""Machine words for the kernels: bit counts and 8-byte loads and stores at any byte position,
and what is built from them: finding a byte and copying a run 8 bytes at a step; and two uses
of vector lanes: the MinHash minima (`min_affine_lanes`) and the tokenizer's byte classes of 64
bytes at once (`byte_class_masks`).

LLVM intrinsics and plain (unaligned) memory accesses, each one instruction on x86-64 and
ARM64. The loads and stores do no bounds check: their callers keep `pos + 8` within the array
(and the lanes within theirs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from fastscan.kernels._jit import helper, inline

_I64 = ir.IntType(64)


def _is_bytes(arr) -> bool:
    """Whether a numba type is a C-contiguous uint8 array (what the byte loads, stores and vectors take)."""
    return isinstance(arr, types.Array) and arr.dtype == types.uint8 and arr.layout == "C"


@intrinsic
def _popcount(typingctx, x):
    """Set bits of a uint64 (LLVM's ctpop)."""

    def codegen(context, builder, signature, args):
        fn = builder.module.declare_intrinsic("llvm.ctpop", [_I64])
        return builder.call(fn, args)

    return types.uint64(types.uint64), codegen


@intrinsic
def _trailing_zeros(typingctx, x):
    """Zero bits below the lowest set bit of a uint64; 64 for 0 (LLVM's cttz)."""

    def codegen(context, builder, signature, args):
        fn = builder.module.declare_intrinsic("llvm.cttz", [_I64, ir.IntType(1)])
        return builder.call(fn, [args[0], ir.Constant(ir.IntType(1), 0)])

    return types.uint64(types.uint64), codegen


def _byte_pointer(context, builder, arrtype, arr, pos):
    """An i64* at byte `pos` of a C-contiguous uint8 array (any number of dimensions)."""
    data = context.make_array(arrtype)(context, builder, arr).data
    return builder.bitcast(builder.gep(data, [pos]), _I64.as_pointer())


@intrinsic
def _load8(typingctx, arr, pos):
    """The 8 bytes arr.flat[pos:pos + 8] as a little-endian uint64 (arr: C-contiguous uint8)."""
    if not _is_bytes(arr):
        return None

    def codegen(context, builder, signature, args):
        pos = context.cast(builder, args[1], signature.args[1], types.intp)
        ptr = _byte_pointer(context, builder, signature.args[0], args[0], pos)
        return builder.load(ptr, align=1)

    return types.uint64(arr, types.intp), codegen


@intrinsic
def _store8(typingctx, arr, pos, value):
    """Write the uint64 `value` to arr.flat[pos:pos + 8], little-endian (arr: C-contiguous uint8)."""
    if not (_is_bytes(arr) and arr.mutable):
        return None

    def codegen(context, builder, signature, args):
        pos = context.cast(builder, args[1], signature.args[1], types.intp)
        val = context.cast(builder, args[2], signature.args[2], types.uint64)
        ptr = _byte_pointer(context, builder, signature.args[0], args[0], pos)
        builder.store(val, ptr, align=1)
        return context.get_dummy_value()

    return types.none(arr, types.intp, types.uint64), codegen


@intrinsic
def _prefetch(typingctx, arr, pos):
    """Ask for the cache line of arr.flat[pos] to be loaded (LLVM's prefetch: read, keep in all
    levels); it does nothing else, and a position past the array is harmless."""
    if not isinstance(arr, types.Array):
        return None

    def codegen(context, builder, signature, args):
        from numba.core import cgutils

        aty = signature.args[0]
        data = context.make_array(aty)(context, builder, args[0]).data
        pos = context.cast(builder, args[1], signature.args[1], types.intp)
        size = context.get_constant(types.intp, context.get_abi_sizeof(context.get_data_type(aty.dtype)))
        ptr = builder.gep(builder.bitcast(data, ir.IntType(8).as_pointer()), [builder.mul(pos, size)])
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [ptr.type, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(fn, [ptr, i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.none(arr, types.intp), codegen


@intrinsic
def _min_affine_lanes(typingctx, xs, m, a, b, lo, dst, pos, width):
    """dst.flat[pos:pos + W] = min over s < m of (a[lo:lo + W] * xs[s] + b[lo:lo + W]) mod 2**32,
    lane by lane (all ones when m == 0); W = `width`, a literal. xs, a, b: C-contiguous uint32
    arrays; dst: C-contiguous uint32, or uint16 to keep the low 16 bits of each minimum.

    The W lanes are one LLVM vector held in registers across the loop over xs (one broadcast,
    multiply, add and unsigned min per element), so nothing is loaded or stored per element but
    xs[s]. Written as a numba loop, the lanes live in memory, or LLVM vectorizes over s instead and
    pays a horizontal min per lane. W = 32 keeps a, b and the minima in 12 AVX2 registers (6
    AVX-512 ones).
    """
    if not (isinstance(width, types.IntegerLiteral) and width.literal_value > 0):
        return None
    arrays = (xs, a, b)
    if not all(isinstance(t, types.Array) and t.dtype == types.uint32 and t.layout == "C" for t in arrays):
        return None
    if not (isinstance(dst, types.Array) and dst.dtype in (types.uint32, types.uint16) and dst.layout == "C"):
        return None
    if not dst.mutable:
        return None
    lanes = width.literal_value
    narrow = ir.VectorType(ir.IntType(16), lanes) if dst.dtype == types.uint16 else None

    def codegen(context, builder, signature, args):
        from numba.core import cgutils

        xs_v, m_v, a_v, b_v, lo_v, dst_v, pos_v, _ = args
        i32 = ir.IntType(32)
        vec = ir.VectorType(i32, lanes)

        def data(i, value):
            return context.make_array(signature.args[i])(context, builder, value).data

        def at(i, value, index, lanes=vec):
            where = context.cast(builder, index[0], index[1], types.intp)
            return builder.bitcast(builder.gep(data(i, value), [where]), lanes.as_pointer())

        av = builder.load(at(2, a_v, (lo_v, signature.args[4])), align=4)
        bv = builder.load(at(3, b_v, (lo_v, signature.args[4])), align=4)
        acc = cgutils.alloca_once(builder, vec)  # promoted to a register by LLVM
        builder.store(ir.Constant(vec, [0xFFFFFFFF] * lanes), acc)
        xp = data(0, xs_v)
        undef = ir.Constant(vec, ir.Undefined)
        splat = ir.Constant(vec, [0] * lanes)
        count = context.cast(builder, m_v, signature.args[1], types.intp)
        with cgutils.for_range(builder, count) as loop:
            x = builder.insert_element(undef, builder.load(builder.gep(xp, [loop.index])), i32(0))
            v = builder.add(builder.mul(av, builder.shuffle_vector(x, undef, splat)), bv)
            cur = builder.load(acc)
            builder.store(builder.select(builder.icmp_unsigned("<", v, cur), v, cur), acc)
        if narrow is None:
            builder.store(builder.load(acc), at(5, dst_v, (pos_v, signature.args[6])), align=4)
        else:  # the low 16 bits of each minimum
            low = builder.trunc(builder.load(acc), narrow)
            builder.store(low, at(5, dst_v, (pos_v, signature.args[6]), narrow), align=2)
        return context.get_dummy_value()

    return types.none(xs, types.intp, a, b, types.intp, dst, types.intp, width), codegen


_V64 = ir.VectorType(ir.IntType(8), 64)


def _vector_at(context, builder, arrtype, arr, pos):
    """A <64 x i8>* at byte `pos` of a C-contiguous uint8 array (unaligned)."""
    data = context.make_array(arrtype)(context, builder, arr).data
    return builder.bitcast(builder.gep(data, [pos]), _V64.as_pointer())


def _load64(context, builder, signature, args):
    """The 64 bytes at args[1] of the array args[0], as one vector (an intrinsic's (arr, pos))."""
    pos = context.cast(builder, args[1], signature.args[1], types.intp)
    return builder.load(_vector_at(context, builder, signature.args[0], args[0], pos), align=1)


def _splat(byte):
    return ir.Constant(_V64, [byte] * 64)


@intrinsic
def _byte_class_masks(typingctx, arr, pos):
    """(word, lead) bit masks of the 64 bytes arr.flat[pos:pos + 64]: bit j of `word` is set if
    byte pos + j is a word byte of kernels.text (ASCII letter or digit, or 0x80-0xDF: the bytes of
    a 2-byte UTF-8 sequence), bit j of `lead` if it is 0xE0 or above (a 3/4-byte sequence's lead).
    arr: C-contiguous uint8; the caller keeps pos + 64 within it.

    One 64-byte vector: three range tests (a subtract and an unsigned compare each), and each
    vector of 64 booleans read as one integer (AVX-512: a mask register; AVX2: two byte-mask moves).
    """
    if not _is_bytes(arr):
        return None

    def codegen(context, builder, signature, args):
        x = _load64(context, builder, signature, args)

        def below(v, lo, width):  # lo <= v < lo + width, bytes unsigned
            return builder.icmp_unsigned("<", builder.sub(v, _splat(lo)), _splat(width))

        letter = below(builder.or_(x, _splat(0x20)), 97, 26)  # A-Z, a-z
        word = builder.or_(builder.or_(below(x, 48, 10), letter), below(x, 0x80, 0x60))
        lead = builder.icmp_unsigned(">=", x, _splat(0xE0))
        masks = [builder.bitcast(word, _I64), builder.bitcast(lead, _I64)]
        return context.make_tuple(builder, signature.return_type, masks)

    return types.UniTuple(types.uint64, 2)(arr, types.intp), codegen


@intrinsic
def _json_specials64(typingctx, arr, pos):
    """Bit j set where byte pos + j of arr.flat[pos:pos + 64] is a quote, a backslash or below
    0x20 (what ends a run of plain JSON string bytes): three compares of one 64-byte vector.
    arr: C-contiguous uint8; the caller keeps pos + 64 within it."""
    if not _is_bytes(arr):
        return None

    def codegen(context, builder, signature, args):
        x = _load64(context, builder, signature, args)
        hit = builder.or_(
            builder.or_(builder.icmp_unsigned("==", x, _splat(34)), builder.icmp_unsigned("==", x, _splat(92))),
            builder.icmp_unsigned("<", x, _splat(32)),
        )
        return builder.bitcast(hit, _I64)

    return types.uint64(arr, types.intp), codegen


@intrinsic
def _byte_mask64(typingctx, arr, pos, c):
    """Bit j set where byte pos + j of arr.flat[pos:pos + 64] equals `c` (a uint8 value).
    arr: C-contiguous uint8; the caller keeps pos + 64 within it."""
    if not _is_bytes(arr):
        return None

    def codegen(context, builder, signature, args):
        x = _load64(context, builder, signature, args)
        byte = builder.trunc(context.cast(builder, args[2], signature.args[2], types.uint64), ir.IntType(8))
        splat = builder.shuffle_vector(
            builder.insert_element(ir.Constant(_V64, ir.Undefined), byte, ir.IntType(32)(0)),
            ir.Constant(_V64, ir.Undefined),
            ir.Constant(ir.VectorType(ir.IntType(32), 64), [0] * 64),
        )
        return builder.bitcast(builder.icmp_unsigned("==", x, splat), _I64)

    return types.uint64(arr, types.intp, c), codegen


@intrinsic
def _high_bytes64(typingctx, arr, pos):
    """Bit j set where byte pos + j of arr.flat[pos:pos + 64] is 0x80 or above (not ASCII: a
    byte of a UTF-8 sequence). arr: C-contiguous uint8; the caller keeps pos + 64 within it."""
    if not _is_bytes(arr):
        return None

    def codegen(context, builder, signature, args):
        x = _load64(context, builder, signature, args)
        return builder.bitcast(builder.icmp_signed("<", x, _splat(0)), _I64)

    return types.uint64(arr, types.intp), codegen


@intrinsic
def _copy64(typingctx, src, p, dst, q):
    """dst.flat[q:q + 64] = src.flat[p:p + 64] (C-contiguous uint8 arrays; one unaligned vector
    load and store; the caller keeps both ranges within their arrays)."""
    if not (_is_bytes(src) and _is_bytes(dst) and dst.mutable):
        return None

    def codegen(context, builder, signature, args):
        p_ = context.cast(builder, args[1], signature.args[1], types.intp)
        q_ = context.cast(builder, args[3], signature.args[3], types.intp)
        x = builder.load(_vector_at(context, builder, signature.args[0], args[0], p_), align=1)
        builder.store(x, _vector_at(context, builder, signature.args[2], args[2], q_), align=1)
        return context.get_dummy_value()

    return types.none(src, types.intp, dst, types.intp), codegen


if TYPE_CHECKING:  # how kernels call them (an intrinsic's own signature starts with the typing context)

    def popcount(x: np.uint64) -> np.uint64: ...

    def trailing_zeros(x: np.uint64) -> np.uint64: ...

    def load8(arr: np.ndarray, pos: int) -> np.uint64: ...

    def store8(arr: np.ndarray, pos: int, value: np.uint64) -> None: ...

    def prefetch(arr: np.ndarray, pos: int) -> None: ...

    def byte_class_masks(arr: np.ndarray, pos: int) -> tuple[np.uint64, np.uint64]: ...

    def json_specials64(arr: np.ndarray, pos: int) -> np.uint64: ...

    def byte_mask64(arr: np.ndarray, pos: int, c: int) -> np.uint64: ...

    def high_bytes64(arr: np.ndarray, pos: int) -> np.uint64: ...

    def copy64(src: np.ndarray, p: int, dst: np.ndarray, q: int) -> None: ...

    def min_affine_lanes(
        xs: np.ndarray, m: int, a: np.ndarray, b: np.ndarray, lo: int, dst: np.ndarray, pos: int, width: int
    ) -> None: ...

else:
    popcount, trailing_zeros, load8, store8, prefetch = _popcount, _trailing_zeros, _load8, _store8, _prefetch
    min_affine_lanes = _min_affine_lanes
    byte_class_masks = _byte_class_masks
    json_specials64, byte_mask64, copy64 = _json_specials64, _byte_mask64, _copy64
    high_bytes64 = _high_bytes64


# SWAR constants: a 1 and a high bit in every byte of a word (json_values uses them too)
ONES = np.uint64(0x0101010101010101)
HIGH = np.uint64(0x8080808080808080)


@helper
def find_byte(data, p, end, c):
    """The first position in [p, end) of the byte c in the 1-d uint8 array `data`, else end:
    64 bytes at a step (one vector compare), then 8 (SWAR: the lowest high bit of
    (x - 0x01..) & ~x, x = w ^ c..c, is the first byte of w equal to c; bits above it may be
    false alarms from a borrow), the last few one at a time."""
    while p + 64 <= end:
        hit64 = byte_mask64(data, p, c)
        if hit64:
            return p + np.int64(trailing_zeros(hit64))
        p += 64
    pattern = np.uint64(c) * ONES
    while p + 8 <= end:
        x = load8(data, p) ^ pattern
        hit = (x - ONES) & ~x & HIGH
        if hit:
            return p + np.int64(trailing_zeros(hit) >> np.uint64(3))
        p += 8
    while p < end:
        if data[p] == c:
            return p
        p += 1
    return end


@helper
def same_bytes(x, i, y, j, n):
    """x[i:i + n] == y[j:j + n] (1-d uint8 arrays): 8 bytes at a step, the last step overlapping
    the one before; under 8 bytes, one masked step where 8 bytes from i and from j are within
    their arrays, else a byte at a time."""
    if n >= 8:
        k = 0
        while k + 8 < n:
            if load8(x, i + k) != load8(y, j + k):
                return False
            k += 8
        return load8(x, i + n - 8) == load8(y, j + n - 8)
    if i + 8 <= x.shape[0] and j + 8 <= y.shape[0]:
        keep = (np.uint64(1) << np.uint64(8 * n)) - np.uint64(1)
        return (load8(x, i) ^ load8(y, j)) & keep == 0
    for k in range(n):
        if x[i + k] != y[j + k]:
            return False
    return True


# same_bytes inlined, for a loop that calls it once a row or a key: called, it took its two
# arrays' fields as arguments and made the caller spill its registers around the call (8% of the
# JSON decoder's time on the bench log)
same_bytes_inlined = inline(same_bytes.py_func)


@helper
def copy_bytes(src, p, dst, q, n):
    """dst[q:q + n] = src[p:p + n], 64 bytes at a step, then 8 (1-d uint8 arrays; writes nothing
    outside dst[q:q + n], so threads may fill neighbouring ranges of one array)."""
    k = 0
    while k + 64 <= n:
        copy64(src, p + k, dst, q + k)
        k += 64
    while k + 8 <= n:
        store8(dst, q + k, load8(src, p + k))
        k += 8
    while k < n:
        dst[q + k] = src[p + k]
        k += 1
