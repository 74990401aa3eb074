"""The per-account report: a pyarrow Table plus the run's statistics; writers by extension."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import orjson
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["Report", "LEAD_COLUMNS", "write_table"]

LEAD_COLUMNS = ("account_id", "requests", "prompt_tokens", "completion_tokens", "first_seen", "last_seen",
                "exact_dup_rate", "near_dup_rate", "template_rate", "extraction_score", "flagged", "reasons")


def _ordered(table: pa.Table) -> pa.Table:
    lead = [c for c in LEAD_COLUMNS if c in table.column_names]
    rest = [c for c in table.column_names if c not in lead]
    return table.select(lead + rest)


def write_table(table: pa.Table, path: str | os.PathLike) -> None:
    """Parquet, CSV or JSON Lines, by the extension of `path` (.parquet, .csv, .jsonl/.json)."""
    path = os.fspath(path)
    low = path.lower()
    tmp = path + ".part"
    if low.endswith((".parquet", ".pq")):
        import pyarrow.parquet as pq
        pq.write_table(table, tmp)
    elif low.endswith(".csv"):
        import pyarrow.csv as pacsv
        pacsv.write_csv(table, tmp)
    elif low.endswith((".jsonl", ".json", ".ndjson")):
        with open(tmp, "wb") as fh:
            for batch in table.to_batches(max_chunksize=65536):
                cols = batch.schema.names
                data = [_json_column(batch.column(i)) for i in range(batch.num_columns)]
                for r in range(batch.num_rows):
                    fh.write(orjson.dumps({c: data[i][r] for i, c in enumerate(cols)}) + b"\n")
    else:
        raise ValueError(f"{path}: unknown report format (use .parquet, .csv or .jsonl)")
    os.replace(tmp, path)


def _json_column(col: pa.Array) -> list:
    if pa.types.is_timestamp(col.type):
        return [None if v is None else v.isoformat().replace("+00:00", "Z")
                for v in col.to_pylist()]
    return col.to_pylist()


@dataclass
class Report:
    """What a scan returns: `accounts` (one row per account) and `stats` (the run's numbers)."""
    accounts: pa.Table
    stats: dict
    rejected_examples: list = field(default_factory=list)
    file_errors: list = field(default_factory=list)
    shared_templates: pa.Table | None = None   # skeleton_hash, accounts, account_ids (fastscan.neardup)
    near_dup_links: pa.Table | None = None     # account_id, other_account_id, shared_near_dups

    def __post_init__(self):
        self.accounts = _ordered(self.accounts)

    @property
    def flagged(self) -> pa.Table:
        return self.accounts.filter(self.accounts.column("flagged"))

    def write(self, path) -> None:
        write_table(self.accounts, path)

    def write_stats(self, path) -> None:
        with open(path, "wb") as fh:
            fh.write(orjson.dumps(self.stats, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")

    def top(self, n: int = 20) -> pa.Table:
        """The n highest-scoring accounts (ties by requests, then account_id)."""
        idx = pc.sort_indices(self.accounts, sort_keys=[("extraction_score", "descending"),
                                                        ("requests", "descending"),
                                                        ("account_id", "ascending")])
        return self.accounts.take(idx[:n])

    def format_top(self, n: int = 20, width: int = 160) -> str:
        t = self.top(n)
        head = f"{'account_id':24s} {'score':>5s} {'flag':4s} {'requests':>9s} {'compl_tok':>11s} " \
               f"{'near_dup':>8s} reasons"
        lines = [head]
        for r in t.to_pylist():
            line = (f"{str(r['account_id'])[:24]:24s} {r['extraction_score']:5.2f} "
                    f"{'yes' if r['flagged'] else '':4s} {r['requests']:9,d} {r['completion_tokens']:11,d} "
                    f"{r['near_dup_rate']:8.2f} {r['reasons']}")
            lines.append(line[:width])
        return "\n".join(lines)
