"""Entities (issue 13): the levels a gateway log names besides the account - organisation, API key,
end user, network, client - are read where present, the scored unit is chosen with --entity, and
who sends links entities into campaigns; a log without them reads exactly as before."""

from __future__ import annotations

import json
import random

import pyarrow as pa
import pytest
from logs import WORDS, records, write_jsonl

from fastscan import ScanConfig, Scanner, scan
from fastscan.params import describe, network_prefix, note_label

START = 1756684800


def _with_identity(recs: list[dict], seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for r in recs:
        r = dict(r)
        r["org_id"] = f"org-{r['account_id'][-1]}"
        r["api_key_id"] = f"key-{r['account_id']}-{rng.randint(0, 1)}"
        if rng.random() < 0.8:  # some records name no end user
            r["end_user"] = f"user-{rng.randint(0, 30)}"
        r["ip"] = f"10.0.{rng.randint(0, 3)}.{rng.randint(1, 254)}"
        r["user_agent"] = rng.choice(["python-requests/2.32", "Mozilla/5.0", "openai-python/1.40"])
        out.append(r)
    return out


def test_a_log_without_identity_fields_reads_as_before(tmp_path):
    """Identity fields are evidence only: adding them, or junk in them, changes no total."""
    recs = records(10, 30, seed=4)
    write_jsonl(tmp_path / "plain.jsonl", recs)
    plain = scan([tmp_path / "plain.jsonl"])
    junk = [dict(r, ip={"v4": "1.2.3.4"}, user_agent=True, org_id=[1], end_user=None) for r in recs]
    write_jsonl(tmp_path / "junk.jsonl", junk)
    got = scan([tmp_path / "junk.jsonl"])
    assert got.stats.records_rejected == 0 and got.stats.records_scored == plain.stats.records_scored
    assert got.accounts.equals(plain.accounts)


def test_the_scored_unit_is_chosen_and_no_record_is_lost(tmp_path):
    recs = _with_identity(records(6, 40, seed=2))
    write_jsonl(tmp_path / "log.jsonl", recs)
    by_account = scan([tmp_path / "log.jsonl"])
    for entity, column in (("org", "org_id"), ("api_key", "api_key_id"), ("end_user", "end_user")):
        report = scan([tmp_path / "log.jsonl"], config=ScanConfig(entity=entity))
        assert report.stats.records_scored == by_account.stats.records_scored == len(recs)
        want = {r[column] if r.get(column) else f"account:{r['account_id']}" for r in recs}
        assert set(report.accounts.column("account_id").to_pylist()) == want
        assert sum(report.accounts.column("requests").to_pylist()) == len(recs)
    ips = scan([tmp_path / "log.jsonl"], config=ScanConfig(entity="ip"))
    assert set(ips.accounts.column("account_id").to_pylist()) == {r["ip"] for r in recs}
    with pytest.raises(ValueError, match="entity must be one of"):
        ScanConfig(entity="tenant").check()


def test_openai_logs_name_the_end_user_and_safety_identifier_supersedes_user(tmp_path):
    recs: list[dict] = []
    ends: list[str] = []
    for i in range(40):
        req: dict = {"model": "m", "messages": [{"role": "user", "content": f"question {i} {WORDS[i % 31]}"}]}
        req["user"] = f"enduser-{i % 4}"
        if i % 2:
            req["safety_identifier"] = f"safe-{i % 3}"
        recs.append({"id": f"r{i}", "created": START + i, "user": "acct-1", "request": req, "ip": 3232235777})
        ends.append(req.get("safety_identifier") or req["user"])
    (tmp_path / "o.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    report = scan([tmp_path / "o.jsonl"], config=ScanConfig(entity="end_user"))
    assert set(report.accounts.column("account_id").to_pylist()) == set(ends)
    # a numeric IP (some gateways log integers) is read as its text, not rejected
    ips = scan([tmp_path / "o.jsonl"], config=ScanConfig(entity="ip"))
    assert ips.accounts.column("account_id").to_pylist() == ["3232235777"] and ips.stats.records_rejected == 0


def test_network_prefixes():
    assert network_prefix("203.0.113.77") == "203.0.113"
    assert network_prefix("2001:DB8:85a3:8d3:1319:8a2e:370:7348") == "2001:db8:85a3"
    assert network_prefix("2001:db8::1") == "2001:db8"
    assert network_prefix("proxy-7.example") == "proxy-7.example"


def _swarm_behind_one_proxy(n_accounts: int, rng: random.Random, per: int = 20) -> list[dict]:
    """Light harvesting accounts, each with settings of its own (no shared fingerprint), all
    behind one network and one client."""
    out = []
    for a in range(n_accounts):
        mt, temp = rng.choice([700, 1500, 3000, 6000]), rng.choice([0.1, 0.25, 0.4, 0.55, 0.9])
        model = rng.choice(["m-a", "m-b", "m-c"])
        for _ in range(per):
            out.append(
                {
                    "account_id": f"proxy_{a:03d}",
                    "ts": START + rng.randrange(28 * 86400),
                    "model": model,
                    "prompt": "Write a detailed explanation of "
                    + " ".join(rng.choice(WORDS) for _ in range(12))
                    + ("\n\nLet's think step by step." if rng.random() < 0.5 else ""),
                    "prompt_tokens": 30,
                    "completion_tokens": rng.randint(1500, 3000),
                    "max_tokens": mt,
                    "temperature": temp,
                    "ip": f"198.51.100.{rng.randint(1, 254)}",
                    "user_agent": "harvest-bot/0.3",
                }
            )
    return out


def _people(n: int, rng: random.Random, ip: str | None = None) -> list[dict]:
    out = []
    for a in range(n):
        for _ in range(rng.randint(5, 40)):
            out.append(
                {
                    "account_id": f"person_{a:04d}",
                    "ts": START + rng.randrange(28 * 86400),
                    "model": "m-a",
                    "prompt": " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12))) + "?",
                    "prompt_tokens": 20,
                    "completion_tokens": rng.randint(40, 400),
                    "max_tokens": rng.choice([1024, 2048]),
                    "temperature": 1.0,
                    "ip": ip or f"{rng.randint(11, 200)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.9",
                    "user_agent": rng.choice(["Mozilla/5.0 (Windows)", "Mozilla/5.0 (Mac)", "ChatApp/2.1"]),
                }
            )
    return out


def test_who_sends_links_a_swarm_whose_settings_differ(tmp_path):
    rng = random.Random(5)
    recs = _swarm_behind_one_proxy(30, rng) + _people(150, rng)
    # people behind one corporate proxy share a network too: that alone is no campaign
    recs += [dict(r, account_id="corp_" + r["account_id"]) for r in _people(40, rng, ip="192.0.2.10")]
    rng.shuffle(recs)
    write_jsonl(tmp_path / "log.jsonl", recs)
    report = scan([tmp_path / "log.jsonl"])
    rows = {r["account_id"]: r for r in report.accounts.to_pylist()}
    swarm = [r for a, r in rows.items() if a.startswith("proxy_")]
    assert all(r["flagged"] for r in swarm), sum(r["flagged"] for r in swarm)
    assert not any(r["flagged"] for a, r in rows.items() if not a.startswith("proxy_"))
    assert report.campaigns is not None
    (c,) = [c for c in report.campaigns.to_pylist() if c["harvesting"]]
    assert c["accounts"] == 30
    assert "the same network 198.51.100" in c["evidence"] and "the same user agent harvest-bot/0.3" in c["evidence"]
    # the names of networks and clients do not depend on how the input was split
    pieces = scan([tmp_path / "log.jsonl"], chunk_bytes=1 << 14)
    assert pieces.campaigns is not None and pieces.campaigns.equals(report.campaigns)


def test_a_bucket_is_named_only_while_one_text_fell_in_it():
    labels: dict = {}
    key = (7 << 24) | 5
    note_label(labels, key, "198.51.100")
    assert describe(key, labels) == "network 198.51.100"
    note_label(labels, key, "10.1.2")  # another network in the same bucket: the bucket's number
    assert labels[key] == ("10.1.2", True) and describe(key, labels) == "network #5"


def test_the_entity_is_part_of_the_state(tmp_path):
    a = Scanner(ScanConfig(entity="end_user"))
    b = Scanner(ScanConfig())
    with pytest.raises(ValueError, match="different scan configurations"):
        a.merge(b)
    t = pa.Table.from_pylist(_with_identity(records(3, 5)))
    a.update(t)
    assert all(x.startswith(("user-", "account:")) for x in a.state.ids)


def test_the_cli_scores_the_entity_asked_for(run_cli, tmp_path):
    recs = _with_identity(records(6, 40, seed=3))
    write_jsonl(tmp_path / "log.jsonl", recs)
    p = run_cli("scan", tmp_path / "log.jsonl", "--entity", "api_key", "--out", tmp_path / "r.csv", "--top", "0")
    assert p.returncode == 0, p.stderr
    import pyarrow.csv as pacsv

    ids = set(pacsv.read_csv(tmp_path / "r.csv").column("account_id").to_pylist())
    assert ids == {r["api_key_id"] for r in recs}
    one = sorted(ids)[0]
    ex = run_cli("explain", one, tmp_path / "log.jsonl", "--entity", "api_key")
    assert ex.returncode == 0 and ex.stdout.startswith(f"account {one}:") and "example prompts" in ex.stdout
    bad = run_cli("scan", tmp_path / "log.jsonl", "--entity", "tenant")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_the_names_of_networks_and_clients_survive_the_state_bytes():
    s = Scanner()
    s.update(pa.Table.from_pylist(_with_identity(records(4, 10))))
    labels = s.state.param_labels
    assert any(text.startswith("10.0.") for text, _ in labels.values())
    assert any(text == "python-requests/2.32" for text, _ in labels.values())
    from fastscan.state import AccountState

    assert AccountState.from_bytes(s.state.to_bytes()).param_labels == labels
