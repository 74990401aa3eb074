"""Weights of the extraction score (fastscan.score), written by bench/fit_score.py; do not edit by hand."""

from __future__ import annotations

from typing import Any

BIAS = -10.1707
WEIGHTS: dict[str, float] = {
    "output_volume": 2.0880,
    "output_length": 2.2839,
    "output_ratio": 2.1085,
    "long_outputs": 2.2344,
    "max_tokens_hits": 0.3859,
    "reasoning_prompts": 4.7286,
    "probing": 6.0110,
    "resampling": 2.2497,
    "round_the_clock": 0.7570,
    "uniform_clock": 0.6329,
    "steady_pace": 0.3586,
    "sustained": 1.2731,
    "templated": 0.6225,
    "near_duplicates": 0.2302,
    "shared_templates": 0.6435,
    "rotation": 0.5344,
    "single_shot": 0.9334,
    "varied_payloads": 0.7698,
    "capable_model": 0.6489,
    "fast_model_move": 2.0000,
    "templated*output_length": 1.2987,
    "templated*varied_payloads*output_length": 2.3054,
    "round_the_clock*output_length": 0.8606,
    "uniform_clock*output_length": 2.1143,
    "max_tokens_hits*output_length": 0.6612,
    "shared_templates*output_length": 2.1306,
    "rotation*output_length": 2.0255,
}
FIT: dict[str, Any] = {
    "seeds": [1, 2],
    "scale": 0.5,
    "formats": ["flat", "openai"],
    "accounts": 652,
    "extractors": 234,
    "l2": 0.003,
    "min_requests": 50,
    "date": "2026-11-30",
    "free": ["resampling"],
    "others_from": {
        "seeds": [1, 2],
        "scale": 0.5,
        "formats": ["flat", "openai"],
        "accounts": 622,
        "extractors": 204,
        "l2": 0.003,
        "min_requests": 50,
        "date": "2026-11-25",
    },
}
