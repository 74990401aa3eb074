"""Kernels that find the text to hash inside chat-shaped requests.

Two shapes: a list of {role, content} messages (OpenAI-style logs), and a flat prompt that a gateway
flattened into a transcript of "role: content" blocks separated by blank lines.
"""

from __future__ import annotations

import numpy as np
from numba import types

from fastscan.kernels._jit import helper, inline, kernel, ro, rw
from fastscan.kernels.bits import copy_bytes, find_byte

_USER = np.frombuffer(b"user", dtype=np.uint8)
_SYSTEM = np.frombuffer(b"system", dtype=np.uint8)
_ASSISTANT = np.frombuffer(b"assistant", dtype=np.uint8)
_DEVELOPER = np.frombuffer(b"developer", dtype=np.uint8)
_TOOL = np.frombuffer(b"tool", dtype=np.uint8)


@inline
def _is_name(data, start, n, name):
    if n != name.shape[0]:
        return False
    for i in range(n):
        if data[start + i] != name[i]:
            return False
    return True


@helper
def role_code(data, start, end):
    """Code of the role name in data[start:end]: 1 system/developer, 2 user, 3 assistant, 4 tool, 0 other."""
    # every byte is compared: a 3-letter prefix check took "associate" for assistant and
    # "developed" for developer, splitting a transcript inside a user's text
    n = end - start
    if _is_name(data, start, n, _USER):
        return 2
    if _is_name(data, start, n, _SYSTEM):
        return 1
    if _is_name(data, start, n, _ASSISTANT):
        return 3
    if _is_name(data, start, n, _DEVELOPER):
        return 1  # developer messages play the system role
    if _is_name(data, start, n, _TOOL):
        return 4
    return 0


@kernel(
    types.void(
        ro(types.int64),
        ro(types.int64),
        ro(types.uint8),
        ro(types.boolean),
        rw(types.int64),
        rw(types.int64),
        rw(types.int32),
    )
)
def pick_messages(list_offsets, role_offsets, role_data, role_valid, out_user, out_system, out_n_prior):
    """Per request: the index of its last user message, of its first system message, and how many
    conversation turns (messages other than system/developer) came before that user message
    (all of them when there is no user message).

    list_offsets : int64[n + 1] into the flattened messages; role_* : the flattened role strings;
    out_user, out_system : int64[n] (-1 where there is none); out_n_prior : int32[n]
    """
    n = list_offsets.shape[0] - 1
    for r in range(n):
        lo = list_offsets[r]
        hi = list_offsets[r + 1]
        user = -1
        system = -1
        turns = 0
        turns_before_user = 0
        for m in range(lo, hi):
            c = 0
            if role_valid[m]:
                c = role_code(role_data, role_offsets[m], role_offsets[m + 1])
            if c == 2:
                user = m
                turns_before_user = turns
            elif c == 1 and system < 0:
                system = m
            if c != 1:
                turns += 1
        out_user[r] = user
        out_system[r] = system
        out_n_prior[r] = turns_before_user if user >= 0 else turns


@helper
def role_prefix(data, at, hi):
    """(role code, body start) if data[at:hi] starts with "<role>: ", else (0, -1)."""
    j = at
    while j < hi and j - at < 10 and 97 <= data[j] <= 122:
        j += 1
    if j > at and j + 1 < hi and data[j] == 58 and data[j + 1] == 32:
        c = role_code(data, at, j)
        if c != 0:
            return c, j + 2
    return 0, -1


@kernel(
    types.void(
        ro(types.int64),
        ro(types.uint8),
        ro(types.boolean),
        rw(types.int64),
        rw(types.int64),
        rw(types.int64),
        rw(types.int64),
        rw(types.int32),
    )
)
def split_transcripts(offsets, data, valid, user_start, user_end, sys_start, sys_end, n_prior):
    """Find the last user turn and the system turn in prompts flattened as a transcript.

    A prompt is a transcript when it starts with "system: " or "user: " and every block after a
    blank line that starts with "<role>: " opens a new message. For any other prompt the whole text
    is the user turn, with no system turn and no earlier messages. n_prior counts the non-system
    messages before the last user turn (all of them when there is none).
    offsets : int64[n + 1], data : uint8[m], valid : bool[n];
    user_start, user_end, sys_start, sys_end : int64[n] byte positions in data (sys_* = -1 if none);
    n_prior : int32[n]
    """
    n = offsets.shape[0] - 1
    for r in range(n):
        lo = offsets[r]
        hi = offsets[r + 1]
        user_start[r] = lo
        user_end[r] = hi
        sys_start[r] = -1
        sys_end[r] = -1
        n_prior[r] = 0
        if not valid[r]:
            continue
        # does it open with "system: " or "user: "?
        c0, body0 = role_prefix(data, lo, hi)
        if c0 != 1 and c0 != 2:
            continue
        # walk the blocks
        msgs = 0
        turns = 0
        turns_before_user = 0
        cur_code = c0
        cur_start = body0
        last_user_s = -1
        last_user_e = -1
        first_sys_s = -1
        first_sys_e = -1
        i = body0
        while True:
            # find the next "\n\n<role>: "
            nxt = -1
            nxt_code = 0
            nxt_body = -1
            j = find_byte(data, i, hi - 1, 10)  # a newline with a byte after it
            while j < hi - 1:
                if data[j + 1] == 10:
                    c, body = role_prefix(data, j + 2, hi)
                    if c != 0:
                        nxt = j
                        nxt_code = c
                        nxt_body = body
                        break
                j = find_byte(data, j + 1, hi - 1, 10)
            cur_end = nxt if nxt >= 0 else hi
            if cur_code == 2:
                last_user_s = cur_start
                last_user_e = cur_end
                turns_before_user = turns
            elif cur_code == 1 and first_sys_s < 0:
                first_sys_s = cur_start
                first_sys_e = cur_end
            msgs += 1
            if cur_code != 1:
                turns += 1
            if nxt < 0:
                break
            cur_code = nxt_code
            cur_start = nxt_body
            i = nxt_body
        if last_user_s >= 0:
            user_start[r] = last_user_s
            user_end[r] = last_user_e
            n_prior[r] = turns_before_user
        else:
            user_start[r] = hi
            user_end[r] = hi
            n_prior[r] = turns
        sys_start[r] = first_sys_s
        sys_end[r] = first_sys_e


@kernel(types.void(ro(types.uint8), ro(types.int64), ro(types.int64), ro(types.int64), rw(types.uint8)))
def gather_slices(data, starts, ends, out_offsets, out_data):
    """Copy data[starts[i]:ends[i]] to out_data[out_offsets[i]:out_offsets[i + 1]].

    starts, ends : int64[n] (start < 0 means an empty slice); out_offsets : int64[n + 1]
    """
    for i in range(starts.shape[0]):
        s = starts[i]
        if s >= 0:
            copy_bytes(data, s, out_data, out_offsets[i], ends[i] - s)
