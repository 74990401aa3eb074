"""Campaigns (issue 13): light accounts that harvest together are flagged as one campaign; sharing
settings, a system prompt or a template with others is no evidence by itself."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest
from logs import WORDS, write_jsonl
from shared import RAW, skip_reason

from fastscan import Scanner, scan
from fastscan.params import PARAM_BUCKETS, _key, describe, param_keys
from fastscan.read.canonical import CANONICAL
from fastscan.score.campaigns import CAMPAIGN_MIN_ACCOUNTS, FP_MIN_REQUESTS, find_campaigns
from fastscan.score.model import CLUSTER_MIN_REQUESTS
from fastscan.state import AccountState, F

START = 1756684800  # 2025-09-01, epoch seconds
DAY = 86400


def _words(rng: random.Random, k: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(k))


def _casual(rng: random.Random, acct: str, n: int, **params) -> list[dict]:
    """A person: short questions in their own day, short answers."""
    tz = rng.randint(-8, 9)
    out = []
    for _ in range(n):
        day = rng.randrange(28)
        hour = (rng.choice([9, 10, 11, 14, 15, 16, 19, 20, 21]) - tz) % 24
        out.append(
            {
                "account_id": acct,
                "ts": START + day * DAY + hour * 3600 + rng.randrange(3600),
                "model": params.get("model", "m-large"),
                "prompt": f"{_words(rng, rng.randint(3, 12))}?",
                "prompt_tokens": 20,
                "completion_tokens": rng.randint(40, 400),
                "max_tokens": params.get("max_tokens", 1024),
                "temperature": params.get("temperature", 1.0),
                "finish_reason": "stop",
            }
        )
    return out


def _swarm_member(rng: random.Random, acct: str, n: int) -> list[dict]:
    """One light account of a harvesting swarm: bare or wrapped tasks, long answers, the
    campaign's settings, a human-looking day."""
    tz = rng.randint(-8, 9)
    out = []
    for _ in range(n):
        day = rng.randrange(28)
        hour = (rng.choice([9, 10, 11, 14, 15, 16, 19, 20, 21]) - tz) % 24
        task = f"Write a detailed explanation of {_words(rng, rng.randint(8, 16))}"
        prompt = task + ("\n\nLet's think step by step." if rng.random() < 0.4 else "")
        out.append(
            {
                "account_id": acct,
                "ts": START + day * DAY + hour * 3600 + rng.randrange(3600),
                "model": "m-reasoning",
                "prompt": prompt,
                "prompt_tokens": 30,
                "completion_tokens": rng.randint(1200, 3000),
                "max_tokens": rng.choice([2048, 4096]),
                "temperature": rng.choice([0.0, 0.3]),
                "finish_reason": "stop",
            }
        )
    return out


def _log(path, *, swarm: int = 40, per_member: int = 20, casual: int = 120, heavy: bool = False, seed: int = 3):
    rng = random.Random(seed)
    recs: list[dict] = []
    for a in range(casual):
        recs += _casual(rng, f"user_{a:04d}", rng.randint(5, 40))
    for a in range(swarm):
        recs += _swarm_member(rng, f"swarm_{a:03d}", per_member)
    if heavy:  # one heavy harvester on the casual users' default settings
        for r in _swarm_member(rng, "heavy", 3000):
            r.update(model="m-large", max_tokens=1024, temperature=1.0)
            recs.append(r)
    rng.shuffle(recs)
    write_jsonl(path, recs)


@pytest.fixture(scope="module")
def swarm_log(tmp_path_factory):
    path = tmp_path_factory.mktemp("campaigns") / "swarm.jsonl"
    _log(path)
    return path


def test_a_swarm_of_light_accounts_is_one_campaign_and_every_member_is_flagged(swarm_log):
    report = scan([swarm_log])
    rows = {r["account_id"]: r for r in report.accounts.to_pylist()}
    swarm = [r for a, r in rows.items() if a.startswith("swarm_")]
    assert all(r["requests"] < 50 for r in swarm)  # none could be flagged on its own
    assert all(r["flagged"] for r in swarm), [r["account_id"] for r in swarm if not r["flagged"]]
    assert not any(r["flagged"] for a, r in rows.items() if a.startswith("user_"))
    (cid,) = {r["campaign_id"] for r in swarm}
    assert cid == "campaign-swarm_000" and all(r["campaign_size"] == 40 for r in swarm)
    assert all(f"member of {cid}" in r["reasons"] and "40 accounts" in r["reasons"] for r in swarm)
    assert report.campaigns is not None
    table = {r["campaign_id"]: r for r in report.campaigns.to_pylist()}
    c = table[cid]
    assert c["accounts"] == 40 and c["flagged"] == 40 and c["harvesting"]
    assert c["members"] == sorted(r["account_id"] for r in swarm)
    assert c["requests"] == sum(r["requests"] for r in swarm)
    assert c["completion_tokens"] == sum(r["completion_tokens"] for r in swarm)
    assert "request fingerprint" in c["evidence"] and "model m-reasoning" in c["evidence"]
    assert c["first_seen"] == min(r["first_seen"] for r in swarm)
    # the casual users' campaigns (people on common settings) are not harvesting
    assert not any(r["harvesting"] for r in table.values() if r["campaign_id"] != cid)


def test_members_need_only_as_many_requests_as_a_fingerprint(tmp_path):
    # a swarm of 120 very light accounts, 4 to 9 requests each, among people
    rng = random.Random(5)
    recs: list[dict] = []
    for a in range(120):
        recs += _casual(rng, f"user_{a:04d}", rng.randint(5, 40))
    for a in range(120):
        recs += _swarm_member(rng, f"swarm_{a:03d}", 4 + a % 6)
    rng.shuffle(recs)
    path = tmp_path / "light.jsonl"
    write_jsonl(path, recs)
    rows = {r["account_id"]: r for r in scan([path]).accounts.to_pylist()}
    swarm = [r for a, r in rows.items() if a.startswith("swarm_")]
    # every member with a fingerprint (FP_MIN_REQUESTS) is flagged with its campaign; fewer is too few to say
    assert FP_MIN_REQUESTS == CLUSTER_MIN_REQUESTS == 5
    assert all(r["flagged"] == (r["requests"] >= 5) for r in swarm), [(r["requests"], r["flagged"]) for r in swarm]
    assert all(r["campaign_size"] == 100 for r in swarm if r["requests"] >= 5)
    assert not any(r["flagged"] for a, r in rows.items() if a.startswith("user_"))


def test_a_heavy_harvester_does_not_drag_the_people_who_share_its_settings(tmp_path):
    path = tmp_path / "heavy.jsonl"
    _log(path, swarm=0, heavy=True)
    rows = {r["account_id"]: r for r in scan([path]).accounts.to_pylist()}
    assert rows["heavy"]["flagged"]
    assert not any(r["flagged"] for a, r in rows.items() if a.startswith("user_"))


def test_too_few_accounts_are_not_a_swarm(tmp_path):
    path = tmp_path / "few.jsonl"
    _log(path, swarm=CAMPAIGN_MIN_ACCOUNTS - 1, per_member=40)
    rows = scan([path]).accounts.to_pylist()
    assert not any(r["flagged"] for r in rows if r["account_id"].startswith("swarm_"))


def test_campaigns_do_not_depend_on_how_the_input_is_split(swarm_log, tmp_path):
    whole = scan([swarm_log])
    pieces = scan([swarm_log], chunk_bytes=1 << 14)
    assert whole.accounts.equals(pieces.accounts)
    assert whole.campaigns is not None and whole.campaigns.equals(pieces.campaigns)
    # two halves merged in either order
    lines = swarm_log.read_bytes().splitlines(keepends=True)
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_bytes(b"".join(lines[: len(lines) // 2]))
    b.write_bytes(b"".join(lines[len(lines) // 2 :]))
    assert scan([b, a]).campaigns.equals(whole.campaigns)  # type: ignore[union-attr]


def test_request_settings_become_bounded_keys():
    n = 9
    batch = pa.RecordBatch.from_pydict(
        {
            "max_tokens": [None, 0, 1000, 1024, 2048, 10**12, 16, 1, 4096],
            "temperature": [None, 0.0, 0.3, 0.31, 2.0, 7.5, -1.0, float("nan"), 1.0],
            "n": [None, 1, 2, 63, 64, 10**6, 0, -5, 1],
            "logprobs": [None, True, False, False, True, False, False, False, False],
            "top_logprobs": [None, None, 5, 0, None, None, None, None, None],
            "logit_bias": [None, False, False, True, True, False, False, False, False],
            "system_prompt": [None, "", "You are helpful.", "You are helpful.", "x" * 10_000, "é", None, "a", "b"],
        }
    )
    full = {f.name: batch.column(f.name) if f.name in batch.schema.names else pa.nulls(n, f.type) for f in CANONICAL}
    keys = param_keys(pa.RecordBatch.from_pydict(full, schema=CANONICAL))
    mt, temp, nn, probe, system, owner, network, client = (k.tolist() for k in keys)
    assert {describe(owner[0]), describe(network[0]), describe(client[0])} == {
        "no owner",
        "no network",
        "no user agent",
    }
    assert mt[2] == mt[3] and mt[0] == mt[1] and len(set(mt)) == 7  # 1,000 ~ 1,024; none ~ 0
    assert [describe(k) for k in mt[:3]] == ["no max_tokens", "no max_tokens", "max_tokens ~1,024"]
    assert describe(temp[0]) == "no temperature" and describe(temp[2]) == "temperature 0.3" == describe(temp[3])
    assert describe(temp[5]) == "temperature > 2" and describe(temp[6]) == "temperature 0"
    assert [describe(k) for k in nn[:6]] == ["n=1", "n=1", "n=2", "n=63", "n>=64", "n>=64"]
    assert [describe(k) for k in probe[:5]] == [
        "no logprobs",
        "logprobs",
        "logprobs",
        "logit_bias",
        "logprobs and logit_bias",
    ]
    assert system[0] == system[1] and describe(system[0]) == "no system prompt" and system[2] == system[3]
    assert len(set(system)) == 6  # none, and five texts
    # every key is one of PARAM_BUCKETS and fits the 32 bits of a sparse sketch's key
    assert all(0 <= k < 2**32 for k in np.concatenate(keys).tolist())
    assert PARAM_BUCKETS == 128 + 43 + 64 + 4 + 4096 + 3 * 4096


def test_a_log_without_settings_still_has_campaigns_of_its_models(tmp_path):
    recs = [
        {"account_id": f"a{i % 7}", "prompt": f"question {i} about {WORDS[i % len(WORDS)]}", "model": "m"}
        for i in range(70)
    ]
    s = Scanner()
    s.update(pa.Table.from_pylist(recs))
    report = s.finish()
    assert report.accounts.num_rows == 7 and not any(report.accounts.column("flagged").to_pylist())
    assert report.campaigns is not None and report.campaigns.num_rows == 1
    assert "model m" in report.campaigns.column("evidence")[0].as_py()


def test_the_cli_writes_and_explains_campaigns(run_cli, swarm_log, tmp_path):
    st = tmp_path / "st"
    p = run_cli("scan", swarm_log, "--campaigns", tmp_path / "c.csv", "--state", st, "--top", "0")
    assert p.returncode == 0, p.stderr
    assert "40 of them in 1 harvesting campaign(s)" in p.stderr
    import pyarrow.csv as pacsv

    table = pacsv.read_csv(tmp_path / "c.csv")
    row = table.filter(pa.compute.equal(table.column("campaign_id"), "campaign-swarm_000")).to_pylist()[0]
    assert row["accounts"] == 40 and row["members"].split() == [f"swarm_{a:03d}" for a in range(40)]
    # explained from the saved scan, beside an account, and by scanning the log again
    ex = run_cli("explain", "--state", st, "campaign-swarm_000", "swarm_007")
    assert ex.returncode == 0, ex.stderr
    assert ex.stdout.startswith("campaign-swarm_000: 40 accounts, HARVESTING")
    assert "what links them: the same request fingerprint" in ex.stdout and "account swarm_007:" in ex.stdout
    again = run_cli("explain", "campaign-swarm_000", swarm_log)
    assert again.returncode == 0 and again.stdout.splitlines()[:2] == ex.stdout.splitlines()[:2]
    p = run_cli("report", "--state", st, "--evidence", tmp_path / "ev", "--top", "0")
    assert p.returncode == 0 and (tmp_path / "ev" / "campaigns.parquet").exists()
    bad = run_cli("explain", "campaign-nobody", swarm_log)
    assert bad.returncode == 2 and "'campaign-nobody' is not a campaign of" in bad.stderr
    assert len([line for line in bad.stderr.splitlines() if "error" in line]) == 1
    p = run_cli("scan", swarm_log, "--campaigns", tmp_path / "c.txt")
    assert p.returncode == 2 and "unknown campaigns format" in p.stderr


def _benign_sharing_log(path, seed: int = 9) -> None:
    """People, integrations, evaluation runs and a reseller that share settings, a system prompt, a
    template or a benchmark with one another - and no harvester."""
    rng = random.Random(seed)
    recs: list[dict] = []
    for a in range(150):  # people on a client library's defaults
        recs += _casual(rng, f"user_{a:04d}", rng.randint(5, 60))
    for a in range(8):  # integrations: one classification template, one system prompt, around the clock
        for i in range(400):
            recs.append(
                {
                    "account_id": f"integ_{a}",
                    "ts": START + i * 5400 + a * 60,
                    "model": "m-mini",
                    "system_prompt": "You are a precise data-labelling assistant.",
                    "prompt": f"Classify the sentiment of this review: {_words(rng, 20)}. Answer with one word.",
                    "prompt_tokens": 40,
                    "completion_tokens": 1,
                    "max_tokens": 16,
                    "temperature": 0.0,
                    "finish_reason": "stop",
                }
            )
    bench = [f"Question {q}: {_words(rng, 18)}?" for q in range(300)]
    for a in range(10):  # evaluation runs: the same benchmark, fast, at temperature 0
        t0 = START + rng.randrange(20) * DAY
        for i, q in enumerate(bench):
            recs.append(
                {
                    "account_id": f"eval_{a}",
                    "ts": t0 + i * 2,
                    "model": "m-large",
                    "prompt": q,
                    "prompt_tokens": 30,
                    "completion_tokens": rng.randint(5, 60),
                    "max_tokens": 4096,
                    "temperature": 0.0,
                    "finish_reason": "stop",
                }
            )
    for a in range(2):  # resellers: many people's questions behind one key
        for r in _casual(rng, f"reseller_{a}", 2500, max_tokens=2048, temperature=0.8):
            recs.append(r)
    rng.shuffle(recs)
    write_jsonl(path, recs)


def test_sharing_settings_a_system_prompt_a_template_or_a_benchmark_is_not_a_campaign(tmp_path):
    path = tmp_path / "benign.jsonl"
    _benign_sharing_log(path)
    report = scan([path])
    flagged = report.flagged.column("account_id").to_pylist()
    assert flagged == [], flagged
    assert report.campaigns is not None and report.campaigns.num_rows > 0  # they do share...
    assert not any(report.campaigns.column("harvesting").to_pylist())  # ...and are not harvesting
    assert max(report.accounts.column("extraction_score").to_pylist()) < 0.5


@pytest.mark.skipif(not (RAW / "oasst1_en_validation").is_dir(), reason=skip_reason(RAW / "oasst1_en_validation"))
def test_real_volunteers_each_a_person_are_never_flagged():
    """oasst1's English validation split: 1,058 volunteers with their own user_id; none harvests."""
    log = RAW / "oasst1_en_validation" / "en-validation.jsonl.gz"
    report = scan([log], mapping={"account_id": "user_id", "prompt": "text", "ts": "created_date"})
    assert report.stats.records_rejected == 0 and report.stats.accounts > 1000
    assert report.flagged.num_rows == 0
    assert report.campaigns is None or not any(report.campaigns.column("harvesting").to_pylist())


@pytest.mark.parametrize("seed", range(12))
def test_group_medians_are_those_of_sorting_each_group(seed):
    """The campaigns' pooled medians (a counting sort by group, then a selection in each group)
    are the medians of each group's sorted values: ties, empty groups and groups of one included."""
    from fastscan.score.pooling import pooled_median

    rng = np.random.default_rng(seed)
    g = int(rng.integers(1, 30))
    n = int(rng.integers(0, 300))
    lab = rng.integers(0, g, n).astype(np.int64)
    v = rng.choice(np.array([0.0, 1.0, 2.5, -3.0, 1e9]), n) if seed % 2 else rng.normal(size=n)
    size = np.bincount(lab, minlength=g)
    want = []
    for k in range(g):
        s = np.sort(v[lab == k])
        want.append((s[(len(s) - 1) // 2] + s[len(s) // 2]) / 2 if len(s) else 0.0)
    assert pooled_median(v, lab, size).tolist() == want


@pytest.mark.parametrize("seed", range(12))
def test_pooling_every_column_at_once_gives_numpys_figures_to_the_last_bit(seed):
    """kernels.aggregate.pool_groups against np.bincount and a sort of each group, column by
    column: sums, medians and weighted means bit for bit, with ties, empty groups, groups of one,
    weights of 0 and rows left out; a column pooled by none is left as it was."""
    from fastscan.kernels.aggregate import POOL_MEAN, POOL_MEDIAN, POOL_NONE, POOL_SUM, pool_groups

    rng = np.random.default_rng(seed)
    n, g = int(rng.integers(0, 400)), int(rng.integers(1, 40))
    how = np.array([POOL_SUM, POOL_MEDIAN, POOL_MEAN, POOL_NONE] * 2, dtype=np.int8)
    values = (
        rng.choice(np.array([0.0, 1.0, 2.5, -3.0, 1e9, 0.1]), (n, len(how)))
        if seed % 2
        else rng.normal(size=(n, len(how)))
    )
    rows = np.flatnonzero(rng.random(n) < 0.8).astype(np.int64)
    label = rng.integers(0, g, len(rows)).astype(np.int64)
    size = np.bincount(label, minlength=g).astype(np.int64)
    weight = rng.choice(np.array([0.0, 1.0, 3.0, 7.5]), len(rows))
    out = np.full((g, len(how)), -7.0)
    pool_groups(values, rows, label, size, weight, how, out)
    tot = np.bincount(label, weights=weight, minlength=g)
    for c, h in enumerate(how):
        v = values[rows, c]
        want: np.ndarray
        if h == POOL_SUM:
            want = np.bincount(label, weights=v, minlength=g)
        elif h == POOL_MEAN:
            want = np.divide(np.bincount(label, weights=v * weight, minlength=g), tot, out=np.zeros(g), where=tot > 0)
        elif h == POOL_MEDIAN:
            want = np.zeros(g)
            for k in range(g):
                s = np.sort(v[label == k])
                want[k] = (s[(len(s) - 1) // 2] + s[len(s) // 2]) / 2 if len(s) else 0.0
        else:
            want = np.full(g, -7.0)
        assert out[:, c].tolist() == want.tolist(), (c, h)


def test_renumbered_groups_are_those_of_grouping_the_labels_again():
    """_renumber numbers the groups left after some were dropped 0..g-1 in their order, as
    _groups (a sort) does: -1 stays -1, no number is skipped."""
    from fastscan.score.campaigns import _groups, _renumber

    rng = np.random.default_rng(5)
    for _ in range(200):
        lab = rng.integers(-1, 20, int(rng.integers(0, 60)))
        got = _renumber(lab)
        assert got.tolist() == _groups(lab, lab >= 0).tolist()
        assert set(got[got >= 0].tolist()) == set(range(len(set(lab[lab >= 0].tolist()))))


def test_a_campaigns_first_and_last_seen_are_its_members_earliest_and_latest():
    """The campaigns table's first_seen and last_seen: the earliest and the latest of its members'
    (members without a time left out), null for a campaign none of whose members has one."""
    from fastscan.params import _key
    from fastscan.score.campaigns import find_campaigns
    from fastscan.state import AccountState, F

    n, size = 600, 40
    rng = np.random.default_rng(3)
    st = AccountState()
    ids = [f"a{i:04d}" for i in range(n)]
    st._map_ids(ids)
    req = np.full(n, 100)
    st.sums[:n, F["requests"]] = req
    group = np.where(np.arange(n) < size, 0, np.where(np.arange(n) < 2 * size, 1, 2 + np.arange(n) % 400))
    acct = np.arange(n)
    st.params.add(acct, _key(0, 40 + group), req)
    st.params.add(acct, _key(1, group % 21), req)
    st._map_models(["m0"])
    st.model_counts.add(acct, np.zeros(n, np.int64), req)
    first = 1_756_684_800_000 + rng.integers(0, 10**9, n)
    last = first + rng.integers(0, 10**9, n)
    timed = (rng.random(n) < 0.7) & (group != 1)  # the second swarm has no times at all
    timed[0] = True
    accounts = pa.table(
        {
            "account_id": ids,
            "requests": req,
            "prompt_tokens": req * 30,
            "completion_tokens": req * 1500,
            "first_seen": pa.array(first, pa.timestamp("ms", tz="UTC"), mask=~timed),
            "last_seen": pa.array(last, pa.timestamp("ms", tz="UTC"), mask=~timed),
            "extraction_score": np.full(n, 0.1),
            "flagged": np.zeros(n, dtype=bool),
            "reasons": pa.array([""] * n, pa.string()),
            "completion_tokens_per_request": np.full(n, 1500.0),
            "completion_prompt_ratio": np.full(n, 50.0),
            "long_output_rate": np.ones(n),
            "reasoning_prompt_rate": np.full(n, 0.5),
            "samples_per_request": np.ones(n),
        }
    )
    _, campaigns = find_campaigns(st, accounts, 0.5, 50)
    rows = {r["campaign_id"]: r for r in campaigns.to_pylist()}
    a, b = rows["campaign-a0000"], rows["campaign-a0040"]
    assert a["accounts"] == size and b["accounts"] == size
    ms = [int(x.timestamp() * 1000) for x in (a["first_seen"], a["last_seen"])]
    in_a = timed & (group == 0)
    assert ms == [int(first[in_a].min()), int(last[in_a].max())]
    assert b["first_seen"] is None and b["last_seen"] is None


def test_link_clusters_whose_ids_differ_by_a_trailing_nul_stay_two_campaigns():
    """find_campaigns groups the link clusters by their whole cluster_id: a cluster led by "a" and
    one led by "a\\x00" are two candidates (a numpy string array would drop the NUL and pool them
    into one campaign)."""
    from fastscan.score.campaigns import find_campaigns
    from fastscan.state import AccountState, F

    ids = ["a", "a1", "a2", "a\x00", "a\x001", "a\x002"]
    n = len(ids)
    st = AccountState()
    st._map_ids(ids)
    st.sums[:n, F["requests"]] = 100
    accounts = pa.table(
        {
            "account_id": ids,
            "requests": np.full(n, 100),
            "prompt_tokens": np.full(n, 3000),
            "completion_tokens": np.full(n, 150_000),
            "extraction_score": np.full(n, 0.1),
            "flagged": np.zeros(n, dtype=bool),
            "reasons": pa.array([""] * n, pa.string()),
            "cluster_id": ["a"] * 3 + ["a\x00"] * 3,
            "first_seen": pa.array([None] * n, pa.timestamp("ms", tz="UTC")),
            "last_seen": pa.array([None] * n, pa.timestamp("ms", tz="UTC")),
        }
    )
    out, campaigns = find_campaigns(st, accounts, 0.5, 50)
    got = {r["campaign_id"]: sorted(r["members"]) for r in campaigns.to_pylist()}
    assert got == {"campaign-a": ["a", "a1", "a2"], "campaign-a\x00": ["a\x00", "a\x001", "a\x002"]}
    assert out.column("campaign_size").to_pylist() == [3] * n


def test_candidates_found_beforehand_give_the_same_campaigns(swarm_log, monkeypatch):
    """finish() finds the fingerprint candidates while it scores (campaigns.candidates, on a
    thread of its own) and hands them to find_campaigns: its tables are those of find_campaigns
    finding them itself from the same state and scored accounts."""
    import sys

    fin = sys.modules["fastscan.score.finish"]  # (the package's `finish` is the function)
    seen: list = []

    def spy(state, accounts, threshold, min_requests, at=None, found=None):
        got = fin_find(state, accounts, threshold, min_requests, at, found)
        seen.append((state, accounts, threshold, min_requests, at, found, got))
        return got

    fin_find = fin.find_campaigns
    monkeypatch.setattr(fin, "find_campaigns", spy)
    scan([swarm_log])
    ((state, accounts, threshold, min_requests, at, found, (a1, c1)),) = seen
    assert found is not None and len(found.labels) == len(found.sizes) >= 2
    for lab, size in zip(found.labels, found.sizes):
        assert len(lab) == len(size) == state.n_accounts
        assert (size[lab >= 0] >= 2).all()
    a2, c2 = fin_find(state, accounts, threshold, min_requests)
    assert a1.equals(a2) and c1.equals(c2)
    assert c1.num_rows >= 1  # there are campaigns to compare


def _script_state(ids: list[str], req: np.ndarray, script: np.ndarray) -> AccountState:
    """A state whose `script` accounts share one fingerprint and model; each other account has
    its own system prompt."""
    n = len(ids)
    st = AccountState()
    st._map_ids(ids)
    st.sums[:n, F["requests"]] = req
    acct = np.arange(n)
    for keys in (
        _key(0, np.where(script, 40, 44)),
        _key(1, np.where(script, 6, 20)),
        _key(2, np.zeros(n, np.int64)),
        _key(4, np.where(script, 0, 1 + acct)),
    ):
        st.params.add(acct, keys, req)
    st._map_models(["m0", "m1"])
    st.model_counts.add(acct, np.where(script, 1, 0), req)
    return st


def test_the_rest_of_a_harvest_is_a_campaign_when_its_templated_accounts_join_their_ring():
    # one script's settings on 50 accounts: 20 also share a template (one link cluster) and take
    # long answers; 30 light ones send bare tasks. The 20 join their ring's campaign; the 12 left
    # are too light to read as a harvest alone, but they are the rest of one.
    ring, bare, people = 20, 30, 200
    ids = [f"r{i:02d}" for i in range(ring)] + [f"b{i:02d}" for i in range(bare)]
    ids += [f"p{i:03d}" for i in range(people)]
    n = len(ids)
    acct = np.arange(n)
    script = acct < ring + bare
    req = np.array([60] * ring + [15] * bare + [20] * people)
    day0 = 1_756_684_800_000
    per_request = np.where(acct < ring, 2500.0, np.where(script, 300.0, 250.0))
    accounts = pa.table(
        {
            "account_id": ids,
            "requests": req,
            "prompt_tokens": req * 60,
            "completion_tokens": (req * per_request).astype(np.int64),
            "first_seen": pa.array(np.full(n, day0), pa.timestamp("ms", tz="UTC")),
            "last_seen": pa.array(np.full(n, day0 + 20 * 86_400_000), pa.timestamp("ms", tz="UTC")),
            "extraction_score": np.where(acct < ring, 0.9, 0.1),
            "flagged": acct < ring,
            "reasons": pa.array([""] * n, pa.string()),
            "completion_tokens_per_request": per_request,
            "completion_prompt_ratio": per_request / 60,
            "long_output_rate": np.where(acct < ring, 1.0, 0.0),
            "reasoning_prompt_rate": np.where(acct < ring, 1.0, 0.0),
            "template_rate": np.where(acct < ring, 1.0, 0.0),
            "shared_template_accounts": np.where(acct < ring, ring - 1, 0),
            "samples_per_request": np.ones(n),
            "cluster_id": pa.array(["r00" if i < ring else a for i, a in enumerate(ids)], pa.string()),
        }
    )
    out, campaigns = find_campaigns(_script_state(ids, req, script), accounts, 0.5, 50)
    rows = {r["account_id"]: r for r in out.to_pylist()}
    assert {rows[a]["campaign_id"] for a in ids[:ring]} == {"campaign-r00"}
    rest = [rows[a] for a in ids[ring : ring + bare]]
    assert {r["campaign_id"] for r in rest} == {"campaign-b00"}
    assert all(r["flagged"] and r["extraction_score"] >= 0.5 for r in rest)
    assert all("member of campaign-b00" in r["reasons"] for r in rest)
    table = {r["campaign_id"]: r for r in campaigns.to_pylist()}
    assert table["campaign-b00"]["harvesting"] and table["campaign-r00"]["harvesting"]
    assert (
        "the rest of a harvest: with its accounts that joined other campaigns, 50 accounts and 1,650 requests score"
        in (table["campaign-b00"]["evidence"])
    )
    assert not any(rows[a]["flagged"] for a in ids[ring + bare :])
    # the 30 alone, without the accounts that left them, are no campaign that flags anyone
    keep = np.flatnonzero(acct >= ring)
    alone = _script_state([ids[i] for i in keep], req[keep], script[keep])
    out2, _ = find_campaigns(alone, accounts.take(pa.array(keep)), 0.5, 50)
    assert not any(out2.column("flagged").to_pylist())
