"""The published signals of distillation: each a value in [0, 1] computed from an account's row
of features, with how it reads in words (docs/score.md lists them with their weights).
fastscan.score.model combines them into the extraction score."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from fastscan.score.coordination import ROTATION_HOURS

__all__ = ["ABSENT", "SIGNALS", "SIGNAL_INDEX", "Columns", "Signal"]


class Columns:
    """The numeric columns of a report (a pa.Table, or a mapping of name to array: the pooled rows
    of fastscan.score.campaigns) as float64 arrays, NaN read as 0 and a missing column as zeros,
    each converted once however many signals read it. Scoring reads some columns three or four
    times; converting each from Arrow every time was most of scoring a few thousand rows."""

    def __init__(self, source):
        self.source = source
        if hasattr(source, "num_rows"):
            self.num_rows = source.num_rows
        else:
            self.num_rows = len(next(iter(source.values()))) if len(source) else 0
        self._cache: dict[str, np.ndarray] = {}

    def get(self, name: str) -> np.ndarray:
        """Column `name` (read-only: shared by every reader)."""
        got = self._cache.get(name)
        if got is None:
            got = self._cache[name] = self._convert(name)
            got.flags.writeable = False
        return got

    def _convert(self, name: str) -> np.ndarray:
        src = self.source
        if isinstance(src, dict):
            if name not in src:
                return np.zeros(self.num_rows, dtype=np.float64)
            return np.nan_to_num(np.asarray(src[name], dtype=np.float64))
        if name not in src.column_names:
            return np.zeros(self.num_rows, dtype=np.float64)
        col = src.column(name)
        v = col.to_numpy(zero_copy_only=False)
        if v.dtype != np.float64 or not v.flags.writeable:  # Arrow's own memory, or not float64
            v = v.astype(np.float64)
        if not pa.types.is_floating(col.type) and col.null_count == 0:
            return v  # integers and booleans without nulls: no NaN, no infinity
        return np.nan_to_num(v, copy=False)  # on the copy of its own made above


def columns(t) -> Columns:
    """`t` (a Columns, a pa.Table or a mapping of name to array) as Columns."""
    return t if isinstance(t, Columns) else Columns(t)


def _col(t, name: str) -> np.ndarray:
    """Column `name` of `t` (as `columns` takes it) as float64, NaN as 0, zeros when missing."""
    return columns(t).get(name)


def _clip(x):
    return np.clip(x, 0.0, 1.0)


# A signal's phrase is worded for a column of accounts at once (a swarm's 100,000 accounts each
# give reasons): each number's words come from the column's values in a few numpy passes and a
# table of the commonest words, not from the format machinery a value at a time (a column of
# shares 0.99 -> 0.2 us a value on this machine); what a table cannot word exactly (a tie of
# rounding, a sign, a value out of its range, a count of four digits or more) goes through the
# format itself.
_PERCENTS = tuple(f"{p}%" for p in range(101))
_SMALL = tuple(str(k) for k in range(-999, 1000))  # whole numbers without a thousands separator
_TENTHS = tuple(f"{k // 10}.{k % 10}" for k in range(10000))  # "0.0" ... "999.9"


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _n(x: float) -> str:
    return f"{int(round(x)):,}"


def _numbers(xs: list) -> np.ndarray:
    """The values as a numpy array; TypeError for anything but numbers (a null among them), as
    the formats raise."""
    a = np.asarray(xs)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"numbers expected, not {a.dtype}")
    return a


def _pcts(xs: list) -> list[str]:
    """_pct of each value: f"{100 * x:.0f}%" (round half to even, as the format rounds)."""
    a = _numbers(xs)
    if a.dtype.kind in "iu" and a.size and np.abs(a.astype(np.float64)).max() >= 2.0**50:
        return [_pct(x) for x in xs]  # (whole numbers past a float's exact ones)
    with np.errstate(over="ignore"):
        v = 100 * a.astype(np.float64)
    table = (v >= 0) & (v <= 100) & ~np.signbit(v)  # (-0.0 reads "-0%")
    at = np.where(table, np.rint(v), 0).astype(np.int64).tolist()
    return [_PERCENTS[k] if t else f"{x:.0f}%" for k, t, x in zip(at, table.tolist(), v.tolist())]


def _wholes(xs: list, rounded: bool) -> list[int] | None:
    """int(round(x)) (`rounded`) or int(x) of each value, None where some is not finite or too
    large for int64 (the caller formats those a value at a time, raising as it would)."""
    a = _numbers(xs)
    if not (np.abs(a.astype(np.float64)) < 2.0**62).all():
        return None
    if a.dtype.kind == "f":
        a = np.rint(a) if rounded else np.trunc(a)
    return a.astype(np.int64).tolist()


def _count(k: int) -> str:
    return _SMALL[k + 999] if -1000 < k < 1000 else f"{k:,}"


def _ns(xs: list) -> list[str]:
    """_n of each value: f"{int(round(x)):,}"."""
    whole = _wholes(xs, True)
    return [_n(x) for x in xs] if whole is None else [_count(k) for k in whole]


def _dayss(xs: list) -> list[str]:
    """_days of each value."""
    whole = _wholes(xs, False)
    return [_days(x) for x in xs] if whole is None else ["1 day" if k == 1 else f"{_count(k)} days" for k in whole]


def _f1s(xs: list) -> list[str]:
    """f"{x:.1f}" of each value: ten times it rounded, where that is no tie of rounding (10 x
    more than 1e-6 from a half: the product's error below 1e4 is under 2e-12)."""
    a = _numbers(xs).astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):  # (NaN and infinity: by the format)
        t = a * 10
        k = np.rint(t)
        table = ~np.signbit(a) & (t < 9999) & (np.abs(np.abs(t - k) - 0.5) > 1e-6)
    at = np.where(table, k, 0).astype(np.int64).tolist()
    return [_TENTHS[q] if ok else f"{x:.1f}" for q, ok, x in zip(at, table.tolist(), a.tolist())]


def _days(x: float) -> str:
    return "1 day" if int(x) == 1 else f"{int(x):,} days"


def _or(xs: list, default: float) -> list:
    """x or the default, row by row (a null or 0 reads as the default)."""
    return [x or default for x in xs]


def _shared_words(templates: list, near_dups: list) -> list[str]:
    t_words = _ns(_or(templates, 0))
    d_words = _ns(_or(near_dups, 0))
    out = []
    for t, d, tw, dw in zip(templates, near_dups, t_words, d_words):
        if t is ABSENT and d is ABSENT:
            out.append("no cross-account columns in this report")
            continue
        parts = ([f"shares templates with {tw} other accounts"] if t else []) + (
            [f"shares near-duplicate prompts with {dw} other accounts"] if d else []
        )
        out.append(" and ".join(parts) if parts else "shares no template or near-duplicate with other accounts")
    return out


class _Absent(int):
    """The value of a column a report lacks: 0 in every sum and format, and told apart where that
    matters (a report without the cross-account columns)."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = _Absent(0)


@dataclass(frozen=True)
class Signal:
    """One published signal: its group (the issue's eight), how it is computed, how it reads.

    How it reads: `say` takes the values of `columns`, in that order, each as a list of the rows'
    values, and gives each row's phrase; a column the report lacks reads as ABSENT (0)."""

    name: str
    group: str
    doc: str
    value: Callable[[object], np.ndarray]  # features -> float64[n] in [0, 1]
    columns: tuple[str, ...]  # what `say` reads, in its order
    say: Callable[..., list[str]]  # the rows' values of `columns`, a list each -> their phrases

    def words(self, row) -> str:
        """The phrase of one account's row (a mapping of column name to value)."""
        return self.say(*([row.get(c, ABSENT)] for c in self.columns))[0]

    def phrases(self, columns: Callable[[str], list | None], rows: list[int]) -> list[str]:
        """The phrases of rows `rows` of a report whose columns, as lists of Python values, come
        from `columns` (None for a column the report lacks): the same as `words` row by row."""
        values = []
        for name in self.columns:
            col = columns(name)
            values.append([ABSENT] * len(rows) if col is None else [col[i] for i in rows])
        return self.say(*values)


# People send a prompt again too (a regenerated answer; a question that many people behind one
# key ask): the share of requests that redraw counts only above this.
REDRAW_BACKGROUND = 0.2


def _samples(f):
    """Several answers to one prompt (n > 1 in one request, or the prompt sent again at a
    temperature above 0, beyond REDRAW_BACKGROUND), as far as the account keeps it up past a day:
    none for traffic that spans a day or less (a pass@k evaluation is an afternoon), all of it
    from eight days on."""
    kept_up = _clip((_col(f, "span_hours") / 24.0 - 1.0) / 7.0)  # whole hours: the same in every log form
    redraws = _clip((_col(f, "redraw_rate") - REDRAW_BACKGROUND) / (1.0 - REDRAW_BACKGROUND))
    return np.maximum(_col(f, "multi_sample_rate"), redraws) * kept_up


def _probing_words(logprobs: list, multi: list, samples: list, bias: list, redraw: list) -> list[str]:
    lp, mu, sa, bi, rd = _pcts(logprobs), _pcts(multi), _f1s(samples), _pcts(bias), _pcts(redraw)
    out = []
    for k, (logp, mul, bia, red) in enumerate(zip(logprobs, multi, bias, redraw)):
        parts = []
        if logp or mul or not (bia or red):
            parts.append(f"{lp[k]} ask for logprobs, {mu[k]} for several samples ({sa[k]} per request)")
        if bia > 0:
            parts.append(f"{bi[k]} set a logit_bias")
        if red > 0:
            parts.append(f"{rd[k]} send a prompt they already sent again, at a temperature above 0")
        out.append(", ".join(parts))
    return out


def _per_sample(f):
    return np.divide(_col(f, "completion_tokens_per_request"), np.maximum(_col(f, "samples_per_request"), 1.0))


SIGNALS = (
    Signal(
        "output_volume",
        "output harvest",
        "completion tokens taken, log10 scaled: 0 at 1, 1 at 1,000,000",
        lambda f: _clip(np.log10(1.0 + _col(f, "completion_tokens")) / 6.0),
        ("completion_tokens", "requests"),
        lambda tokens, requests: [
            f"took {t} completion tokens over {r} requests" for t, r in zip(_ns(tokens), _ns(requests))
        ],
    ),
    Signal(
        "output_length",
        "output harvest",
        "completion tokens per sample, log10 scaled: 0 at 1, 1 at 3,000",
        lambda f: _clip(np.log10(1.0 + _per_sample(f)) / np.log10(3000.0)),
        ("completion_tokens_per_request", "samples_per_request", "completion_prompt_ratio"),
        lambda per_request, samples, ratio: [
            f"answers average {a} tokens, {r}x the prompt"
            for a, r in zip(_ns([p / max(s, 1) for p, s in zip(per_request, samples)]), _f1s(ratio))
        ],
    ),
    Signal(
        "output_ratio",
        "output harvest",
        "completion tokens per prompt token, log10 scaled: 0 at 0, 1 at 30 (short asks for long answers)",
        lambda f: _clip(np.log10(1.0 + _col(f, "completion_prompt_ratio")) / np.log10(31.0)),
        ("completion_prompt_ratio", "completion_tokens", "requests"),
        lambda ratio, tokens, requests: [
            f"answers are {r}x as long as the prompts ({t} completion tokens over {q} requests)"
            for r, t, q in zip(_f1s(ratio), _ns(tokens), _ns(requests))
        ],
    ),
    Signal(
        "long_outputs",
        "output harvest",
        "share of requests whose answer is at least 1,000 tokens",
        lambda f: _col(f, "long_output_rate"),
        ("long_output_rate",),
        lambda rate: [f"{p} of answers run to 1,000 tokens or more" for p in _pcts(rate)],
    ),
    Signal(
        "max_tokens_hits",
        "output harvest",
        "share of requests whose answer stopped at max_tokens",
        lambda f: _col(f, "hit_max_tokens_rate"),
        ("hit_max_tokens_rate",),
        lambda rate: [f"{p} of answers stop at max_tokens" for p in _pcts(rate)],
    ),
    Signal(
        "fresh_answers",
        "output harvest",
        "share of requests that can return an answer the account does not have yet (not a repeat at "
        "temperature 0 of a prompt it already sent at temperature 0); the output-harvest terms are "
        "multiplied by it",
        lambda f: np.where(_col(f, "requests") > 0, 1.0 - _col(f, "stale_repeat_rate"), 0.0),
        ("stale_repeat_rate",),
        lambda stale: [
            f"{p} of requests repeat a prompt at temperature 0 and get back an answer the account already has"
            for p in _pcts(_or(stale, 0))
        ],
    ),
    Signal(
        "reasoning_prompts",
        "reasoning harvest",
        "share of prompts asking for step-by-step reasoning or a chain of thought (many languages)",
        lambda f: _col(f, "reasoning_prompt_rate"),
        ("reasoning_prompt_rate", "requests"),
        lambda rate, requests: [
            f"{p} of {r} requests ask for step-by-step reasoning" for p, r in zip(_pcts(rate), _ns(requests))
        ],
    ),
    Signal(
        "probing",
        "probing",
        "share of requests asking for logprobs or a logit_bias, or for several answers to one prompt "
        "(n > 1, or the prompt sent again at a temperature above 0, beyond the 20% people reach) as far "
        "as the account keeps that up: not at all over a day or less (a pass@k evaluation is an "
        "afternoon), fully from 8 days",
        lambda f: np.maximum.reduce([_col(f, "logprobs_rate"), _col(f, "logit_bias_rate"), _samples(f)]),
        ("logprobs_rate", "multi_sample_rate", "samples_per_request", "logit_bias_rate", "redraw_rate"),
        _probing_words,
    ),
    Signal(
        "resampling",
        "probing",
        "answers drawn per distinct prompt (repeats at a temperature above 0), log2 scaled: 0 at 1, 1 at 16",
        lambda f: _clip(np.log2(np.maximum(_col(f, "answers_per_prompt"), 1.0)) / 4.0),
        ("answers_per_prompt", "distinct_prompts"),
        lambda answers, distinct: [
            f"samples each prompt {a} times on average (repeats at a temperature above 0; {d} distinct prompts)"
            for a, d in zip(_f1s(_or(answers, 0)), _ns(distinct))
        ],
    ),
    Signal(
        "round_the_clock",
        "timing",
        "hours active per active day, over 24",
        lambda f: _clip(_col(f, "hours_per_active_day") / 24.0),
        ("hours_per_active_day", "active_days", "night_share"),
        lambda hours, days, night: [
            f"active {h} h a day on {d} ({p} of requests at night UTC)"
            for h, d, p in zip(_f1s(hours), _dayss(days), _pcts(night))
        ],
    ),
    Signal(
        "uniform_clock",
        "timing",
        "requests in the account's 6 quietest hours of the day over its 6 busiest: scripts keep one pace day and night",
        lambda f: _clip(_col(f, "hour_uniformity")),
        ("hour_uniformity", "hours_per_active_day"),
        lambda uniformity, hours: [
            f"as busy at its quietest hours of the day as at its busiest ({p}), active {h} h a day"
            for p, h in zip(_pcts(uniformity), _f1s(hours))
        ],
    ),
    Signal(
        "steady_pace",
        "timing",
        "1 / (1 + coefficient of variation of requests per hour between first and last active hour)",
        lambda f: np.where(_col(f, "span_hours") > 1, 1.0 / (1.0 + _col(f, "hourly_cv")), 0.0),
        ("hourly_cv", "span_hours"),
        lambda cv, span: [
            f"steady pace: requests per hour vary by {p} over {h} hours" for p, h in zip(_pcts(cv), _ns(span))
        ],
    ),
    Signal(
        "sustained",
        "timing",
        "active days, capped at 7, over 7: a one-off burst scores low",
        lambda f: _clip(_col(f, "active_days") / 7.0),
        ("active_days", "requests_per_active_hour"),
        lambda days, per_hour: [
            f"active on {d}, {r} requests per active hour" for d, r in zip(_dayss(days), _f1s(per_hour))
        ],
    ),
    Signal(
        "templated",
        "repetition",
        "share of requests whose prompt shares a template with others",
        lambda f: _col(f, "template_rate"),
        ("template_rate", "near_dup_rate"),
        lambda template, near: [
            f"{t} of prompts share a template"
            + (" wrapped around different tasks" if x < 0.2 else f", {p} are near-duplicates")
            for t, x, p in zip(_pcts(template), near, _pcts(near))
        ],
    ),
    Signal(
        "near_duplicates",
        "repetition",
        "share of requests whose prompt has a near-duplicate",
        lambda f: _col(f, "near_dup_rate"),
        ("near_dup_rate", "exact_dup_rate"),
        lambda near, exact: [
            f"{p} of prompts are near-duplicates ({e} exact repeats)" for p, e in zip(_pcts(near), _pcts(exact))
        ],
    ),
    Signal(
        "shared_templates",
        "coordination",
        "other accounts sharing this account's templates or near-duplicates, log2 scaled: 1 at 64",
        lambda f: _clip(
            np.log2(1.0 + np.maximum(_col(f, "shared_template_accounts"), _col(f, "shared_near_dup_accounts"))) / 6.0
        ),
        ("shared_template_accounts", "shared_near_dup_accounts"),
        _shared_words,
    ),
    Signal(
        "rotation",
        "coordination",
        "accounts of the same cluster that start as this one stops or stop as it starts, over 2, capped",
        lambda f: _clip(_col(f, "rotation_partners") / 2.0),
        ("rotation_partners", "cluster_size", "cluster_requests", "requests"),
        lambda partners, size, together, requests: [
            f"starts or stops within {ROTATION_HOURS} h of {p} other accounts of its cluster of {s} "
            f"({t} requests together)"
            for p, s, t in zip(
                _ns(_or(partners, 0)), _ns(_or(size, 1)), _ns([t or r for t, r in zip(together, requests)])
            )
        ],
    ),
    Signal(
        "single_shot",
        "coverage",
        "share of requests that start fresh rather than continue a conversation",
        lambda f: np.where(_col(f, "requests") > 0, 1.0 - _col(f, "conversation_rate"), 0.0),
        ("conversation_rate", "distinct_prompts"),
        lambda conversation, distinct: [
            f"{p} single-shot requests over {d} distinct prompts"
            for p, d in zip(_pcts([1 - c for c in conversation]), _ns(distinct))
        ],
    ),
    Signal(
        "varied_payloads",
        "coverage",
        "share of requests whose prompt has no near-duplicate: many different tasks, not one narrow task repeated",
        lambda f: np.where(_col(f, "requests") > 0, 1.0 - _col(f, "near_dup_rate"), 0.0),
        ("near_dup_rate", "distinct_prompts"),
        lambda near, distinct: [
            f"{p} of prompts are distinct tasks ({d} distinct prompts)"
            for p, d in zip(_pcts([1 - x for x in near]), _ns(distinct))
        ],
    ),
    Signal(
        "capable_model",
        "model targeting",
        "share of requests sent to the scan's most capable model (the one with the longest answers)",
        lambda f: _col(f, "capable_model_share"),
        ("capable_model_share", "capable_model"),
        lambda share, model: [
            f"{p} of traffic to {m or 'the most capable model'}, the model with the longest answers in this log"
            for p, m in zip(_pcts(share), model)
        ],
    ),
    Signal(
        "fast_model_move",
        "model targeting",
        "share of traffic since a model's first appearance in the log moved to it within 24 hours",
        lambda f: _col(f, "new_model_share"),
        ("new_model_share", "new_model", "new_model_delay_hours"),
        lambda share, model, delay: [
            f"moved {p} of its traffic to {m} within {d} h of its first appearance in the log"
            if x
            else "no move to a newly released model"
            for x, p, m, d in zip(share, _pcts(_or(share, 0)), model, delay)
        ],
    ),
)
SIGNAL_INDEX = {s.name: i for i, s in enumerate(SIGNALS)}
