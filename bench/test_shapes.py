"""Scans of logs written otherwise than the bench log, each beside the bench log's scan in the same
run: the same records naming who sent each (an address, a client, an org: the request
fingerprint keys them), and a log of the OpenAI-style shape (nested request and response, chat
messages), which the flat JSON decoder leaves to Arrow's reader.

Run with test_scan.py (`pytest bench/test_scan.py bench/test_shapes.py`) for the ratios.
"""

from __future__ import annotations

import os

from conftest import BENCH_BYTES, RESULTS, ROUNDS, ratio, record
from logs import bench_log, with_senders

import fastscan


def test_scan_with_senders(benchmark, warm, jsonl_log, jsonl_report):
    path = with_senders(jsonl_log)
    report = benchmark.pedantic(fastscan.scan, args=([path],), rounds=ROUNDS, iterations=1)
    st = report.stats.to_dict()
    assert st["records_read"] == st["records_scored"] and st["records_rejected"] == 0
    assert report.accounts.column("account_id").equals(jsonl_report.column("account_id"))
    assert report.accounts.column("requests").equals(jsonl_report.column("requests"))
    fig = record(benchmark, "scan jsonl+senders", os.path.getsize(path), st["records_read"])
    # the same records: the ratio is of speeds in records (the file holds more bytes)
    plain = RESULTS.get("scan jsonl", {}).get("seconds")
    speed = round(plain / fig["seconds"], 3) if plain else None
    fig["speed_over_scan_jsonl"] = benchmark.extra_info["speed_over_scan_jsonl"] = speed


def test_scan_openai_shape(benchmark, warm):
    path = bench_log(BENCH_BYTES, seed=0, fmt="openai")
    report = benchmark.pedantic(fastscan.scan, args=([path],), rounds=ROUNDS, iterations=1)
    st = report.stats.to_dict()
    assert st["records_read"] == st["records_scored"] and st["records_rejected"] == 0
    assert report.accounts.num_rows > 0
    fig = record(benchmark, "scan openai-shape jsonl", os.path.getsize(path), st["records_read"])
    # other records: the ratio is of speeds in bytes
    fig["over_scan_jsonl"] = benchmark.extra_info["over_scan_jsonl"] = ratio("scan openai-shape jsonl", "scan jsonl")
