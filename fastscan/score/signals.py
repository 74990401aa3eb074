"""The published signals of distillation: each a value in [0, 1] computed from an account's row
of features, with how it reads in words (docs/score.md lists them with their weights).
fastscan.score.model combines them into the extraction score."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fastscan.score.coordination import ROTATION_HOURS

__all__ = ["SIGNALS", "SIGNAL_INDEX", "Signal"]


def _col(t, name: str) -> np.ndarray:
    if isinstance(t, dict):
        return np.asarray(t[name], dtype=np.float64)
    if name not in t.column_names:
        return np.zeros(t.num_rows, dtype=np.float64)
    return np.nan_to_num(t.column(name).to_numpy(zero_copy_only=False).astype(np.float64))


def _clip(x):
    return np.clip(x, 0.0, 1.0)


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _n(x: float) -> str:
    return f"{int(round(x)):,}"


def _days(x: float) -> str:
    return "1 day" if int(x) == 1 else f"{int(x):,} days"


def _shared_words(r) -> str:
    if "shared_template_accounts" not in r and "shared_near_dup_accounts" not in r:
        return "no cross-account columns in this report"
    t, d = r.get("shared_template_accounts") or 0, r.get("shared_near_dup_accounts") or 0
    parts = ([f"shares templates with {_n(t)} other accounts"] if t else []) + (
        [f"shares near-duplicate prompts with {_n(d)} other accounts"] if d else []
    )
    return " and ".join(parts) if parts else "shares no template or near-duplicate with other accounts"


@dataclass(frozen=True)
class Signal:
    """One published signal: its group (the issue's eight), how it is computed, how it reads."""

    name: str
    group: str
    doc: str
    value: Callable[[object], np.ndarray]  # features -> float64[n] in [0, 1]
    words: Callable[[dict], str]  # one account's feature row -> a phrase


def _per_sample(f):
    return np.divide(_col(f, "completion_tokens_per_request"), np.maximum(_col(f, "samples_per_request"), 1.0))


SIGNALS = (
    Signal(
        "output_volume",
        "output harvest",
        "completion tokens taken, log10 scaled: 0 at 1, 1 at 1,000,000",
        lambda f: _clip(np.log10(1.0 + _col(f, "completion_tokens")) / 6.0),
        lambda r: f"took {_n(r['completion_tokens'])} completion tokens over {_n(r['requests'])} requests",
    ),
    Signal(
        "output_length",
        "output harvest",
        "completion tokens per sample, log10 scaled: 0 at 1, 1 at 3,000",
        lambda f: _clip(np.log10(1.0 + _per_sample(f)) / np.log10(3000.0)),
        lambda r: (
            f"answers average {_n(r['completion_tokens_per_request'] / max(r['samples_per_request'], 1))} "
            f"tokens, {r['completion_prompt_ratio']:.1f}x the prompt"
        ),
    ),
    Signal(
        "output_ratio",
        "output harvest",
        "completion tokens per prompt token, log10 scaled: 0 at 0, 1 at 30 (short asks for long answers)",
        lambda f: _clip(np.log10(1.0 + _col(f, "completion_prompt_ratio")) / np.log10(31.0)),
        lambda r: (
            f"answers are {r['completion_prompt_ratio']:.1f}x as long as the prompts "
            f"({_n(r['completion_tokens'])} completion tokens over {_n(r['requests'])} requests)"
        ),
    ),
    Signal(
        "long_outputs",
        "output harvest",
        "share of requests whose answer is at least 1,000 tokens",
        lambda f: _col(f, "long_output_rate"),
        lambda r: f"{_pct(r['long_output_rate'])} of answers run to 1,000 tokens or more",
    ),
    Signal(
        "max_tokens_hits",
        "output harvest",
        "share of requests whose answer stopped at max_tokens",
        lambda f: _col(f, "hit_max_tokens_rate"),
        lambda r: f"{_pct(r['hit_max_tokens_rate'])} of answers stop at max_tokens",
    ),
    Signal(
        "fresh_answers",
        "output harvest",
        "share of requests that can return an answer the account does not have yet (not a repeat at "
        "temperature 0 of a prompt it already sent at temperature 0); the output-harvest terms are "
        "multiplied by it",
        lambda f: np.where(_col(f, "requests") > 0, 1.0 - _col(f, "stale_repeat_rate"), 0.0),
        lambda r: (
            f"{_pct(r.get('stale_repeat_rate') or 0)} of requests repeat a prompt at temperature 0 "
            "and get back an answer the account already has"
        ),
    ),
    Signal(
        "reasoning_prompts",
        "reasoning harvest",
        "share of prompts asking for step-by-step reasoning or a chain of thought (many languages)",
        lambda f: _col(f, "reasoning_prompt_rate"),
        lambda r: f"{_pct(r['reasoning_prompt_rate'])} of {_n(r['requests'])} requests ask for step-by-step reasoning",
    ),
    Signal(
        "probing",
        "probing",
        "share of requests asking for logprobs, n > 1 samples or a logit_bias",
        lambda f: np.maximum.reduce(
            [_col(f, "logprobs_rate"), _col(f, "multi_sample_rate"), _col(f, "logit_bias_rate")]
        ),
        lambda r: (
            f"{_pct(r['logprobs_rate'])} ask for logprobs, {_pct(r['multi_sample_rate'])} for several "
            f"samples ({r['samples_per_request']:.1f} per request)"
            + (f", {_pct(r['logit_bias_rate'])} set a logit_bias" if r["logit_bias_rate"] > 0 else "")
        ),
    ),
    Signal(
        "resampling",
        "probing",
        "answers drawn per distinct prompt (repeats at a temperature above 0), log2 scaled: 0 at 1, 1 at 16",
        lambda f: _clip(np.log2(np.maximum(_col(f, "answers_per_prompt"), 1.0)) / 4.0),
        lambda r: (
            f"samples each prompt {r.get('answers_per_prompt') or 0:.1f} times on average "
            f"(repeats at a temperature above 0; {_n(r['distinct_prompts'])} distinct prompts)"
        ),
    ),
    Signal(
        "round_the_clock",
        "timing",
        "hours active per active day, over 24",
        lambda f: _clip(_col(f, "hours_per_active_day") / 24.0),
        lambda r: (
            f"active {r['hours_per_active_day']:.1f} h a day on {_days(r['active_days'])} "
            f"({_pct(r['night_share'])} of requests at night UTC)"
        ),
    ),
    Signal(
        "uniform_clock",
        "timing",
        "requests in the account's 6 quietest hours of the day over its 6 busiest: scripts keep one pace day and night",
        lambda f: _clip(_col(f, "hour_uniformity")),
        lambda r: (
            f"as busy at its quietest hours of the day as at its busiest ({_pct(r['hour_uniformity'])}), "
            f"active {r['hours_per_active_day']:.1f} h a day"
        ),
    ),
    Signal(
        "steady_pace",
        "timing",
        "1 / (1 + coefficient of variation of requests per hour between first and last active hour)",
        lambda f: np.where(_col(f, "span_hours") > 1, 1.0 / (1.0 + _col(f, "hourly_cv")), 0.0),
        lambda r: f"steady pace: requests per hour vary by {_pct(r['hourly_cv'])} over {_n(r['span_hours'])} hours",
    ),
    Signal(
        "sustained",
        "timing",
        "active days, capped at 7, over 7: a one-off burst scores low",
        lambda f: _clip(_col(f, "active_days") / 7.0),
        lambda r: f"active on {_days(r['active_days'])}, {r['requests_per_active_hour']:.1f} requests per active hour",
    ),
    Signal(
        "templated",
        "repetition",
        "share of requests whose prompt shares a template with others",
        lambda f: _col(f, "template_rate"),
        lambda r: (
            f"{_pct(r['template_rate'])} of prompts share a template"
            + (
                " wrapped around different tasks"
                if r["near_dup_rate"] < 0.2
                else f", {_pct(r['near_dup_rate'])} are near-duplicates"
            )
        ),
    ),
    Signal(
        "near_duplicates",
        "repetition",
        "share of requests whose prompt has a near-duplicate",
        lambda f: _col(f, "near_dup_rate"),
        lambda r: (
            f"{_pct(r['near_dup_rate'])} of prompts are near-duplicates ({_pct(r['exact_dup_rate'])} exact repeats)"
        ),
    ),
    Signal(
        "shared_templates",
        "coordination",
        "other accounts sharing this account's templates or near-duplicates, log2 scaled: 1 at 64",
        lambda f: _clip(
            np.log2(1.0 + np.maximum(_col(f, "shared_template_accounts"), _col(f, "shared_near_dup_accounts"))) / 6.0
        ),
        lambda r: _shared_words(r),
    ),
    Signal(
        "rotation",
        "coordination",
        "accounts of the same cluster that start as this one stops or stop as it starts, over 2, capped",
        lambda f: _clip(_col(f, "rotation_partners") / 2.0),
        lambda r: (
            f"starts or stops within {ROTATION_HOURS} h of {_n(r.get('rotation_partners') or 0)} other "
            f"accounts of its cluster of {_n(r.get('cluster_size') or 1)} "
            f"({_n(r.get('cluster_requests') or r['requests'])} requests together)"
        ),
    ),
    Signal(
        "single_shot",
        "coverage",
        "share of requests that start fresh rather than continue a conversation",
        lambda f: np.where(_col(f, "requests") > 0, 1.0 - _col(f, "conversation_rate"), 0.0),
        lambda r: (
            f"{_pct(1 - r['conversation_rate'])} single-shot requests over {_n(r['distinct_prompts'])} distinct prompts"
        ),
    ),
    Signal(
        "varied_payloads",
        "coverage",
        "share of requests whose prompt has no near-duplicate: many different tasks, not one narrow task repeated",
        lambda f: np.where(_col(f, "requests") > 0, 1.0 - _col(f, "near_dup_rate"), 0.0),
        lambda r: (
            f"{_pct(1 - r['near_dup_rate'])} of prompts are distinct tasks "
            f"({_n(r['distinct_prompts'])} distinct prompts)"
        ),
    ),
    Signal(
        "capable_model",
        "model targeting",
        "share of requests sent to the scan's most capable model (the one with the longest answers)",
        lambda f: _col(f, "capable_model_share"),
        lambda r: (
            f"{_pct(r['capable_model_share'])} of traffic to {r['capable_model'] or 'the most capable model'}"
            f", the model with the longest answers in this log"
        ),
    ),
    Signal(
        "fast_model_move",
        "model targeting",
        "share of traffic since a model's first appearance in the log moved to it within 24 hours",
        lambda f: _col(f, "new_model_share"),
        lambda r: (
            (
                f"moved {_pct(r['new_model_share'])} of its traffic to {r['new_model']} within "
                f"{r['new_model_delay_hours']} h of its first appearance in the log"
            )
            if r.get("new_model_share")
            else "no move to a newly released model"
        ),
    ),
)
SIGNAL_INDEX = {s.name: i for i, s in enumerate(SIGNALS)}
