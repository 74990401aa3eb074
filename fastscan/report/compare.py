"""Operations on a report: an allowlist of known-benign accounts, and a comparison with an earlier
report of the same accounts (what is newly flagged, what no longer is, how scores moved)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc

from fastscan.errors import InputError
from fastscan.report.report import Report

__all__ = ["compare_with_baseline", "read_allowlist", "read_baseline", "with_allowlist"]


def read_allowlist(path: str | os.PathLike[str]) -> list[str]:
    """Account ids, one a line; blank lines and # comments are skipped."""
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError as e:
        raise InputError(f"{os.fspath(path)}: cannot read the allowlist: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise InputError(f"{os.fspath(path)}: the allowlist is not UTF-8 text") from None
    return [s for line in lines if (s := line.split("#", 1)[0].strip())]


def with_allowlist(report: Report, account_ids: Iterable[str]) -> Report:
    """The report with an `allowlisted` column: allowlisted accounts keep their score and reasons
    but are never flagged."""
    allowed = pa.array(sorted(set(account_ids)), pa.string())
    t = report.accounts
    mark = pc.is_in(t.column("account_id"), value_set=allowed)
    flagged = pc.and_(t.column("flagged"), pc.invert(mark))
    t = t.set_column(t.column_names.index("flagged"), "flagged", flagged).append_column("allowlisted", mark)
    return dataclasses.replace(report, accounts=t)


def read_baseline(path: str | os.PathLike[str]) -> pa.Table:
    """account_id, extraction_score, flagged of an earlier report (Parquet, CSV or JSON Lines)."""
    p = os.fspath(path)
    low = p.lower()
    try:
        if low.endswith((".parquet", ".pq")):
            import pyarrow.parquet as pq

            t = pq.read_table(p, columns=["account_id", "extraction_score", "flagged"])
        elif low.endswith(".csv"):
            import pyarrow.csv as pacsv

            t = pacsv.read_csv(p, convert_options=pacsv.ConvertOptions(column_types={"account_id": pa.string()}))
        elif low.endswith((".jsonl", ".json", ".ndjson")):
            import pyarrow.json as pajson

            t = pajson.read_json(p)
        else:
            raise InputError(f"{p}: unknown report format (use .parquet, .csv or .jsonl)")
        return t.select(["account_id", "extraction_score", "flagged"]).cast(
            pa.schema([("account_id", pa.string()), ("extraction_score", pa.float64()), ("flagged", pa.bool_())])
        )
    except (OSError, pa.ArrowInvalid, KeyError) as e:
        raise InputError(f"{p}: not a readable fastscan report: {e}") from None


def compare_with_baseline(report: Report, baseline: pa.Table) -> Report:
    """The report with `baseline_score`, `score_change` and `change` (newly flagged, no longer
    flagged, new account, or empty) against an earlier report of the same log source."""
    old = {r["account_id"]: r for r in baseline.to_pylist()}
    t = report.accounts
    ids = t.column("account_id").to_pylist()
    score = t.column("extraction_score").to_pylist()
    flagged = t.column("flagged").to_pylist()
    base: list[float | None] = []
    delta: list[float | None] = []
    change: list[str] = []
    for a, s, f in zip(ids, score, flagged):
        o = old.get(a)
        if o is None:
            base.append(None)
            delta.append(None)
            change.append("new account (flagged)" if f else "new account")
            continue
        base.append(o["extraction_score"])
        delta.append(s - o["extraction_score"])
        change.append(
            "newly flagged" if f and not o["flagged"] else "no longer flagged" if o["flagged"] and not f else ""
        )
    t = (
        t.append_column("baseline_score", pa.array(base, pa.float64()))
        .append_column("score_change", pa.array(delta, pa.float64()))
        .append_column("change", pa.array(change, pa.string()))
    )
    return dataclasses.replace(report, accounts=t)
