"""Weights of the extraction score (fastscan.score), written by bench/fit_score.py; do not edit by hand."""
BIAS = -10.1084
WEIGHTS = {
    'output_volume': 2.0884,
    'output_length': 2.2751,
    'output_ratio': 2.1241,
    'long_outputs': 2.2606,
    'max_tokens_hits': 0.3309,
    'reasoning_prompts': 4.9098,
    'probing': 6.0189,
    'round_the_clock': 0.8752,
    'steady_pace': 0.4612,
    'sustained': 1.2457,
    'templated': 0.8579,
    'near_duplicates': 0.3246,
    'shared_templates': 0.5000,
    'rotation': 0.5000,
    'single_shot': 0.9684,
    'varied_payloads': 0.6754,
    'capable_model': 0.6604,
    'fast_model_move': 2.0000,
    'templated*output_length': 1.4704,
    'templated*varied_payloads*output_length': 2.4331,
    'round_the_clock*output_length': 1.9110,
    'max_tokens_hits*output_length': 0.6250,
    'shared_templates*output_length': 2.0000,
    'rotation*output_length': 2.0000,
}
FIT = {'seeds': [1, 2], 'scale': 0.5, 'formats': ['flat', 'openai'], 'accounts': 622, 'extractors': 204, 'l2': 0.003, 'min_requests': 50, 'date': '2026-11-25'}
