"""Scans of logs written otherwise than the bench log, each beside the bench log's scan in the same
run: the same records naming who sent each (an address, a client, an org: the request
fingerprint keys them), the same records spread over eight times the accounts (a swarm's many
light accounts: the per-account work of finish() grows, the bytes do not), a swarm of light
accounts that share two prompt templates (what links them grows with the swarm: its work must
not grow as its square), and a log of the OpenAI-style shape (nested request and response, chat
messages).

Run with test_scan.py (`pytest bench/test_scan.py bench/test_shapes.py`) for the ratios. These
scans come late in a run, minutes after the bench log's best rounds, and the machine's speed
moves over minutes (a run saw the 8x-accounts log at 0.54 and then 0.94 of the bench log's
speed): each shape is also scanned in turns with the bench log, and the median of the pairs'
ratios is what to read.
"""

from __future__ import annotations

import os

import pyarrow.compute as pc
from conftest import BENCH_BYTES, RESULTS, in_turns, ratio, record, timed_scan
from logs import bench_log, split_accounts, templated_swarm, with_senders


def test_scan_with_senders(benchmark, warm, jsonl_log, jsonl_report):
    path = with_senders(jsonl_log)
    report = timed_scan(benchmark, path)
    st = report.stats.to_dict()
    assert st["records_read"] == st["records_scored"] and st["records_rejected"] == 0
    assert report.accounts.column("account_id").equals(jsonl_report.column("account_id"))
    assert report.accounts.column("requests").equals(jsonl_report.column("requests"))
    fig = record(benchmark, "scan jsonl+senders", os.path.getsize(path), st["records_read"])
    # the same records: the ratio is of speeds in records (the file holds more bytes)
    plain = RESULTS.get("scan jsonl", {}).get("seconds")
    speed = round(plain / fig["seconds"], 3) if plain else None
    fig["speed_over_scan_jsonl"] = benchmark.extra_info["speed_over_scan_jsonl"] = speed
    in_turns("scan jsonl+senders", path, jsonl_log, same_records=True)


def test_scan_many_accounts(benchmark, warm, jsonl_log, jsonl_report):
    path = split_accounts(jsonl_log)
    report = timed_scan(benchmark, path)
    st = report.stats.to_dict()
    assert st["records_read"] == st["records_scored"] and st["records_rejected"] == 0
    assert report.accounts.num_rows > 4 * jsonl_report.num_rows  # split 8 ways; light ones fewer
    total = pc.sum(report.accounts.column("requests")).as_py()
    assert total == pc.sum(jsonl_report.column("requests")).as_py()
    fig = record(benchmark, "scan jsonl, 8x the accounts", os.path.getsize(path), st["records_read"])
    fig["accounts"] = benchmark.extra_info["accounts"] = report.accounts.num_rows
    # the same records: the ratio is of speeds in records
    plain = RESULTS.get("scan jsonl", {}).get("seconds")
    speed = round(plain / fig["seconds"], 3) if plain else None
    fig["speed_over_scan_jsonl"] = benchmark.extra_info["speed_over_scan_jsonl"] = speed
    in_turns("scan jsonl, 8x the accounts", path, jsonl_log, same_records=True)


def test_scan_templated_swarm(benchmark, warm, jsonl_log):
    path = templated_swarm(BENCH_BYTES // 4)
    report = timed_scan(benchmark, path)
    st = report.stats.to_dict()
    assert st["records_read"] == st["records_scored"] and st["records_rejected"] == 0
    n = report.accounts.num_rows
    shared = report.accounts.column("shared_template_accounts").to_numpy()
    assert shared.min() >= n // 2 - 1  # each account shares its template with half the swarm
    fig = record(benchmark, "scan jsonl, templated swarm", os.path.getsize(path), st["records_read"])
    fig["accounts"] = benchmark.extra_info["accounts"] = n
    # other records: the ratio is of speeds in bytes
    over = ratio("scan jsonl, templated swarm", "scan jsonl")
    fig["over_scan_jsonl"] = benchmark.extra_info["over_scan_jsonl"] = over
    in_turns("scan jsonl, templated swarm", path, jsonl_log, same_records=False)


def test_scan_openai_shape(benchmark, warm, jsonl_log):
    path = bench_log(BENCH_BYTES, seed=0, fmt="openai")
    report = timed_scan(benchmark, path)
    st = report.stats.to_dict()
    assert st["records_read"] == st["records_scored"] and st["records_rejected"] == 0
    assert report.accounts.num_rows > 0
    fig = record(benchmark, "scan openai-shape jsonl", os.path.getsize(path), st["records_read"])
    # other records: the ratio is of speeds in bytes
    fig["over_scan_jsonl"] = benchmark.extra_info["over_scan_jsonl"] = ratio("scan openai-shape jsonl", "scan jsonl")
    in_turns("scan openai-shape jsonl", path, jsonl_log, same_records=False)
