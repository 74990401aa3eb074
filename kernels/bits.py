"""Machine words for the kernels: bit counts and 8-byte loads and stores at any byte position,
and what is built from them: finding a byte and copying a run 8 bytes at a step.

LLVM intrinsics and plain (unaligned) memory accesses, each one instruction on x86-64 and
ARM64. The loads and stores do no bounds check: their callers keep `pos + 8` within the array.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from fastscan.kernels._jit import helper

_I64 = ir.IntType(64)


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
    if not (isinstance(arr, types.Array) and arr.dtype == types.uint8 and arr.layout == "C"):
        return None

    def codegen(context, builder, signature, args):
        pos = context.cast(builder, args[1], signature.args[1], types.intp)
        ptr = _byte_pointer(context, builder, signature.args[0], args[0], pos)
        return builder.load(ptr, align=1)

    return types.uint64(arr, types.intp), codegen


@intrinsic
def _store8(typingctx, arr, pos, value):
    """Write the uint64 `value` to arr.flat[pos:pos + 8], little-endian (arr: C-contiguous uint8)."""
    if not (isinstance(arr, types.Array) and arr.dtype == types.uint8 and arr.layout == "C" and arr.mutable):
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


if TYPE_CHECKING:  # how kernels call them (an intrinsic's own signature starts with the typing context)

    def popcount(x: np.uint64) -> np.uint64: ...

    def trailing_zeros(x: np.uint64) -> np.uint64: ...

    def load8(arr: np.ndarray, pos: int) -> np.uint64: ...

    def store8(arr: np.ndarray, pos: int, value: np.uint64) -> None: ...

    def prefetch(arr: np.ndarray, pos: int) -> None: ...

else:
    popcount, trailing_zeros, load8, store8, prefetch = _popcount, _trailing_zeros, _load8, _store8, _prefetch


# SWAR constants: a 1 and a high bit in every byte of a word (json_values uses them too)
ONES = np.uint64(0x0101010101010101)
HIGH = np.uint64(0x8080808080808080)


@helper
def find_byte(data, p, end, c):
    """The first position in [p, end) of the byte c in the 1-d uint8 array `data`, else end:
    8 bytes at a step (SWAR: the lowest high bit of (x - 0x01..) & ~x, x = w ^ c..c, is the
    first byte of w equal to c; bits above it may be false alarms from a borrow), the last
    few one at a time."""
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
def copy_bytes(src, p, dst, q, n):
    """dst[q:q + n] = src[p:p + n], 8 bytes at a step (1-d uint8 arrays; writes nothing
    outside dst[q:q + n], so threads may fill neighbouring ranges of one array)."""
    k = 0
    while k + 8 <= n:
        store8(dst, q + k, load8(src, p + k))
        k += 8
    while k < n:
        dst[q + k] = src[p + k]
        k += 1
