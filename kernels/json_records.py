"""A strict, fast decoder of JSON Lines records: one object per line, whose wanted fields sit at
fixed paths of objects and lists (a flat log's keys; an OpenAI-style log's `request.model`,
`response.choices[0].message.content`, `response.usage.*`) and are strings, integers, floats or
booleans; and a chat `messages` list, from which it picks the text to hash as
`kernels.messages.pick_messages` does.

It reads only the wanted keys and skips the rest (validating them), straight from the bytes.
It is narrower than JSON: a line it cannot decode exactly as Arrow's JSON reader would (with the
explicit schema of the same paths) is refused, and the caller gives it to Arrow. It refuses an
escaped key, a wanted key given twice in one object, a `\\u` escape of NUL or of a lone
surrogate, a raw control character in a string, nesting deeper than MAX_DEPTH in a skipped
value, an integer with a fraction, exponent or more than 18 digits, a float with more than 15
significant digits or outside 1e-22..1e22 scale, a number of 1e308 or more anywhere on the line,
a value of another type than the field's (an object or a list where the path goes on included),
an escaped message role, and anything that is not JSON.

The plan (`fastscan.read.jsonl_fast`) is a tree of object nodes; node 0 is the record. Key
entries e of node k are node_lo[k] <= e < node_hi[k], named names_data[names_off[e]:names_off[e
+ 1]], with kind[e] and arg[e]:
- K_LEAF: field arg[e], of type ftypes[arg[e]] (json_values.T_STRING, T_INT, T_FLOAT, T_BOOL);
- K_LAZY: the completion, field arg[e]: validated, decoded only where the count field special[1]
  is missing (its one use is estimating that count);
- K_OBJECT: an object of node arg[e]; K_LIST: a list of objects of node arg[e], element index[e]
  written (the others validated by the same types, as Arrow does);
- K_MESSAGES: a list of messages, node arg[e], whose keys are K_ROLE and K_CONTENT; a content is
  text or a list of parts (node arg[e], key K_TEXT). Arrow refuses parts; the one-record path
  (read.coerce) reads them as the texts of the parts that have one joined by newlines, and
  rejects parts without text: this decoder reads them so, and refuses the latter.
special: [lazy field, count field, user text field, system text field, prior turns field (T_INT),
scratch row of `text`], -1 where absent: the content of the last user message, of the first
system (or developer) one, and how many messages other than system ones came before that user
message (all of them when there is none). Lines are data[starts[i]:ends[i]], UTF-8 already
validated, without their newline.
"""

from __future__ import annotations

import numpy as np
from numba import types

from fastscan.kernels._jit import helper, inline, inlined_helper, kernel, ro, rw, rw2
from fastscan.kernels.bits import copy_bytes, same_bytes, same_bytes_inlined
from fastscan.kernels.json_values import (
    copy_string,
    match_literal,
    read_value,
    short_string_end,
    skip_value,
    skip_ws,
    string_end,
)
from fastscan.kernels.messages import role_code

K_LEAF, K_LAZY, K_OBJECT, K_LIST, K_MESSAGES, K_ROLE, K_CONTENT, K_TEXT = 0, 1, 2, 3, 4, 5, 6, 7
MAX_DEPTH = 64  # of a skipped value
MAX_FRAMES = 16  # objects and lists open along the plan's paths (a plan is at most this deep)
KEY_MEMORY = 64  # keys remembered by place, for each node of the plan

# a frame: its object's node (-1: a list), the key that opened it, written?, element, a message?, its
# stamp, its object's keys met so far
_NODE, _KEY, _WRITE, _ELEM, _MSG, _STAMP, _KEYS = 0, 1, 2, 3, 4, 5, 6
# where the line's decoding is (the states of _decode_record's loop)
_OBJECT_START, _KEY_NEXT, _AFTER_VALUE, _LIST_START, _ELEMENT = 0, 1, 2, 3, 4
# where a message's content went: none (absent or null), its field's row, the scratch row, nowhere
_C_NONE, _C_DIRECT, _C_SCRATCH, _C_CHECKED = 0, 1, 2, 3
# a line's message state, in an array (ms) rather than in locals that would take the registers
# of the hot loop over keys (only a log with messages touches it)
_ROLE, _CONTENT, _CONTENT_N, _DEST_F, _DEST, _DEST_O, _PARTS = 0, 1, 2, 3, 4, 5, 6
_TURNS, _BEFORE_USER, _USER_SEEN, _SYS_SEEN, _LAZY_AT, _USER_AT, _SYS_AT, _MS_SIZE = range(7, 15)

_u8ro = ro(types.uint8)
_i64ro = ro(types.int64)


@helper
def _key_entry(data, ks, n, lo, hi, names_off, names_data):
    """The key entry among lo..hi named data[ks:ks + n], or -1."""
    for e in range(lo, hi):
        a = names_off[e]
        if names_off[e + 1] - a == n and same_bytes(data, ks, names_data, a, n):
            return e
    return -1


@helper
def _pick(i, f, slot, at, ms, scratch, valid, text, cursor):
    """A message's content becomes field f's text (the user's or the system's; text row slot)."""
    content, n = ms[_CONTENT], ms[_CONTENT_N]
    if content == _C_SCRATCH:
        copy_bytes(text[scratch], 0, text[slot], at, n)
        cursor[f] = at + n
        valid[f, i] = True
    elif content == _C_DIRECT:
        valid[f, i] = True
    else:  # absent or null
        cursor[f] = at
        valid[f, i] = False


@inline
def _open(frames, d, node, key, write, msg, seen):
    """Frame d: an object of `node` (-1: a list) opened by key entry `key`, its first element. An
    object's key e is seen when seen[e] is its stamp, a new one (seen[-1] counts the objects)."""
    frames[d, _NODE], frames[d, _KEY], frames[d, _ELEM], frames[d, _KEYS] = node, key, 0, 0
    frames[d, _WRITE], frames[d, _MSG] = 1 if write else 0, 1 if msg else 0
    if node >= 0:  # clearing its node's marks instead cost 0.1 us a line of the bench log
        seen[-1] += 1
        frames[d, _STAMP] = seen[-1]


@helper
def _content(ms, scratch, cursor):
    """The content state of a message's content written to row ms[_DEST] up to ms[_DEST_O] (-1:
    only checked), and its length in the scratch row; a user or system field's cursor moves."""
    dest, dest_o = ms[_DEST], ms[_DEST_O]
    if dest < 0:
        ms[_CONTENT], ms[_CONTENT_N] = _C_CHECKED, 0
    elif dest == scratch:
        ms[_CONTENT], ms[_CONTENT_N] = _C_SCRATCH, dest_o
    else:
        cursor[ms[_DEST_F]] = dest_o
        ms[_CONTENT], ms[_CONTENT_N] = _C_DIRECT, 0


@inlined_helper
def _decode_record(data, start, end, i, plan, valid, ivals, fvals, text, cursor, seen, stack, frames, last, ms):
    """Decode one line into column i of the outputs (see scan_records); False when it is left to Arrow.
    plan: scan_records' plan arrays, names_off to special, in that order.
    last : int64[nodes * KEY_MEMORY, 3], row node * KEY_MEMORY + place: the key last met in that
    place of an object of that node (start, -1 before the first; length; key entry or -1). A key
    the same as it, closing quote included, is neither scanned nor searched: a message's keys are
    remembered from the message before, the keys after a list of messages whatever its length
    (remembered by place in the line, an OpenAI-style log's missed on 60% of its lines)."""
    names_off, names_data, kind, arg, index, node_lo, node_hi, ftypes, slots, special = plan
    lazy_f, count_f, user_f = special[0], special[1], special[2]
    sys_f, prior_f, scratch = special[3], special[4], special[5]
    ms[_LAZY_AT] = -1
    ms[_USER_AT] = cursor[user_f] if user_f >= 0 else 0
    ms[_SYS_AT] = cursor[sys_f] if sys_f >= 0 else 0
    ms[_TURNS], ms[_BEFORE_USER], ms[_USER_SEEN], ms[_SYS_SEEN] = 0, 0, 0, 0
    ms[_ROLE], ms[_CONTENT], ms[_CONTENT_N] = -1, _C_NONE, 0
    ms[_DEST_F], ms[_DEST], ms[_DEST_O], ms[_PARTS] = -1, -1, 0, 0  # where a content's text goes
    p = skip_ws(data, start, end)
    if p >= end or data[p] != 123:
        return False
    d = 0
    _open(frames, 0, 0, -1, True, False, seen)
    p += 1
    state = _OBJECT_START
    while True:
        closing = False  # the object of frame d ends (p after its brace)
        if state in (_OBJECT_START, _KEY_NEXT):
            cur = frames[d, _NODE]
            write = frames[d, _WRITE] == 1
            if state == _OBJECT_START:
                p = skip_ws(data, p, end)
                if p < end and data[p] == 125:
                    p += 1
                    closing = True
            pushed = False
            while not closing:  # the object's members, until it ends or a value opens a frame
                if p >= end or data[p] != 34:
                    return False
                ks = p + 1
                e = -2
                # the bytes of the key met last in this place of an object of this node, closing
                # quote included: the same key (it holds no quote or backslash), where it ends
                # known unscanned
                j = frames[d, _KEYS]
                frames[d, _KEYS] = j + 1
                m = cur * KEY_MEMORY + j
                if j < KEY_MEMORY and last[m, 0] >= 0:
                    n = last[m, 1]
                    if ks + n < end and same_bytes_inlined(data, ks, data, last[m, 0], n + 1):
                        e = last[m, 2]
                        q = ks + n + 1
                if e == -2:
                    q, esc = short_string_end(data, p, end)
                    if q < 0 or esc:
                        return False
                    n = q - 1 - ks
                    e = _key_entry(data, ks, n, node_lo[cur], node_hi[cur], names_off, names_data)
                if j < KEY_MEMORY:
                    last[m, 0], last[m, 1], last[m, 2] = ks, n, e
                p = skip_ws(data, q, end)
                if p >= end or data[p] != 58:
                    return False
                p = skip_ws(data, p + 1, end)
                if p >= end:
                    return False
                if e < 0:
                    p = skip_value(data, p, end, stack)
                else:
                    if seen[e] == frames[d, _STAMP]:
                        return False
                    seen[e] = frames[d, _STAMP]
                    k = kind[e]
                    c = data[p]
                    if c == 110 and k != K_ROLE:  # null: the field, object or list is null
                        p = match_literal(data, p, end, 110, 117, 108, 108, 0, 4)
                    elif k == K_LEAF:
                        f = arg[e]
                        p = read_value(
                            data, p, end, ftypes[f], write, i, f, slots[f], valid, ivals, fvals, text, cursor
                        )
                    elif k == K_LAZY:
                        if c != 34:
                            return False
                        if write:
                            ms[_LAZY_AT] = p
                        p, _ = string_end(data, p, end)
                    elif k in (K_OBJECT, K_LIST, K_MESSAGES):
                        if c != (123 if k == K_OBJECT else 91) or d + 1 >= MAX_FRAMES:
                            return False
                        node = arg[e] if k == K_OBJECT else -1
                        d += 1
                        _open(frames, d, node, e, write, False, seen)
                        p += 1
                        state = _OBJECT_START if k == K_OBJECT else _LIST_START
                        pushed = True
                        break
                    elif k == K_ROLE:
                        if c == 110:
                            p = match_literal(data, p, end, 110, 117, 108, 108, 0, 4)
                            ms[_ROLE] = 0
                        elif c == 34:
                            q, esc = short_string_end(data, p, end)
                            if q < 0 or esc:
                                return False
                            ms[_ROLE] = role_code(data, p + 1, q - 1)
                            p = q
                        else:
                            return False
                    elif k == K_CONTENT:  # text, or a list of parts: where it goes depends on the role
                        ms[_DEST_F], ms[_DEST], ms[_DEST_O] = -1, -1, 0
                        if ms[_ROLE] == 2:
                            ms[_DEST_F], ms[_DEST], ms[_DEST_O] = user_f, slots[user_f], ms[_USER_AT]
                        elif ms[_ROLE] == 1 and ms[_SYS_SEEN] == 0:
                            ms[_DEST_F], ms[_DEST], ms[_DEST_O] = sys_f, slots[sys_f], ms[_SYS_AT]
                        elif ms[_ROLE] < 0:  # the role comes after the content
                            ms[_DEST], ms[_DEST_O] = scratch, 0
                        if c == 91:
                            if d + 1 >= MAX_FRAMES:
                                return False
                            d += 1
                            _open(frames, d, -1, e, True, False, seen)
                            ms[_PARTS] = 0
                            p += 1
                            state = _LIST_START
                            pushed = True
                            break
                        if c != 34:
                            return False
                        if ms[_DEST] < 0:
                            p, _ = string_end(data, p, end)
                        else:
                            p, ms[_DEST_O] = copy_string(data, p, end, text, ms[_DEST], ms[_DEST_O])
                        _content(ms, scratch, cursor)
                    else:  # K_TEXT: a part's text, after a newline if it is not the first
                        if c != 34:
                            p = skip_value(data, p, end, stack)  # not a text part
                        elif ms[_DEST] < 0:
                            p, _ = string_end(data, p, end)
                            ms[_PARTS] += 1
                        else:
                            if ms[_PARTS] > 0:
                                text[ms[_DEST], ms[_DEST_O]] = 10
                                ms[_DEST_O] += 1
                            p, ms[_DEST_O] = copy_string(data, p, end, text, ms[_DEST], ms[_DEST_O])
                            ms[_PARTS] += 1
                if p < 0:
                    return False
                p = skip_ws(data, p, end)
                if p >= end:
                    return False
                c = data[p]
                if c == 44:
                    p = skip_ws(data, p + 1, end)
                    continue
                if c != 125:
                    return False
                p += 1
                closing = True
            if pushed:
                continue
        elif state in (_LIST_START, _ELEMENT):
            p = skip_ws(data, p, end)
            if p >= end:
                return False
            if state == _LIST_START and data[p] == 93:  # [] (content of no parts: "")
                if kind[frames[d, _KEY]] == K_CONTENT:
                    _content(ms, scratch, cursor)
                p += 1
                d -= 1
                state = _AFTER_VALUE
                continue
            e = frames[d, _KEY]
            if data[p] == 123:
                if d + 1 >= MAX_FRAMES:
                    return False
                node = arg[e]
                msg = kind[e] == K_MESSAGES
                write = frames[d, _WRITE] == 1 and (msg or frames[d, _ELEM] == index[e])
                d += 1
                _open(frames, d, node, e, write, msg, seen)
                if msg:
                    ms[_ROLE], ms[_CONTENT], ms[_CONTENT_N] = -1, _C_NONE, 0
                p += 1
                state = _OBJECT_START
                continue
            if kind[e] == K_CONTENT:  # a part that is not an object: not a text part
                p = skip_value(data, p, end, stack)
            else:  # a null element, or not ours
                p = match_literal(data, p, end, 110, 117, 108, 108, 0, 4)
            if p < 0:
                return False
            if kind[e] == K_MESSAGES:  # a null message: a turn without a role
                ms[_TURNS] += 1
            state = _AFTER_VALUE
            continue
        else:  # _AFTER_VALUE: an object or list inside frame d has ended
            p = skip_ws(data, p, end)
            if p >= end:
                return False
            c = data[p]
            if frames[d, _NODE] < 0:  # in a list
                if c == 44:
                    frames[d, _ELEM] += 1
                    p += 1
                    state = _ELEMENT
                elif c == 93:
                    if kind[frames[d, _KEY]] == K_CONTENT:
                        if ms[_PARTS] == 0:  # parts, none of them text: the one-record path rejects it
                            return False
                        _content(ms, scratch, cursor)
                    p += 1
                    d -= 1
                else:
                    return False
                continue
            if c == 44:
                p = skip_ws(data, p + 1, end)
                state = _KEY_NEXT
                continue
            if c != 125:
                return False
            p += 1
        # the object of frame d has ended
        if frames[d, _MSG]:  # a message: its role says what its content is
            r = ms[_ROLE] if ms[_ROLE] >= 0 else 0
            if r == 2:
                ms[_USER_SEEN] = 1
                ms[_BEFORE_USER] = ms[_TURNS]
                _pick(i, user_f, slots[user_f], ms[_USER_AT], ms, scratch, valid, text, cursor)
            elif r == 1 and ms[_SYS_SEEN] == 0:
                ms[_SYS_SEEN] = 1
                _pick(i, sys_f, slots[sys_f], ms[_SYS_AT], ms, scratch, valid, text, cursor)
            if r != 1:
                ms[_TURNS] += 1
        d -= 1
        if d < 0:
            break
        state = _AFTER_VALUE
    if skip_ws(data, p, end) != end:
        return False
    if lazy_f >= 0 and ms[_LAZY_AT] >= 0 and (count_f < 0 or not valid[count_f, i]):
        q, o = copy_string(data, ms[_LAZY_AT], end, text, slots[lazy_f], cursor[lazy_f])
        if q < 0:
            return False
        cursor[lazy_f] = o
        valid[lazy_f, i] = True
    if prior_f >= 0:
        ivals[prior_f, i] = ms[_BEFORE_USER] if ms[_USER_SEEN] else ms[_TURNS]
        valid[prior_f, i] = True
    return True


@kernel(
    types.int64(
        _u8ro,
        _i64ro,
        _i64ro,
        _i64ro,
        _u8ro,
        ro(types.int8),
        _i64ro,
        _i64ro,
        _i64ro,
        _i64ro,
        ro(types.int8),
        _i64ro,
        _i64ro,
        rw2(types.boolean),
        rw2(types.int64),
        rw2(types.float64),
        rw2(types.uint8),
        rw2(types.int64),
        rw(types.boolean),
        types.int64,
    )
)
def scan_records(
    data,
    starts,
    ends,
    names_off,
    names_data,
    kind,
    arg,
    index,
    node_lo,
    node_hi,
    ftypes,
    slots,
    special,
    valid,
    ivals,
    fvals,
    text,
    text_end,
    refused,
    row0,
):
    """Decode lines i of data[starts[i]:ends[i]] along a plan (see module doc). refused[i] is set
    for a line left to Arrow (its row is all null and it adds no text); returns how many lines are.

    Plan: names_off : int64[e + 1], names_data : uint8, kind : int8[e], arg, index : int64[e],
    node_lo, node_hi : int64[k], ftypes : int8[f], slots : int64[f] (row of `text` of each
    T_STRING field, else -1), special : int64[6]. Outputs [f, rows] (a field's values a column as
    Arrow holds it), line i's at row0 + i: valid (present and not null; all False when given);
    ivals (T_INT, T_BOOL as 0/1); fvals (T_FLOAT); both 0 where a field without text is not valid,
    so they need no zeroing before; text_end (T_STRING: end of line i's string in its text row,
    the field's strings one after another; ends[-1] - starts[0] + 64 bytes a row)
    """
    nf = ftypes.shape[0]
    seen = np.zeros(kind.shape[0] + 1, dtype=np.int64)
    stack = np.zeros(MAX_DEPTH, dtype=np.uint8)
    frames = np.zeros((MAX_FRAMES, 7), dtype=np.int64)
    cursor = np.zeros(nf, dtype=np.int64)
    saved = np.zeros(nf, dtype=np.int64)
    last = np.full((node_lo.shape[0] * KEY_MEMORY, 3), -1, dtype=np.int64)
    ms = np.zeros(_MS_SIZE, dtype=np.int64)
    count = 0
    strs = np.flatnonzero(slots >= 0)  # the fields with text, the only ones whose cursor moves
    nums = np.flatnonzero(slots < 0)  # the others: their values are 0 where not found
    plan = (names_off, names_data, kind, arg, index, node_lo, node_hi, ftypes, slots, special)
    # the field lists are walked by index: a `for f in strs` took a reference to the array
    # (an atomic increment and decrement, numba's reference counting) for every line
    ns, nn = strs.shape[0], nums.shape[0]
    for i in range(starts.shape[0]):
        r = row0 + i
        for k in range(ns):
            saved[strs[k]] = cursor[strs[k]]
        ok = _decode_record(
            data, starts[i], ends[i], r, plan, valid, ivals, fvals, text, cursor, seen, stack, frames, last, ms
        )
        refused[i] = not ok
        if not ok:
            count += 1
            for f in range(nf):
                valid[f, r] = False
            for k in range(ns):
                cursor[strs[k]] = saved[strs[k]]
        for k in range(ns):
            text_end[strs[k], r] = cursor[strs[k]]
        for k in range(nn):
            f = nums[k]
            if not valid[f, r]:
                ivals[f, r] = 0
                fvals[f, r] = 0.0
    return count
