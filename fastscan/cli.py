"""The `fastscan` command line.

stdout carries only the report (the top-N table); progress, warnings and statistics go to stderr.
Exit codes: 0 scan done; 1 only with --fail-on-flagged when an account is flagged; 2 usage or
input error, with one line on stderr saying what and where.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import shutil
import sys

from fastscan.cli_parser import DEFAULT_MAX_REJECT_RATE, EXIT_ERROR, build_parser, parse_mapping
from fastscan.errors import FastscanError
from fastscan.kernels.cache import cache_enabled, enable_disk_cache, kernels_on_disk

EXIT_OK, EXIT_FLAGGED = 0, 1


def _warmup() -> None:
    """Compile (or load) the kernels before anything is timed or shown; on a terminal, say so first
    when they are compiled now, which takes a while (the first run of each version). Only where
    kernels run: `explain` and `report` answered from a saved report load neither them nor numba
    (0.67 s a command, against 1.74 s with them, on a slow 2-core machine)."""
    from fastscan.kernels import warmup

    _load_numba_without_blas()
    if sys.stderr.isatty() and kernels_on_disk() is False:
        folder = os.environ.get("NUMBA_CACHE_DIR")
        kept = cache_enabled() and bool(folder)
        keep = f"once, kept in {folder}" if kept else "on every run: no kernel cache on disk"
        # into a disk cache, the compile is shared out between processes (fastscan.kernels.warmup)
        took = "about 25 s on 2 cores" if kept else "about 45 s"
        print(f"fastscan: compiling the kernels ({took}; {keep})", file=sys.stderr, flush=True)
    warmup()


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


def _say_resume(state_dir: str, config, mapping) -> None:
    """Say that this run resumes or adds to a state directory, and where it stands (nothing when
    the scan will refuse it: damaged, or scanned with other settings than `config` and `mapping`)."""
    from fastscan.config import ScanConfig
    from fastscan.read.shape import as_shape
    from fastscan.run.statedir import check_settings, read_manifest

    if not os.path.exists(os.path.join(state_dir, "manifest.json")):
        return  # a new directory
    path = os.path.abspath(state_dir)
    try:
        m = read_manifest(path)
        check_settings(path, m, config or ScanConfig(), as_shape(mapping))
    except FastscanError:
        return  # refused by the scan itself, with the reason
    files = m["files"]
    done = sum(1 for r in files.values() if r["status"] == "done")
    partial = [k for k, r in files.items() if r["status"] == "partial"]
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


def _write_outputs(report, args) -> None:
    """--out, --campaigns, --stats, --evidence and --html, each where it was asked for."""
    from fastscan.report.tables import write_table

    if args.out:
        report.write(args.out)
    if getattr(args, "campaigns", None) and report.campaigns is not None:
        write_table(report.campaigns, args.campaigns)
    if getattr(args, "stats", None):
        report.write_stats(args.stats)
    if getattr(args, "evidence", None):
        from fastscan.report.evidence import write_evidence

        write_evidence(report, args.evidence)
    if getattr(args, "html", None):
        from fastscan.report.html import write_html  # draws with vl-convert, an optional dependency

        write_html(report, args.html)


def _campaign_note(report) -> str:
    """ ", 3 of them as members of 2 harvesting campaign(s)", or nothing."""
    c = report.campaigns
    if c is None or not c.num_rows:
        return ""
    harvesting = c.filter(c.column("harvesting"))
    if not harvesting.num_rows:
        return ""
    members = sum(harvesting.column("flagged").to_pylist())
    return f", {members:,} of them in {harvesting.num_rows:,} harvesting campaign(s) (--campaigns FILE lists them)"


def _config(args):
    """The ScanConfig of --include-text, --entity and --sample-budget, or None for the default one."""
    from fastscan.config import ScanConfig

    keep_text, entity = getattr(args, "include_text", False), getattr(args, "entity", "account")
    budget = getattr(args, "sample_budget", None)
    if not keep_text and entity == "account" and budget is None:
        return None
    more = {} if budget is None else {"sample_budget": budget}
    return ScanConfig(keep_text=keep_text, entity=entity, **more)


def _run_scan(args) -> int:
    from fastscan.report.progress import Progress
    from fastscan.report.terminal import print_stats
    from fastscan.run import scan
    from fastscan.run.local import total_size
    from fastscan.run.outputs import check_report_path

    mapping = parse_mapping(args.map)
    scheduler = getattr(args, "scheduler", None)
    # every output checked before a byte is read: a bad path fails now, not after the whole scan
    if args.out:
        check_report_path(args.out)
    if getattr(args, "campaigns", None):
        check_report_path(args.campaigns, "campaigns")
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
        "outputs": {
            "report": args.out,
            "statistics file": args.stats,
            "HTML report": getattr(args, "html", None),
            "campaigns file": getattr(args, "campaigns", None),
        }
    }
    if args.chunk_size:
        kw["chunk_bytes"] = args.chunk_size
    if args.threshold is not None:
        kw["flag_threshold"] = args.threshold
    config = _config(args)
    if config is not None:
        kw["config"] = config
    if getattr(args, "state", None):
        _say_resume(args.state, config, mapping)
        if scheduler:
            raise FastscanError("--state cannot be combined with --scheduler (a cluster scan is not resumable yet)")
        kw["state_dir"] = args.state
        if args.checkpoint_every:
            kw["checkpoint_bytes"] = args.checkpoint_every
    client = None
    if scheduler:
        _load_numba_without_blas()  # what runs here (the merge, the scoring) loads numba
        client = _connect(scheduler)  # the workers compile the kernels; nothing to warm up here
        kw["client"] = client
        kw["split_bytes"] = getattr(args, "split_size", None)
    else:
        _warmup()
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
    _write_outputs(report, args)
    if args.top > 0:
        _write_top(report, args)
    print_stats(report.stats, report.file_errors, report.rejected_examples, sys.stderr)
    n_flagged = report.flagged.num_rows
    print(f"fastscan: {n_flagged:,} account(s) flagged{_campaign_note(report)}", file=sys.stderr)
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
    from fastscan.report.terminal import format_explanation, print_stats
    from fastscan.run import explain
    from fastscan.score import FLAG_THRESHOLD, MIN_REQUESTS

    if args.state:
        return _explain_saved(args)
    if not args.paths:
        raise FastscanError("explain: give the logs to scan (PATH ...), or --state DIR of a saved scan")
    if args.include_text:
        raise FastscanError("explain: --include-text goes with --state DIR (a scan of the logs shows whole prompts)")
    mapping = parse_mapping(args.map)
    _warmup()
    kw = {}
    if args.chunk_size:
        kw["chunk_bytes"] = args.chunk_size
    threshold = FLAG_THRESHOLD if args.threshold is None else args.threshold
    if args.account_id.startswith(CAMPAIGN_PREFIX):
        from fastscan.run import scan

        report = scan(args.paths, mapping=mapping, flag_threshold=threshold, config=_config(args), **kw)
        sys.stdout.write(_campaign_text(report, args.account_id, args.width, " ".join(args.paths)) + "\n")
        print_stats(report.stats, report.file_errors, report.rejected_examples, sys.stderr)
        return EXIT_OK
    try:
        ex = explain(
            args.paths,
            args.account_id,
            examples=max(args.examples, 0),
            mapping=mapping,
            flag_threshold=threshold,
            config=_config(args),
            **kw,
        )
    except KeyError:
        print(f"fastscan: error: account {args.account_id!r} has no records in {' '.join(args.paths)}", file=sys.stderr)
        return EXIT_ERROR
    sys.stdout.write(format_explanation(ex, threshold, MIN_REQUESTS, max(args.width, 20)) + "\n")
    print_stats(ex.report.stats, ex.report.file_errors, ex.report.rejected_examples, sys.stderr)
    return EXIT_OK


CAMPAIGN_PREFIX = "campaign-"


def _campaign_text(report, campaign_id: str, width: int, where: str) -> str:
    """`fastscan explain CAMPAIGN`: the campaign explained, or the one-line error."""
    from fastscan.report.terminal import format_campaign

    try:
        if report.campaigns is None:
            raise KeyError(campaign_id)
        return format_campaign(report.campaigns, report.accounts, campaign_id, max(width, 60))
    except KeyError:
        raise FastscanError(f"{campaign_id!r} is not a campaign of {where}") from None


def _explain_saved(args) -> int:
    """explain --state DIR ACCOUNT...: every account at once, from the saved scan."""
    from fastscan.report.terminal import format_explanation
    from fastscan.run.saved import explain_saved, saved_report
    from fastscan.score import FLAG_THRESHOLD, MIN_REQUESTS

    threshold = FLAG_THRESHOLD if args.threshold is None else args.threshold
    report = saved_report(args.state, flag_threshold=threshold, include_text=args.include_text, before_scoring=_warmup)
    accounts = [args.account_id, *args.paths]
    known = set(report.accounts.column("account_id").to_pylist())
    if report.campaigns is not None:
        known |= set(report.campaigns.column("campaign_id").to_pylist())
    missing = [a for a in accounts if a not in known]
    if missing:
        raise FastscanError(f"account(s) {', '.join(map(repr, missing))} not in the scan saved in {args.state}")
    texts = [
        _campaign_text(report, a, args.width, args.state)
        if a.startswith(CAMPAIGN_PREFIX) and a not in set(report.accounts.column("account_id").to_pylist())
        else format_explanation(explain_saved(report, a), threshold, MIN_REQUESTS, max(args.width, 20))
        for a in accounts
    ]
    sys.stdout.write("\n\n".join(texts) + "\n")
    return EXIT_OK


def _run_report(args) -> int:
    """report --state DIR: the saved scan's report, its tables and its HTML page again."""
    from fastscan.report.terminal import format_top, print_stats
    from fastscan.run.outputs import check_report_path
    from fastscan.run.saved import saved_report
    from fastscan.score import FLAG_THRESHOLD

    if args.out:
        check_report_path(args.out)
    if args.campaigns:
        check_report_path(args.campaigns, "campaigns")
    report = saved_report(
        args.state,
        flag_threshold=FLAG_THRESHOLD if args.threshold is None else args.threshold,
        include_text=args.include_text,
        before_scoring=_warmup,  # the kernels only when the saved report does not answer
    )
    args.stats = None
    _write_outputs(report, args)
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


def _load_numba_without_blas() -> None:
    """Load numba's array functions without their look for a BLAS, in this process.

    Where SciPy is installed, numba looks for a BLAS when those functions load, by importing
    scipy.linalg and so starting OpenBLAS: at every start of the command, a one-line scan took
    1.02 s of wall time and 1.23 CPU-s with it, 0.91 s and 1.02 CPU-s without. The kernels call
    no BLAS (no dot product, no linear algebra), so the command loads numba with that import made
    to fail, and numba leaves out only what needs a BLAS; then SciPy imports as usual again. For
    the command's own process: a program that imports fastscan keeps numba as it loads it.
    """
    blas = "scipy.linalg.cython_blas"
    if "numba.np.arraymath" in sys.modules or blas in sys.modules:
        return  # loaded already, or SciPy's BLAS is: nothing to save
    sys.modules[blas] = None  # type: ignore[assignment]  # an import of it fails at once
    try:
        import numba.np.arraymath  # noqa: F401
    except ImportError:
        pass  # no numba: the kernels say so when they are needed
    finally:
        if blas in sys.modules and sys.modules[blas] is None:
            del sys.modules[blas]


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    enable_disk_cache()  # before numba loads: it reads where its cache is as it loads
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


def console() -> int:
    """The `fastscan` command (and `python -m fastscan`): main(), then the objects alive are
    frozen out of the garbage collector (gc.freeze), so the interpreter's exit does not walk them.

    A scan of the bench log leaves some 120,000 objects (numba's dispatchers and compiled
    libraries among them) to the collector's last pass at exit: 0.38 s went between main()
    returning and the process ending, 0.16 s with the freeze (a gc.collect() before the exit
    takes 0.05 s and leaves the exit as slow: the time is in what the teardown frees). Every
    output is written and closed before main() returns (nothing relies on a finalizer), and the
    system takes the memory back as at any exit. Only for the process's own entry point: a
    program that calls main() goes on collecting. Before anything, glibc's malloc is held to
    two arenas (buffers.few_malloc_arenas), and pyarrow to it in place of its mimalloc
    (buffers.malloc_arrow_pool): the process is the command's own.
    """
    from fastscan.buffers import few_malloc_arenas, malloc_arrow_pool

    few_malloc_arenas()
    malloc_arrow_pool()
    code = main()
    gc.freeze()
    return code


if __name__ == "__main__":
    sys.exit(console())
