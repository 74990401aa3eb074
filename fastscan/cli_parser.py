"""The `fastscan` command line's arguments: subcommands, options, and the checks on their values."""

from __future__ import annotations

import argparse
import json
import sys

from fastscan import __version__
from fastscan.config import ENTITY_COLUMNS
from fastscan.errors import FastscanError

__all__ = ["DEFAULT_MAX_REJECT_RATE", "EXIT_ERROR", "build_parser", "parse_mapping"]

EXIT_ERROR = 2
DEFAULT_MAX_REJECT_RATE = 0.5


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        print(f"fastscan: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_ERROR)


def parse_mapping(text: str | None):
    if not text:
        return None
    if text in ("flat", "openai"):
        return text
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise FastscanError(f"--map: not valid JSON: {e}") from None
    out = {}
    for part in text.split(","):
        if "=" not in part:
            raise FastscanError(f"--map: expected field=path pairs, got {part!r}")
        k, v = part.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _size(text: str) -> int:
    t = text.strip().upper()
    mult = 1
    for suf, m in (("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30)):
        if t.endswith(suf + "B") or t.endswith(suf):
            t = t.rstrip("B")[:-1]
            mult = m
            break
    try:
        v = int(float(t) * mult)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}") from None
    if v < 4096:
        raise argparse.ArgumentTypeError("chunk size must be at least 4K")
    return v


def _bounded(kind: type, lo: float, hi: float | None, lo_open: bool, words: str):
    """An argparse type: a `kind` number within [lo, hi] ((lo, hi] when lo_open), else the words."""

    def parse(text: str):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a {'whole number' if kind is int else 'number'}: {text!r}") from None
        if v < lo or (lo_open and v == lo) or (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(f"must be {words}, got {text}")
        return v

    return parse


def _prompts(text: str) -> int:
    """A count of prompts: a whole number, or one with k or M (thousands, millions: 4M, 500k)."""
    t = text.strip()
    mult = {"k": 1000, "K": 1000, "m": 10**6, "M": 10**6}.get(t[-1:], 1)
    try:
        v = int(t[:-1] if mult > 1 else t) * mult
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of prompts (such as 4000000 or 4M): {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return v


_threshold = _bounded(float, 0.0, 1.0, True, "in (0, 1]")
_count = _bounded(int, 0, None, False, "0 or more")
_share = _bounded(float, 0.0, 1.0, False, "in [0, 1]")


_CAMPAIGNS = (
    "write the campaigns (.parquet, .csv or .jsonl): one row per group of two or more accounts that "
    "harvest together or share a request fingerprint, templates or near-duplicates, with members and evidence"
)
_INCLUDE_TEXT = (
    "put prompt text in the HTML report and evidence tables: the skeletons of shared templates (a wrapper's "
    "first or last words, the payload cut) and excerpts of suspicious accounts' prompts, at most 80 characters "
    "each; the state directory keeps the ends of sampled prompts for it"
)


def _add_scan_options(p):
    p.add_argument(
        "--map",
        metavar="MAPPING",
        help="log shape: flat, openai, or a field mapping such as "
        "'account_id=meta.customer,prompt=input.text,ts=time' (or JSON)",
    )
    p.add_argument(
        "--chunk-size",
        type=_size,
        default=None,
        metavar="BYTES",
        help="the most bytes of JSON decoded at a time (default 32M); bounds memory",
    )
    p.add_argument(
        "--threshold", type=_threshold, default=None, help="extraction_score that flags, in (0, 1] (default 0.5)"
    )
    p.add_argument(
        "--sample-budget",
        type=_prompts,
        default=None,
        metavar="PROMPTS",
        help="distinct prompts sampled over all accounts (0: no limit; default 4M: about 1.3 GB kept, "
        "2.3 GB at a scan's peak); past it the accounts with the most keep fewer each, at least 64 (docs/bounds.md)",
    )
    p.add_argument(
        "--entity",
        choices=list(ENTITY_COLUMNS),
        default="account",
        help="the unit scored: account (default), org, api_key, end_user (safety_identifier or user) or ip; "
        "records that do not name it are scored as account:ID",
    )


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="fastscan", description="Find accounts harvesting an LLM API's outputs in request logs.")
    ap.add_argument("--version", action="version", version=f"fastscan {__version__}")
    sub = ap.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("scan", help="scan request logs and report per account")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files, folders, globs; - for stdin")
    p.add_argument("--out", help="write the full report (.parquet, .csv or .jsonl)")
    p.add_argument("--stats", help="write the run's statistics as JSON")
    p.add_argument("--campaigns", metavar="FILE", help=_CAMPAIGNS)
    p.add_argument(
        "--allow", metavar="FILE", help="known-benign account ids, one a line: never flagged, still reported"
    )
    p.add_argument(
        "--baseline",
        metavar="REPORT",
        help="an earlier report (.parquet/.csv/.jsonl) to compare with: newly flagged, no longer flagged, score moves",
    )
    p.add_argument(
        "--format",
        choices=["table", "csv", "jsonl"],
        default="table",
        help="the top-N on stdout as a table (default), CSV or JSON Lines",
    )
    p.add_argument(
        "--evidence",
        metavar="DIR",
        help="write the evidence of rings as Parquet tables in DIR: campaigns, clusters (members, what links "
        "them), shared_templates, near_dup_links",
    )
    p.add_argument(
        "--html",
        metavar="FILE",
        help="write the analyst's report: one self-contained HTML page, charts included, that works offline "
        "(needs fastscan[report])",
    )
    p.add_argument("--top", type=_count, default=20, help="accounts in the table on stdout (0: none)")
    p.add_argument(
        "--max-reject-rate",
        type=_share,
        default=DEFAULT_MAX_REJECT_RATE,
        metavar="SHARE",
        help="exit 2 when a larger share of the records is rejected (default 0.5): a scan that read "
        "little must not pass a --fail-on-flagged gate",
    )
    p.add_argument("--reject-file", help="write every rejected record, with file, line and reason (JSONL)")
    p.add_argument("--fail-on-flagged", action="store_true", help="exit 1 when an account is flagged")
    p.add_argument("--no-progress", action="store_true", help="no progress bar even on a terminal")
    p.add_argument(
        "--state",
        metavar="DIR",
        help="keep per-file progress and per-account state in DIR: an interrupted scan resumes "
        "there, and later runs add only new files (the report covers all of them)",
    )
    p.add_argument(
        "--checkpoint-every",
        type=_size,
        default=None,
        metavar="BYTES",
        help="with --state, checkpoint inside a file every BYTES of decoded JSON (default 256M)",
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on the Dask cluster at ADDRESS (e.g. tcp://host:8786); paths and URLs are "
        "read by the workers (needs fastscan[dask])",
    )
    p.add_argument(
        "--split-size",
        type=_size,
        default=None,
        metavar="BYTES",
        help="with --scheduler: cut plain JSONL files larger than this into byte ranges (default 128M)",
    )
    p.add_argument("--include-text", action="store_true", help=_INCLUDE_TEXT)
    _add_scan_options(p)

    e = sub.add_parser(
        "explain",
        help="explain accounts or campaigns: signals, reasons, linked accounts, example prompts",
        description="fastscan explain ACCOUNT PATH...: scan the logs and explain ACCOUNT (or a campaign: "
        "campaign-...). "
        "fastscan explain --state DIR ACCOUNT...: explain accounts of a saved scan at once, "
        "without reading a log (example prompts only with --include-text, from a scan made with it).",
    )
    e.add_argument("account_id", metavar="ACCOUNT")
    e.add_argument(
        "paths", nargs="*", metavar="PATH", help="files, folders, globs; - for stdin (or more ACCOUNTs with --state)"
    )
    e.add_argument("--state", metavar="DIR", help="explain from the scan saved in DIR (fastscan scan --state DIR)")
    e.add_argument(
        "--include-text",
        action="store_true",
        help="with --state: show the account's shared templates and prompt excerpts (a scan made with --include-text)",
    )
    e.add_argument("--examples", type=int, default=5, help="example prompts to show (0: none; default 5)")
    e.add_argument("--width", type=int, default=160, help="characters of each example prompt shown (default 160)")
    _add_scan_options(e)

    r = sub.add_parser("report", help="the report of a scan saved with --state, without reading a log again")
    r.add_argument("--state", metavar="DIR", required=True, help="the state directory of a scan (--state DIR)")
    r.add_argument("--out", help="write the full report (.parquet, .csv or .jsonl)")
    r.add_argument("--campaigns", metavar="FILE", help=_CAMPAIGNS)
    r.add_argument("--html", metavar="FILE", help="write the analyst's HTML report (needs fastscan[report])")
    r.add_argument("--evidence", metavar="DIR", help="write clusters, shared_templates and near_dup_links tables")
    r.add_argument("--include-text", action="store_true", help=_INCLUDE_TEXT + " (a scan made with --include-text)")
    r.add_argument("--top", type=_count, default=20, help="accounts in the table on stdout (0: none)")
    r.add_argument(
        "--threshold", type=_threshold, default=None, help="extraction_score that flags, in (0, 1] (default 0.5)"
    )

    d = sub.add_parser("demo", help="write a small synthetic log and scan it")
    d.add_argument("--dir", default="fastscan-demo", help="where to write the demo log (default ./fastscan-demo)")
    d.add_argument("--accounts", type=int, default=400, help="accounts in the synthetic log")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--format", choices=["flat", "openai"], default="flat")
    d.add_argument("--top", type=_count, default=15)
    return ap
