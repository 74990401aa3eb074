"""Ring evidence from the CLI: the clusters, shared templates and near-duplicate links as tables,
and `explain` naming the accounts an account is linked to (issue 14)."""

from __future__ import annotations

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


def test_the_saved_report_is_kept_and_a_stale_one_is_not_used(ring_log, tmp_path):
    from fastscan.run.saved import CACHE_FILE, saved_report

    st = tmp_path / "st"
    want = scan([ring_log], state_dir=st)
    assert (st / CACHE_FILE).exists()
    assert saved_report(st).accounts.equals(want.accounts)  # from the kept report
    assert saved_report(st, flag_threshold=0.9).accounts.equals(scan([ring_log], flag_threshold=0.9).accounts)
    (st / CACHE_FILE).write_bytes(b"damaged")  # then the state is finished again, same report
    assert saved_report(st).accounts.equals(want.accounts)
