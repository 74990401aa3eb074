"""The extraction score: ranking, the flag's small-account gate, reasons in words, explain."""

from __future__ import annotations

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from fastscan import cli, scan
from fastscan.score import model
from fastscan.score.model import SIGNALS, TERMS, explain_account, score_accounts, signal_values, term_name
from fastscan.score.weights import BIAS, FIT, WEIGHTS

START_MS = 1_756_684_800_000  # 2025-09-01T00:00:00Z
HOUR = 3_600_000
VOCAB = [
    "apple",
    "river",
    "quantum",
    "garden",
    "violet",
    "engine",
    "harbor",
    "crystal",
    "meadow",
    "signal",
    "lantern",
    "copper",
    "falcon",
    "orbit",
    "prairie",
    "velvet",
    "canyon",
    "ember",
    "glacier",
    "willow",
    "summit",
    "cobalt",
    "tundra",
    "marble",
    "saffron",
    "beacon",
    "thicket",
    "nebula",
    "pepper",
    "cedar",
    "lagoon",
    "zephyr",
    "walnut",
    "raven",
    "delta",
    "quartz",
]


def _words(rng, n):
    return " ".join(rng.choice(VOCAB, size=n))


def _rec(i, account, ts, prompt, pt, ct, mt=4096, n=1, logprobs=False, finish="stop", model="frontier-large"):
    return {
        "request_id": f"r{i}",
        "account_id": account,
        "ts": int(ts),
        "model": model,
        "prompt": prompt,
        "completion": "ok",
        "prompt_tokens": pt,
        "completion_tokens": ct,
        "max_tokens": mt,
        "temperature": 0.7,
        "n": n,
        "logprobs": logprobs,
        "finish_reason": finish,
    }


def make_records(seed=0):
    rng = np.random.default_rng(seed)
    recs: list[dict] = []
    # harvester: round the clock for three weeks, every prompt a fresh task in a reasoning wrapper
    for k in range(500):
        ts = START_MS + k * 1.0 * HOUR + rng.integers(0, 600_000)
        recs.append(
            _rec(
                len(recs),
                "harvester",
                ts,
                f"Think step by step and show your complete reasoning.\n\nTask: {_words(rng, 14)}",
                pt=40,
                ct=int(rng.integers(1500, 4000)),
                finish="length" if k % 7 == 0 else "stop",
            )
        )
    # chat front end: office hours, each turn re-sends the conversation so far
    for k in range(500):
        day, hour = divmod(k, 10)
        ts = START_MS + day * 24 * HOUR + (9 + hour) * HOUR + rng.integers(0, 600_000)
        turns = [f"user: {_words(rng, 12)}", f"assistant: {_words(rng, 30)}"] * int(rng.integers(1, 4))
        recs.append(
            _rec(
                len(recs),
                "chat",
                ts,
                "\n\n".join(turns + [f"user: {_words(rng, 10)}"]),
                pt=int(rng.integers(300, 1500)),
                ct=int(rng.integers(150, 450)),
            )
        )
    # integration: one classification template around the clock, label-sized answers
    for k in range(500):
        ts = START_MS + k * 1.0 * HOUR + rng.integers(0, 600_000)
        recs.append(
            _rec(
                len(recs),
                "integration",
                ts,
                f"Classify the sentiment of this review: {_words(rng, 25)}. Answer with positive or negative.",
                pt=60,
                ct=1,
                mt=16,
                model="frontier-mini",
            )
        )
    # prober: logprobs and several samples on every request
    for k in range(200):
        ts = START_MS + k * 2.0 * HOUR + rng.integers(0, 600_000)
        recs.append(_rec(len(recs), "prober", ts, _words(rng, 12), pt=20, ct=5 * 200, mt=256, n=5, logprobs=True))
    # a small account with every ratio of a harvester
    for k in range(12):
        ts = np.float64(START_MS + k * 2 * HOUR)
        recs.append(
            _rec(
                len(recs), "small", ts, f"Let's think step by step. {_words(rng, 14)}", pt=40, ct=3000, finish="length"
            )
        )
    recs.sort(key=lambda r: (r["ts"], r["account_id"]))
    return recs


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    path = tmp_path_factory.mktemp("score") / "log.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in make_records()))
    return path


@pytest.fixture(scope="module")
def accounts(log):
    t = scan([log]).accounts
    return {r["account_id"]: r for r in t.to_pylist()}


def test_harvester_outranks_benign_heavy_users_and_only_it_is_flagged(accounts):
    h = accounts["harvester"]
    assert h["flagged"] and h["extraction_score"] >= 0.9
    for benign in ("chat", "integration"):
        assert accounts[benign]["extraction_score"] < h["extraction_score"]
        assert not accounts[benign]["flagged"], (benign, accounts[benign]["reasons"])


def test_probing_account_is_flagged_for_probing(accounts):
    p = accounts["prober"]
    assert p["flagged"]
    assert "logprobs" in p["reasons"] and "several samples" in p["reasons"]


def test_small_account_is_never_flagged_on_ratios_alone(log, accounts):
    s = accounts["small"]
    assert s["requests"] < 50 and not s["flagged"]
    # it is the request gate, not a low score, that keeps it unflagged
    assert s["extraction_score"] >= 0.5
    gated = {r["account_id"]: r for r in scan([log], min_requests=5).accounts.to_pylist()}
    assert gated["small"]["flagged"]


def test_reasons_name_the_signals_in_words(accounts):
    h = accounts["harvester"]["reasons"]
    assert "500 requests ask for step-by-step reasoning" in h
    assert "% of answers run to 1,000 tokens or more" in h or "h a day" in h
    # a trait every account of the scan shares is not offered as a reason
    assert "single-shot" not in h
    # the template an integration runs is not, alone, a reason: its answers are label-sized
    assert "step-by-step" not in accounts["integration"]["reasons"]
    assert accounts["integration"]["extraction_score"] < 0.2


def test_reasons_worded_a_signal_at_a_time_read_as_row_by_row(log):
    """Every signal's phrases for many rows at once are its words for each row alone, in a full
    report and in one without the cross-account and model columns (read as absent, and the
    shared-template signal says the report has no such columns); the report's reasons are the
    phrases of its top signals."""
    table = scan([log]).accounts
    lacking = table.drop_columns(
        ["shared_template_accounts", "shared_near_dup_accounts", "cluster_size", "new_model", "stale_repeat_rate"]
    )
    for t in (table, lacking):
        rows = t.to_pylist()
        speak = np.arange(len(rows))[::-1][::2].copy()  # the rows that give reasons, some of them
        columns = model._Lists(t, speak)
        some = list(range(len(speak)))[::-1]  # out of order, as the rows of a signal come
        for s in SIGNALS:
            assert s.phrases(columns.list, some) == [s.words(rows[int(speak[k])]) for k in some], s.name
    # a column with nulls reads its rows' values as Python's, None for a null
    holed = table.set_column(
        table.column_names.index("requests"),
        "requests",
        pa.array([None] + table.column("requests").to_pylist()[1:], pa.int64()),
    )
    speak = np.array([2, 0, 1])
    got = model._Lists(holed, speak).list("requests")
    assert got == [holed.column("requests")[int(i)].as_py() for i in speak] and got[1] is None
    shared = SIGNALS[[s.name for s in SIGNALS].index("shared_templates")]
    assert shared.words(lacking.to_pylist()[0]) == "no cross-account columns in this report"
    assert shared.words(table.to_pylist()[0]) != "no cross-account columns in this report"
    # the reasons are phrases of the signals, "; "-joined
    said = {s.words(r) for r in table.to_pylist() for s in SIGNALS}
    reasons = [r for r in table.column("reasons").to_pylist() if r]
    assert reasons
    for r in reasons:
        parts = r.split("; ")
        assert 1 <= len(parts) <= model.REASONS_SHOWN + 1
        assert parts[0] in said and all(p in said or p.startswith("reasoning tokens are ") for p in parts)


def test_a_column_of_numbers_is_worded_as_the_formats_word_each_value():
    """The numbers of a column worded at once (tables of the commonest words, the rest by the
    format) read as each value's format: halves of rounding, ends of the tables, signs, -0.0,
    whole numbers, NaN and infinity, ABSENT; a null among numbers raises as the format does."""
    from fastscan.score.signals import ABSENT, _days, _dayss, _f1s, _n, _ns, _pct, _pcts

    rng = np.random.default_rng(7)
    halves = [(k + 0.5) / 100 for k in range(-2, 102)] + [(k + 0.5) / 10 for k in range(-20, 10020)]
    edges = [0.0, -0.0, 1e-300, -1e-300, 0.004999, 0.005, 0.995, 1.0, 1.0000001, -0.3, 0.035, 0.15, 0.25]
    edges += [999.9, 999.95, 9999.4, 9999.5, 1e12 + 0.5, 2.0**62, -(2.0**62), 1e300]
    spread = (rng.random(3000) * rng.choice([1.0, 10.0, 1e3, 1e6, -1e4], 3000)).tolist()
    floats = halves + edges + spread
    for name, column, one in (("_pcts", _pcts, _pct), ("_ns", _ns, _n), ("_f1s", _f1s, lambda x: f"{x:.1f}")):
        assert column(floats) == [one(x) for x in floats], name
        assert column([]) == []
    days = [0.5, 1.0, 1.9, 2.0, 1234.7, -1.5, 0.0]
    assert _dayss(days) == [_days(x) for x in days]
    wholes = [0, 1, -1, 999, 1000, -1000, 123456789, 2**40, -(2**40), 2**62, True, False, ABSENT]
    for column, one in ((_pcts, _pct), (_ns, _n), (_f1s, lambda x: f"{x:.1f}"), (_dayss, _days)):
        assert column(wholes) == [one(x) for x in wholes]
    for column, one in ((_pcts, _pct), (_f1s, lambda x: f"{x:.1f}")):
        specials = [float("nan"), float("inf"), -float("inf")]
        assert column(specials) == [one(x) for x in specials]
    for column in (_ns, _dayss):  # int() of NaN or infinity raises, in the column as alone
        with pytest.raises((ValueError, OverflowError)):
            column([1.0, float("nan")])
    for column in (_pcts, _ns, _f1s, _dayss):
        with pytest.raises(TypeError):
            column([0.5, None])


def test_report_has_no_prompt_text(log, tmp_path):
    out = tmp_path / "report.csv"
    assert cli.main(["scan", str(log), "--out", str(out), "--top", "0", "--no-progress"]) == 0
    table = pacsv.read_csv(out)
    text = " ".join(str(v) for c in table.columns for v in c.to_pylist())
    assert "Classify the sentiment" not in text and "Task:" not in text
    assert not any(w in text.split() for w in ("apple", "quantum", "zephyr"))


def test_explain_prints_signals_reasons_and_truncated_examples(log, capsys):
    assert cli.main(["explain", "harvester", str(log), "--examples", "2", "--width", "40"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("account harvester: extraction_score")
    assert "FLAGGED" in out and "reasons: " in out
    for s in SIGNALS:
        assert s.name in out
    examples = [line for line in out.splitlines() if line.strip().endswith("\u2026")]
    assert len(examples) == 2 and all("Think step by step" in e for e in examples)
    assert all(len(e.split("x  ", 1)[1]) <= 40 for e in examples)


def test_explain_unknown_account_is_an_input_error(log, capsys):
    assert cli.main(["explain", "nobody", str(log)]) == 2
    err = capsys.readouterr().err
    assert "nobody" in err and "no records" in err


def test_score_ignores_reasoning_tokens_so_log_shapes_agree(accounts):
    rows = [accounts[a] for a in sorted(accounts)]
    base = pa.Table.from_pylist(
        [{k: v for k, v in r.items() if k not in ("extraction_score", "flagged", "reasons")} for r in rows]
    )
    more = base.set_column(
        base.column_names.index("reasoning_tokens"),
        "reasoning_tokens",
        pa.array(np.asarray(base.column("completion_tokens")) // 2),
    )
    a = score_accounts(base).column("extraction_score")
    b = score_accounts(more).column("extraction_score")
    assert a.equals(b)


def test_every_signal_only_adds_evidence():
    assert all(WEIGHTS[term_name(t)] >= 0 for t in TERMS)
    assert FIT.get("seeds"), "the weights file records the seeds it was fitted on"
    # raising one signal's input never lowers the score
    row = {
        "requests": 500,
        "completion_tokens": 100_000,
        "completion_tokens_per_request": 200.0,
        "samples_per_request": 1.0,
        "completion_prompt_ratio": 2.0,
        "long_output_rate": 0.1,
        "hit_max_tokens_rate": 0.1,
        "reasoning_prompt_rate": 0.1,
        "logprobs_rate": 0.0,
        "multi_sample_rate": 0.0,
        "logit_bias_rate": 0.0,
        "hours_per_active_day": 8.0,
        "span_hours": 500,
        "hourly_cv": 2.0,
        "active_days": 10,
        "template_rate": 0.2,
        "near_dup_rate": 0.1,
        "conversation_rate": 0.5,
        "top_model_share": 0.6,
    }
    t = pa.Table.from_pylist([row])
    s0 = score_accounts(t).column("extraction_score")[0].as_py()
    sig = signal_values(t)
    assert ((sig >= 0) & (sig <= 1)).all()
    for key, more in (
        ("reasoning_prompt_rate", 0.9),
        ("logprobs_rate", 0.9),
        ("long_output_rate", 0.8),
        ("template_rate", 0.9),
        ("hours_per_active_day", 23.0),
        ("completion_tokens", 5_000_000),
        ("answers_per_prompt", 6.0),
    ):
        r = dict(row, **{key: more})
        assert score_accounts(pa.Table.from_pylist([r])).column("extraction_score")[0].as_py() >= s0, key


def _model_log(tmp_path):
    rng = np.random.default_rng(5)
    recs: list[dict] = []
    for k in range(240):  # five days, one request an hour from each account; a new model on day 3
        ts = START_MS + k * HOUR // 2
        released = ts >= START_MS + 48 * HOUR
        mover_model = "frontier-next" if released and k % 10 else "frontier-large"
        late_model = "frontier-next" if ts >= START_MS + 96 * HOUR else "frontier-mini"
        recs.append(_rec(len(recs), "mover", ts, _words(rng, 10), pt=50, ct=900, model=mover_model))
        recs.append(_rec(len(recs), "late", ts + 1, _words(rng, 10), pt=50, ct=100, model=late_model))
    path = tmp_path / "models.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in recs))
    return path, recs


def test_fast_move_to_a_new_model_and_the_capable_model(tmp_path):
    path, recs = _model_log(tmp_path)
    rows = {r["account_id"]: r for r in scan([path]).accounts.to_pylist()}
    m, late = rows["mover"], rows["late"]
    assert m["new_model"] == "frontier-next" and m["new_model_delay_hours"] == 0
    assert m["new_model_share"] == pytest.approx(0.9, abs=0.02)
    assert late["new_model_share"] == 0.0 and late["new_model_delay_hours"] == -1
    # the model with the longest answers is the capable one: frontier-large (900 tokens an answer),
    # not frontier-next (900 from mover, 100 from late) nor frontier-mini (100)
    assert m["capable_model"] == late["capable_model"] == "frontier-large"
    on_large = sum(1 for r in recs if r["account_id"] == "mover" and r["model"] == "frontier-large")
    assert m["capable_model_share"] == pytest.approx(on_large / m["requests"])
    assert late["capable_model_share"] == 0.0
    words = {s["signal"]: s["words"] for s in explain_account(scan([path]).accounts, "mover")}
    assert words["fast_model_move"].startswith("moved 90% of its traffic to frontier-next within 0 h")


def test_model_state_merges_like_one_scan(tmp_path):
    import fastscan

    path, recs = _model_log(tmp_path)
    want = scan([path]).accounts
    a = fastscan.Scanner(mapping="flat")
    for k in range(3):
        b = fastscan.Scanner(mapping="flat")
        b.update(pa.Table.from_pylist(recs[k::3]))
        a.merge(b)
    got = a.finish().accounts
    for c in (
        "new_model",
        "new_model_share",
        "new_model_delay_hours",
        "capable_model",
        "capable_model_share",
        "extraction_score",
    ):
        assert got.column(c).equals(want.column(c)), c


def _report(rows):
    t = pa.Table.from_pylist(rows)
    for c in ("first_seen", "last_seen"):
        t = t.set_column(t.column_names.index(c), c, t.column(c).cast(pa.timestamp("ms", tz="UTC")))
    return t


def test_rotation_counts_accounts_that_start_as_others_stop():
    from fastscan.score.coordination import coordination_columns

    day = 24 * HOUR
    rows = []
    # a ring: four accounts, each four days, the next starting as the previous stops
    for k in range(4):
        rows.append(
            {
                "account_id": f"ring{k}",
                "requests": 30,
                "cluster_id": "ring0",
                "first_seen": START_MS + 4 * k * day + HOUR,
                "last_seen": START_MS + 4 * (k + 1) * day,
            }
        )
    # a team of integrations sharing a template, all running the whole month
    for k in range(4):
        rows.append(
            {
                "account_id": f"team{k}",
                "requests": 900,
                "cluster_id": "team0",
                "first_seen": START_MS + k * HOUR,
                "last_seen": START_MS + 28 * day - k * HOUR,
            }
        )
    # two accounts alone
    rows.append(
        {
            "account_id": "solo",
            "requests": 70,
            "cluster_id": "solo",
            "first_seen": START_MS,
            "last_seen": START_MS + 4 * day,
        }
    )
    rows.append(
        {
            "account_id": "after",
            "requests": 70,
            "cluster_id": "after",
            "first_seen": START_MS + 4 * day + HOUR,
            "last_seen": START_MS + 8 * day,
        }
    )
    cols = coordination_columns(_report(rows))
    got = dict(zip([r["account_id"] for r in rows], cols["rotation_partners"].tolist()))
    assert [got[f"ring{k}"] for k in range(4)] == [1, 2, 2, 1]
    assert all(got[f"team{k}"] == 0 for k in range(4))
    assert got["solo"] == got["after"] == 0  # not in one cluster: no rotation
    req = dict(zip([r["account_id"] for r in rows], cols["cluster_requests"].tolist()))
    assert req["ring0"] == 120 and req["team2"] == 3600 and req["solo"] == 70


def test_small_accounts_are_flagged_only_through_a_large_cluster():
    base = {
        "completion_tokens": 60_000,
        "completion_tokens_per_request": 2000.0,
        "samples_per_request": 1.0,
        "completion_prompt_ratio": 20.0,
        "long_output_rate": 0.9,
        "hit_max_tokens_rate": 0.1,
        "reasoning_prompt_rate": 1.0,
        "template_rate": 1.0,
        "near_dup_rate": 0.0,
        "hours_per_active_day": 20.0,
        "active_days": 4,
        "span_hours": 96,
        "hourly_cv": 0.4,
        "conversation_rate": 0.0,
    }
    rows = [
        dict(base, account_id="alone", requests=30, cluster_size=1, cluster_requests=30),
        dict(base, account_id="ring_small", requests=30, cluster_size=40, cluster_requests=1200),
        dict(base, account_id="ring_tiny", requests=3, cluster_size=40, cluster_requests=1200),
        dict(base, account_id="pair", requests=30, cluster_size=2, cluster_requests=5000),
    ]
    t = score_accounts(pa.Table.from_pylist(rows))
    flagged = dict(zip(t.column("account_id").to_pylist(), t.column("flagged").to_pylist()))
    assert all(s >= 0.5 for s in t.column("extraction_score").to_pylist())
    assert flagged == {"alone": False, "ring_small": True, "ring_tiny": False, "pair": False}


def test_fit_keeps_weights_non_negative_and_finds_the_separating_signal():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "bench" / "fit_score.py"
    spec = importlib.util.spec_from_file_location("fit_score", path)
    assert spec is not None and spec.loader is not None
    fit_score = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fit_score)
    rng = np.random.default_rng(1)
    x = rng.random((400, len(TERMS)))
    j = [term_name(t) for t in TERMS].index("reasoning_prompts")
    y = (x[:, j] > 0.6).astype(np.float64)
    w, b = fit_score.fit(x, y, l2=1e-4, steps=1500)
    assert (w >= 0).all()
    assert w[j] == w.max() and w[j] > 5
    p = 1 / (1 + np.exp(-(x @ w + b)))
    assert ((p >= 0.5) == (y > 0)).mean() > 0.95
    # --free moves only the named weights (and the bias only when named): a new signal joins the
    # fitted model without refitting the rest
    names = [term_name(t) for t in TERMS]
    w, b = fit_score.fit(x, y, l2=1e-4, steps=1500, free={"reasoning_prompts"})
    held = [k for k, name in enumerate(names) if name != "reasoning_prompts"]
    assert w[held].tolist() == [WEIGHTS[names[k]] for k in held]
    assert b == BIAS and w[j] != WEIGHTS["reasoning_prompts"]
    w, b = fit_score.fit(x, y, l2=1e-4, steps=1500, free={"reasoning_prompts", "bias"})
    assert b != BIAS and w[held].tolist() == [WEIGHTS[names[k]] for k in held]


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """The report of a synthetic log of 300 accounts of every kind (fastscan.synth)."""
    from fastscan.synth import write_log

    path = tmp_path_factory.mktemp("score-synth") / "log.jsonl"
    write_log(path, accounts=300, seed=2)
    return scan([path]).accounts


def test_scoring_reads_each_column_once_as_float_with_nan_and_missing_as_zero(table):
    """signals.Columns: a column converted once and shared read-only, NaN read as 0, a missing one
    as zeros; a table and a mapping of its columns score alike, to the last bit, and so do the
    signals' values against one conversion per read (the old way)."""
    from fastscan.score.signals import Columns

    t = pa.table({"requests": [3, 5], "near_dup_rate": [float("nan"), 0.5]})
    cols = Columns(t)
    got = cols.get("near_dup_rate")
    assert got.tolist() == [0.0, 0.5] and cols.get("near_dup_rate") is got
    assert not got.flags.writeable
    assert cols.get("no_such_column").tolist() == [0.0, 0.0]
    assert Columns({"requests": np.array([1, 2])}).get("near_dup_rate").tolist() == [0.0, 0.0]
    numeric = [n for n in table.column_names if pa.types.is_integer(table.column(n).type)]
    numeric += [n for n in table.column_names if pa.types.is_floating(table.column(n).type)]
    as_dict = {n: table.column(n).to_numpy(zero_copy_only=False) for n in numeric}
    want = model.extraction_scores(table)
    assert model.extraction_scores(as_dict).tobytes() == want.tobytes()
    # each signal read straight from the table, and the model's inputs multiplied column by column
    sig = np.stack([np.clip(np.nan_to_num(s.value(table)), 0.0, 1.0) for s in SIGNALS], axis=1)
    assert signal_values(table).tobytes() == sig.tobytes()
    terms = model.term_values(sig)
    assert terms.flags.c_contiguous
    for j, term in enumerate(TERMS):
        naive = np.prod([sig[:, model.SIGNAL_INDEX[name]] for name in term], axis=0)
        if model.OUTPUT_SIGNALS.intersection(term):
            naive = naive * sig[:, model.SIGNAL_INDEX[model.FRESH]]
        assert np.allclose(terms[:, j], naive, rtol=1e-12, atol=0), term_name(term)


def test_columns_convert_as_numpy_would_and_leave_arrow_memory_alone():
    """Columns converts each type as np.nan_to_num(to_numpy().astype(float64)) does, bit for bit
    (infinities to the largest floats, nulls of an integer column to 0), and a float column
    without nulls, which Arrow hands over without a copy, is not changed where it lies."""
    from fastscan.score.signals import Columns

    inf, nan = float("inf"), float("nan")
    t = pa.table(
        {
            "f": pa.array([1.5, nan, inf, -inf, -0.0]),
            "f_null": pa.array([1.5, None, nan, inf, 2.0]),
            "i": pa.array([1, -2, 3, 2**62, 0], pa.int64()),
            "i_null": pa.array([1, None, 3, None, 5], pa.int32()),
            "b": pa.array([True, False, True, True, False]),
            "u8": pa.array([1, 2, 255, 0, 7], pa.uint8()),
        }
    )
    cols = Columns(t)
    for name in t.column_names:
        want = np.nan_to_num(t.column(name).to_numpy(zero_copy_only=False).astype(np.float64))
        got = cols.get(name)
        assert got.dtype == np.float64 and got.tobytes() == want.tobytes(), name
        assert not got.flags.writeable
    f = t.column("f").to_numpy()
    assert np.isnan(f[1]) and np.isinf(f[2]), "the table's own values changed"
    # a table over a numpy array's own memory, and a column of two chunks: left as they were
    mine = np.array([1.0, nan, inf])
    chunks = pa.chunked_array([pa.array([nan]), pa.array([2.0, inf])])
    own = Columns(pa.table({"mine": mine, "chunks": chunks}))
    big = np.finfo(np.float64).max
    assert own.get("mine").tolist() == [1.0, 0.0, big] and own.get("chunks").tolist() == [0.0, 2.0, big]
    assert np.isnan(mine[1]) and np.isinf(mine[2]) and np.isnan(chunks.to_pylist()[0])


def test_numeric_matrix_holds_each_column_across_blocks_of_rows(table):
    """Numeric's matrix, filled a block of rows at a time: column c is Columns' conversion of
    name c in every row, for tables shorter and longer than a block."""
    from fastscan.score import pooling
    from fastscan.score.signals import Columns

    big = pa.concat_tables([table] * (2 * pooling._BLOCK_ROWS // max(table.num_rows, 1) + 2))
    for t in (table.slice(0, 1), table, big, big.slice(3, pooling._BLOCK_ROWS + 1)):
        numeric = pooling.Numeric(t)
        assert numeric.values.shape == (t.num_rows, len(numeric.names))
        cols = Columns(t)
        for c, name in enumerate(numeric.names):
            assert numeric.values[:, c].tobytes() == cols.get(name).tobytes(), name
    assert big.num_rows > 2 * pooling._BLOCK_ROWS


def test_pooling_only_the_score_inputs_scores_groups_as_pooling_every_column(table):
    """Candidate campaigns are scored from the pooled columns the score reads (model.score_inputs,
    found by reading the signals); the scores are those of pooling every column, to the last bit,
    and the inputs are columns of the report that the signals name."""
    from fastscan.score.model import extraction_scores, score_inputs
    from fastscan.score.pooling import Numeric, pool

    inputs = score_inputs()
    assert {"requests", "completion_tokens", "near_dup_rate", "hours_per_active_day"} <= inputs
    assert inputs <= set(table.column_names)
    numeric = Numeric(table)
    rng = np.random.default_rng(4)
    n = table.num_rows
    for g in (1, 3, max(n // 4, 1)):
        label = rng.integers(-1, g, n)
        label[:g] = np.arange(g)  # no empty group
        every = pool(label, g, numeric)
        some = pool(label, g, numeric, only=inputs)
        assert set(some) < set(every)
        assert extraction_scores(some).tobytes() == extraction_scores(every).tobytes()
