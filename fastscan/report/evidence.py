"""The evidence of a ring, as tables: the clusters with their members, which accounts one account
is linked to and by what, and the three tables written side by side (`fastscan scan --evidence`)."""

from __future__ import annotations

import os

import pyarrow as pa
import pyarrow.compute as pc

from fastscan.errors import OutputError
from fastscan.report.report import Report
from fastscan.report.tables import write_table

__all__ = ["clusters_table", "linked_accounts", "write_evidence"]


def clusters_table(accounts: pa.Table) -> pa.Table:
    """One row per cluster of two or more accounts: cluster_id, accounts, flagged, requests,
    completion_tokens, max_score, shared_template_accounts, shared_near_dup_accounts,
    rotation_partners (the largest of its members'), members (sorted); highest score first."""
    cols = ("shared_template_accounts", "shared_near_dup_accounts", "rotation_partners")
    if "cluster_size" not in accounts.column_names:
        return pa.table({"cluster_id": pa.array([], pa.string())})
    grouped = accounts.filter(pc.greater(accounts.column("cluster_size"), 1))
    clusters: dict[str, list[dict]] = {}
    for a in grouped.to_pylist():
        clusters.setdefault(a["cluster_id"], []).append(a)
    rows = []
    for cid, members in clusters.items():
        row = {
            "cluster_id": cid,
            "accounts": len(members),
            "flagged": sum(1 for m in members if m["flagged"]),
            "requests": sum(m["requests"] for m in members),
            "completion_tokens": sum(m["completion_tokens"] for m in members),
            "max_score": max(m["extraction_score"] for m in members),
        }
        for c in cols:
            row[c] = max((m.get(c) or 0) for m in members)
        row["members"] = sorted(m["account_id"] for m in members)
        rows.append(row)
    rows.sort(key=lambda r: (-r["max_score"], -r["accounts"], r["cluster_id"]))
    schema = pa.schema(
        [
            ("cluster_id", pa.string()),
            ("accounts", pa.int64()),
            ("flagged", pa.int64()),
            ("requests", pa.int64()),
            ("completion_tokens", pa.int64()),
            ("max_score", pa.float64()),
            *((c, pa.int64()) for c in cols),
            ("members", pa.list_(pa.string())),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def linked_accounts(report: Report, account_id: str) -> dict[str, list[str]]:
    """{"near-duplicate prompts": [...], "shared templates": [...], "same cluster": [...]}: the
    accounts linked to `account_id`, by the kind of link (each list sorted, without the account)."""
    near: set[str] = set()
    if report.near_dup_links is not None:
        for r in report.near_dup_links.to_pylist():
            if account_id in (r["account_id"], r["other_account_id"]):
                near.add(r["other_account_id"] if r["account_id"] == account_id else r["account_id"])
    templates: set[str] = set()
    if report.shared_templates is not None:
        for ids in report.shared_templates.column("account_ids").to_pylist():
            if account_id in ids:
                templates.update(ids)
    cluster: set[str] = set()
    t = report.accounts
    if "cluster_id" in t.column_names:
        mine = t.filter(pc.equal(t.column("account_id"), account_id)).column("cluster_id").to_pylist()
        if mine:
            cluster = set(t.filter(pc.equal(t.column("cluster_id"), mine[0])).column("account_id").to_pylist())
    return {
        kind: sorted(ids - {account_id})
        for kind, ids in (("near-duplicate prompts", near), ("shared templates", templates), ("same cluster", cluster))
    }


def write_evidence(report: Report, folder: str | os.PathLike[str], ext: str = "parquet") -> list[str]:
    """Write campaigns, clusters, shared_templates and near_dup_links (and prompt_excerpts, in a
    report with text) as tables in `folder` (created); the paths written."""
    folder = os.fspath(folder)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise OutputError(f"{folder}: cannot create the evidence folder: {e.strerror or e}") from None
    tables = {
        "campaigns": report.campaigns,
        "clusters": clusters_table(report.accounts),
        "shared_templates": report.shared_templates,
        "near_dup_links": report.near_dup_links,
        "prompt_excerpts": report.prompt_excerpts,  # only in a report with text (--include-text)
    }
    out = []
    for name, table in tables.items():
        if table is None:
            continue
        path = os.path.join(folder, f"{name}.{ext}")
        write_table(table, path)
        out.append(path)
    return out
