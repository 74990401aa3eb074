"""Weights of the extraction score (fastscan.score), written by bench/fit_score.py; do not edit by hand."""
BIAS = -9.2211
WEIGHTS = {
    'output_volume': 2.0935,
    'output_length': 2.3869,
    'output_ratio': 2.2991,
    'long_outputs': 2.2982,
    'max_tokens_hits': 1.1927,
    'reasoning_prompts': 5.1581,
    'probing': 6.0113,
    'round_the_clock': 0.7213,
    'steady_pace': 0.3267,
    'sustained': 1.1947,
    'templated': 0.7223,
    'near_duplicates': 0.0000,
    'shared_templates': 2.0000,
    'single_shot': 0.9766,
    'model_focus': 0.0000,
    'templated*output_length': 2.4761,
    'round_the_clock*output_length': 1.8551,
}
FIT = {'seeds': [1, 2], 'scale': 0.5, 'formats': ['flat', 'openai'], 'accounts': 622, 'extractors': 204, 'l2': 0.003, 'min_requests': 50, 'date': '2026-11-25'}
