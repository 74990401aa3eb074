"""Ring evidence from the CLI: the clusters, shared templates and near-duplicate links as tables,
and `explain` naming the accounts an account is linked to (issue 14)."""

from __future__ import annotations

import json
import subprocess
import sys

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from fastscan import scan
from fastscan.report.evidence import clusters_table, linked_accounts
from fastscan.synth import write_log


@pytest.fixture(scope="module")
def ring_log(tmp_path_factory):
    path = tmp_path_factory.mktemp("ring") / "log.jsonl"
    write_log(path, accounts=150, seed=3)
    return path


def test_the_clusters_table_holds_every_linked_account_once(ring_log):
    report = scan([ring_log])
    table = clusters_table(report.accounts)
    assert table.num_rows > 0
    members = [m for ms in table.column("members").to_pylist() for m in ms]
    linked = report.accounts.filter(pc.greater(report.accounts.column("cluster_size"), 1))
    assert sorted(members) == sorted(linked.column("account_id").to_pylist())
    assert table.column("accounts").to_pylist() == [len(m) for m in table.column("members").to_pylist()]


def test_the_cli_writes_the_evidence_and_explain_names_the_linked_accounts(run_cli, ring_log, tmp_path):
    p = run_cli("scan", ring_log, "--evidence", tmp_path / "ev", "--top", "0")
    assert p.returncode == 0, p.stderr
    clusters = pq.read_table(tmp_path / "ev" / "clusters.parquet")
    assert (tmp_path / "ev" / "shared_templates.parquet").exists() and (
        tmp_path / "ev" / "near_dup_links.parquet"
    ).exists()
    ring = max(clusters.to_pylist(), key=lambda c: c["accounts"])
    one, other = ring["members"][0], ring["members"][1]
    ex = run_cli("explain", one, ring_log)
    assert ex.returncode == 0, ex.stderr
    assert "linked by same cluster" in ex.stdout and other in ex.stdout
    assert linked_accounts(scan([ring_log]), one)["same cluster"] == sorted(set(ring["members"]) - {one})


def test_explain_and_report_from_a_saved_scan_read_no_log(run_cli, ring_log, tmp_path):
    st = tmp_path / "st"
    scanned = run_cli("scan", ring_log, "--state", st, "--out", tmp_path / "a.parquet", "--top", "0")
    assert scanned.returncode == 0, scanned.stderr
    want = pq.read_table(tmp_path / "a.parquet")
    ring_log.rename(ring_log.with_suffix(".gone"))  # the log is not needed any more
    try:
        ids = want.sort_by([("extraction_score", "descending")]).column("account_id").to_pylist()[:3]
        ex = run_cli("explain", "--state", st, *ids)
        assert ex.returncode == 0, ex.stderr
        assert all(f"account {a}:" in ex.stdout for a in ids)
        rep = run_cli(
            "report", "--state", st, "--out", tmp_path / "b.parquet", "--html", tmp_path / "r.html", "--top", "0"
        )
        assert rep.returncode == 0, rep.stderr
        assert pq.read_table(tmp_path / "b.parquet").equals(want)
        assert 'id="clusters"' in (tmp_path / "r.html").read_text(encoding="utf-8")
        missing = run_cli("explain", "--state", st, "nobody")
        assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
        empty = run_cli("report", "--state", tmp_path / "none")
        assert empty.returncode == 2 and "no saved scan" in empty.stderr
    finally:
        ring_log.with_suffix(".gone").rename(ring_log)


CACHE = "fastscan.kernels.cache"  # where the kernel cache is: imports no kernel and no numba


LOADED = """
import json, sys
from fastscan.cli import main
code = main(sys.argv[1:])
kernels = sorted(m for m in sys.modules if m.startswith("fastscan.kernels."))
print(json.dumps({"code": code, "numba": "numba" in sys.modules, "kernels": kernels}), file=sys.stderr)
"""


def test_a_saved_report_answers_explain_and_report_without_the_kernels(run_cli, ring_log, tmp_path, cli_env):
    """`explain` and `report` answered from the report saved with the scan load no kernel and not
    numba (about a second a command, against two with them); asked for another threshold, they
    score the saved state again, kernels and all, and say the same as a scan would."""
    st = tmp_path / "st"
    assert run_cli("scan", ring_log, "--state", st, "--top", "0").returncode == 0

    def loaded(*args):
        p = subprocess.run(
            [sys.executable, "-c", LOADED, *map(str, args)], capture_output=True, text=True, env=cli_env, timeout=300
        )
        said = json.loads(p.stderr.strip().splitlines()[-1])
        assert said["code"] == 0, p.stderr
        return said["numba"], [m for m in said["kernels"] if m != CACHE]

    account = scan([ring_log]).top(1).column("account_id")[0].as_py()
    assert loaded("explain", "--state", st, account) == (False, [])
    assert loaded("report", "--state", st, "--out", tmp_path / "r.parquet", "--top", "3") == (False, [])
    numba, kernels = loaded("explain", "--state", st, "--threshold", "0.4", account)
    assert numba and "fastscan.kernels.neardup" in kernels
    again = run_cli("report", "--state", st, "--threshold", "0.4", "--out", tmp_path / "t.parquet", "--top", "0")
    assert again.returncode == 0, again.stderr
    want = scan([ring_log], flag_threshold=0.4).accounts
    assert pq.read_table(tmp_path / "t.parquet").equals(want)


def test_the_saved_report_is_kept_and_a_stale_one_is_not_used(ring_log, tmp_path):
    from fastscan.run.saved import CACHE_FILE, saved_report

    st = tmp_path / "st"
    want = scan([ring_log], state_dir=st)
    assert (st / CACHE_FILE).exists()
    assert saved_report(st).accounts.equals(want.accounts)  # from the kept report
    assert saved_report(st, flag_threshold=0.9).accounts.equals(scan([ring_log], flag_threshold=0.9).accounts)
    (st / CACHE_FILE).write_bytes(b"damaged")  # then the state is finished again, same report
    assert saved_report(st).accounts.equals(want.accounts)
