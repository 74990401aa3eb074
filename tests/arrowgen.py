"""Hypothesis strategies for the Arrow string arrays that fastscan's kernels read.

`string_arrays()` draws arrays with nulls, empty strings, non-ASCII text (accented Latin, Cyrillic,
Greek, CJK, Hangul, emoji), ASCII punctuation, control bytes and whitespace; sometimes sliced
(`array.offset != 0`), sometimes `large_string`, sometimes with bytes hiding under a null.
Compare kernels with `arr.to_pylist()`, which is what the array means whatever its layout.
The kernels get their buffers from `fastscan.buffers.string_buffers`, which the tests check too.
"""

from __future__ import annotations

import string

import pyarrow as pa
from hypothesis import strategies as st

WORDS = (
    "a",
    "the",
    "Hello",
    "WORLD",
    "step",
    "by",
    "x1",
    "42",
    "Zebra",
    "naïve",
    "café",
    "Straße",
    "привет",
    "МИР",
    "αβγ",
    "שלום",
    "مرحبا",
    "中文",
    "日本語",
    "한국어",
    "😀",
    "🚀👍🏽",
    "𝔘nicode",
    "user",
    "system",
    "assistant",
    "tool",
    "developer",
    "associate",
)
SEPARATORS = (
    " ",
    "  ",
    "\n",
    "\n\n",
    "\t",
    "\r\n",
    ", ",
    ". ",
    ": ",
    "!",
    "?",
    " - ",
    "...",
    "",
    "\x00",
    "\x7f",
    "\u00a0",
    "\u2014",
    "\u3000",
)
# one character of each kind the word rule treats differently
CHARACTERS = (
    string.ascii_letters
    + string.digits
    + string.punctuation
    + " \t\n\r\x0b\x0c\x00\x1f\x7f"
    + "éèÀçñßøÆ\u0301\u00a0\u0085"
    + "абвЖЯёЁ"
    + "αΩ"
    + "中文字日本語ひらカナ한글"
    + "—…€™\u3000"
    + "😀🚀👍🏽𝔘🇫🇷"
)


def texts(max_words: int = 20) -> st.SearchStrategy[str]:
    """Free characters, word-and-separator sentences, or anything Unicode allows."""
    sentence = st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPARATORS)), max_size=max_words).map(
        lambda pairs: "".join(w + s for w, s in pairs)
    )
    return st.one_of(
        st.just(""),
        st.text(alphabet=st.sampled_from(CHARACTERS), max_size=40),
        sentence,
        st.text(max_size=12),
    )


def _with_hidden_bytes(arr: pa.Array, values: list) -> pa.Array:
    """The same nulls, but each null slot keeps the bytes of a non-null text (Arrow allows it)."""
    filled = pa.array([v if v is not None else "hidden bytes" for v in values], type=arr.type)
    mask = pa.array([v is not None for v in values], type=pa.bool_()).buffers()[1]
    return pa.Array.from_buffers(
        arr.type, len(values), [mask, *filled.buffers()[1:]], null_count=sum(v is None for v in values)
    )


@st.composite
def string_arrays(draw, values=None, max_size: int = 12) -> pa.Array:
    """A pa.StringArray or pa.LargeStringArray holding `values` (drawn when not given)."""
    if values is None:
        values = draw(st.lists(st.none() | texts(), max_size=max_size))
    typ = draw(st.sampled_from([pa.string(), pa.large_string()]))
    before = draw(st.lists(st.none() | texts(max_words=4), max_size=3))
    after = draw(st.lists(st.none() | texts(max_words=4), max_size=3))
    whole = before + list(values) + after
    arr = pa.array(whole, type=typ)
    if any(v is None for v in whole) and draw(st.booleans()):
        arr = _with_hidden_bytes(arr, whole)
    arr = arr.slice(len(before), len(values))
    assert arr.to_pylist() == list(values)
    return arr


@st.composite
def sliced_string_arrays(draw, max_size: int = 12) -> pa.Array:
    """Like `string_arrays`, but always with array.offset != 0."""
    values = draw(st.lists(st.none() | texts(), max_size=max_size))
    arr = draw(string_arrays(values=[None] + values))
    return arr.slice(1)
