"""Repeats of a prompt: at temperature 0 the answer is one the account already has (stale), above 0
each repeat draws a new one (resampling). Counted per sampled prompt, so the rates do not depend
on how the input is split, merged or saved, and they move the score the way they should."""

from __future__ import annotations

import math
import random

import pyarrow as pa
import pytest

from fastscan import Scanner
from fastscan.config import ScanConfig
from fastscan.score.model import score_accounts
from fastscan.state import AccountState


def _rows() -> list[tuple[str, str, float | None]]:
    rows: list[tuple[str, str, float | None]] = []
    for k in range(40):  # "cache": 40 prompts sent 5 times each at temperature 0
        rows += [("cache", f"classify ticket number {k} into a queue", 0.0)] * 5
    for k in range(40):  # "sampler": 40 prompts sent 5 times each at temperature 0.9
        rows += [("sampler", f"solve problem number {k} and show the work", 0.9)] * 5
    for k in range(40):  # "mixed": twice at 0, then three times at 1 (or missing: the API's 1)
        rows += [("mixed", f"write a story about animal number {k}", 0.0)] * 2
        rows += [("mixed", f"write a story about animal number {k}", t) for t in (1.0, None, 0.5)]
    rows += [("fresh", f"a question nobody asked before, number {k}", 0.0) for k in range(200)]
    # "people": many people behind one key, 4 common questions asked 6 times each among 100 others
    rows += [("people", f"a common question, number {k}", 0.7) for k in range(4)] * 6
    rows += [("people", f"a question of one person, number {k}", 0.7) for k in range(100)]
    random.Random(3).shuffle(rows)
    return rows


def _table(rows):
    return pa.table(
        {
            "account_id": [a for a, _, _ in rows],
            "prompt": [p for _, p, _ in rows],
            "temperature": pa.array([t for _, _, t in rows], pa.float64()),
        }
    )


def _scan(rows, config=None, batch=None):
    s = Scanner(config)
    t = _table(rows)
    step = batch or len(rows)
    for i in range(0, len(rows), step):
        s.update(t.slice(i, step))
    return s


def _by_account(report):
    return {r["account_id"]: r for r in report.accounts.to_pylist()}


@pytest.mark.parametrize("sample_size", [512, 16])  # whole, and a bottom-k sample of the prompts
def test_stale_repeats_and_answers_per_prompt(sample_size):
    r = _by_account(_scan(_rows(), ScanConfig(sample_size=sample_size)).finish())
    assert r["cache"]["stale_repeat_rate"] == pytest.approx(0.8)  # 4 of every 5
    assert r["cache"]["answers_per_prompt"] == pytest.approx(1.0)
    assert r["sampler"]["stale_repeat_rate"] == 0.0
    assert r["sampler"]["answers_per_prompt"] == pytest.approx(5.0)
    assert r["mixed"]["stale_repeat_rate"] == pytest.approx(0.2)  # the second request at 0
    assert r["mixed"]["answers_per_prompt"] == pytest.approx(4.0)
    assert r["fresh"]["stale_repeat_rate"] == 0.0 and r["fresh"]["answers_per_prompt"] == 1.0
    # requests that draw another answer to a prompt already sent: 4 of the sampler's 5, 3 of the
    # mixed account's (not the second at temperature 0), none of the cache's
    assert r["sampler"]["redraw_rate"] == pytest.approx(0.8)
    assert r["mixed"]["redraw_rate"] == pytest.approx(0.6)
    assert r["cache"]["redraw_rate"] == 0.0 and r["fresh"]["redraw_rate"] == 0.0
    if sample_size == 512:  # exact_dup_rate cannot tell the cache from the sampler; these can
        assert r["people"]["redraw_rate"] == pytest.approx(20 / 124)
        assert r["cache"]["exact_dup_rate"] == pytest.approx(r["sampler"]["exact_dup_rate"]) == 0.8


def test_repeat_counts_do_not_depend_on_split_merge_or_save():
    rows = _rows()
    cfg = ScanConfig(sample_size=16)
    want = _scan(rows, cfg).finish().accounts
    assert _scan(rows, cfg, batch=37).finish().accounts.equals(want)
    parts = [_scan(list(reversed(rows[k::3])), cfg) for k in range(3)]
    assert parts[1].merge(parts[2]).merge(parts[0]).finish().accounts.equals(want)
    s = _scan(rows, cfg, batch=101)
    s.state = AccountState.from_bytes(s.state.to_bytes())
    assert s.finish().accounts.equals(want)


def _row(**more):
    row = {
        "requests": 2000,
        "completion_tokens": 600_000,
        "completion_tokens_per_request": 300.0,
        "samples_per_request": 1.0,
        "completion_prompt_ratio": 8.0,
        "hit_max_tokens_rate": 0.9,
        "hours_per_active_day": 20.0,
        "hour_uniformity": 0.7,
        "span_hours": 600,
        "hourly_cv": 0.5,
        "active_days": 25,
        "template_rate": 1.0,
        "near_dup_rate": 0.9,
        "exact_dup_rate": 0.6,
        "answers_per_prompt": 1.0,
        "distinct_prompts": 800,
    }
    return {**row, **more}


def _score(**more):
    return score_accounts(pa.Table.from_pylist([_row(**more)])).column("extraction_score")[0].as_py()


def test_stale_answers_take_output_evidence_away_and_resampling_adds():
    # the same templated, round-the-clock, output-heavy traffic: the more of it repeats at
    # temperature 0, the less of its output is harvest; resampling the prompts is harvest
    fresh, half, stale = (_score(stale_repeat_rate=x) for x in (0.0, 0.5, 0.95))
    assert fresh > half > stale
    assert fresh - stale > 0.3
    assert _score(stale_repeat_rate=0.0, answers_per_prompt=8.0) > fresh
    # a report without the new columns (an older one) scores as if every answer were fresh
    assert _score() == pytest.approx(fresh)


def test_several_answers_to_one_prompt_count_alike_however_asked_and_only_when_kept_up():
    # n = 4 in each request, or each prompt sent four times: the same samples, the same evidence
    base = {"answers_per_prompt": 1.0, "hit_max_tokens_rate": 0.0, "template_rate": 0.0, "near_dup_rate": 0.0}
    in_one = _score(**base, multi_sample_rate=1.0, samples_per_request=4.0)
    spread = _score(**base, redraw_rate=0.8)
    none = _score(**base)
    assert spread > none + 0.2 and in_one > none + 0.2
    # redraws count beyond the fifth of requests people reach (REDRAW_BACKGROUND)
    assert _score(**base, multi_sample_rate=0.75) == pytest.approx(spread)
    assert _score(**base, redraw_rate=0.2) == _score(**base, redraw_rate=0.1) == none

    # ...counted as far as it is kept up past a day: pass@k on a benchmark is one afternoon
    def gain(days, **more):
        z = [
            math.log(p / (1 - p))
            for p in (_score(**base, **more, span_hours=24 * days), _score(**base, span_hours=24 * days))
        ]
        return z[0] - z[1]

    for more in ({"redraw_rate": 0.8}, {"multi_sample_rate": 0.75}):
        assert gain(25, **more) > 3.0
        assert gain(8, **more) == pytest.approx(gain(25, **more))
        assert gain(4.5, **more) == pytest.approx(gain(25, **more) / 2)
        assert gain(1, **more) == gain(0.2, **more) == 0.0


def _scan_with(tmp_path, extra):
    """The accounts table of a scan of test_score's log plus the records `extra`."""
    import orjson
    from test_score import make_records

    from fastscan import scan

    path = tmp_path / "log.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in make_records() + extra))
    return scan([path]).accounts


def _traffic(account, prompts, per_prompt, temperature, *, hours, ct=400, mt=400, start=0, n=1):
    """Every prompt `per_prompt` times at `temperature`, spread evenly over `hours` hours."""
    from test_score import HOUR, START_MS, _rec

    out = []
    total = len(prompts) * per_prompt
    for k in range(total):
        ts = START_MS + (start + k * hours / total) * HOUR
        r = _rec(k, account, ts, prompts[k % len(prompts)], 30, ct * n, mt=mt, n=n)
        r["request_id"] = f"{account}-{k}"
        r["temperature"] = temperature
        r["finish_reason"] = "length" if ct >= mt else "stop"
        out.append(r)
    return out


def test_benign_repeats_stay_below_the_threshold_and_resampling_a_pool_is_caught(tmp_path):
    rng = random.Random(7)

    def task(k):
        return f"Summarize support ticket {k}: " + " ".join(
            rng.choice(["disk", "login", "refund", "slow"]) for _ in range(12)
        )

    tickets = [task(k) for k in range(60)]
    bench = [
        f"Benchmark problem {k}: " + " ".join(rng.choice(["prove", "sum", "graph"]) for _ in range(15))
        for k in range(100)
    ]
    pool = [f"Explain in full: {task(k)}" for k in range(100, 200)]
    extra = (
        # an integration re-sending 60 inputs round the clock at temperature 0, answers cut at 400
        _traffic("cached", tickets, 12, 0.0, hours=24 * 21)
        # the same volume and pace with a new input each time: fresh answers
        + _traffic("uncached", [task(k) for k in range(1000, 1720)], 1, 0.0, hours=24 * 21)
        # an evaluation run: pass@8 on 100 benchmark problems at temperature 0.8, in one afternoon
        + _traffic("pass-at-8", bench, 8, 0.8, hours=5, ct=300, mt=2048)
        # the same evaluation asking for the 8 samples with n = 8
        + _traffic("pass-at-8-n", bench, 1, 0.8, hours=5, ct=300, mt=2048, n=8)
        # a harvester sampling a pool of 100 tasks 12 times each round the clock, full answers
        + _traffic("resampler", pool, 12, 0.9, hours=24 * 21, ct=900, mt=4096)
        # a quieter one: 400 tasks three times each over two weeks, short answers
        + _traffic("thrice", [f"Task {k}: {task(k)}" for k in range(2000, 2400)], 3, 0.7, hours=336, ct=130, mt=2048)
    )
    r = {a["account_id"]: a for a in _scan_with(tmp_path, extra).to_pylist()}
    assert r["cached"]["stale_repeat_rate"] == pytest.approx(11 / 12)
    assert r["cached"]["extraction_score"] < r["uncached"]["extraction_score"] - 0.3
    assert r["cached"]["extraction_score"] <= 0.35 and not r["cached"]["flagged"]
    assert r["pass-at-8"]["answers_per_prompt"] == pytest.approx(8.0)
    assert r["pass-at-8"]["extraction_score"] <= 0.35 and not r["pass-at-8"]["flagged"]
    assert r["resampler"]["answers_per_prompt"] == pytest.approx(12.0)
    assert r["resampler"]["flagged"]
    assert "samples each prompt 12.0 times" in r["resampler"]["reasons"]
    assert r["pass-at-8-n"]["extraction_score"] <= 0.35 and not r["pass-at-8-n"]["flagged"]
    assert r["thrice"]["redraw_rate"] == pytest.approx(2 / 3)
    assert r["thrice"]["flagged"]
    assert "67% send a prompt they already sent again, at a temperature above 0" in r["thrice"]["reasons"]


def test_explain_shows_what_stale_answers_take_away(tmp_path):
    import math

    from fastscan.score.model import explain_account
    from fastscan.score.weights import BIAS

    tickets = [f"Summarize support ticket {k}: the login page is slow again today" for k in range(60)]
    accounts = _scan_with(tmp_path, _traffic("cached", tickets, 12, 0.0, hours=24 * 21))
    rows = {s["signal"]: s for s in explain_account(accounts, "cached")}
    assert rows["fresh_answers"]["value"] == pytest.approx(1 / 12)
    assert rows["fresh_answers"]["contribution"] < -2.0
    assert rows["output_volume"]["contribution"] > 1.0  # what it would add were the answers fresh
    # the rows still add up to the account's score
    logit = BIAS + sum(s["contribution"] for s in rows.values())
    score = accounts.column("extraction_score")[accounts.column("account_id").to_pylist().index("cached")].as_py()
    assert 1 / (1 + math.exp(-logit)) == pytest.approx(score)
    assert rows["fresh_answers"]["words"].startswith("92% of requests repeat a prompt at temperature 0")
