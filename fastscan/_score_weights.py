"""Weights of the extraction score (fastscan.score), written by bench/fit_score.py; do not edit by hand."""
BIAS = -9.4064
WEIGHTS = {
    'output_volume': 2.0863,
    'output_length': 2.3729,
    'output_ratio': 2.2731,
    'long_outputs': 2.2918,
    'max_tokens_hits': 1.2073,
    'reasoning_prompts': 5.1329,
    'probing': 6.0137,
    'round_the_clock': 0.7037,
    'steady_pace': 0.3112,
    'sustained': 1.2130,
    'templated': 0.7184,
    'near_duplicates': 0.0000,
    'shared_templates': 2.0000,
    'single_shot': 0.9726,
    'capable_model': 0.6509,
    'fast_model_move': 2.0000,
    'templated*output_length': 2.4568,
    'round_the_clock*output_length': 1.8455,
}
FIT = {'seeds': [1, 2], 'scale': 0.5, 'formats': ['flat', 'openai'], 'accounts': 622, 'extractors': 204, 'l2': 0.003, 'min_requests': 50, 'date': '2026-11-25'}
