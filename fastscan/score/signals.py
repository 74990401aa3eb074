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


# "0%" ... "100%": a share is worded for tens of thousands of accounts of a large scan, and the
# format's machinery cost more than the rest of a phrase (a share's words 0.99 -> 0.5 us)
_PERCENTS = tuple(f"{p}%" for p in range(101))


def _pct(x: float) -> str:
    """x as a whole percentage: f"{100 * x:.0f}%" (round half to even, as the format rounds)."""
    v = 100 * x
    if 0.0 < v <= 100.0:
        return _PERCENTS[round(v)]
    return f"{v:.0f}%"  # (0 and -0.0 read apart by the format, and what is out of range)


def _n(x: float) -> str:
    """x rounded to a whole number, with thousands separators."""
    r = int(round(x))
    return str(r) if -1000 < r < 1000 else f"{r:,}"  # (str of a small number: half the time)


def _days(x: float) -> str:
    return "1 day" if int(x) == 1 else f"{int(x):,} days"


def _shared_words(templates, near_dups) -> str:
    if templates is ABSENT and near_dups is ABSENT:
        return "no cross-account columns in this report"
    t, d = templates or 0, near_dups or 0
    parts = ([f"shares templates with {_n(t)} other accounts"] if t else []) + (
        [f"shares near-duplicate prompts with {_n(d)} other accounts"] if d else []
    )
    return " and ".join(parts) if parts else "shares no template or near-duplicate with other accounts"


class _Absent(int):
    """The value of a column a report lacks: 0 in every sum and format, and told apart where that
    matters (a report without the cross-account columns)."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = _Absent(0)


@dataclass(frozen=True)
class Signal:
    """One published signal: its group (the issue's eight), how it is computed, how it reads.

    How it reads: `say` takes the values of the row's `columns`, in that order, and gives a
    phrase; a column the report lacks reads as ABSENT (0)."""

    name: str
    group: str
    doc: str
    value: Callable[[object], np.ndarray]  # features -> float64[n] in [0, 1]
    columns: tuple[str, ...]  # what `say` reads, in its order
    say: Callable[..., str]  # the values of one account's `columns` -> a phrase

    def words(self, row) -> str:
        """The phrase of one account's row (a mapping of column name to value)."""
        return self.say(*(row.get(c, ABSENT) for c in self.columns))

    def phrases(self, columns: Callable[[str], list | None], rows: list[int]) -> list[str]:
        """The phrases of rows `rows` of a report whose columns, as lists of Python values, come
        from `columns` (None for a column the report lacks): the same as `words` row by row."""
        values = []
        for name in self.columns:
            col = columns(name)
            values.append([ABSENT] * len(rows) if col is None else [col[i] for i in rows])
        return list(map(self.say, *values))


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


def _probing_words(logprobs, multi, samples, bias, redraw) -> str:
    parts = []
    if logprobs or multi or not (bias or redraw):
        several = f"{_pct(multi)} for several samples ({samples:.1f} per request)"
        parts.append(f"{_pct(logprobs)} ask for logprobs, {several}")
    if bias > 0:
        parts.append(f"{_pct(bias)} set a logit_bias")
    if redraw > 0:
        parts.append(f"{_pct(redraw)} send a prompt they already sent again, at a temperature above 0")
    return ", ".join(parts)


def _per_sample(f):
    return np.divide(_col(f, "completion_tokens_per_request"), np.maximum(_col(f, "samples_per_request"), 1.0))


SIGNALS = (
    Signal(
        "output_volume",
        "output harvest",
        "completion tokens taken, log10 scaled: 0 at 1, 1 at 1,000,000",
        lambda f: _clip(np.log10(1.0 + _col(f, "completion_tokens")) / 6.0),
        ("completion_tokens", "requests"),
        lambda tokens, requests: f"took {_n(tokens)} completion tokens over {_n(requests)} requests",
    ),
    Signal(
        "output_length",
        "output harvest",
        "completion tokens per sample, log10 scaled: 0 at 1, 1 at 3,000",
        lambda f: _clip(np.log10(1.0 + _per_sample(f)) / np.log10(3000.0)),
        ("completion_tokens_per_request", "samples_per_request", "completion_prompt_ratio"),
        lambda per_request, samples, ratio: (
            f"answers average {_n(per_request / max(samples, 1))} tokens, {ratio:.1f}x the prompt"
        ),
    ),
    Signal(
        "output_ratio",
        "output harvest",
        "completion tokens per prompt token, log10 scaled: 0 at 0, 1 at 30 (short asks for long answers)",
        lambda f: _clip(np.log10(1.0 + _col(f, "completion_prompt_ratio")) / np.log10(31.0)),
        ("completion_prompt_ratio", "completion_tokens", "requests"),
        lambda ratio, tokens, requests: (
            f"answers are {ratio:.1f}x as long as the prompts "
            f"({_n(tokens)} completion tokens over {_n(requests)} requests)"
        ),
    ),
    Signal(
        "long_outputs",
        "output harvest",
        "share of requests whose answer is at least 1,000 tokens",
        lambda f: _col(f, "long_output_rate"),
        ("long_output_rate",),
        lambda rate: f"{_pct(rate)} of answers run to 1,000 tokens or more",
    ),
    Signal(
        "max_tokens_hits",
        "output harvest",
        "share of requests whose answer stopped at max_tokens",
        lambda f: _col(f, "hit_max_tokens_rate"),
        ("hit_max_tokens_rate",),
        lambda rate: f"{_pct(rate)} of answers stop at max_tokens",
    ),
    Signal(
        "fresh_answers",
        "output harvest",
        "share of requests that can return an answer the account does not have yet (not a repeat at "
        "temperature 0 of a prompt it already sent at temperature 0); the output-harvest terms are "
        "multiplied by it",
        lambda f: np.where(_col(f, "requests") > 0, 1.0 - _col(f, "stale_repeat_rate"), 0.0),
        ("stale_repeat_rate",),
        lambda stale: (
            f"{_pct(stale or 0)} of requests repeat a prompt at temperature 0 "
            "and get back an answer the account already has"
        ),
    ),
    Signal(
        "reasoning_prompts",
        "reasoning harvest",
        "share of prompts asking for step-by-step reasoning or a chain of thought (many languages)",
        lambda f: _col(f, "reasoning_prompt_rate"),
        ("reasoning_prompt_rate", "requests"),
        lambda rate, requests: f"{_pct(rate)} of {_n(requests)} requests ask for step-by-step reasoning",
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
        lambda answers, distinct: (
            f"samples each prompt {answers or 0:.1f} times on average "
            f"(repeats at a temperature above 0; {_n(distinct)} distinct prompts)"
        ),
    ),
    Signal(
        "round_the_clock",
        "timing",
        "hours active per active day, over 24",
        lambda f: _clip(_col(f, "hours_per_active_day") / 24.0),
        ("hours_per_active_day", "active_days", "night_share"),
        lambda hours, days, night: (
            f"active {hours:.1f} h a day on {_days(days)} ({_pct(night)} of requests at night UTC)"
        ),
    ),
    Signal(
        "uniform_clock",
        "timing",
        "requests in the account's 6 quietest hours of the day over its 6 busiest: scripts keep one pace day and night",
        lambda f: _clip(_col(f, "hour_uniformity")),
        ("hour_uniformity", "hours_per_active_day"),
        lambda uniformity, hours: (
            f"as busy at its quietest hours of the day as at its busiest ({_pct(uniformity)}), "
            f"active {hours:.1f} h a day"
        ),
    ),
    Signal(
        "steady_pace",
        "timing",
        "1 / (1 + coefficient of variation of requests per hour between first and last active hour)",
        lambda f: np.where(_col(f, "span_hours") > 1, 1.0 / (1.0 + _col(f, "hourly_cv")), 0.0),
        ("hourly_cv", "span_hours"),
        lambda cv, span: f"steady pace: requests per hour vary by {_pct(cv)} over {_n(span)} hours",
    ),
    Signal(
        "sustained",
        "timing",
        "active days, capped at 7, over 7: a one-off burst scores low",
        lambda f: _clip(_col(f, "active_days") / 7.0),
        ("active_days", "requests_per_active_hour"),
        lambda days, per_hour: f"active on {_days(days)}, {per_hour:.1f} requests per active hour",
    ),
    Signal(
        "templated",
        "repetition",
        "share of requests whose prompt shares a template with others",
        lambda f: _col(f, "template_rate"),
        ("template_rate", "near_dup_rate"),
        lambda template, near: (
            f"{_pct(template)} of prompts share a template"
            + (" wrapped around different tasks" if near < 0.2 else f", {_pct(near)} are near-duplicates")
        ),
    ),
    Signal(
        "near_duplicates",
        "repetition",
        "share of requests whose prompt has a near-duplicate",
        lambda f: _col(f, "near_dup_rate"),
        ("near_dup_rate", "exact_dup_rate"),
        lambda near, exact: f"{_pct(near)} of prompts are near-duplicates ({_pct(exact)} exact repeats)",
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
        lambda partners, size, together, requests: (
            f"starts or stops within {ROTATION_HOURS} h of {_n(partners or 0)} other "
            f"accounts of its cluster of {_n(size or 1)} ({_n(together or requests)} requests together)"
        ),
    ),
    Signal(
        "single_shot",
        "coverage",
        "share of requests that start fresh rather than continue a conversation",
        lambda f: np.where(_col(f, "requests") > 0, 1.0 - _col(f, "conversation_rate"), 0.0),
        ("conversation_rate", "distinct_prompts"),
        lambda conversation, distinct: (
            f"{_pct(1 - conversation)} single-shot requests over {_n(distinct)} distinct prompts"
        ),
    ),
    Signal(
        "varied_payloads",
        "coverage",
        "share of requests whose prompt has no near-duplicate: many different tasks, not one narrow task repeated",
        lambda f: np.where(_col(f, "requests") > 0, 1.0 - _col(f, "near_dup_rate"), 0.0),
        ("near_dup_rate", "distinct_prompts"),
        lambda near, distinct: f"{_pct(1 - near)} of prompts are distinct tasks ({_n(distinct)} distinct prompts)",
    ),
    Signal(
        "capable_model",
        "model targeting",
        "share of requests sent to the scan's most capable model (the one with the longest answers)",
        lambda f: _col(f, "capable_model_share"),
        ("capable_model_share", "capable_model"),
        lambda share, model: (
            f"{_pct(share)} of traffic to {model or 'the most capable model'}, "
            "the model with the longest answers in this log"
        ),
    ),
    Signal(
        "fast_model_move",
        "model targeting",
        "share of traffic since a model's first appearance in the log moved to it within 24 hours",
        lambda f: _col(f, "new_model_share"),
        ("new_model_share", "new_model", "new_model_delay_hours"),
        lambda share, model, delay: (
            f"moved {_pct(share)} of its traffic to {model} within {delay} h of its first appearance in the log"
            if share
            else "no move to a newly released model"
        ),
    ),
)
SIGNAL_INDEX = {s.name: i for i, s in enumerate(SIGNALS)}
