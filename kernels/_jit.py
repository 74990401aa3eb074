"""The one place numba options are set for fastscan kernels.

Every kernel is compiled eagerly from an explicit signature when its module is first imported;
`fastscan.kernels` imports those modules lazily, so `import fastscan` compiles nothing.
The on-disk numba cache is opt-in (FASTSCAN_NUMBA_CACHE=1): sgkit saw hard-to-debug crashes
from stale caches, so a user has to ask for it.
"""

from __future__ import annotations

from typing import Any

import numba
from numba import types

from fastscan.kernels.cache import cache_enabled

__all__ = [
    "kernel",
    "inline",
    "helper",
    "inlined_helper",
    "allocating_helper",
    "cache_enabled",
    "ro",
    "rw",
    "ro2",
    "rw2",
]


def kernel(signature):
    """Compile `fn` for exactly `signature`, releasing the GIL, with bounds checks off."""

    def decorate(fn):
        return numba.njit(signature, nogil=True, cache=cache_enabled(), boundscheck=False, error_model="numpy")(fn)

    return decorate


def inline(fn):
    """A helper that kernels call; inlined into them, never called from Python on the hot path."""
    return numba.njit(inline="always", nogil=True, cache=cache_enabled(), error_model="numpy")(fn)


_NO_NRT: dict[str, Any] = {"_nrt": False}  # numba's own option, missing from its type stubs


def helper(fn):
    """A helper that kernels call, compiled once and called (LLVM may still inline it): for
    helpers called from many places, where inlining each call site would multiply compile time.

    Compiled without numba's reference counting (`_nrt=False`, the option numba's own
    `register_jitable` helpers use), so it allocates no array. With it, every call the helper
    made with an array argument went through two out-of-line NRT_incref / NRT_decref calls: the
    JSON decoder spent about half its time in them (the flat decoder on one thread: 1.0 -> 2.0 GB/s
    without them).
    """
    return numba.njit(nogil=True, cache=cache_enabled(), boundscheck=False, error_model="numpy", **_NO_NRT)(fn)


def inlined_helper(fn):
    """A helper as `helper`, that LLVM inlines into its caller (numba's `forceinline`): for a
    large helper called from one place in a hot loop, where numba's own inlining (`inline`, on its
    intermediate code) made slower code and a call costs its arguments: the JSON decoder's
    `_decode_record`, called once a line with two dozen arrays (the flat decoder 0.87-0.9x the
    time a line, the OpenAI-style one 0.85-0.9x)."""
    return numba.njit(
        nogil=True, cache=cache_enabled(), boundscheck=False, error_model="numpy", forceinline=True, **_NO_NRT
    )(fn)


def allocating_helper(fn):
    """A helper that allocates (np.empty and the like) or returns arrays: reference-counted, so
    called once per kernel call, never in an inner loop."""
    return numba.njit(nogil=True, cache=cache_enabled(), boundscheck=False, error_model="numpy")(fn)


def ro(dtype):
    """1-d C-contiguous read-only array type (what comes out of an Arrow buffer)."""
    return types.Array(dtype, 1, "C", readonly=True)


def rw(dtype):
    return types.Array(dtype, 1, "C")


def ro2(dtype):
    return types.Array(dtype, 2, "C", readonly=True)


def rw2(dtype):
    return types.Array(dtype, 2, "C")
