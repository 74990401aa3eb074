"""Prompt text a report shows when asked (`--include-text`): the skeletons of shared templates and
truncated excerpts of each suspicious account's most frequent prompts.

Both come from the ends of the sampled prompts that a scan with `ScanConfig.keep_text` keeps
(`PromptSample.text`): never a whole prompt, never more than EXCERPT_CHARS characters of one.
- a template's skeleton is its wrapper's words only, the payload cut: "First five words of it …"
  for a shared opening, "… the last five words" for a shared ending;
- an account's example is the opening and the ending of the prompt, "opening … ending", or the
  prompt itself when it is short.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fastscan.sketches import TEXT_BYTES
from fastscan.state import AccountState

__all__ = [
    "EXCERPT_CHARS",
    "EXCERPTS_PER_ACCOUNT",
    "MAX_EXCERPT_ACCOUNTS",
    "prompt_excerpts",
    "skeletons",
    "template_examples",
]

EXCERPT_CHARS = 80  # the longest excerpt shown of one prompt or template, in characters
EXCERPTS_PER_ACCOUNT = 3  # an account's most frequent sampled prompts shown
MAX_EXCERPT_ACCOUNTS = 10_000  # the highest-scoring accounts above the typical one that get excerpts

# the words of fastscan.kernels.text: runs of ASCII letters and digits and 2-byte UTF-8 sequences;
# each 3- or 4-byte sequence a word of its own
_WORD = re.compile(rb"[0-9A-Za-z\x80-\xdf]+|[\xe0-\xef][\x80-\xbf]{0,2}|[\xf0-\xff][\x80-\xbf]{0,3}")
_SPACE = re.compile(r"[\s\x00-\x1f\x7f]+")


def _clean(raw: bytes) -> str:
    """Bytes as one line of text: invalid or cut UTF-8 dropped, any run of whitespace or control
    characters one space."""
    return _SPACE.sub(" ", raw.decode("utf-8", "ignore")).strip()


def _cut(text: str, limit: int, at_end: bool = False, mark: bool = True) -> str:
    """`text` cut to `limit` characters at a space where there is one in its last (first) third,
    keeping its start (its end when `at_end`), with "…" where it was cut (unless not `mark`)."""
    if len(text) <= limit:
        return text
    room = limit - 1 if mark else limit
    if at_end:
        part = text[-room:]
        space = part.find(" ")
        part = part[space + 1 :] if 0 <= space < room // 3 else part
        return ("…" if mark else "") + part.lstrip()
    part = text[:room]
    space = part.rfind(" ")
    part = part[:space] if space > room - room // 3 else part
    return part.rstrip() + ("…" if mark else "")


def _token_start(raw: bytes, at: int) -> int:
    """`at` moved back to the start of the whitespace-delimited token it is in."""
    while at > 0 and raw[at - 1 : at] not in (b" ", b"\t", b"\n", b"\r"):
        at -= 1
    return at


def _token_end(raw: bytes, at: int) -> int:
    """`at` moved on to the end of the whitespace-delimited token it is in."""
    while at < len(raw) and raw[at : at + 1] not in (b" ", b"\t", b"\n", b"\r"):
        at += 1
    return at


def _halves(row: np.ndarray) -> tuple[bytes, bytes]:
    """(first bytes, last bytes) of a sampled prompt, the zero padding removed."""
    first, last = bytes(row[:TEXT_BYTES]), bytes(row[TEXT_BYTES:])
    return first.rstrip(b"\0"), last.rstrip(b"\0")


def skeleton(text_row: np.ndarray, end: int, words: int) -> str:
    """The redacted skeleton of a template: its first `words` words then "…" (end 0, an opening),
    or "…" then its last `words` words (end 1, an ending)."""
    first, last = _halves(text_row)
    if end == 0:
        found = list(_WORD.finditer(first))
        cut = _token_end(first, found[words - 1].end()) if len(found) >= words else len(first)
        return _cut(_clean(first[:cut]), EXCERPT_CHARS - 2, mark=False) + " …"
    found = list(_WORD.finditer(last))
    cut = _token_start(last, found[-words].start()) if len(found) >= words else 0
    return "… " + _cut(_clean(last[cut:]), EXCERPT_CHARS - 2, at_end=True, mark=False)


def excerpt(text_row: np.ndarray) -> str:
    """A prompt cut to EXCERPT_CHARS characters: its opening and its ending around " … ", or all
    of it when it is that short."""
    first, last = _halves(text_row)
    if len(first) < TEXT_BYTES:  # the whole prompt is in the first half
        text = _clean(first)
        if len(text) <= EXCERPT_CHARS:
            return text
        head, tail = text, text
    else:
        head, tail = _clean(first), _clean(last)
    room = EXCERPT_CHARS - 3
    return _cut(head, room - room // 3, mark=False) + " … " + _cut(tail, room // 3, at_end=True, mark=False)


def template_examples(
    prompt_hash: np.ndarray, keys: np.ndarray, t_key: list[np.ndarray], t_row: list[np.ndarray]
) -> np.ndarray:
    """For each skeleton hash in `keys`: the (sample row * 2 + end) of its prompt of smallest
    hash, ties by head before tail, then by the first row - the same whatever the order the sample
    was built in (-1 for a hash no row has). A least value per template, in two passes (a sort of
    every row of the shared templates took 0.3 s where a swarm of 100,000 accounts shared them)."""
    out = np.full(len(keys), -1, dtype=np.int64)
    if not len(keys) or not t_key:
        return out
    key = np.concatenate(t_key)
    code = np.concatenate(t_row)
    by_key = np.argsort(keys)
    at = np.minimum(np.searchsorted(keys[by_key], key), len(keys) - 1)
    mine = keys[by_key][at] == key
    group, code = by_key[at[mine]], code[mine]
    ph = prompt_hash[code >> 1]
    least = np.full(len(keys), np.iinfo(np.uint64).max, dtype=np.uint64)
    np.minimum.at(least, group, ph)
    tie = ph == least[group]
    group, code = group[tie], code[tie]
    # among a template's prompts of its least hash: a head before a tail, then the first row
    rows = len(prompt_hash)
    first = np.full(len(keys), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, group, (code & 1) * rows + (code >> 1))
    found = first != np.iinfo(np.int64).max
    out[found] = (first[found] % rows) * 2 + first[found] // rows
    return out


def skeletons(state: AccountState, template_examples: np.ndarray) -> pa.Array:
    """The skeleton of each shared template, from `CrossAccount.template_examples`."""
    text = state.sample.text
    if text is None:
        raise ValueError("the scan kept no prompt text")
    words = state.config.skeleton_words
    return pa.array([skeleton(text[code >> 1], int(code & 1), words) for code in template_examples], pa.string())


def prompt_excerpts(state: AccountState, accounts: pa.Table) -> pa.Table:
    """account_id, count, excerpt: up to EXCERPTS_PER_ACCOUNT of the most frequent sampled prompts
    (ties by prompt hash) of each account scoring above the typical account (the median), the
    MAX_EXCERPT_ACCOUNTS highest-scoring of them, highest score first."""
    s = state.sample
    if s.text is None:
        raise ValueError("the scan kept no prompt text")
    s.compact()
    scores = accounts.column("extraction_score")
    typical = float(np.median(scores.to_numpy())) if len(scores) else 0.0
    above = accounts.filter(pc.greater(scores, typical))
    by_score = pc.sort_indices(above, [("extraction_score", "descending"), ("account_id", "ascending")])
    above = above.take(by_score[:MAX_EXCERPT_ACCOUNTS])
    # rows of each chosen account, most frequent first
    order = np.lexsort((s.prompt_hash, -s.count, s.account))
    acct_sorted = s.account[order]
    rows: dict[str, list] = {"account_id": [], "count": [], "excerpt": []}
    for account_id in above.column("account_id").to_pylist():
        index = state.index.get(account_id)
        if index is None:
            continue
        lo = np.searchsorted(acct_sorted, index)
        hi = np.searchsorted(acct_sorted, index, side="right")
        for r in order[lo : min(hi, lo + EXCERPTS_PER_ACCOUNT)]:
            rows["account_id"].append(account_id)
            rows["count"].append(int(s.count[r]))
            rows["excerpt"].append(excerpt(s.text[r]))
    return pa.table(
        {
            "account_id": pa.array(rows["account_id"], pa.string()),
            "count": pa.array(rows["count"], pa.int64()),
            "excerpt": pa.array(rows["excerpt"], pa.string()),
        }
    )
