"""The `fastscan` command line.

stdout carries only the report (the top-N table); progress, warnings and statistics go to stderr.
Exit codes: 0 scan done; 1 only with --fail-on-flagged when an account is flagged; 2 usage or
input error, with one line on stderr saying what and where.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys

from fastscan import __version__
from fastscan.errors import FastscanError
from fastscan.kernels.cache import enable_disk_cache

EXIT_OK, EXIT_FLAGGED, EXIT_ERROR = 0, 1, 2
DEFAULT_MAX_REJECT_RATE = 0.5


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        print(f"fastscan: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_ERROR)


def _parse_mapping(text: str | None):
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


_threshold = _bounded(float, 0.0, 1.0, True, "in (0, 1]")
_count = _bounded(int, 0, None, False, "0 or more")
_share = _bounded(float, 0.0, 1.0, False, "in [0, 1]")


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
        help="bytes of JSON decoded at a time (default 16M); bounds memory",
    )
    p.add_argument(
        "--threshold", type=_threshold, default=None, help="extraction_score that flags, in (0, 1] (default 0.5)"
    )


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="fastscan", description="Find accounts harvesting an LLM API's outputs in request logs.")
    ap.add_argument("--version", action="version", version=f"fastscan {__version__}")
    sub = ap.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("scan", help="scan request logs and report per account")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files, folders, globs; - for stdin")
    p.add_argument("--out", help="write the full report (.parquet, .csv or .jsonl)")
    p.add_argument("--stats", help="write the run's statistics as JSON")
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
        help="write the evidence of rings as Parquet tables in DIR: clusters (members, what links them), "
        "shared_templates, near_dup_links",
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
    _add_scan_options(p)

    e = sub.add_parser(
        "explain",
        help="explain accounts: signals, reasons, linked accounts, example prompts",
        description="fastscan explain ACCOUNT PATH...: scan the logs and explain ACCOUNT. "
        "fastscan explain --state DIR ACCOUNT...: explain accounts of a saved scan at once, "
        "without reading a log (no example prompts: a state keeps no prompt text).",
    )
    e.add_argument("account_id", metavar="ACCOUNT")
    e.add_argument(
        "paths", nargs="*", metavar="PATH", help="files, folders, globs; - for stdin (or more ACCOUNTs with --state)"
    )
    e.add_argument("--state", metavar="DIR", help="explain from the scan saved in DIR (fastscan scan --state DIR)")
    e.add_argument("--examples", type=int, default=5, help="example prompts to show (0: none; default 5)")
    e.add_argument("--width", type=int, default=160, help="characters of each example prompt shown (default 160)")
    _add_scan_options(e)

    r = sub.add_parser("report", help="the report of a scan saved with --state, without reading a log again")
    r.add_argument("--state", metavar="DIR", required=True, help="the state directory of a scan (--state DIR)")
    r.add_argument("--out", help="write the full report (.parquet, .csv or .jsonl)")
    r.add_argument("--html", metavar="FILE", help="write the analyst's HTML report (needs fastscan[report])")
    r.add_argument("--evidence", metavar="DIR", help="write clusters, shared_templates and near_dup_links tables")
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


def _connect(address: str):
    """A dask.distributed Client for the scheduler at `address`, or one clear error."""
    try:
        from distributed import Client
    except ImportError:
        raise FastscanError("--scheduler needs Dask: pip install 'fastscan[dask]'") from None
    try:
        return Client(address, set_as_default=False)  # timeout: distributed.comm.timeouts.connect
    except (OSError, TimeoutError) as e:
        raise FastscanError(f"--scheduler {address}: cannot reach the Dask scheduler: {e}") from None


def _say_resume(state_dir: str) -> None:
    """Say that this run resumes or adds to a state directory, and where it stands."""
    try:
        with open(os.path.join(state_dir, "manifest.json"), "rb") as fh:
            files = json.loads(fh.read())["files"]
        done = sum(1 for r in files.values() if r["status"] == "done")
        partial = [k for k, r in files.items() if r["status"] == "partial"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return  # a new directory; a damaged one is refused by the scan itself, with the reason
    left = f"; resuming {partial[0]} at its last checkpoint" if partial else ""
    print(f"fastscan: {state_dir}: {done:,} file(s) already scanned are skipped{left}", file=sys.stderr)


def _operate(report, args):
    """--allow and --baseline, applied to the finished report (read before the scan)."""
    from fastscan.report.compare import compare_with_baseline, with_allowlist

    if getattr(args, "allowlist", None) is not None:
        report = with_allowlist(report, args.allowlist)
    if getattr(args, "baseline_table", None) is not None:
        report = compare_with_baseline(report, args.baseline_table)
        changes = report.accounts.column("change").to_pylist()
        newly = sum(c in ("newly flagged", "new account (flagged)") for c in changes)
        gone = sum(c == "no longer flagged" for c in changes)
        print(
            f"fastscan: against {args.baseline}: {newly:,} newly flagged, {gone:,} no longer flagged", file=sys.stderr
        )
    return report


def _write_top(report, args) -> None:
    """The top-N on stdout: a table fitted to the terminal, or CSV / JSON Lines for a pipeline."""
    from fastscan.report.terminal import format_top

    top = report.top(args.top)
    fmt = getattr(args, "format", "table")
    if fmt == "table":
        width = shutil.get_terminal_size((160, 24)).columns if sys.stdout.isatty() else 160
        sys.stdout.write(format_top(top, width) + "\n")
        return
    import io

    from fastscan.report.tables import write_table_to

    buf = io.BytesIO()
    write_table_to(top, buf, fmt)
    sys.stdout.write(buf.getvalue().decode("utf-8"))


def _run_scan(args) -> int:
    from fastscan.report.progress import Progress
    from fastscan.report.terminal import print_stats
    from fastscan.run import scan
    from fastscan.run.local import total_size
    from fastscan.run.outputs import check_report_path

    mapping = _parse_mapping(args.map)
    scheduler = getattr(args, "scheduler", None)
    # every output checked before a byte is read: a bad path fails now, not after the whole scan
    if args.out:
        check_report_path(args.out)
    evidence = getattr(args, "evidence", None)
    if evidence and not os.path.isdir(os.path.dirname(os.path.abspath(evidence))):
        raise FastscanError(f"{evidence}: the folder it would be made in does not exist")
    if getattr(args, "html", None) and not args.html.lower().endswith((".html", ".htm")):
        raise FastscanError(f"{args.html}: the HTML report's name must end in .html")
    if getattr(args, "allow", None):
        from fastscan.report.compare import read_allowlist

        args.allowlist = read_allowlist(args.allow)
    if getattr(args, "baseline", None):
        from fastscan.report.compare import read_baseline

        args.baseline_table = read_baseline(args.baseline)
    kw: dict = {
        "outputs": {"report": args.out, "statistics file": args.stats, "HTML report": getattr(args, "html", None)}
    }
    if args.chunk_size:
        kw["chunk_bytes"] = args.chunk_size
    if args.threshold is not None:
        kw["flag_threshold"] = args.threshold
    if getattr(args, "state", None):
        _say_resume(args.state)
        if scheduler:
            raise FastscanError("--state cannot be combined with --scheduler (a cluster scan is not resumable yet)")
        kw["state_dir"] = args.state
        if args.checkpoint_every:
            kw["checkpoint_bytes"] = args.checkpoint_every
    client = None
    if scheduler:
        client = _connect(scheduler)  # the workers compile the kernels; nothing to warm up here
        kw["client"] = client
        kw["split_bytes"] = getattr(args, "split_size", None)
    else:
        from fastscan.kernels import warmup

        warmup()
    bar = None
    try:
        if not args.no_progress and sys.stderr.isatty():
            # on a cluster the sizes come from the workers' listing, bar or not
            bar = Progress(0 if client is not None else total_size(args.paths))
        report = scan(args.paths, mapping=mapping, reject_file=args.reject_file, progress=bar, **kw)
    finally:
        if bar is not None:
            bar.close()
        if client is not None:
            client.close()
    report = _operate(report, args)
    if args.out:
        report.write(args.out)
    if args.stats:
        report.write_stats(args.stats)
    if getattr(args, "evidence", None):
        from fastscan.report.evidence import write_evidence

        write_evidence(report, args.evidence)
    if getattr(args, "html", None):
        from fastscan.report.html import write_html  # draws with vl-convert, an optional dependency

        write_html(report, args.html)
    if args.top > 0:
        _write_top(report, args)
    print_stats(report.stats, report.file_errors, report.rejected_examples, sys.stderr)
    n_flagged = report.flagged.num_rows
    print(f"fastscan: {n_flagged:,} account(s) flagged", file=sys.stderr)
    st = report.stats
    rate = st.records_rejected / st.records_read if st.records_read else 1.0
    if rate > args.max_reject_rate:
        what = "no record was read" if not st.records_read else f"{rate:.0%} of the records were rejected"
        print(
            f"fastscan: error: {what} (--max-reject-rate {args.max_reject_rate:g}); the inputs are not "
            "request logs of a known shape, or --map does not match them",
            file=sys.stderr,
        )
        return EXIT_ERROR
    return EXIT_FLAGGED if args.fail_on_flagged and n_flagged else EXIT_OK


def _run_explain(args) -> int:
    from fastscan.kernels import warmup
    from fastscan.report.terminal import format_explanation, print_stats
    from fastscan.run import explain
    from fastscan.score import FLAG_THRESHOLD, MIN_REQUESTS

    if args.state:
        return _explain_saved(args)
    if not args.paths:
        raise FastscanError("explain: give the logs to scan (PATH ...), or --state DIR of a saved scan")
    mapping = _parse_mapping(args.map)
    warmup()
    kw = {}
    if args.chunk_size:
        kw["chunk_bytes"] = args.chunk_size
    threshold = FLAG_THRESHOLD if args.threshold is None else args.threshold
    try:
        ex = explain(
            args.paths, args.account_id, examples=max(args.examples, 0), mapping=mapping, flag_threshold=threshold, **kw
        )
    except KeyError:
        print(f"fastscan: error: account {args.account_id!r} has no records in {' '.join(args.paths)}", file=sys.stderr)
        return EXIT_ERROR
    sys.stdout.write(format_explanation(ex, threshold, MIN_REQUESTS, max(args.width, 20)) + "\n")
    print_stats(ex.report.stats, ex.report.file_errors, ex.report.rejected_examples, sys.stderr)
    return EXIT_OK


def _explain_saved(args) -> int:
    """explain --state DIR ACCOUNT...: every account at once, from the saved scan."""
    from fastscan.kernels import warmup
    from fastscan.report.terminal import format_explanation
    from fastscan.run.saved import explain_saved, saved_report
    from fastscan.score import FLAG_THRESHOLD, MIN_REQUESTS

    warmup()
    threshold = FLAG_THRESHOLD if args.threshold is None else args.threshold
    report = saved_report(args.state, flag_threshold=threshold)
    accounts = [args.account_id, *args.paths]
    missing = [a for a in accounts if a not in set(report.accounts.column("account_id").to_pylist())]
    if missing:
        raise FastscanError(f"account(s) {', '.join(map(repr, missing))} not in the scan saved in {args.state}")
    texts = [
        format_explanation(explain_saved(report, a), threshold, MIN_REQUESTS, max(args.width, 20)) for a in accounts
    ]
    sys.stdout.write("\n\n".join(texts) + "\n")
    return EXIT_OK


def _run_report(args) -> int:
    """report --state DIR: the saved scan's report, its tables and its HTML page again."""
    from fastscan.kernels import warmup
    from fastscan.report.terminal import format_top, print_stats
    from fastscan.run.outputs import check_report_path
    from fastscan.run.saved import saved_report
    from fastscan.score import FLAG_THRESHOLD

    if args.out:
        check_report_path(args.out)
    warmup()
    report = saved_report(args.state, flag_threshold=FLAG_THRESHOLD if args.threshold is None else args.threshold)
    if args.out:
        report.write(args.out)
    if args.evidence:
        from fastscan.report.evidence import write_evidence

        write_evidence(report, args.evidence)
    if args.html:
        from fastscan.report.html import write_html

        write_html(report, args.html)
    if args.top > 0:
        width = shutil.get_terminal_size((160, 24)).columns if sys.stdout.isatty() else 160
        sys.stdout.write(format_top(report.top(args.top), width) + "\n")
    print_stats(report.stats, report.file_errors, report.rejected_examples, sys.stderr)
    return EXIT_OK


def _run_demo(args) -> int:
    from fastscan.synth import write_labels, write_log

    os.makedirs(args.dir, exist_ok=True)
    log = os.path.join(args.dir, f"demo-{args.format}.jsonl")
    print(f"fastscan: writing a synthetic log of {args.accounts} accounts to {log}", file=sys.stderr)
    summary = write_log(log, accounts=args.accounts, seed=args.seed, fmt=args.format)
    write_labels(os.path.join(args.dir, "labels.csv"), summary)
    ns = argparse.Namespace(
        paths=[log],
        out=os.path.join(args.dir, "report.csv"),
        stats=None,
        top=args.top,
        reject_file=None,
        fail_on_flagged=False,
        no_progress=False,
        map=None,
        chunk_size=None,
        threshold=None,
        max_reject_rate=DEFAULT_MAX_REJECT_RATE,
    )
    rc = _run_scan(ns)
    print(
        f"fastscan: full report in {ns.out}; labels of the synthetic accounts in "
        f"{os.path.join(args.dir, 'labels.csv')}",
        file=sys.stderr,
    )
    return rc


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    enable_disk_cache()
    try:
        if args.command == "scan":
            return _run_scan(args)
        if args.command == "explain":
            return _run_explain(args)
        if args.command == "demo":
            return _run_demo(args)
        if args.command == "report":
            return _run_report(args)
    except BrokenPipeError:
        # the reader of stdout or stderr went away (| head): not an error, and not "flagged"
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stderr.fileno())
        return EXIT_OK
    except FastscanError as e:
        print(f"fastscan: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except (OSError, ValueError) as e:
        print(f"fastscan: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        state = getattr(args, "state", None)
        if args.command == "scan" and state:
            print(
                f"fastscan: interrupted; what was scanned up to the last checkpoint is saved in {state}: "
                "run the same command again to resume",
                file=sys.stderr,
            )
        else:
            print("fastscan: interrupted; nothing was saved (--state DIR makes a scan resumable)", file=sys.stderr)
        return 130
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
